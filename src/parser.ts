/**
 * The HTTP/1.1 request-head parser: incremental, zero-copy, strict (RFC 9112).
 *
 * Work is split in two, as picohttpparser does. {@link findHeadEnd} looks for
 * the blank line that ends a head and resumes where it stopped, so a client
 * trickling bytes costs O(new bytes). Once the head is whole, {@link parseHead}
 * makes one pass over it, filling a caller-owned {@link RequestHead} with
 * offsets into the buffer. No string is made for a header nobody reads.
 *
 * Line ends: only CRLF. A bare LF or a bare CR anywhere in the head is a 400.
 * RFC 9112 §2.2 lets a recipient accept a bare LF, but a lenient parser in
 * front of a strict one (or the reverse) is how requests get smuggled;
 * rejecting is the only policy under which binks can never see a request that
 * another parser frames differently.
 *
 * @module
 */
import {
  ASTERISK,
  BACKSLASH,
  COLON,
  COMMA,
  CR,
  DOT,
  equalsIgnoreCase,
  FIELD_VALUE,
  HT,
  LF,
  PERCENT,
  QUESTION,
  REG_NAME,
  SLASH,
  SP,
  TARGET,
  TOKEN,
} from "./bytes.ts";
import { ascii, copyBytes } from "./bytes.ts";
import { authorityHostEnd } from "./authority.ts";
import type { Limits } from "./limits.ts";

/** {@link findHeadEnd}: the blank line has not arrived yet. */
export const NEED_MORE: number = -1;

/** Where a parsed request's head lies, as offsets into the bytes it was parsed from. */
export class RequestHead {
  /** The bytes the offsets point into. */
  buf: Uint8Array = EMPTY;
  /** First byte of the request line. */
  start = 0;
  /** One past the blank line that ends the head. */
  end = 0;
  /** The method: an interned constant for the registered methods. */
  method = "";
  /** First byte of the request-target. */
  targetStart = 0;
  /** One past the request-target's last byte. */
  targetEnd = 0;
  /**
   * First byte of the target's path: `targetStart`, except in absolute-form, where the path
   * follows `scheme://authority` (and may be empty, which means `/`).
   */
  pathStart = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1;
  /** Header fields parsed. */
  headerCount = 0;
  /** Per header: name start, name end, value start, value end (trailing whitespace trimmed). */
  headers: Uint32Array;
  /** Declared body length; -1 when there is none (or the body is chunked). */
  contentLength: number = -1;
  /** The body uses the chunked transfer coding. */
  chunked = false;
  /** The connection may stay open after this exchange (version default and `Connection`). */
  keepAlive = true;
  /** The client sent `Expect: 100-continue`. */
  expectContinue = false;

  /** Room for `maxHeaders` header fields; one is reused for head after head. */
  constructor(maxHeaders: number) {
    this.headers = new Uint32Array(maxHeaders * 4);
  }

  /**
   * A copy for a request that outlives this turn. Its bytes are its own unless `mayKeep` says
   * the buffer is never reused: then a view, which holds the buffer only while the request
   * runs (a copy would cost an ArrayBuffer of its own per request).
   */
  snapshot(mayKeep: boolean): RequestHead {
    const copy = new RequestHead(this.headerCount);
    const shift = this.start;
    const n = this.headerCount * 4;
    copy.buf = mayKeep ? this.buf.subarray(shift, this.end) : copyBytes(this.buf, shift, this.end);
    copy.end = this.end - shift;
    copy.method = this.method;
    copy.targetStart = this.targetStart - shift;
    copy.targetEnd = this.targetEnd - shift;
    copy.pathStart = this.pathStart - shift;
    copy.minor = this.minor;
    copy.headerCount = this.headerCount;
    for (let i = 0; i < n; i++) copy.headers[i] = this.headers[i]! - shift;
    copy.contentLength = this.contentLength;
    copy.chunked = this.chunked;
    copy.keepAlive = this.keepAlive;
    copy.expectContinue = this.expectContinue;
    return copy;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Scan `buf[from, end)` for the CRLF CRLF that ends a head starting at `start`.
 *
 * Returns the offset one past it, {@link NEED_MORE}, or -400 when a LF is not
 * preceded by CR. `resume` receives the offset to pass as `from` next time, so
 * no byte is scanned twice.
 */
export function findHeadEnd(
  buf: Uint8Array,
  start: number,
  from: number,
  end: number,
  resume: { scan: number },
): number {
  let i = from;
  for (;;) {
    const lf = buf.indexOf(LF, i);
    if (lf < 0 || lf >= end) {
      resume.scan = i;
      return NEED_MORE;
    }
    if (lf === start || buf[lf - 1] !== CR) return -400;
    // An empty line: the LF two bytes back ended the previous line.
    if (lf - 2 > start && buf[lf - 2] === LF) return lf + 1;
    i = lf + 1;
  }
}

/** The methods RFC 9110 registers, interned so that parsing GET makes no string. */
const METHODS: readonly string[] = [
  "GET",
  "POST",
  "PUT",
  "HEAD",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
];
const METHOD_BYTES: readonly Uint8Array[] = METHODS.map(ascii);

function internMethod(buf: Uint8Array, start: number, end: number): string {
  const len = end - start;
  for (let m = 0; m < METHOD_BYTES.length; m++) {
    const bytes = METHOD_BYTES[m]!;
    if (bytes.length !== len) continue;
    let i = 0;
    while (i < len && buf[start + i] === bytes[i]) i++;
    if (i === len) return METHODS[m]!;
  }
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

const H_HOST = ascii("host");
const H_EXPECT = ascii("expect");
const H_CONNECTION = ascii("connection");
const H_CONTENT_LENGTH = ascii("content-length");
const H_TRANSFER_ENCODING = ascii("transfer-encoding");
const V_CHUNKED = ascii("chunked");
const V_CLOSE = ascii("close");
const V_KEEP_ALIVE = ascii("keep-alive");
const V_100_CONTINUE = ascii("100-continue");

/** The longest Content-Length we accept: 15 digits stay below 2^53. */
const MAX_LENGTH_DIGITS = 15;

/** Framing facts gathered while the header fields go by. */
class Framing {
  hosts = 0;
  badHost = false;
  contentLength: number = -1;
  lengthConflict = false;
  badLength = false;
  teSeen = false;
  teBad = false;
  teUnknown = false;
  teChunkedCount = 0;
  teLastChunked = false;
  close = false;
  keepAlive = false;
  expectContinue = false;
  expectOther = false;

  reset(): void {
    this.hosts = 0;
    this.badHost = false;
    this.contentLength = -1;
    this.lengthConflict = false;
    this.badLength = false;
    this.teSeen = false;
    this.teBad = false;
    this.teUnknown = false;
    this.teChunkedCount = 0;
    this.teLastChunked = false;
    this.close = false;
    this.keepAlive = false;
    this.expectContinue = false;
    this.expectOther = false;
  }
}

const framing = new Framing();

/**
 * Parse the head that starts at `start`, looking no further than `end`.
 *
 * `end` may be where {@link findHeadEnd} found the blank line, or simply the
 * end of the bytes at hand: most heads arrive whole, and one pass that both
 * finds and parses them beats two. Fills `head` (its `end` is set one past the
 * blank line) and returns 0, or {@link NEED_MORE} when the bytes stop before
 * the head does, or the HTTP status to answer with (400, 413, 414, 417, 431,
 * 501, 505). Bytes past `end` in `buf` are never trusted.
 */
export function parseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  head: RequestHead,
  limits: Limits,
): number {
  // A head refused before its method is read must not keep the last request's (a HEAD's).
  head.method = "";
  const status = parseLines(buf, start, end, head, limits);
  // Bytes that already hold a blank line hold the whole head: running out means it is malformed.
  if (
    status === NEED_MORE && end - start >= 4 && buf[end - 1] === LF && buf[end - 2] === CR &&
    buf[end - 3] === LF && buf[end - 4] === CR
  ) return 400;
  return status;
}

function parseLines(
  buf: Uint8Array,
  start: number,
  end: number,
  head: RequestHead,
  limits: Limits,
): number {
  head.buf = buf;
  head.start = start;
  head.headerCount = 0;

  let p = parseRequestLine(buf, start, end, head);
  if (p < 0) return p === NEED_MORE ? NEED_MORE : -p;
  if (p - 2 - start > limits.maxRequestLine) return 414;

  const f = framing;
  f.reset();
  const h = head.headers;
  const max = limits.maxHeaders;
  let n = 0;
  for (;;) {
    if (p + 1 >= end) return NEED_MORE;
    if (buf[p] === CR) {
      if (buf[p + 1] !== LF) return 400;
      p += 2;
      break;
    }
    const nameStart = p;
    while (TOKEN[buf[p]!] === 1) p++;
    if (p >= end) return NEED_MORE;
    // Nothing before the colon covers obs-fold and leading whitespace too.
    if (p === nameStart || buf[p] !== COLON) return 400;
    const nameEnd = p++;
    while (buf[p] === SP || buf[p] === HT) p++;
    const valueStart = p;
    // Host is checked as it is scanned (RFC 9112 §3.2): its usual form, a reg-name and a port,
    // in this one pass; anything else by the full grammar below.
    const host = nameEnd - nameStart === 4 && equalsIgnoreCase(buf, nameStart, nameEnd, H_HOST);
    if (host) p = plainAuthorityEnd(buf, p);
    const plainEnd = p;
    while (FIELD_VALUE[buf[p]!] === 1) p++;
    if (p + 1 >= end) return NEED_MORE;
    if (buf[p] !== CR || buf[p + 1] !== LF) return 400;
    let valueEnd = p;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HT)) {
      valueEnd--;
    }
    if (host) {
      f.hosts++;
      if (plainEnd !== valueEnd && authorityHostEnd(buf, valueStart, valueEnd) < 0) {
        f.badHost = true;
      }
    }
    p += 2;
    if (n === max) return 431;
    const k = n * 4;
    h[k] = nameStart;
    h[k + 1] = nameEnd;
    h[k + 2] = valueStart;
    h[k + 3] = valueEnd;
    n++;
    noteFraming(buf, nameStart, nameEnd, valueStart, valueEnd, f);
  }
  head.end = p;
  head.headerCount = n;
  if (p - start > limits.maxHeadBytes) return 431;
  return decideFraming(head, f, limits);
}

/**
 * Returns the offset after the request line's CRLF, {@link NEED_MORE}, or
 * minus the status to answer.
 */
function parseRequestLine(buf: Uint8Array, start: number, end: number, head: RequestHead): number {
  let p = start;
  while (TOKEN[buf[p]!] === 1) p++;
  if (p >= end) return NEED_MORE;
  if (p === start || buf[p] !== SP) return -400;
  head.method = internMethod(buf, start, p);
  const targetStart = ++p;
  let marks = 0;
  for (;;) {
    // Past the bytes at hand a read gives undefined, which is no target byte (`> 0` is false).
    const t = TARGET[buf[p]!]!;
    if (!(t > 0)) break;
    marks |= t;
    p++;
  }
  if (p >= end) return NEED_MORE;
  if (p === targetStart || buf[p] !== SP) return -400;
  head.targetStart = targetStart;
  head.targetEnd = p;
  const pathStart = pathStartOf(buf, targetStart, p, head.method);
  if (pathStart < 0) return -400;
  if (marks > 1 && head.method !== "CONNECT" && pathMisleads(buf, pathStart, p)) return -400;
  head.pathStart = pathStart;
  p++;
  // HTTP-version = "HTTP" "/" DIGIT "." DIGIT, then CRLF.
  if (p + 10 > end) return NEED_MORE;
  if (
    buf[p] !== 0x48 || buf[p + 1] !== 0x54 || buf[p + 2] !== 0x54 ||
    buf[p + 3] !== 0x50 || buf[p + 4] !== 0x2f || buf[p + 6] !== 0x2e
  ) return -400;
  const major = buf[p + 5]! - 0x30;
  const minor = buf[p + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return -400;
  if (buf[p + 8] !== CR || buf[p + 9] !== LF) return -400;
  if (major !== 1) return -505;
  // A later HTTP/1.x is read as the highest 1.x we implement (RFC 9110 §2.5).
  head.minor = minor > 1 ? 1 : minor;
  return p + 10;
}

/**
 * The path of `buf[p, end)` (up to its query) holds a `\` or a dot-segment (`.`, `..`, or
 * either with a dot as `%2e`). Both are read as another path by URL parsers (WHATWG URL turns
 * `\` into `/` and removes dot-segments, RFC 3986 §5.2.4 too): a fetch handler's
 * `Request.url` would then name another resource than the one routed and logged, and a proxy
 * in front that matched on the raw path another still. Clients remove dot-segments before
 * sending (RFC 3986 §5.2), so a request with one is refused (400), not guessed at.
 */
function pathMisleads(buf: Uint8Array, p: number, end: number): boolean {
  let segment = -1;
  for (; p < end; p++) {
    const c = buf[p]!;
    if (c === QUESTION) break;
    if (c === BACKSLASH) return true;
    if (c === SLASH) {
      if (segment >= 0 && isDotSegment(buf, segment, p)) return true;
      segment = p + 1;
    }
  }
  return segment >= 0 && isDotSegment(buf, segment, p);
}

/** `buf[p, end)` is `.` or `..`, each dot possibly written `%2e` or `%2E`. */
function isDotSegment(buf: Uint8Array, p: number, end: number): boolean {
  let dots = 0;
  while (p < end) {
    if (buf[p] === DOT) p++;
    else if (
      buf[p] === PERCENT && p + 2 < end && buf[p + 1] === 0x32 && (buf[p + 2]! | 0x20) === 0x65
    ) {
      p += 3;
    } else return false;
    if (++dots > 2) return false;
  }
  return dots > 0;
}

/**
 * The four request-target forms (RFC 9112 §3.2): origin-form `/…` for any
 * method, asterisk-form only for OPTIONS, authority-form `host:port` only for
 * CONNECT, absolute-form `http://authority…` or `https://…`. Returns where the
 * target's path starts, or -1 when the target has no form that fits the method.
 */
function pathStartOf(buf: Uint8Array, start: number, end: number, method: string): number {
  const first = buf[start]!;
  if (first === SLASH) return method === "CONNECT" ? -1 : start;
  if (method === "CONNECT") {
    // authority-form = uri-host ":" port, both there (a reg-name may begin with `*`).
    const hostEnd = authorityHostEnd(buf, start, end);
    return hostEnd > start && hostEnd < end - 1 ? start : -1;
  }
  if (first === ASTERISK) return end - start === 1 && method === "OPTIONS" ? start : -1;
  // absolute-form, whose scheme must be http or https: a target in another (`ftp://x/a`)
  // names no resource of this server, and routing it by its path would answer for one.
  const authorityStart = pastHttpScheme(buf, start, end);
  if (authorityStart < 0) return -1;
  let authorityEnd = authorityStart;
  while (authorityEnd < end && buf[authorityEnd] !== SLASH && buf[authorityEnd] !== QUESTION) {
    authorityEnd++;
  }
  // An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1), and userinfo (`user@`)
  // is refused with it, since it is there to disguise the authority (RFC 9110 §4.2.4).
  const hostEnd = authorityHostEnd(buf, authorityStart, authorityEnd);
  return hostEnd > authorityStart ? authorityEnd : -1;
}

/** Past `http://` or `https://` at `p`, the scheme in any case (RFC 3986 §3.1); else -1. */
function pastHttpScheme(buf: Uint8Array, p: number, end: number): number {
  // `| 0x20` lowers a letter, and turns no other byte into one: only `H` and `h` give `h`.
  if (
    p + 7 > end || (buf[p]! | 0x20) !== 0x68 || (buf[p + 1]! | 0x20) !== 0x74 ||
    (buf[p + 2]! | 0x20) !== 0x74 || (buf[p + 3]! | 0x20) !== 0x70
  ) {
    return -1;
  }
  p += 4;
  if ((buf[p]! | 0x20) === 0x73) p++;
  return p + 3 <= end && buf[p] === COLON && buf[p + 1] === SLASH && buf[p + 2] === SLASH
    ? p + 3
    : -1;
}

function noteFraming(
  buf: Uint8Array,
  nameStart: number,
  nameEnd: number,
  valueStart: number,
  valueEnd: number,
  f: Framing,
): void {
  switch (nameEnd - nameStart) {
    case 6:
      if (equalsIgnoreCase(buf, nameStart, nameEnd, H_EXPECT)) {
        noteExpect(buf, valueStart, valueEnd, f);
      }
      return;
    case 10:
      if (equalsIgnoreCase(buf, nameStart, nameEnd, H_CONNECTION)) {
        noteConnection(buf, valueStart, valueEnd, f);
      }
      return;
    case 14:
      if (equalsIgnoreCase(buf, nameStart, nameEnd, H_CONTENT_LENGTH)) {
        noteLength(buf, valueStart, valueEnd, f);
      }
      return;
    case 17:
      if (equalsIgnoreCase(buf, nameStart, nameEnd, H_TRANSFER_ENCODING)) {
        noteCodings(buf, valueStart, valueEnd, f);
      }
      return;
  }
}

/**
 * Past `reg-name [ ":" *DIGIT ]` at `p`, with no `%`: where such a Host value would end. A value
 * that ends anywhere else may still be an authority (an IP-literal, a `%HH`), or not.
 */
function plainAuthorityEnd(buf: Uint8Array, p: number): number {
  while (REG_NAME[buf[p]!] === 1) p++;
  if (buf[p] !== COLON) return p;
  let port = 0;
  for (p++;; p++) {
    // Past the bytes at hand a read gives undefined, which is no digit.
    const d = buf[p]! - 0x30;
    if (!(d >= 0 && d <= 9)) return p;
    // A port past 65535 stops the plain form here: the full grammar refuses it.
    port = port * 10 + d;
    if (port > 65535) return p;
  }
}

/** Content-Length must be plain digits; repeats must agree (RFC 9112 §6.3). */
function noteLength(buf: Uint8Array, start: number, end: number, f: Framing): void {
  if (end === start || end - start > MAX_LENGTH_DIGITS) {
    f.badLength = true;
    return;
  }
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) {
      f.badLength = true;
      return;
    }
    n = n * 10 + d;
  }
  if (f.contentLength >= 0 && f.contentLength !== n) f.lengthConflict = true;
  f.contentLength = n;
}

/**
 * Transfer-Encoding: a comma list of codings, possibly over several fields, empty
 * elements skipped (RFC 9110 §5.6.1.2). Only `chunked` is implemented: a list that is
 * not plain tokens, or does not end in `chunked`, is a 400 (no length can be read from
 * it); another coding before `chunked` is a 501.
 */
function noteCodings(buf: Uint8Array, start: number, end: number, f: Framing): void {
  f.teSeen = true;
  let p = start;
  for (;;) {
    while (p < end && (buf[p] === SP || buf[p] === HT || buf[p] === COMMA)) p++;
    if (p === end) return;
    const tokenStart = p;
    while (p < end && TOKEN[buf[p]!] === 1) p++;
    if (p === tokenStart) {
      f.teBad = true;
      return;
    }
    const chunked = equalsIgnoreCase(buf, tokenStart, p, V_CHUNKED);
    if (chunked) f.teChunkedCount++;
    else f.teUnknown = true;
    f.teLastChunked = chunked;
    while (p < end && (buf[p] === SP || buf[p] === HT)) p++;
    if (p < end && buf[p] !== COMMA) {
      // e.g. parameters (`;q=1`) or stray bytes: nothing we could decode.
      f.teBad = true;
      return;
    }
  }
}

/** The element {@link listElement} found last, without the whitespace around it. */
const element = { start: 0, end: 0 };

/**
 * One element of a comma-separated list (RFC 9110 §5.6.1) starting at `p`: its bounds, OWS
 * trimmed, go to {@link element}; returns where it stops (its comma, or `end`).
 */
function listElement(buf: Uint8Array, p: number, end: number): number {
  let stop = p;
  while (stop < end && buf[stop] !== COMMA) stop++;
  let s = p;
  let e = stop;
  while (s < e && (buf[s] === SP || buf[s] === HT)) s++;
  while (e > s && (buf[e - 1] === SP || buf[e - 1] === HT)) e--;
  element.start = s;
  element.end = e;
  return stop;
}

/**
 * Expect: a comma list of expectations, empty elements skipped (RFC 9110 §5.6.1.2); any
 * member but `100-continue` is one binks cannot meet (§10.1.1).
 */
function noteExpect(buf: Uint8Array, start: number, end: number, f: Framing): void {
  for (let p = start; p < end;) {
    p = listElement(buf, p, end) + 1;
    const { start: s, end: e } = element;
    if (equalsIgnoreCase(buf, s, e, V_100_CONTINUE)) f.expectContinue = true;
    else if (e > s) f.expectOther = true;
  }
}

/**
 * `Connection` is a comma-separated list of tokens (RFC 9110 §7.6.1): each element is
 * compared whole, without the whitespace around it, so `x keep-alive` (not a token) is
 * neither `keep-alive` nor anything else.
 */
function noteConnection(buf: Uint8Array, start: number, end: number, f: Framing): void {
  for (let p = start; p < end;) {
    p = listElement(buf, p, end) + 1;
    const { start: s, end: e } = element;
    if (equalsIgnoreCase(buf, s, e, V_CLOSE)) f.close = true;
    else if (equalsIgnoreCase(buf, s, e, V_KEEP_ALIVE)) f.keepAlive = true;
  }
}

/** RFC 9112 §6 message framing, and the Host and Expect rules. */
function decideFraming(head: RequestHead, f: Framing, limits: Limits): number {
  head.chunked = false;
  head.contentLength = -1;
  if (f.badLength || f.lengthConflict) return 400;
  if (f.teSeen) {
    // A message with both is a smuggling attempt or a broken proxy; either way, refuse.
    if (f.contentLength >= 0) return 400;
    if (head.minor === 0) return 400;
    if (f.teBad || f.teChunkedCount > 1) return 400;
    // RFC 9112 §6.3: without chunked last the body's length cannot be known.
    if (!f.teLastChunked) return 400;
    // RFC 9112 §6.1: a coding the server does not understand.
    if (f.teUnknown) return 501;
    head.chunked = true;
  } else if (f.contentLength >= 0) {
    if (f.contentLength > limits.maxBodyBytes) return 413;
    head.contentLength = f.contentLength;
  }
  // RFC 9112 §3.2: a missing Host (HTTP/1.1), more than one, or one that is not an authority.
  if (head.minor === 1 ? f.hosts !== 1 : f.hosts > 1) return 400;
  if (f.badHost) return 400;
  // An HTTP/1.0 client's expectations are ignored (RFC 9110 §10.1.1).
  if (head.minor === 1 && f.expectOther) return 417;
  head.expectContinue = f.expectContinue && head.minor === 1;
  head.keepAlive = !f.close && (head.minor === 1 || f.keepAlive);
  return 0;
}
