/**
 * The "trivial responder": no HTTP parsing at all. It counts the blank lines
 * that end request heads and writes a canned `{"hello":"world"}` response for
 * each; `close` in a head (wrk's `Connection: close`) makes it answer with
 * `Connection: close` and hang up. It answers `GET /` only, correctly only for
 * requests without a body. It is the floor: what a runtime's sockets cost with
 * (almost) no server on top.
 *
 * @module
 */
import { BIG_SIZE, bigBody, HELLO_BODY, OCTETS } from "./common.ts";

const CR = 0x0d;
const LF = 0x0a;
const CLOSE = "close\r";

const enc = new TextEncoder();
const head =
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${HELLO_BODY.length}\r\n`;

/** The canned keep-alive response. */
export const CANNED: Uint8Array = enc.encode(`${head}\r\n${HELLO_BODY}`);
/** The canned response that announces the close. */
export const CANNED_CLOSE: Uint8Array = enc.encode(`${head}Connection: close\r\n\r\n${HELLO_BODY}`);

const repeated: Uint8Array[] = [];

/** `n` canned responses back to back (cached). */
export function cannedTimes(n: number): Uint8Array {
  if (n === 1) return CANNED;
  let bytes = repeated[n];
  if (bytes === undefined) {
    bytes = new Uint8Array(CANNED.length * n);
    for (let i = 0; i < n; i++) bytes.set(CANNED, i * CANNED.length);
    if (n < 256) repeated[n] = bytes;
  }
  return bytes;
}

/** Counts request heads across chunks. One per connection. */
export class HeadCounter {
  /** How much of CR LF CR LF has been seen. */
  private blank = 0;
  /** How much of `close\r` has been seen. */
  private close = 0;
  private sawClose = false;
  /** Set by {@link feed}: the last head counted asked to close (counting stopped there). */
  closeAfter = false;

  /** The number of heads that end in `chunk`. */
  feed(chunk: Uint8Array): number {
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      this.close = b === CLOSE.charCodeAt(this.close) ? this.close + 1 : (b === 0x63 ? 1 : 0);
      if (this.close === CLOSE.length) {
        this.sawClose = true;
        this.close = 0;
      }
      if (b === CR) {
        this.blank = this.blank === 2 ? 3 : 1;
      } else if (b === LF && (this.blank === 1 || this.blank === 3)) {
        if (this.blank === 3) {
          n++;
          this.blank = 0;
          if (this.sawClose) {
            this.closeAfter = true;
            return n;
          }
        } else {
          this.blank = 2;
        }
      } else {
        this.blank = 0;
      }
    }
    return n;
  }
}

const BIG_HEAD =
  `HTTP/1.1 200 OK\r\nContent-Type: ${OCTETS}\r\nContent-Length: ${BIG_SIZE}\r\n\r\n`;
/** The canned `GET /64k` response, head and body in one array. */
export const CANNED_BIG: Uint8Array = (() => {
  const head = enc.encode(BIG_HEAD);
  const bytes = new Uint8Array(head.length + BIG_SIZE);
  bytes.set(head);
  bytes.set(bigBody(), head.length);
  return bytes;
})();

/** `\ncontent-length:`, lowercase: what {@link RouteResponder} looks for in a POST head. */
const LENGTH_NAME = "\ncontent-length:";
const ECHO_HEAD = `HTTP/1.1 200 OK\r\nContent-Type: ${OCTETS}\r\nContent-Length: `;
const SLASH = 0x2f;
const SIX = 0x36;
const POST_P = 0x50;

/**
 * The trivial responder for every route, the floor of the body scenarios: `GET /64k` gets a
 * canned 64 KiB answer, a POST gets its Content-Length body back as it arrives (never
 * gathered), anything else the canned hello; `close` in a head ends the connection after the
 * answer, as {@link HeadCounter}'s does. It reads no other header and knows no chunked bodies:
 * enough for wrk's requests and nothing more. One per connection.
 */
export class RouteResponder {
  /** How much of CR LF CR LF has been seen. */
  private blank = 0;
  /** Bytes of the head seen so far (0 at a head's start). */
  private at = 0;
  private post = false;
  private big = false;
  /** How much of {@link LENGTH_NAME} has been seen; -1 while reading its digits. */
  private name = 0;
  private length = 0;
  /** Body bytes still to echo. */
  private left = 0;
  /** How much of `close\r` has been seen. */
  private close = 0;
  private sawClose = false;
  /** Canned hellos owed, sent as one array: pipelined heads cost one write, not sixteen. */
  private hellos = 0;
  /** Set by {@link feed}: the last answer sent asked to close (nothing after it was read). */
  closeAfter = false;

  /**
   * Answer what `chunk` completes: `send` gets, in order, canned arrays, new ones and views of
   * `chunk` (so a server whose reads reuse one buffer must write them before reading again).
   */
  feed(chunk: Uint8Array, send: (bytes: Uint8Array) => void): void {
    this.answer(chunk, send);
    if (this.hellos > 0) this.sendHellos(send);
  }

  private sendHellos(send: (bytes: Uint8Array) => void): void {
    send(cannedTimes(this.hellos));
    this.hellos = 0;
  }

  private answer(chunk: Uint8Array, send: (bytes: Uint8Array) => void): void {
    let i = 0;
    const end = chunk.length;
    while (i < end) {
      if (this.left > 0) {
        if (this.hellos > 0) this.sendHellos(send);
        const take = Math.min(this.left, end - i);
        send(chunk.subarray(i, i + take));
        this.left -= take;
        i += take;
        if (this.left === 0 && this.closeAfter) return;
        continue;
      }
      const b = chunk[i++]!;
      const at = this.at++;
      // "GET /64k": the request line's fifth and sixth bytes are "/6".
      if (at === 0) this.post = b === POST_P;
      else if (at === 4) this.big = !this.post && b === SLASH;
      else if (at === 5) this.big = this.big && b === SIX;
      if (this.post) this.matchLength(b);
      // The same scan as HeadCounter's, repeated rather than shared: HeadCounter is the GET
      // floor, and a shared scanner made it 3–10% slower (pipelined, Node, Deno and Bun).
      this.close = b === CLOSE.charCodeAt(this.close) ? this.close + 1 : (b === 0x63 ? 1 : 0);
      if (this.close === CLOSE.length) {
        this.sawClose = true;
        this.close = 0;
      }
      if (b === CR) {
        this.blank = this.blank === 2 ? 3 : 1;
      } else if (b === LF && this.blank === 1) {
        this.blank = 2;
      } else if (b === LF && this.blank === 3) {
        this.blank = 0;
        this.headEnded(send);
        if (this.closeAfter && this.left === 0) return;
      } else {
        this.blank = 0;
      }
    }
  }

  private matchLength(b: number): void {
    if (this.name === -1) {
      if (b >= 0x30 && b <= 0x39) this.length = this.length * 10 + b - 0x30;
      else if (b !== 0x20) this.name = 0;
      return;
    }
    const lower = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    if (lower === LENGTH_NAME.charCodeAt(this.name)) {
      if (++this.name === LENGTH_NAME.length) {
        this.name = -1;
        this.length = 0;
      }
    } else {
      this.name = b === LF ? 1 : 0;
    }
  }

  private headEnded(send: (bytes: Uint8Array) => void): void {
    if (this.hellos > 0 && (this.post || this.big || this.sawClose)) this.sendHellos(send);
    if (this.post) {
      send(enc.encode(`${ECHO_HEAD}${this.length}\r\n\r\n`));
      this.left = this.length;
    } else {
      if (this.big) send(CANNED_BIG);
      else if (this.sawClose) send(CANNED_CLOSE);
      else this.hellos++;
    }
    this.closeAfter = this.sawClose;
    this.at = 0;
    this.post = this.big = false;
    this.name = 0;
    this.length = 0;
  }
}

/**
 * The pieces that answer one read, made into one write: a lone piece as it is, several copied
 * into a buffer that is reused (so what {@link take} returns is good until the next call).
 */
export class Gather {
  private readonly pieces: Uint8Array[] = [];
  private length = 0;
  private room: Uint8Array = new Uint8Array(0);
  /** A piece, for {@link RouteResponder.feed}. */
  readonly add = (bytes: Uint8Array): void => {
    this.pieces.push(bytes);
    this.length += bytes.length;
  };

  /** Everything added since the last call, or null when nothing was. */
  take(): Uint8Array | null {
    const pieces = this.pieces;
    if (pieces.length === 0) return null;
    let bytes = pieces[0]!;
    if (pieces.length > 1) {
      if (this.room.length < this.length) this.room = new Uint8Array(this.length * 2);
      let at = 0;
      for (const piece of pieces) {
        this.room.set(piece, at);
        at += piece.length;
      }
      bytes = this.room.subarray(0, at);
    }
    pieces.length = 0;
    this.length = 0;
    return bytes;
  }
}
