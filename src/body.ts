/**
 * A request body as it arrives: the connection pushes copies of the body
 * bytes, the handler pulls them (all at once or piece by piece).
 *
 * Backpressure: once more than {@link BODY_HIGH_WATER} bytes wait unread,
 * the body asks its connection to stop reading the socket, and asks it to go
 * on when the handler has taken them.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";

/** Bytes that may wait unread in a body before the socket is paused. */
export const BODY_HIGH_WATER: number = 256 * 1024;

/** What a body needs from its connection. */
export interface BodySource {
  /** The handler wants the body: e.g. send `100 Continue`. Called once. */
  bodyWanted(): void;
  /** Too many bytes are waiting (true) or they were taken (false). */
  bodyPressure(full: boolean): void;
}

const decoder = new TextDecoder();

/** A `SyntaxError` that answers with 400 when a handler lets it through. */
export function badJson(message: string, cause?: unknown): SyntaxError {
  return Object.assign(new SyntaxError(message, { cause }), { status: 400 });
}

/** A second reader of a body would get nothing, or the bytes the first left: refused instead. */
function readTwice(): TypeError {
  return new TypeError("the request body was read already; keep what the first read returned");
}

/** The body of one request. */
export class RequestBody {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private received = 0;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private wanted = false;
  /** A reader has taken it (whole or as a stream): it cannot be read again. */
  private used = false;
  private full = false;
  private source: BodySource;
  /** The announced length (Content-Length), or -1 for a chunked body. */
  readonly length: number;

  /** Connection side: a body of `length` bytes (-1: chunked) that reports to `source`. */
  constructor(source: BodySource, length: number) {
    this.source = source;
    this.length = length;
  }

  /** Every byte has arrived. */
  get complete(): boolean {
    return this.ended;
  }

  /** Connection side: more body bytes (owned by the body from now on). */
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.queued += bytes.length;
    this.received += bytes.length;
    if (!this.full && this.queued > BODY_HIGH_WATER && !this.collecting) {
      this.full = true;
      this.source.bodyPressure(true);
    }
    this.signal();
  }

  /** Connection side: the body ended. */
  end(): void {
    this.ended = true;
    // Its last bytes may have passed the high-water mark: with none of it left to come, holding
    // input back only keeps the next request out, whether the body is then read, taken whole
    // or left unread (nothing would ever let input go on).
    if (this.full) {
      this.full = false;
      this.source.bodyPressure(false);
    }
    this.signal();
  }

  /** Connection side: the body cannot be completed (bad framing, client gone). */
  fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    this.ended = true;
    this.signal();
  }

  /** Connection side: `error` is the failure {@link fail} gave this body. */
  failedWith(error: unknown): boolean {
    return this.failure !== null && error === this.failure;
  }

  /** Set while {@link bytes} gathers the whole body: nothing to gain from pausing then. */
  private collecting = false;

  /** Wake the reader waiting for more, if any. */
  private signal(): void {
    const wake = this.wake;
    if (wake !== null) {
      this.wake = null;
      wake();
    }
  }

  /** Tell the connection, once, that the handler wants the body. */
  private want(): void {
    if (!this.wanted) {
      this.wanted = true;
      this.source.bodyWanted();
    }
  }

  /** Resolves at the next push, end or failure. */
  private waitForMore(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  /** The oldest waiting chunk, if any; once the backlog is down to half, input goes on. */
  private take(): Uint8Array | null {
    const chunk = this.chunks.shift();
    if (chunk === undefined) return null;
    this.queued -= chunk.length;
    if (this.full && this.queued <= BODY_HIGH_WATER / 2) {
      this.full = false;
      this.source.bodyPressure(false);
    }
    return chunk;
  }

  /** The whole body. Once read (whole, or as a stream), a body cannot be read again. */
  bytes(): Promise<Uint8Array> {
    if (this.used) return Promise.reject(readTwice());
    this.used = true;
    if (!this.ended) return this.collect();
    // All here already (it came with the head): no async function, no wait.
    this.want();
    if (this.failure !== null) return Promise.reject(this.failure);
    return Promise.resolve(this.takeAll());
  }

  /**
   * The whole body now, if every byte of it has arrived and none has been read; else null
   * (read it as it comes, or wait with {@link bytes}).
   */
  wholeNow(): Uint8Array | null {
    if (!this.ended || this.failure !== null || this.used) return null;
    this.used = true;
    this.want();
    return this.takeAll();
  }

  /** Every chunk waiting, as one array. */
  private takeAll(): Uint8Array {
    const chunks = this.chunks;
    this.chunks = [];
    this.queued = 0;
    return concatBytes(chunks, this.received);
  }

  /** Wait for the rest of the body, then all of it. */
  private async collect(): Promise<Uint8Array> {
    this.want();
    this.collecting = true;
    if (this.full) {
      this.full = false;
      this.source.bodyPressure(false);
    }
    while (!this.ended) await this.waitForMore();
    if (this.failure !== null) throw this.failure;
    return this.takeAll();
  }

  /** The whole body as UTF-8 text. */
  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  /**
   * The whole body parsed as JSON. Text that is no JSON is a `SyntaxError` with `status` 400:
   * thrown on from a handler, it answers the client's mistake with a 400, not a 500.
   */
  async json(): Promise<unknown> {
    const text = await this.text();
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badJson("the request body is not JSON", err);
    }
  }

  /** The body piece by piece, as it arrives. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.used) throw readTwice();
    this.used = true;
    this.want();
    for (;;) {
      const chunk = this.take();
      if (chunk !== null) {
        yield chunk;
        continue;
      }
      if (this.ended) {
        if (this.failure !== null) throw this.failure;
        return;
      }
      await this.waitForMore();
    }
  }
}
