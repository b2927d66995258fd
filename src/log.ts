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

/** Buffered JSON-lines access log. */
export class AccessLog {
  private readonly write: (text: string) => void;
  private buffer = "";
  private timer: Timer | null = null;

  /** `write` receives whole lines, many at a time. */
  constructor(write: (text: string) => void) {
    this.write = write;
  }

  /**
   * Record one request and its response: `status` is the one sent (null when none was),
   * `bytes` what was handed to the socket (head, framing and body), `complete` whether that
   * was the whole response (false: a stream that failed or was cut short by the client,
   * or a request the connection gave up on before answering it).
   */
  record(info: LogInfo, status: number | null, bytes: number, complete: boolean): void {
    const line = JSON.stringify({
      time: new Date().toISOString(),
      method: info.method,
      path: info.url,
      status,
      bytes,
      complete,
      ms: Math.round((now() - info.started) * 1000) / 1000,
      remote: info.remote,
    });
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
    this.write(text);
  }
}
