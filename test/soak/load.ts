/**
 * Load-side helpers for the fault tests and the soak run: a socket that
 * counts responses as they stream in (without keeping their bodies), and a
 * writer that respects backpressure.
 */
import * as net from "node:net";

/** A response seen on the wire: status, the first bytes of its body, its length. */
export interface Seen {
  status: number;
  close: boolean;
  length: number;
  /** Up to the first 16 bytes of the body. */
  prefix: Uint8Array;
}

const CRLFCRLF = [13, 10, 13, 10];

/**
 * Incremental reader of HTTP/1.1 responses framed by Content-Length (what
 * binks sends for the demo app's fixed bodies); bodies are skipped, not kept,
 * so gigabytes cost nothing.
 */
export class ResponseReader {
  readonly seen: Seen[] = [];
  private head: number[] = [];
  private matched = 0;
  private left = -1;
  private current: Seen | null = null;
  /** Bytes received in all. */
  bytes = 0;

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, chunk.length - i);
        const cur = this.current!;
        if (cur.prefix.length < 16) {
          const want = Math.min(16 - cur.prefix.length, take);
          const p = new Uint8Array(cur.prefix.length + want);
          p.set(cur.prefix);
          p.set(chunk.subarray(i, i + want), cur.prefix.length);
          cur.prefix = p;
        }
        this.left -= take;
        i += take;
        if (this.left === 0) this.finish();
        continue;
      }
      const b = chunk[i++]!;
      this.head.push(b);
      this.matched = b === CRLFCRLF[this.matched] ? this.matched + 1 : b === 13 ? 1 : 0;
      if (this.matched === 4) this.startBody();
    }
  }

  private startBody(): void {
    const text = String.fromCharCode(...this.head);
    this.head = [];
    this.matched = 0;
    const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(text.slice(0, 60))}`);
    const status = Number(m[1]);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? "0");
    const close = /\r\nconnection:\s*close/i.test(text);
    this.current = { status, close, length, prefix: new Uint8Array(0) };
    if (status === 100) {
      this.current = null;
      return;
    }
    this.left = length;
    if (length === 0) this.finish();
  }

  private finish(): void {
    this.seen.push(this.current!);
    this.current = null;
    this.left = -1;
  }
}

/** A raw loopback connection reading responses as they come. */
export class LoadSocket {
  readonly socket: net.Socket;
  readonly reader: ResponseReader = new ResponseReader();
  ended = false;
  closed = false;
  error: Error | null = null;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d: Uint8Array) => {
      try {
        this.reader.push(d);
      } catch (err) {
        this.error = err as Error;
      }
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", (err) => {
      this.error ??= err;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number): Promise<LoadSocket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      s.once("connect", () => {
        s.removeListener("error", reject);
        s.setNoDelay(true);
        resolve(new LoadSocket(s));
      });
      s.once("error", reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `done()` or `ms` passed; returns whether `done()` held. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /**
   * Write, waiting for 'drain' when the socket's buffer is full. Resolves
   * false if no drain came within `stallMs` (the peer stopped reading) or the
   * socket failed.
   */
  write(bytes: Uint8Array | string, stallMs = 10_000): Promise<boolean> {
    if (this.error !== null || this.closed) return Promise.resolve(false);
    if (this.socket.write(bytes)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.socket.removeListener("drain", onDrain);
        this.socket.removeListener("close", onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const t = setTimeout(() => done(false), stallMs);
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  /** Reset the connection (RST) where the runtime can, else close it. */
  reset(): void {
    const s = this.socket as net.Socket & { resetAndDestroy?: () => net.Socket };
    if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
    else s.destroy();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A body of `size` bytes whose first 4 bytes are `tag` (big-endian), the rest a pattern. */
export function taggedBody(size: number, tag: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 4; i < size; i++) b[i] = (i * 31) & 0xff;
  new DataView(b.buffer).setUint32(0, tag);
  return b;
}

/** The tag of a body from its first bytes. */
export function tagOf(prefix: Uint8Array): number {
  return prefix.length < 4 ? -1 : new DataView(prefix.buffer, prefix.byteOffset).getUint32(0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
