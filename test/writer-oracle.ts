/**
 * The oracle of test/writer-model.test.ts: what a reply becomes on the wire, written from RFC 9112
 * §6 (framing: Content-Length, chunked, close-delimited for HTTP/1.0), RFC 9110 §5.5 (field
 * values), §6.4.1 and §15 (204 and 304 carry no content, 205 none either), §8.6 (no
 * Content-Length in a 204, nor one a HEAD's answer cannot know), §9.3.2 (HEAD: GET's fields, no
 * body), and the README's choices ("Using it as a library", "HTTP/1.1 rules binks enforces").
 * It shares no code with src/: names, values, UTF-8 and the framing are worked out here.
 */
import { reasonOf } from "./reasons.ts";

/** A field as the handler wrote it; `value` may be undefined or null (a handler's bug). */
export type Field = readonly [string, string];

/** A body as the handler gave it. */
export type BodySpec =
  | { readonly kind: "none"; readonly value: null | undefined }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "bytes"; readonly value: Uint8Array }
  | { readonly kind: "stream"; readonly length: number | undefined };

/** The request being answered, and what the connection wants of the answer's end. */
export interface Ctx {
  readonly minor: 0 | 1;
  /** HTTP/1.1: keep or close; HTTP/1.0: keep10 (asked for keep-alive) or close. */
  readonly mode: "keep" | "close" | "keep10";
  readonly head: boolean;
}

/** The answer on the wire, as the oracle expects it. */
export interface Wire {
  /** The head, its Date line written `Date: D`. */
  readonly head: string;
  /** Body bytes after the head in the same write. */
  readonly inline: Uint8Array;
  /** Body bytes sent on their own, after the head (large ones). */
  readonly after: Uint8Array | null;
  /** A stream follows; its framing: */
  readonly stream: boolean;
  readonly closeDelimited: boolean;
  readonly sized: number;
  /** The connection closes after this answer, because of the reply itself. */
  readonly close: boolean;
}

/** Refused before anything is sent: the reply is a handler's bug. */
export const REFUSED = "refused";

/** Bodies at most this long go out in the head's write (README: 16 KiB). */
export const INLINE_MAX: number = 16 * 1024;

/** RFC 9110 §5.6.2's tchar. */
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The fields binks frames or describes itself (README), in lower case. */
const OWN = ["content-length", "transfer-encoding", "connection", "date"];
/** Connection-specific fields a handler may not pass on (RFC 9110 §7.6.1). */
const DROPPED = ["keep-alive", "proxy-connection"];

/** ASCII lower case only: field names are ASCII tokens. */
function lower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** RFC 9110 §5.6.3: OWS is spaces and tabs, nothing else. */
function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** RFC 9110 §7.6.1: Connection is a list of options; `close` among them. */
function asksClose(value: string): boolean {
  return value.split(",").some((option) => lower(trimOws(option)) === "close");
}

/**
 * The options of a handler's Connection that binks passes on in its own (README): tokens other
 * than `close` and the names of the fields binks writes or drops, as written.
 */
function passedOptions(value: string): string[] {
  return value.split(",").map(trimOws).filter((option) =>
    TCHAR.test(option) && lower(option) !== "close" && !OWN.includes(lower(option)) &&
    !DROPPED.includes(lower(option))
  );
}

/** A value that may go out: no control byte but HTAB, and octets only (README, §5.5). */
function valueOk(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** UTF-8 of a JS string, lone surrogates as U+FFFD (the WHATWG encoder's rule). */
export function utf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return Uint8Array.from(out);
}

/**
 * What `fields` (in the order binks sees them) and `status` give, or REFUSED: the fields that go
 * out, whether the reply asks to close, and the Content-Length it states (the last one, plain
 * digits, at most 15 of them; else -1).
 */
function fieldLines(
  status: number | undefined,
  fields: readonly Field[],
): { lines: string; close: boolean; stated: number; options: string[] } | typeof REFUSED {
  const s = status ?? 200;
  // README: a 1xx is interim, 600 and up are no HTTP status: a final answer is 200-599.
  if (!Number.isInteger(s) || s < 200 || s > 599) return REFUSED;
  let lines = `HTTP/1.1 ${s} ${reasonOf(s)}\r\n`;
  let close = false;
  let stated = -1;
  const options: string[] = [];
  let upgrade = false;
  for (const [name, value] of fields) {
    if (!TCHAR.test(name)) return REFUSED;
    if (value === undefined || value === null) return REFUSED;
    // README: a bad value is refused whatever the name, also one binks would not send.
    if (!valueOk(value)) return REFUSED;
    const n = lower(name);
    if (OWN.includes(n)) {
      if (n === "connection" && asksClose(value)) close = true;
      if (n === "connection") options.push(...passedOptions(value));
      if (n === "content-length") {
        const digits = trimOws(value);
        stated = /^[0-9]{1,15}$/.test(digits) ? Number(digits) : -1;
      }
      continue;
    }
    if (DROPPED.includes(n)) continue;
    lines += `${name}: ${value}\r\n`;
    upgrade ||= n === "upgrade";
  }
  // RFC 9110 §7.8: an Upgrade goes with an `upgrade` option, added when the handler named none.
  if (upgrade && !options.some((option) => lower(option) === "upgrade")) options.push("upgrade");
  return { lines, close, stated, options };
}

/** RFC 9110 §7.6.1: one Connection field, binks's option first, then the handler's. */
function connectionLine(mode: Ctx["mode"], options: readonly string[]): string {
  const own = mode === "close" ? ["close"] : mode === "keep10" ? ["keep-alive"] : [];
  const all = [...own, ...options];
  return all.length === 0 ? "" : `Connection: ${all.join(", ")}\r\n`;
}

const NOTHING = new Uint8Array(0);

/** What binks must send for a reply of `status`, `fields` and `body`, answering `ctx`. */
export function expectedWire(
  status: number | undefined,
  fields: readonly Field[],
  body: BodySpec,
  ctx: Ctx,
  made: "reply" | "static" = "reply",
): Wire | typeof REFUSED {
  const f = fieldLines(status, fields);
  if (f === REFUSED) return REFUSED;
  const s = status ?? 200;
  const mode = f.close ? "close" : ctx.mode;
  const base = {
    inline: NOTHING,
    after: null,
    stream: false,
    closeDelimited: false,
    sized: -1,
    close: f.close,
  };
  const start = f.lines + "Date: D\r\n";
  // A StaticReply's head is made once with its length; Date and Connection go after it. The
  // order of fields of different names means nothing (RFC 9110 §5.3).
  const framed = (framing: string): string =>
    made === "static"
      ? f.lines + framing + "Date: D\r\n" + connectionLine(mode, f.options) + "\r\n"
      : start + framing + connectionLine(mode, f.options) + "\r\n";
  // RFC 9110 §6.4.1, §8.6, §15.3.5, §15.4.5: no content, no framing fields.
  if (s === 204 || s === 304) return { ...base, head: framed("") };
  // §15.3.6: a 205 has no content; binks frames it as empty (README).
  if (s === 205) return { ...base, head: framed("Content-Length: 0\r\n") };
  if (body.kind === "none") {
    // §9.3.2 and §8.6: a HEAD's answer states only the length the handler stated.
    const length = !ctx.head
      ? "Content-Length: 0\r\n"
      : f.stated >= 0
      ? `Content-Length: ${f.stated}\r\n`
      : "";
    return { ...base, head: start + length + connectionLine(mode, f.options) + "\r\n" };
  }
  if (body.kind === "string" || body.kind === "bytes") {
    const bytes = body.kind === "string" ? utf8(body.value) : body.value;
    const head = framed(`Content-Length: ${bytes.length}\r\n`);
    if (ctx.head) return { ...base, head };
    // A string is encoded anyway: binks encodes it into the head's buffer, whatever its size.
    if (body.kind === "bytes" && bytes.length > INLINE_MAX) return { ...base, head, after: bytes };
    return { ...base, head, inline: bytes };
  }
  const length = body.length;
  if (length !== undefined) {
    if (!Number.isSafeInteger(length) || length < 0) return REFUSED;
    const head = start + `Content-Length: ${length}\r\n` + connectionLine(mode, f.options) + "\r\n";
    return { ...base, head, stream: !ctx.head, sized: length };
  }
  if (ctx.minor === 0) {
    // RFC 9112 §6.3 (7): an HTTP/1.0 client reads a body of unknown length to the close.
    const head = start + connectionLine("close", f.options) + "\r\n";
    return { ...base, head, stream: !ctx.head, closeDelimited: true, close: true };
  }
  const head = start + "Transfer-Encoding: chunked\r\n" + connectionLine(mode, f.options) + "\r\n";
  return { ...base, head, stream: !ctx.head };
}

/** `text()`'s and `json()`'s fields: the type first, unless the caller gave one (any case). */
export function withType(fields: readonly Field[] | undefined, type: string): Field[] {
  if (fields === undefined) return [["content-type", type]];
  if (fields.some(([name]) => lower(name) === "content-type")) return [...fields];
  return [["content-type", type], ...fields];
}

/**
 * The pairs a Fetch `Headers` made of `fields` yields: names lower-cased, values without
 * leading and trailing HTTP whitespace, sorted by name, repeats joined with ", ", each
 * `set-cookie` on its own (Fetch standard, "sort and combine").
 */
export function headersPairs(fields: readonly Field[]): Field[] {
  const byName = new Map<string, string[]>();
  for (const [name, value] of fields) {
    const n = lower(name);
    const v = value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
    byName.set(n, [...(byName.get(n) ?? []), v]);
  }
  const names = [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Field[] = [];
  for (const n of names) {
    const values = byName.get(n)!;
    if (n === "set-cookie") { for (const v of values) out.push([n, v]); }
    else out.push([n, values.join(", ")]);
  }
  return out;
}
