/**
 * What a handler answers with, and how it becomes bytes.
 *
 * A handler returns a {@link Reply} (status, headers, body) or a
 * {@link StaticReply}, whose status line, headers and body were turned into
 * bytes once, when it was made. The server adds `Date`, the framing headers
 * (`Content-Length` or `Transfer-Encoding`) and `Connection`; a handler's own
 * values for those are ignored, and so are `Keep-Alive` and `Proxy-Connection`, except that the
 * options a handler's `Connection` names go on in the one binks writes (RFC 9110 §7.6.1).
 *
 * @module
 */
import { ascii, TOKEN, withoutOws } from "./bytes.ts";
import { dateLine } from "./date.ts";
import { statusHasNoBody, statusLine } from "./status.ts";
import { kindOf } from "./shown.ts";
import { writtenWhole } from "./release.ts";

/** 205 Reset Content: a status whose response has no content, yet is framed with a length. */
const RESET_CONTENT = 205;

/**
 * Header fields as a record (its own enumerable string keys, as `Object.entries` and
 * `new Headers(record)` take them), or as name/value pairs (pairs allow repeats, e.g. Set-Cookie): an
 * array of them, or anything iterable that yields them, such as a `Headers` or a `Map`.
 */
export type HeaderInit =
  | Readonly<Record<string, string>>
  | ReadonlyArray<readonly [string, string]>
  | Iterable<readonly [string, string]>;

/** A streamed body: each piece is sent as it comes (chunked for HTTP/1.1 clients). */
export type StreamBody = AsyncIterable<Uint8Array | string>;

/** A response body. A `Uint8Array` is handed over: do not change it after returning it. */
export type ReplyBody = string | Uint8Array | StreamBody | null | undefined;

/** A response, as a handler returns it. */
export interface Reply {
  /** Defaults to 200. */
  status?: number;
  /**
   * Header fields to send; the server's own (Date, framing, Connection) are dropped, as are
   * `Keep-Alive` and `Proxy-Connection`; a `Connection`'s options but `close` go on in the
   * server's own.
   */
  headers?: HeaderInit;
  /** Nothing (an empty body), text, bytes or a stream. */
  body?: ReplyBody;
  /**
   * The length of a streamed body, when known: it is then sent with
   * `Content-Length` instead of chunked (a stream that ends short or runs
   * long cuts the connection).
   */
  length?: number;
}

/** A response made into bytes once, to be sent many times. */
export class StaticReply {
  /** The status code. */
  readonly status: number;
  /** Status line and header fields, without Date, Connection and the blank line. */
  readonly head: Uint8Array;
  /** The body bytes. */
  readonly body: Uint8Array;
  /** `headers` held `Connection: close`: the connection ends after this reply. */
  readonly close: boolean;
  /** The other options of `headers`' `Connection`, for the field written with each answer. */
  readonly connectionOptions: string;
  /** The header fields it was made with, as pairs (see {@link withHeaders}). */
  readonly headers: ReadonlyArray<readonly [string, string]>;

  /** Serialise the status line, `headers` and `Content-Length` now, once. */
  constructor(status: number, headers: HeaderInit | undefined, body: string | Uint8Array) {
    // A 205 has no content (RFC 9110 §15.3.6).
    const bytes = status === RESET_CONTENT
      ? new Uint8Array(0)
      : typeof body === "string"
      ? encoder.encode(body)
      : body;
    const out = new Out(256);
    out.put(statusLine(status));
    this.close = writeHeaderFields(out, headers);
    this.connectionOptions = connectionOptions;
    if (!statusHasNoBody(status)) out.ascii(`Content-Length: ${bytes.length}\r\n`);
    this.status = status;
    this.head = out.buf.slice(0, out.len);
    this.body = bytes;
    this.headers = headers === undefined ? [] : fieldPairs(headers);
  }
}

/**
 * `reply` with `fields` after its own header fields: a new reply, the one given is not
 * changed. For middleware that adds fields to whatever the handler answered, a
 * {@link StaticReply} (the router's own 404 and 405 too) included: `withHeaders(await next(),
 * { "Access-Control-Allow-Origin": "*" })`.
 */
export function withHeaders(reply: Reply | StaticReply, fields: HeaderInit): Reply {
  const own = reply instanceof StaticReply
    ? reply.headers
    : reply.headers === undefined
    ? []
    : fieldPairs(reply.headers);
  const headers = [...own, ...fieldPairs(fields)];
  if (reply instanceof StaticReply) return { status: reply.status, headers, body: reply.body };
  return { ...reply, headers };
}

/** Header fields of any form as name/value pairs (an array given is returned as it is). */
function fieldPairs(headers: HeaderInit): ReadonlyArray<readonly [string, string]> {
  if (Array.isArray(headers)) return headers as ReadonlyArray<readonly [string, string]>;
  if (Symbol.iterator in headers) return [...(headers as Iterable<readonly [string, string]>)];
  return Object.entries(headers as Record<string, string>);
}

/** A JSON response; a value with no JSON text (undefined, a function, a symbol) throws. */
export function json(value: unknown, status = 200, headers?: HeaderInit): Reply {
  const body = JSON.stringify(value);
  // No JSON text at all (RFC 8259): it would go out as an empty body typed application/json.
  if (body === undefined) throw new TypeError(`json(): ${kindOf(value)} has no JSON text`);
  return { status, headers: withDefaultType(headers, "application/json"), body };
}

/** A plain-text response. */
export function text(body: string, status = 200, headers?: HeaderInit): Reply {
  return { status, headers: withDefaultType(headers, "text/plain; charset=utf-8"), body };
}

function withDefaultType(headers: HeaderInit | undefined, type: string): HeaderInit {
  if (headers === undefined) return [["content-type", type]];
  const pairs = fieldPairs(headers);
  for (const [name] of pairs) if (name.toLowerCase() === "content-type") return pairs;
  return [["content-type", type], ...pairs];
}

const encoder = new TextEncoder();

/**
 * For {@link writeHeaderFields}' for-in: V8 answers `hasOwnProperty` of a for-in's own key from
 * the loop's map check, for nothing; `Object.hasOwn` it looks up (5-10% on an 8-field record).
 */
const hasOwnProperty = Object.prototype.hasOwnProperty;

/** Bodies at most this long are copied next to the head so both go out in one write. */
export const INLINE_BODY_MAX: number = 16 * 1024;

/**
 * The same where the transport hands the written bytes to the kernel during the call (its
 * `sendsAtOnce`) and the head begins the write: a second send costs more than the copy, up to
 * the largest segment the kernel passes on at once (64 KiB, loopback's MTU and the GSO limit).
 * Bodies of 32 and 64 KiB after a head cost Node 28% and 15% less CPU per request so; at 128
 * KiB the write is often taken in part, and the copies it keeps cost more than the send saved.
 */
export const INLINE_AT_ONCE_MAX: number = 64 * 1024;

/**
 * A growable byte buffer that responses are serialised into, and handed to transports from.
 *
 * Bytes before `start` belong to a transport that kept them by reference (its
 * `keptBorrowed`): they are never written over. The buffer is reused from
 * `start` on; once it is full, writing goes on in a new one and the old one is left to
 * whoever still holds views of it. A kept view holds its whole buffer alive, so a transport
 * keeps at most one per stalled connection (it copies what queues behind it).
 */
export class Out {
  /** The bytes; those in `[start, len)` are written and not yet handed over. */
  buf: Uint8Array;
  /** Where the bytes not yet handed to a transport begin. */
  start = 0;
  /** Where the written bytes end. */
  len = 0;
  /** The last view {@link written} made, kept while answers of one size follow each other. */
  private view: Uint8Array;
  /**
   * The longest body written here after its head rather than handed over on its own: set for
   * each answer from what its transport does with a write ({@link INLINE_BODY_MAX} or
   * {@link INLINE_AT_ONCE_MAX}).
   */
  inlineMax: number = INLINE_BODY_MAX;

  /** A buffer of `size` bytes to start with. */
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = this.buf.subarray(0, 0);
  }

  /**
   * The written bytes, `[start, len)`, as a view of `buf` for handing to a transport. The view
   * is reused while answers of one length follow each other at one place.
   */
  written(): Uint8Array {
    let view = this.view;
    if (view.length !== this.len - this.start || view.byteOffset !== this.start) {
      view = this.view = this.buf.subarray(this.start, this.len);
    }
    return view;
  }

  /**
   * The {@link written} bytes went to a transport. Their room is written over next, unless the
   * transport `kept` the view: then the next bytes go after them.
   */
  sent(kept: boolean): void {
    if (kept) this.start = this.len;
    else this.len = this.start;
  }

  /**
   * Make room for `n` more bytes. A buffer that is too small makes way for a new one, twice as
   * large as needed; one that is only full of kept bytes, for a new one of its size.
   */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    const live = this.len - this.start;
    let size = this.buf.length;
    while (size < live + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, this.len));
    this.buf = next;
    this.start = 0;
    this.len = live;
    this.view = next.subarray(0, 0);
  }

  /** Append bytes. */
  put(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Append a string whose code points are all below 0x80. */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /**
   * Append a field value, one octet per char, if every char may stand in one (RFC 9110 §5.5: no
   * control char but HTAB, no DEL; none past U+00FF); else false, and nothing appended.
   */
  fieldValue(s: string): boolean {
    const n = s.length;
    this.reserve(n);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 ? c !== 0x09 : c === 0x7f || c > 0xff) return false;
      b[p++] = c;
    }
    this.len = p;
    return true;
  }

  /**
   * Append a string of ASCII alone, by the runtime's encoder: for a long one, many times faster
   * than {@link ascii}, and the same bytes.
   */
  plainAscii(s: string): void {
    const n = s.length;
    this.reserve(n);
    encoder.encodeInto(s, this.buf.subarray(this.len, this.len + n));
    this.len += n;
  }

  /** Append the decimal digits of a non-negative integer. */
  decimal(n: number): void {
    this.ascii(String(n));
  }
}

/** Header names the server writes itself; a handler's values for them are dropped. */
const MANAGED = new Set(["content-length", "transfer-encoding", "connection", "date"]);

/**
 * Fields about a connection that are not binks's to describe (RFC 9110 §7.6.1, RFC 9112
 * Appendix C.2.2), dropped: a `Response` fetched from another server brings its
 * `Keep-Alive: timeout=5`, which would tell the client a keep-alive time binks does not keep.
 */
const CONNECTION_SPECIFIC = new Set(["keep-alive", "proxy-connection"]);

/**
 * Append `name: value\r\n` for each field. A name that is not a token, or a value
 * holding a control byte other than HTAB (CR and LF would let a handler split the
 * response), is not sent: throw.
 * Returns true when a `Connection` field among them holds `close`: the handler
 * wants the connection ended after this response (the server writes that field, with
 * {@link connectionOptions}).
 */
export function writeHeaderFields(out: Out, headers: HeaderInit | undefined): boolean {
  statedLength = -1;
  connectionOptions = "";
  upgradeSent = false;
  if (headers === undefined) return false;
  let close = false;
  if (Array.isArray(headers)) {
    for (const [name, value] of headers as ReadonlyArray<readonly [string, string]>) {
      if (writeField(out, name, value)) close = true;
    }
  } else if (Symbol.iterator in headers) {
    // A `Headers` (whose methods for-in would list on some runtimes) or a `Map`: its pairs.
    for (const [name, value] of headers as Iterable<readonly [string, string]>) {
      if (writeField(out, name, value)) close = true;
    }
  } else {
    // Own enumerable string keys, as Object.entries (withHeaders) and `new Headers(record)`
    // take them: for-in alone also lists a prototype's, Object.prototype's polluted ones too.
    const record = headers as Readonly<Record<string, string>>;
    for (const name in record) {
      if (hasOwnProperty.call(record, name) && writeField(out, name, record[name]!)) close = true;
    }
  }
  if (upgradeSent) connectionOptions = withUpgradeOption(connectionOptions);
  return close;
}

/**
 * The `Content-Length` the last headers written stated (plain digits), or -1: binks frames
 * messages itself, but an answer to HEAD without a body may pass on the length a GET would have.
 */
let statedLength = -1;

/**
 * The options the last headers' `Connection` fields named besides `close`, joined with ", ", or
 * "". A sender lists there each field it sends only for the next hop, which intermediaries then
 * remove (RFC 9110 §7.6.1; an `Upgrade` must come with `upgrade`, §7.8): binks writes the
 * `Connection` field itself, so it carries them on rather than let such fields go out unmarked.
 * `close` and the names of fields binks writes or drops itself are binks's to say; an element
 * that is no token is no option (as a request's `Connection` is read).
 */
let connectionOptions = "";

/**
 * The last headers held an `Upgrade` field, which goes out only with an `upgrade` option in
 * `Connection` (RFC 9110 §7.8), lest an intermediary pass it on: binks adds the option when the
 * handler's `Connection` did not name it.
 */
let upgradeSent = false;

/** Length of the prefix `Upgrade: `, the only name of seven letters that {@link upgradeSent} needs. */
const UPGRADE_PREFIX_LENGTH = 9;

/** `options` (tokens joined with ", ") with `upgrade` among them. */
function withUpgradeOption(options: string): string {
  if (options === "") return "upgrade";
  for (const option of options.split(", ")) if (option.toLowerCase() === "upgrade") return options;
  return `${options}, upgrade`;
}

/** Write one field; true when it is a `Connection` that asks to close. */
function writeField(out: Out, name: string, value: string): boolean {
  const prefix = namePrefix(name);
  // `{ "X-Request-Id": req.header("x-request-id")! }` with no such field: String() would send
  // the text `undefined`, which no one meant. A handler's bug, refused like a bad value.
  if (value === undefined || value === null) {
    throw new TypeError(`header ${name}: the value is ${value}, not a string`);
  }
  value = String(value);
  // A long value (a Content-Security-Policy, a cookie) of visible ASCII, spaces and tabs is
  // checked by one regular expression and copied by the runtime's encoder: 287 chars took
  // 0.9–1.3 µs in the loops below, char by char.
  const plain = value.length > SHORT_FIELD_VALUE && !NOT_PLAIN_VALUE.test(value);
  if (prefix.length === 0) {
    // Checked also when binks drops the field or writes its own: a bad value is the handler's
    // bug wherever it is (README), as an undefined one is.
    if (!plain) checkValue(name, value);
    return prefix === MANAGED_NAME && managedField(name, value);
  }
  if (prefix.length === UPGRADE_PREFIX_LENGTH && name.toLowerCase() === "upgrade") {
    upgradeSent = true;
  }
  out.put(prefix);
  if (plain) out.plainAscii(value);
  // Checked as it is copied, in one pass; a refused value throws, and whoever wrote the head
  // takes back what of it was written (writeReplyAs).
  else if (!out.fieldValue(value)) checkValue(name, value);
  out.ascii("\r\n");
  return false;
}

/** Longest field value checked and copied char by char. */
const SHORT_FIELD_VALUE = 32;
/** A char other than visible ASCII, space and tab: one a value may not hold, or obs-text. */
const NOT_PLAIN_VALUE = /[^\t\x20-\x7e]/;

/** Throws for a char a field value may not hold. */
function checkValue(name: string, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // No control byte but HTAB (RFC 9110 §5.5): CR and LF would split the response.
    if (c < 0x20 ? c !== 0x09 : c === 0x7f) {
      throw new TypeError(`invalid value for header ${name}`);
    }
    // A value is octets, one per character as `req.header()` reads them (obs-text above 0x7f),
    // as the Fetch standard's `Headers` and Node's `setHeader` hold them: a character past 0xff
    // is no octet (encode it, e.g. RFC 8187 for a filename).
    if (c > 0xff) throw new TypeError(`header ${name}: a character past U+00FF is no octet`);
  }
}

/** A field binks writes itself: see {@link readConnection} and {@link statedLength}. */
function managedField(name: string, value: string): boolean {
  // Of the managed names only Content-Length has 14 characters.
  if (name.length !== 14) return readConnection(name, value);
  // Only spaces and tabs surround a value (RFC 9110 §5.5): trim() took 0xA0 for one too.
  const text = withoutOws(String(value));
  statedLength = text.length > 0 && text.length <= 15 && /^[0-9]+$/.test(text) ? Number(text) : -1;
  return false;
}

/**
 * A `Connection` value (a comma list of options, RFC 9110 §7.6.1): true when it holds `close`;
 * its other options are added to {@link connectionOptions}.
 */
function readConnection(name: string, value: string): boolean {
  if (name.length !== 10 || name.toLowerCase() !== "connection") return false;
  let close = false;
  for (const element of String(value).split(",")) {
    const option = withoutOws(element);
    const lower = option.toLowerCase();
    if (lower === "close") close = true;
    else if (isToken(option) && !MANAGED.has(lower) && !CONNECTION_SPECIFIC.has(lower)) {
      connectionOptions = connectionOptions === "" ? option : `${connectionOptions}, ${option}`;
    }
  }
  return close;
}

/** `text` is a token (RFC 9110 §5.6.2), as a connection option is. */
function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** Stands for a name binks writes itself (see {@link MANAGED}) in {@link prefixes}. */
const MANAGED_NAME = new Uint8Array(0);

/** Stands for a name never sent (see {@link CONNECTION_SPECIFIC}) in {@link prefixes}. */
const DROPPED_NAME = new Uint8Array(0);

/**
 * `Name: ` as bytes for each header name seen so far (or {@link MANAGED_NAME}): an app uses a
 * handful of names, so checking and encoding each once saves that per response.
 */
const prefixes = new Map<string, Uint8Array>();

/** Names remembered at most: beyond that, names made up per response are checked each time. */
const PREFIXES_MAX = 256;

/** The bytes that start a field named `name`; throws for a name that is not a token. */
function namePrefix(name: string): Uint8Array {
  const known = prefixes.get(name);
  if (known !== undefined) return known;
  // A pair's name may be anything (`[[42, "x"]]`, a Map keyed by symbols): no string, no name.
  if (typeof name !== "string") {
    throw new TypeError(`header name must be a string, not ${kindOf(name)}`);
  }
  const n = name.length;
  if (n === 0) throw new TypeError("empty header name");
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f || TOKEN[c] !== 1) {
      throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    }
  }
  const lower = name.toLowerCase();
  const prefix = MANAGED.has(lower)
    ? MANAGED_NAME
    : CONNECTION_SPECIFIC.has(lower)
    ? DROPPED_NAME
    : ascii(`${name}: `);
  if (prefixes.size < PREFIXES_MAX) prefixes.set(name, prefix);
  return prefix;
}

const CONNECTION_CLOSE = ascii("Connection: close\r\n");
const CONNECTION_KEEP_ALIVE = ascii("Connection: keep-alive\r\n");
const TRANSFER_CHUNKED = ascii("Transfer-Encoding: chunked\r\n");
const CRLF = ascii("\r\n");
export const CONTINUE_100: Uint8Array = ascii("HTTP/1.1 100 Continue\r\n\r\n");

/** How the connection wants a response's end marked. */
export const KEEP: number = 0;
/** The connection closes after this response. */
export const CLOSE: number = 1;
/** An HTTP/1.0 client asked to keep the connection: say we agree. */
export const KEEP_10: number = 2;

/** The `Connection` field for `mode`, with a handler's `options` after binks's own. */
function connectionField(out: Out, mode: number, options: string): void {
  if (options === "") {
    if (mode === CLOSE) out.put(CONNECTION_CLOSE);
    else if (mode === KEEP_10) out.put(CONNECTION_KEEP_ALIVE);
    return;
  }
  out.ascii(
    mode === CLOSE
      ? "Connection: close, "
      : mode === KEEP_10
      ? "Connection: keep-alive, "
      : "Connection: ",
  );
  out.ascii(options);
  out.put(CRLF);
}

/**
 * Serialise a {@link StaticReply}. Returns the body if it is too large to
 * inline (the caller sends it after the head), else null.
 */
export function writeStatic(
  out: Out,
  reply: StaticReply,
  headOnly: boolean,
  mode: number,
): Uint8Array | null {
  if (reply.close) mode = CLOSE;
  out.put(reply.head);
  out.put(dateLine());
  connectionField(out, mode, reply.connectionOptions);
  out.put(CRLF);
  if (headOnly || statusHasNoBody(reply.status)) return null;
  if (reply.body.length > out.inlineMax) return reply.body;
  out.put(reply.body);
  return null;
}

/** What {@link writeReply} left for the caller to send. */
export interface Tail {
  /** A body too large to inline, to send after the head as is. */
  bytes: Uint8Array | null;
  /** A body to stream after the head. */
  stream: StreamBody | null;
  /** The stream is framed by closing the connection (HTTP/1.0 client). */
  closeDelimited: boolean;
  /** The stream's length was announced: send its pieces as they are, exactly that many bytes. */
  sized: number;
  /**
   * The reply said `Connection: close` (the handler's own, or for a close-delimited body): the
   * connection ends after it.
   */
  close: boolean;
  /** The status written (read once from the reply: a getter may answer otherwise next time). */
  status: number;
}

/** A {@link Tail} with nothing left to send, for {@link writeReply} to fill. */
export function emptyTail(): Tail {
  return { bytes: null, stream: null, closeDelimited: false, sized: -1, close: false, status: 200 };
}

/**
 * Serialise a {@link Reply}'s head (and a small body) into `out`.
 * `minor` is the request's HTTP minor version: HTTP/1.0 clients get streamed
 * bodies delimited by close rather than chunked.
 */
export function writeReply(
  out: Out,
  reply: Reply,
  headOnly: boolean,
  mode: number,
  minor: number,
  tail: Tail,
): void {
  // A string has a `length`, so the types let it pass for a reply: it would go out as an empty 200.
  if (typeof reply !== "object" || Array.isArray(reply)) {
    throw new TypeError(
      `a reply is an object ({ status, headers, body }) or a StaticReply, not ${kindOf(reply)}${
        typeof reply === "string" ? " (text() makes one of a string)" : ""
      }`,
    );
  }
  const status = reply.status ?? 200;
  const body = reply.body;
  tail.status = status;
  try {
    writeReplyAs(out, reply, status, body, headOnly, mode, minor, tail);
  } catch (err) {
    // A reply refused (a bad field, status or length) is not sent: its stream, which may hold an
    // open file, is closed as for any answer that does not go out.
    discardStream(body);
    throw err;
  }
}

/** {@link writeReply} with the status and body read once from the reply. */
function writeReplyAs(
  out: Out,
  reply: Reply,
  status: number,
  body: ReplyBody,
  headOnly: boolean,
  mode: number,
  minor: number,
  tail: Tail,
): void {
  tail.bytes = null;
  tail.stream = null;
  tail.closeDelimited = false;
  tail.sized = -1;
  tail.close = false;
  // Counted from `out.start`: a buffer outgrown while writing is replaced, and the bytes that
  // wait in it move to its start.
  const start = out.len - out.start;
  try {
    out.put(statusLine(status));
    if (writeHeaderFields(out, reply.headers)) {
      mode = CLOSE;
      tail.close = true;
    }
  } catch (err) {
    out.len = out.start + start;
    throw err;
  }
  if (status === RESET_CONTENT) {
    // A 205 has no content (RFC 9110 §15.3.6): whatever the handler gave, it is framed as empty.
    // Closed once its head is written: one refused is closed by writeReply, and only there.
    discardStream(body);
    body = null;
  }
  const options = connectionOptions;
  out.put(dateLine());
  if (statusHasNoBody(status)) {
    connectionField(out, mode, options);
    out.put(CRLF);
    discardStream(body);
    return;
  }
  if (body === null || body === undefined) {
    // Without a body an answer to HEAD cannot tell what a GET would send, so it states a
    // length only when the handler did (RFC 9110 §8.6, §9.3.2); a 205 is empty either way.
    if (!headOnly || status === RESET_CONTENT) out.ascii("Content-Length: 0\r\n");
    else if (statedLength >= 0) {
      out.ascii("Content-Length: ");
      out.decimal(statedLength);
      out.put(CRLF);
    }
    connectionField(out, mode, options);
    out.put(CRLF);
    return;
  }
  if (typeof body === "string") {
    writeStringBody(out, body, headOnly, mode, options);
    return;
  }
  if (body instanceof Uint8Array) {
    out.ascii("Content-Length: ");
    out.decimal(body.length);
    out.put(CRLF);
    connectionField(out, mode, options);
    out.put(CRLF);
    if (headOnly) return;
    if (body.length > out.inlineMax) tail.bytes = body;
    else {
      out.put(body);
      // Copied where they are sent from: bytes the server alone holds may go back now.
      writtenWhole(body);
    }
    return;
  }
  if (!isStream(body)) {
    // A number, an ArrayBuffer, a plain object (`{ body: json.message }`): a handler's bug, a
    // 500 like any other failure, not a stream that breaks once its head has gone out.
    throw new TypeError(
      `reply body must be a string, a Uint8Array or an async iterable, not ${kindOf(body)}`,
    );
  }
  const length = reply.length;
  if (length !== undefined) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`invalid body length ${length}`);
    }
    out.ascii("Content-Length: ");
    out.decimal(length);
    out.put(CRLF);
    connectionField(out, mode, options);
    tail.sized = length;
  } else if (minor === 0) {
    connectionField(out, CLOSE, options);
    tail.closeDelimited = true;
    // Said, so done: the connection ends after this answer, also when it answers HEAD and no
    // body follows to be ended by the close (RFC 9112 §9.6).
    tail.close = true;
  } else {
    out.put(TRANSFER_CHUNKED);
    connectionField(out, mode, options);
  }
  out.put(CRLF);
  if (!headOnly) tail.stream = body;
  else discardStream(body);
}

function isStream(body: unknown): body is StreamBody {
  return typeof body === "object" && body !== null &&
    typeof (body as Partial<StreamBody>)[Symbol.asyncIterator] === "function";
}

/**
 * A streamed body that will not be sent (an answer to HEAD, a 204 or 304, one that came too
 * late) is closed, so that its producer lets go of what it holds (an open file), as when a
 * client leaves mid-stream.
 */
export function discardStream(body: ReplyBody): void {
  if (body === null || body === undefined || typeof body === "string") return;
  if (body instanceof Uint8Array) return;
  try {
    closeIterator(body[Symbol.asyncIterator]());
  } catch {
    // A producer that fails to close has nothing more to give anyway.
  }
}

/**
 * Tell a stream's producer that no more is wanted. A hand-written `return()` may throw, or give
 * a plain `{ done: true }` rather than a promise: neither may reach the caller, which is closing
 * a connection.
 */
export function closeIterator(iterator: AsyncIterator<unknown>): void {
  try {
    const closing = iterator.return?.();
    if (closing !== undefined) void Promise.resolve(closing).catch(() => {});
  } catch {
    // As a producer that fails to close: it has nothing more to give anyway.
  }
}

function writeStringBody(
  out: Out,
  body: string,
  headOnly: boolean,
  mode: number,
  options: string,
): void {
  // A short ASCII body is copied char by char; any other is encoded by the runtime, which
  // goes through a string of some length many times faster (1,000 chars: 0.03–0.13 µs
  // against 3 µs in JavaScript on all three runtimes).
  const bytes = body.length <= SHORT_STRING_BODY && isAscii(body) ? null : utf8(body);
  out.ascii("Content-Length: ");
  out.decimal(bytes === null ? body.length : bytes.length);
  out.put(CRLF);
  connectionField(out, mode, options);
  out.put(CRLF);
  if (headOnly) return;
  if (bytes === null) out.ascii(body);
  else out.put(bytes);
}

/** Longest string body copied into the output char by char rather than encoded. */
const SHORT_STRING_BODY = 64;
/** Longest string body encoded into {@link scratch}; a longer one gets an array of its own. */
const SCRATCH_MAX = 64 * 1024;
/** Where string bodies are encoded, then copied into the output at once: grown as needed. */
let scratch = new Uint8Array(0);

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * The UTF-8 of `text`: a view of {@link scratch}, valid until the next call, when it fits there
 * (all of an ASCII text does; another only if the room it was given is enough), else its own.
 */
function utf8(text: string): Uint8Array {
  if (text.length > SCRATCH_MAX) return encoder.encode(text);
  if (scratch.length < text.length) {
    scratch = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(1024, text.length * 2)));
  }
  const { read, written } = encoder.encodeInto(text, scratch);
  return read === text.length ? scratch.subarray(0, written) : encoder.encode(text);
}

/** The frame of one chunk of a chunked body: size line, data, CRLF. */
export function chunkFrame(data: Uint8Array): Uint8Array {
  const size = data.length.toString(16);
  const frame = new Uint8Array(size.length + 2 + data.length + 2);
  for (let i = 0; i < size.length; i++) frame[i] = size.charCodeAt(i);
  frame[size.length] = 0x0d;
  frame[size.length + 1] = 0x0a;
  frame.set(data, size.length + 2);
  frame[frame.length - 2] = 0x0d;
  frame[frame.length - 1] = 0x0a;
  return frame;
}

/** The size line that starts a chunk of `length` bytes. */
export function chunkSizeLine(length: number): Uint8Array {
  const size = length.toString(16);
  const line = new Uint8Array(size.length + 2);
  for (let i = 0; i < size.length; i++) line[i] = size.charCodeAt(i);
  line[size.length] = 0x0d;
  line[size.length + 1] = 0x0a;
  return line;
}

/** The last chunk, with no trailer fields. */
export const LAST_CHUNK: Uint8Array = ascii("0\r\n\r\n");

/** Encode a streamed piece as bytes. */
export function pieceBytes(piece: Uint8Array | string): Uint8Array {
  if (typeof piece === "string") return encoder.encode(piece);
  if (piece instanceof Uint8Array) return piece;
  throw new TypeError(
    `a streamed body piece must be a Uint8Array or a string, not ${kindOf(piece)}`,
  );
}
