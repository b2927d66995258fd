/**
 * A streaming decoder for the chunked transfer coding (RFC 9112 §7.1).
 *
 * It never copies: each call hands back at most one span of body bytes as
 * offsets into the caller's buffer. It is strict where leniency has led to
 * request smuggling: sizes are bare hex (no `0x`, no spaces, no `_`), every
 * line ends in CRLF, and chunk data must be followed by exactly CRLF.
 * Extensions are checked and skipped; trailer fields are checked and dropped.
 *
 * @module
 */
import { CR, FIELD_VALUE, HEX, HT, LF, SEMI, SP, TOKEN } from "./bytes.ts";
import type { Limits } from "./limits.ts";

const SIZE = 0;
const SIZE_BWS = 1;
const EXT = 2;
const SIZE_LF = 3;
const DATA = 4;
const DATA_CR = 5;
const DATA_LF = 6;
const TRAILER_START = 7;
const TRAILER_NAME = 8;
const TRAILER_VALUE = 9;
const TRAILER_LF = 10;
const END_LF = 11;
const DONE = 12;

/** More hex digits than this in one size is refused (2^53 fits in 14). */
const MAX_SIZE_DIGITS = 14;

/**
 * Framing bytes (size lines, CRLFs) may not dwarf the data: past this many,
 * overhead above 3/4 of everything read is an attack, not a body.
 */
const OVERHEAD_FLOOR = 100 * 1024;

/** Decoder state for one chunked body. Reuse it with {@link ChunkedDecoder.reset}. */
export class ChunkedDecoder {
  private state = SIZE;
  private digits = 0;
  private size = 0;
  private remaining = 0;
  private extBytes = 0;
  private trailerBytes = 0;
  /** Bytes consumed by earlier calls: framing is what was consumed that is not body. */
  private consumed = 0;
  /** Decoded body bytes so far. */
  bodyBytes = 0;
  /** The status to answer with once the body proved bad; 0 while it is fine. */
  error = 0;
  /** Start of the body span found by the last {@link decode} call. */
  spanStart = 0;
  /** End of that span; equal to {@link spanStart} when the call found none. */
  spanEnd = 0;

  /** Ready for a new body. */
  reset(): void {
    this.state = SIZE;
    this.digits = 0;
    this.size = 0;
    this.remaining = 0;
    this.extBytes = 0;
    this.trailerBytes = 0;
    this.consumed = 0;
    this.bodyBytes = 0;
    this.error = 0;
    this.spanStart = 0;
    this.spanEnd = 0;
  }

  /** The last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.state === DONE;
  }

  /**
   * Consume `buf[pos, end)`. Returns the offset reached. It stops early after
   * finding a span of body bytes (`spanStart < spanEnd`), when the body is
   * {@link done}, or at an {@link error}; call again with the returned offset.
   */
  decode(buf: Uint8Array, pos: number, end: number, limits: Limits): number {
    this.spanStart = this.spanEnd = pos;
    const reached = this.step(buf, pos, end, limits);
    this.consumed += reached - pos;
    return reached;
  }

  /** The state machine behind {@link decode}: returns where it stopped. */
  private step(buf: Uint8Array, pos: number, end: number, limits: Limits): number {
    const begin = pos;
    let p = pos;
    while (p < end) {
      const c = buf[p]!;
      switch (this.state) {
        case SIZE: {
          const v = HEX[c]!;
          if (v !== 0xff) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail(400, p);
            this.size = this.size * 16 + v;
            p++;
            continue;
          }
          if (this.digits === 0) return this.fail(400, p);
          if (this.bodyBytes + this.size > limits.maxBodyBytes) return this.fail(413, p);
          if (c === CR) this.state = SIZE_LF;
          else if (c === SEMI) this.state = EXT;
          else if (c === SP || c === HT) this.state = SIZE_BWS;
          else return this.fail(400, p);
          p++;
          continue;
        }
        case SIZE_BWS:
          // Whitespace after the size is only allowed before an extension.
          if (c === SP || c === HT) p++;
          else if (c === SEMI) {
            this.state = EXT;
            p++;
          } else return this.fail(400, p);
          continue;
        case EXT:
          if (c === CR) {
            this.state = SIZE_LF;
          } else if (c !== HT && (c < 0x20 || c === 0x7f)) {
            return this.fail(400, p);
          } else if (++this.extBytes > limits.maxChunkExtension) {
            return this.fail(400, p);
          }
          p++;
          continue;
        case SIZE_LF:
          if (c !== LF) return this.fail(400, p);
          p++;
          // Checked once per chunk header, where the numbers do not depend on how bytes arrived.
          if (this.overheadAbuse(this.consumed + (p - begin))) return this.fail(400, p);
          this.extBytes = 0;
          this.digits = 0;
          if (this.size === 0) {
            this.state = TRAILER_START;
          } else {
            this.remaining = this.size;
            this.state = DATA;
          }
          this.size = 0;
          continue;
        case DATA: {
          const take = Math.min(this.remaining, end - p);
          this.remaining -= take;
          this.bodyBytes += take;
          if (this.remaining === 0) this.state = DATA_CR;
          this.spanStart = p;
          this.spanEnd = p + take;
          return p + take;
        }
        case DATA_CR:
          if (c !== CR) return this.fail(400, p);
          this.state = DATA_LF;
          p++;
          continue;
        case DATA_LF:
          if (c !== LF) return this.fail(400, p);
          this.state = SIZE;
          p++;
          continue;
        case TRAILER_START:
          if (c === CR) {
            this.state = END_LF;
            p++;
            continue;
          }
          if (TOKEN[c] !== 1) return this.fail(400, p);
          this.state = TRAILER_NAME;
          continue;
        case TRAILER_NAME:
          if (TOKEN[c] === 1) {
            if (++this.trailerBytes > limits.maxTrailerBytes) return this.fail(431, p);
            p++;
          } else if (c === 0x3a) {
            this.state = TRAILER_VALUE;
            p++;
          } else return this.fail(400, p);
          continue;
        case TRAILER_VALUE:
          if (c === CR) {
            this.state = TRAILER_LF;
          } else if (FIELD_VALUE[c] !== 1) {
            return this.fail(400, p);
          } else if (++this.trailerBytes > limits.maxTrailerBytes) {
            return this.fail(431, p);
          }
          p++;
          continue;
        case TRAILER_LF:
          if (c !== LF) return this.fail(400, p);
          this.state = TRAILER_START;
          p++;
          continue;
        case END_LF:
          if (c !== LF) return this.fail(400, p);
          this.state = DONE;
          return p + 1;
        default:
          return p;
      }
    }
    return p;
  }

  /** Framing so far (`consumed` minus body) above the floor and above 3/4 of all bytes. */
  private overheadAbuse(consumed: number): boolean {
    const overhead = consumed - this.bodyBytes;
    return overhead > OVERHEAD_FLOOR && overhead * 4 > consumed * 3;
  }

  /** The body is bad: answer `status`, read no more of it; returns `at`. */
  private fail(status: number, at: number): number {
    this.error = status;
    this.state = DONE;
    return at;
  }
}
