/**
 * The runtime-agnostic server: owns the connections and what they share,
 * and turns accepted transports into {@link Connection}s.
 *
 * @module
 */
import { Connection, type ConnectionHost, type Handler } from "./connection.ts";
import { defaultLimits, defaultTimeouts, type Limits, type Timeouts } from "./limits.ts";
import { RequestHead } from "./parser.ts";
import { Out } from "./response.ts";
import { now, sleep } from "./clock.ts";
import type { AcceptFn, ConnectionEvents, Transport } from "./transport.ts";

/** How the HTTP side of a server behaves. */
export interface HttpOptions {
  /** Answers every request. */
  handler: Handler;
  /** Size limits; unset ones take {@link defaultLimits}. */
  limits?: Partial<Limits>;
  /** Timeouts; unset ones take {@link defaultTimeouts}. */
  timeouts?: Partial<Timeouts>;
  /** Called once for each handler failure (the client gets a bare 500). Defaults to console.error. */
  onError?: (error: unknown) => void;
  /** After a final response, how long to read and drop input before closing (ms). Default 2000. */
  lingerMs?: number;
}

/** Shared state of all connections of one server. */
export class HttpServer implements ConnectionHost {
  readonly limits: Limits;
  readonly timeouts: Timeouts;
  readonly handler: Handler;
  readonly out: Out = new Out(64 * 1024);
  readonly head: RequestHead;
  readonly lingerMs: number;
  draining = false;
  private readonly onError: (error: unknown) => void;
  private readonly open = new Set<Connection>();
  /** Pass this to an adapter's `listen`. */
  readonly accept: AcceptFn;

  constructor(options: HttpOptions) {
    this.limits = { ...defaultLimits, ...options.limits };
    this.timeouts = { ...defaultTimeouts, ...options.timeouts };
    this.handler = options.handler;
    this.head = new RequestHead(this.limits.maxHeaders);
    this.lingerMs = options.lingerMs ?? 2000;
    this.onError = options.onError ?? ((error) => console.error("binks: handler failed:", error));
    this.accept = (transport: Transport): ConnectionEvents => {
      const conn = new Connection(transport, this);
      this.open.add(conn);
      return conn;
    };
  }

  /** Open connections. */
  get connections(): number {
    return this.open.size;
  }

  reportError(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // An error hook that throws must not take the connection down with it.
    }
  }

  forget(connection: Connection): void {
    this.open.delete(connection);
    if (this.open.size === 0 && this.whenEmpty !== null) {
      const wake = this.whenEmpty;
      this.whenEmpty = null;
      wake();
    }
  }

  private whenEmpty: (() => void) | null = null;

  /**
   * Graceful shutdown of the connections (the caller stops accepting first):
   * idle ones close now, busy ones after answering what they have read, and
   * whatever is left when `graceMs` runs out is cut. Resolves when all are gone.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    for (const conn of this.open) conn.drain();
    if (this.open.size > 0) {
      const empty = new Promise<void>((resolve) => {
        this.whenEmpty = resolve;
      });
      const deadline = now() + graceMs;
      await Promise.race([empty, sleep(deadline)]);
    }
    for (const conn of this.open) conn.abort();
    this.whenEmpty = null;
  }
}
