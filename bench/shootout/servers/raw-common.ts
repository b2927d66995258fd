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
import { HELLO_BODY } from "./common.ts";

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
