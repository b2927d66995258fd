/**
 * Byte tables and small helpers shared by the parser, the chunked decoder and
 * the response writer. Everything here works on `Uint8Array` and offsets.
 *
 * @module
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HT = 0x09;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const SLASH = 0x2f;
export const QUESTION = 0x3f;
export const ASTERISK = 0x2a;
export const PERCENT = 0x25;

/** tchar (RFC 9110 §5.6.2): what a method, a header name or a coding may be made of. */
export const TOKEN: Uint8Array = /* @__PURE__ */ makeTable((c) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
  "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))
);

/** field-vchar, SP and HTAB (RFC 9110 §5.5): what a header value may hold. obs-text is allowed. */
export const FIELD_VALUE: Uint8Array = /* @__PURE__ */ makeTable((c) =>
  c === SP || c === HT || (c > 0x20 && c !== 0x7f)
);

export const DOT = 0x2e;
export const BACKSLASH = 0x5c;

/**
 * Bytes allowed in a request-target: visible ASCII (RFC 9112 §3.2, RFC 3986 with some slack),
 * but not `#`: a fragment is the client's and never part of a request-target, and a target
 * holding one would route by one path and make a `Request` URL with another. 0: not allowed;
 * 1: allowed; 2: allowed, but the path holding it needs a second look (`.`, `%`, `\`: see
 * `parser.ts`, dot-segments).
 */
export const TARGET: Uint8Array = /* @__PURE__ */ makeTable((c) =>
  c > 0x20 && c < 0x7f && c !== 0x23 ? (c === DOT || c === PERCENT || c === BACKSLASH ? 2 : 1) : 0
);

/**
 * reg-name bytes of an authority (RFC 3986 §3.2.2): unreserved and sub-delims; `%` comes only
 * as `%HH`, which the table leaves to the caller.
 */
export const REG_NAME: Uint8Array = /* @__PURE__ */ makeTable((c) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
  "-._~!$&'()*+,;=".includes(String.fromCharCode(c))
);

/** Hex digit values, or 0xff for a byte that is not one. */
export const HEX: Uint8Array = /* @__PURE__ */ (() => {
  const t = new Uint8Array(256).fill(0xff);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

function makeTable(accept: (c: number) => boolean | number): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = Number(accept(c));
  return t;
}

/** ASCII bytes of a string known to hold only code points below 0x80. */
export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * Decode bytes as Latin-1 (each byte one code unit): header values and targets
 * are octets. (TextDecoder's "latin1" is really windows-1252, which would remap
 * 0x80–0x9f, so it is not used.)
 */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= SHORT_STRING) return shortLatin1(buf, start, n);
  return longLatin1(buf, start, end);
}

/** Decodes `buf[start, end)` as Latin-1, each byte one code unit. */
export type Latin1Decoder = (buf: Uint8Array, start: number, end: number) => string;

/** What decodes more than {@link SHORT_STRING} bytes: the runtime's own once handed in. */
let longLatin1: Latin1Decoder = latin1InSteps;

/**
 * Decode values longer than a few bytes with `decode`, a runtime's native decoder (an adapter
 * hands it in; the core names no runtime), if it decodes every byte value as this module does:
 * `fromCharCode` over an array costs 100–350 ns for 14 to 113 bytes, a native call 40–90 at any
 * length. False, and nothing changed, for a decoder that differs (one that reads windows-1252,
 * as the Encoding standard's "latin1" label does) or throws.
 */
export function useLatin1Decoder(decode: Latin1Decoder): boolean {
  // A view into a larger buffer, as the input is: its offset must count.
  const probe = new Uint8Array(new ArrayBuffer(310), 7, 300);
  for (let i = 0; i < probe.length; i++) probe[i] = (i * 7 + 3) & 0xff;
  try {
    for (const [start, end] of [[0, 300], [1, 257], [20, 29], [255, 300]] as const) {
      if (decode(probe, start, end) !== latin1InSteps(probe, start, end)) return false;
    }
  } catch {
    return false;
  }
  longLatin1 = decode;
  return true;
}

/** {@link latin1} in JavaScript alone: one `fromCharCode` call per {@link LATIN1_STEP} bytes. */
function latin1InSteps(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= LATIN1_STEP) return fromCodes(buf, start, end);
  let s = "";
  for (let i = start; i < end; i += LATIN1_STEP) {
    s += fromCodes(buf, i, Math.min(end, i + LATIN1_STEP));
  }
  return s;
}

/** Longest string made by one `fromCharCode` call of as many arguments. */
const SHORT_STRING = 8;

/**
 * `n` (at most {@link SHORT_STRING}) bytes from `s` as one string made at once: appending a char
 * at a time made a string per char (8 chars: 160 bytes of garbage on Deno, and 2–3 times the
 * time), and `fromCharCode.apply` over an array costs 45–65 ns for any length.
 */
function shortLatin1(b: Uint8Array, s: number, n: number): string {
  const f = String.fromCharCode;
  switch (n) {
    case 0:
      return "";
    case 1:
      return f(b[s]!);
    case 2:
      return f(b[s]!, b[s + 1]!);
    case 3:
      return f(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    default:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
  }
}

/** Codes of the string being decoded; kept between calls so decoding allocates only the string. */
const codes: number[] = [];

function fromCodes(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  codes.length = n;
  for (let i = 0; i < n; i++) codes[i] = buf[start + i]!;
  return String.fromCharCode.apply(null, codes);
}

/** Arguments per fromCharCode call: well below every engine's argument limit. */
const LATIN1_STEP = 4096;

/** Whether `buf[start, end)` equals `lower` (any lowercase ASCII) ignoring ASCII case. */
export function equalsIgnoreCase(
  buf: Uint8Array,
  start: number,
  end: number,
  lower: Uint8Array,
): boolean {
  const n = lower.length;
  if (end - start !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = buf[start + i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}

/**
 * `buf[start, end)` to keep past this turn: a view when `buf` may be kept and the piece is at
 * least half of it (a view holds all of `buf` alive), else a copy of its own.
 */
export function keepBytes(
  buf: Uint8Array,
  start: number,
  end: number,
  mayKeep: boolean,
): Uint8Array {
  if (mayKeep && (end - start) * 2 >= buf.length) return buf.subarray(start, end);
  return copyBytes(buf, start, end);
}

const sliceCopy = Uint8Array.prototype.slice;

/** A copy of `buf[start, end)` (Uint8Array's own slice: a Node Buffer's slice() is a view). */
export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  return sliceCopy.call(buf, start, end);
}

/**
 * `bytes`, which are the caller's to give away, over a buffer of their own, exactly: as they
 * are when they fill theirs, else a copy. A body may be a view of a read that holds the head
 * and the next request too, which must neither be handed out through the view's `buffer` nor
 * detached by a byte stream that takes it.
 */
export function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const buffer = bytes.buffer;
  const whole = bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength &&
    buffer instanceof ArrayBuffer;
  // A plain Uint8Array either way: a Node Buffer's slice() is a view, not a copy.
  if (!whole) return new Uint8Array(bytes);
  if (Object.getPrototypeOf(bytes) === Uint8Array.prototype) {
    return bytes as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(buffer);
}

/** The pieces one after another in one array of `size` bytes (their total); one piece is returned as is. */
export function concatBytes(pieces: readonly Uint8Array[], size: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * `text` without the whitespace around it that HTTP allows, SP and HTAB (RFC 9110 §5.6.3):
 * trim() takes the byte 0xA0 (U+00A0) for whitespace too.
 */
export function withoutOws(text: string): string {
  return trimmedBy(text, isOws);
}

/**
 * `text` without the whitespace around it that a `Headers` takes off a value it is given (the
 * Fetch standard's HTTP whitespace): SP and HTAB, and CR and LF.
 */
export function withoutHttpWhitespace(text: string): string {
  return trimmedBy(text, isHttpWhitespace);
}

function trimmedBy(text: string, isSpace: (c: number) => boolean): string {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isOws(c: number): boolean {
  return c === SP || c === HT;
}

function isHttpWhitespace(c: number): boolean {
  return c === SP || c === HT || c === CR || c === LF;
}

/**
 * `path` (a request's) in the router's normal form: RFC 3986 §6.2.2.1-2 (upper-case hex,
 * unreserved characters as themselves), and each `%HH` of any other character a path may hold as
 * it is sent as that character (`%40` is `@`, `%28` is `(`). Everything past the router decodes
 * them (params, the files, a fetch handler's router): kept apart here, `/%40private/key` would
 * walk around the guard of the route `/@private/*` to a handler that reads it as `@private/key`.
 * Not `%2F`, `%5C`, `%3F`, `%23` and `%25`, which sent as they are would say something else, nor
 * bytes outside printable ASCII. A `:` starting a segment and a `*` alone in one are `%3A` and
 * `%2A` however sent: as they are, in a pattern, they are a param and the wildcard. A path with a
 * `%` that starts no `%HH` is left as it is: normalising around it could make a `%HH` that was
 * not there (`%%34%31`, `%41`).
 */
export function normalPath(path: string): string {
  // Searched for one character at a time: V8 finds one far faster than two (`/:`), a cost every
  // request routed past the static routes paid. A `:` or `*` inside a segment is kept as it is.
  if (path.indexOf("%") < 0 && path.indexOf(":") < 0 && path.indexOf("*") < 0) return path;
  return normalForm(path, false);
}

/** A route pattern in {@link normalPath}'s form, its params and wildcard left as written. */
export function normalPattern(pattern: string): string {
  return pattern.indexOf("%") < 0 ? pattern : normalForm(pattern, true);
}

function normalForm(path: string, pattern: boolean): string {
  for (let i = path.indexOf("%"); i >= 0; i = path.indexOf("%", i + 1)) {
    if (!isHex(path.charCodeAt(i + 1)) || !isHex(path.charCodeAt(i + 2))) return path;
  }
  return path.split("/").map((segment) => normalSegment(segment, pattern)).join("/");
}

function isHex(c: number): boolean {
  return (HEX[c] ?? 0xff) !== 0xff;
}

function normalSegment(segment: string, pattern: boolean): string {
  if (pattern && (segment === "*" || segment.startsWith(":"))) return segment;
  if (segment === "*" || segment.toUpperCase() === "%2A") return "%2A";
  let out = segment.startsWith(":") ? "%3A" : "";
  let from = out.length === 0 ? 0 : 1;
  for (let i = segment.indexOf("%", from); i >= 0; i = segment.indexOf("%", from)) {
    const c = HEX[segment.charCodeAt(i + 1)]! * 16 + HEX[segment.charCodeAt(i + 2)]!;
    // A `:` that would be read as a param's, sent as it is, stays encoded.
    out += segment.slice(from, i) +
      (AS_SENT[c] === 1 && !(i === 0 && c === COLON)
        ? String.fromCharCode(c)
        : `%${segment.slice(i + 1, i + 3).toUpperCase()}`);
    from = i + 3;
  }
  return out + segment.slice(from);
}

/** What a path segment may hold as it is and means the same encoded (see {@link normalPath}). */
const AS_SENT: Uint8Array = /* @__PURE__ */ makeTable((c) =>
  TARGET[c]! > 0 && c !== PERCENT && c !== SLASH && c !== BACKSLASH && c !== QUESTION
);
