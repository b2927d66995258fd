/**
 * A model of what a connection does with the bytes it reads, built from the
 * real parser and chunked decoder: heads found with the resumable
 * `findHeadEnd` over a growing buffer (as `feed()` in parser.test.ts does),
 * parsed with `parseHead`, bodies taken by Content-Length or decoded chunk by
 * chunk, pipelined requests one after another, empty lines before a request
 * line skipped, and the 414/431 checks the connection makes on a head that
 * has not ended yet.
 *
 * Used by the property tests, the corpus replay and the long fuzz run. Not a
 * test file itself.
 */
import { findHeadEnd, NEED_MORE, parseHead, RequestHead } from "../../src/parser.ts";
import { ChunkedDecoder } from "../../src/chunked.ts";
import { CR, latin1, LF } from "../../src/bytes.ts";
import { defaultLimits, type Limits } from "../../src/limits.ts";

export { NEED_MORE };

/** Every status the parser and decoder may refuse a request with. */
export const REFUSALS: readonly number[] = [400, 413, 414, 417, 431, 501, 505];

/** Small limits, so that random input reaches every limit check. */
export const SMALL_LIMITS: Readonly<Limits> = Object.freeze({
  ...defaultLimits,
  maxRequestLine: 48,
  maxHeadBytes: 160,
  maxHeaders: 6,
  maxBodyBytes: 200,
  maxChunkExtension: 12,
  maxTrailerBytes: 24,
});

/** One request as the model saw it. Strings are Latin-1: one char per byte. */
export interface Seen {
  method: string;
  target: string;
  minor: number;
  headers: [string, string][];
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  body: string;
}

/** What a byte stream came to. */
export interface Outcome {
  /** Requests read completely, head and body, in order. */
  requests: Seen[];
  /** 0: the input ended between requests; NEED_MORE: inside one; else the refusal status. */
  status: number;
  /** Loop turns taken, to check that work stays bounded by the input size. */
  steps: number;
}

/** Where {@link replay} stopped: the request it was reading, and its body if it had one. */
export interface Where {
  /** Offset of the first byte of the last request begun (after skipped empty lines). */
  start: number;
  /** Offset of its body, or -1 when it ended outside a body. */
  bodyStart: number;
}

/** The model stopped making progress: a parser or decoder call consumed nothing. */
export class Stuck extends Error {
  override name = "Stuck";
}

/** What a parsed head says, as plain data (strings decoded), for comparing parses. */
export function describeHead(h: RequestHead): Seen {
  const headers: [string, string][] = [];
  const o = h.headers;
  for (let i = 0; i < h.headerCount; i++) {
    headers.push([
      latin1(h.buf, o[i * 4]!, o[i * 4 + 1]!),
      latin1(h.buf, o[i * 4 + 2]!, o[i * 4 + 3]!),
    ]);
  }
  return {
    method: h.method,
    target: latin1(h.buf, h.targetStart, h.targetEnd),
    minor: h.minor,
    headers,
    contentLength: h.contentLength,
    chunked: h.chunked,
    keepAlive: h.keepAlive,
    expectContinue: h.expectContinue,
    body: "",
  };
}

/** The most loop turns `replay` may take for `bytes` bytes in `pieces` pieces. */
export function stepBound(bytes: number, pieces: number): number {
  return 2 * bytes + 2 * pieces + 8;
}

/**
 * Feed `pieces` one after another, as reads from a socket. The buffer past
 * what has arrived is filled with `poison`, so that a parser peeking beyond
 * the end it was given sees garbage, and gives itself away by parsing a split
 * input differently from the whole.
 */
export function replay(
  pieces: readonly Uint8Array[],
  limits: Readonly<Limits> = defaultLimits,
  poison = 0xa5,
  where?: Where,
): Outcome {
  let total = 0;
  for (const p of pieces) total += p.length;
  const buf = new Uint8Array(total + 32).fill(poison);
  const head = new RequestHead(limits.maxHeaders);
  const decoder = new ChunkedDecoder();
  const resume = { scan: 0 };
  const requests: Seen[] = [];
  const bound = stepBound(total, pieces.length);
  let len = 0;
  let pos = 0;
  let scanned = 0;
  let current: Seen | null = null;
  let bodyLeft = 0;
  let steps = 0;
  let start = 0;
  let bodyStart = -1;
  const done = (status: number): Outcome => {
    if (where !== undefined) {
      where.start = start;
      where.bodyStart = current !== null ? bodyStart : -1;
    }
    return { requests, status, steps };
  };

  for (const piece of pieces) {
    buf.set(piece, len);
    len += piece.length;
    while (pos < len) {
      if (++steps > bound) throw new Stuck(`more than ${bound} steps for ${total} bytes`);
      if (current !== null) {
        if (bodyLeft >= 0) {
          const take = Math.min(bodyLeft, len - pos);
          current.body += latin1(buf, pos, pos + take);
          bodyLeft -= take;
          pos += take;
        } else {
          const next = decoder.decode(buf, pos, len, limits);
          if (decoder.error !== 0) return done(decoder.error);
          if (next < pos || next > len) throw new Stuck(`decode went from ${pos} to ${next}`);
          if (next === pos && !decoder.done) throw new Stuck(`decode stuck at ${pos}`);
          current.body += latin1(buf, decoder.spanStart, decoder.spanEnd);
          pos = next;
        }
        if (bodyLeft === 0 || (bodyLeft < 0 && decoder.done)) {
          requests.push(current);
          current = null;
        }
        continue;
      }
      if (scanned === 0) {
        while (pos + 1 < len && buf[pos] === CR && buf[pos + 1] === LF) pos += 2;
        if (pos === len || (pos + 1 === len && buf[pos] === CR)) break;
      }
      start = pos;
      const end = findHeadEnd(buf, pos, pos + scanned, len, resume);
      if (end === NEED_MORE) {
        if (resume.scan < pos + scanned || resume.scan > len) {
          throw new Stuck(`findHeadEnd resumed at ${resume.scan}`);
        }
        scanned = resume.scan - pos;
        const have = len - pos;
        if (scanned === 0 && have > limits.maxRequestLine + 1) return done(414);
        if (have > limits.maxHeadBytes) return done(431);
        break;
      }
      scanned = 0;
      if (end < 0) return done(-end);
      if (end <= pos || end > len) throw new Stuck(`head end ${end} outside (${pos}, ${len}]`);
      const status = parseHead(buf, pos, end, head, limits);
      if (status !== 0) return done(status);
      const seen = describeHead(head);
      pos = end;
      bodyStart = end;
      if (head.chunked) {
        decoder.reset();
        bodyLeft = -1;
        current = seen;
      } else if (head.contentLength > 0) {
        bodyLeft = head.contentLength;
        current = seen;
      } else {
        requests.push(seen);
      }
    }
  }
  return done(current !== null || pos < len ? NEED_MORE : 0);
}

/** Cut `bytes` at the given offsets (any order, out-of-range ones ignored). */
export function cut(bytes: Uint8Array, at: readonly number[]): Uint8Array[] {
  const points = [...new Set(at.filter((i) => i > 0 && i < bytes.length))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** One piece per byte. */
export function bytewise(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (b) => Uint8Array.of(b));
}

/** Bytes of a string whose chars are all below 0x100 (Latin-1: one byte per char). */
export function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`char ${c} at ${i} is not a byte`);
    out[i] = c;
  }
  return out;
}

/** The Latin-1 string of some bytes. */
export function textOf(bytes: Uint8Array): string {
  return latin1(bytes, 0, bytes.length);
}

/** Whether an outcome is one the server may legitimately come to. */
export function allowedStatus(status: number): boolean {
  return status === 0 || status === NEED_MORE || REFUSALS.includes(status);
}

/** Short printable form of bytes, for messages: JSON with non-ASCII bytes escaped. */
export function show(bytes: Uint8Array, max = 160): string {
  const s = JSON.stringify(textOf(bytes.subarray(0, max)));
  return bytes.length > max ? `${s}… (${bytes.length} bytes)` : s;
}
