/**
 * The access log: one JSON line per response, gathered in memory and written
 * in batches, so that logging costs the hot path a string append, not a
 * write per request.
 *
 * @module
 */
import { now, type Timer, timers } from "./clock.ts";

/** What the log needs to know about a request when its response goes out. */
export interface LogInfo {
  /** The method, as sent; null for a request refused before it was read (a 400, a 431…). */
  method: string | null;
  /** The request-target, as sent; null as `method`. */
  url: string | null;
  /** The client's address (see `IncomingRequest.ip`). */
  remote: string;
  /** When the request was dispatched (see `now()`). */
  started: number;
}

/** Write out batches at least this often. */
const FLUSH_MS = 200;
/** ... or as soon as this many characters are waiting. */
const FLUSH_CHARS = 64 * 1024;

/**
 * Most bytes handed to the writer at once: PIPE_BUF on Linux, the most a pipe takes in one
 * piece. Workers sharing a pipe as stdout each write their own batches, and a write larger
 * than this may be split, another process's bytes landing inside a line; pieces of whole lines
 * no larger than this never interleave.
 */
export const PIECE_BYTES = 4096;

/**
 * Longest request-target logged, in characters; a longer one is cut (and the line says `cut`).
 * Escaped for JSON a target at most doubles (`"` is `\"`), so with the method cut to
 * {@link MAX_LOGGED_METHOD} every line fits in {@link PIECE_BYTES}: a client's long target never
 * makes a line that another process's write could land inside.
 */
export const MAX_LOGGED_TARGET = 1024;
/** Longest method logged, in characters (a method is a token: no escaping). */
export const MAX_LOGGED_METHOD = 64;

/** Reused to find out whether a batch is ASCII (made when first needed). */
let scratch: Uint8Array | null = null;
const UTF8 = new TextEncoder();

/**
 * Whether `text` is all ASCII, one byte a character. Encoding it into a buffer is the runtimes'
 * native (SIMD) code, about ten times as fast as a regular expression or a loop over its
 * characters.
 */
function isAscii(text: string): boolean {
  scratch ??= new Uint8Array(FLUSH_CHARS);
  for (let at = 0; at < text.length; at += scratch.length) {
    const chunk = text.slice(at, at + scratch.length);
    // A wider character would not fit: fewer characters read than bytes in the buffer.
    const { read, written } = UTF8.encodeInto(chunk, scratch);
    if (read !== chunk.length || written !== chunk.length) return false;
  }
  return true;
}

/**
 * `text`, whole lines, cut after line ends into pieces of at most `maxBytes` bytes of UTF-8; a
 * line longer than that is a piece of its own. Surrogates are taken to come in pairs (the log's
 * text is JSON.stringify's, which escapes a lone one).
 */
export function pieces(text: string, maxBytes: number = PIECE_BYTES): string[] {
  // Mostly ASCII, where a character is a byte and line ends are found without counting.
  const pieceEnd = isAscii(text) ? asciiPieceEnd : utf8PieceEnd;
  const out: string[] = [];
  for (let start = 0; start < text.length;) {
    const end = pieceEnd(text, start, maxBytes);
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/** Where the piece of ASCII `text` from `start` ends. */
function asciiPieceEnd(text: string, start: number, maxBytes: number): number {
  if (text.length - start <= maxBytes) return text.length;
  const lastLineEnd = text.lastIndexOf("\n", start + maxBytes - 1);
  if (lastLineEnd >= start) return lastLineEnd + 1;
  // Its first line alone is too long: it goes alone.
  const lineEnd = text.indexOf("\n", start + maxBytes);
  return lineEnd < 0 ? text.length : lineEnd + 1;
}

/** Where the piece of `text` from `start` ends, counting the UTF-8 bytes of each character. */
function utf8PieceEnd(text: string, start: number, maxBytes: number): number {
  let bytes = 0;
  let fits = start;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Two bytes from U+0080, three from U+0800, four for a surrogate pair (two for each half).
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 2 : 3;
    if (bytes > maxBytes && fits > start) return fits;
    if (c === 0x0a) {
      // A first line too long goes alone.
      if (bytes > maxBytes) return i + 1;
      fits = i + 1;
    }
  }
  return text.length;
}

/** Buffered JSON-lines access log. */
export class AccessLog {
  private readonly write: (text: string) => void;
  private readonly onError: (error: unknown) => void;
  private buffer = "";
  private timer: Timer | null = null;

  /**
   * `write` receives whole lines, many at a time but at most {@link PIECE_BYTES} bytes (no
   * line is longer: see {@link MAX_LOGGED_TARGET}): written each with one write, lines from
   * several processes sharing a pipe are never mixed. A `write` that throws (a full disk, a
   * closed pipe) loses that piece, which goes to `onError`, and the server goes on.
   */
  constructor(write: (text: string) => void, onError: (error: unknown) => void = () => {}) {
    this.write = write;
    this.onError = onError;
  }

  /**
   * Record one request and its response: `status` is the one sent (null when none was),
   * `bytes` what was handed to the socket (head, framing and body), `complete` whether that
   * was the whole response (false: a stream that failed or was cut short by the client,
   * or a request the connection gave up on before answering it).
   */
  record(info: LogInfo, status: number | null, bytes: number, complete: boolean): void {
    let { method, url } = info;
    const cut = (method !== null && method.length > MAX_LOGGED_METHOD) ||
      (url !== null && url.length > MAX_LOGGED_TARGET);
    if (cut) {
      method = method?.slice(0, MAX_LOGGED_METHOD) ?? null;
      url = url?.slice(0, MAX_LOGGED_TARGET) ?? null;
    }
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      method,
      path: url,
      status,
      bytes,
      complete,
      ms: Math.round((now() - info.started) * 1000) / 1000,
      remote: info.remote,
    };
    if (cut) entry.cut = true;
    const line = JSON.stringify(entry);
    this.buffer += line + "\n";
    if (this.buffer.length >= FLUSH_CHARS) this.flush();
    else this.timer ??= timers.add(now() + FLUSH_MS, () => this.flush(), true);
  }

  /** Write out what is buffered now. */
  flush(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.buffer === "") return;
    const text = this.buffer;
    this.buffer = "";
    for (const piece of pieces(text)) {
      try {
        this.write(piece);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
