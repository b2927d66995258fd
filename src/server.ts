/**
 * The runtime-agnostic server: owns the connections and what they share,
 * and turns accepted transports into {@link Connection}s.
 *
 * @module
 */
import { Connection, type ConnectionHost, type Handler } from "./connection.ts";
import {
  checkLimits,
  checkMs,
  checkTimeouts,
  defaultLimits,
  defaultTimeouts,
  type Limits,
  MAX_LINGERING_REFUSALS,
  type Timeouts,
} from "./limits.ts";
import { RequestHead } from "./parser.ts";
import type { ProxyHeader, ProxyTrust } from "./request.ts";
import { emptyTail, Out, type Tail } from "./response.ts";
import { now, timers } from "./clock.ts";
import { Scope } from "./scope.ts";
import { Timeout } from "./errors.ts";
import { AccessLog } from "./log.ts";
import { configuredAddress } from "./address.ts";
import { kindOf, shown } from "./shown.ts";
import type { AcceptFn, ConnectionEvents, Transport } from "./transport.ts";

/** After cutting connections, how long to wait for the sockets to report closed. */
const CLOSE_WAIT_MS = 2_000;

/**
 * Resolves when `promise` has, or once `deadline` has passed (a listener that never says it is
 * closed must not hold the idle connections past the grace); rejects as `promise` does.
 */
function settledBy(promise: Promise<void>, deadline: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = timers.add(deadline, () => resolve(), true);
    promise.then(() => {
      timer.cancel();
      resolve();
    }, (error: unknown) => {
      timer.cancel();
      reject(error);
    });
  });
}

/**
 * Throws a RangeError unless `graceMs` is a shutdown grace: a number of ms ≥ 0 (`Infinity`
 * waits for every connection).
 */
export function checkGrace(graceMs: unknown): void {
  if (typeof graceMs !== "number" || Number.isNaN(graceMs) || graceMs < 0) {
    throw new RangeError(`shutdown grace must be a number of ms >= 0, not ${shown(graceMs)}`);
  }
}

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
  /**
   * Log every request and what answered it as a JSON line to this writer (batched; the
   * fields are {@link AccessLog.record}'s). It gets whole lines, each ending in a newline, at
   * most 4096 bytes at a time: each written with one write, several processes may share a
   * pipe. Write them as they are (`(text) => process.stdout.write(text)`; `console.log` would
   * add a blank line after each batch). Off by default.
   */
  accessLog?: (text: string) => void;
  /**
   * Addresses of proxies whose `X-Forwarded-For` / `Forwarded` to believe
   * (see `IncomingRequest.ip`). Empty by default: the peer address is the client.
   */
  trustProxy?: readonly string[];
  /**
   * The field those proxies set, the one `ip` reads: `"x-forwarded-for"` (the default; nginx's
   * `$proxy_add_x_forwarded_for`, most load balancers) or `"forwarded"` (RFC 7239). The other is
   * passed on by proxies as the client wrote it, so it is never believed.
   */
  proxyHeader?: ProxyHeader;
}

/**
 * `given` over `defaults`: a key left undefined takes its default (as `Partial` says it may),
 * and a key that is not one of them is refused (`maxBody` for `maxBodyBytes` would be ignored).
 */
function withDefaults<T extends object>(
  name: string,
  defaults: T,
  given: Partial<T> | undefined,
): T {
  const out = { ...defaults };
  if (given === undefined) return out;
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw new TypeError(`${name} must be an object of named values, not ${kindOf(given)}`);
  }
  for (const [key, value] of Object.entries(given)) {
    if (!Object.hasOwn(defaults, key)) {
      throw new TypeError(
        `${name}: unknown key "${key}" (known: ${Object.keys(defaults).join(", ")})`,
      );
    }
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** `trustProxy`'s addresses, written as sockets report peers; a TypeError for anything else. */
function trustedAddresses(given: unknown): Set<string> {
  if (given === undefined) return new Set();
  // A lone string would be read letter by letter, and a number has no letters to read.
  if (!Array.isArray(given)) {
    throw new TypeError(`trustProxy must be an array of IP addresses, not ${kindOf(given)}`);
  }
  return new Set(given.map(trustedAddress));
}

function trustedAddress(text: unknown): string {
  const address = typeof text === "string" ? configuredAddress(text) : null;
  if (address === null) throw new TypeError(`trustProxy: not an IP address: ${shown(text)}`);
  return address;
}

/** Shared state of all connections of one server. */
export class HttpServer implements ConnectionHost {
  /** Size limits, with the defaults filled in. */
  readonly limits: Limits;
  /** Timeouts, with the defaults filled in. */
  readonly timeouts: Timeouts;
  /** Answers every request. */
  readonly handler: Handler;
  readonly out: Out = new Out(64 * 1024);
  readonly resume: { scan: number } = { scan: 0 };
  readonly tail: Tail = emptyTail();
  readonly head: RequestHead;
  readonly lingerMs: number;
  draining = false;
  /** Requests received so far. */
  requests = 0;
  readonly accessLog: AccessLog | null;
  readonly proxies: ProxyTrust;
  /** Owns every connection: closing it tears them all down. */
  readonly scope: Scope;
  private readonly onError: (error: unknown) => void;
  /**
   * Open connections, as a list through the connections themselves rather than a `Set`: on
   * JavaScriptCore a deleted `Set` entry still holds its connection for young-generation
   * collections, so under connection churn every closed socket lived until a full collection.
   */
  private openHead: Connection | null = null;
  private openCount = 0;
  /** Refused connections still open (lingering after their 503). */
  private refusedOpen = 0;
  /** Handlers running now, and connections waiting for one to finish (`maxInflight`). */
  private inflight = 0;
  private readonly waiting: Connection[] = [];
  /** A turn to hand free slots to waiting connections is queued. */
  private wakeQueued = false;
  /** Slots are being handed out: the connection woken may take one though others wait. */
  private admitting = false;
  private readonly wakeWaiting = (): void => this.admitWaiting();
  /** Pass this to an adapter's `listen`. */
  readonly accept: AcceptFn;

  /** A server with no connections yet: they arrive through {@link HttpServer.accept}. */
  constructor(options: HttpOptions) {
    this.limits = withDefaults("limits", defaultLimits, options.limits);
    this.timeouts = withDefaults("timeouts", defaultTimeouts, options.timeouts);
    checkLimits(this.limits);
    checkTimeouts(this.timeouts);
    this.handler = options.handler;
    this.head = new RequestHead(this.limits.maxHeaders);
    this.lingerMs = options.lingerMs ?? 2000;
    checkMs("lingerMs", this.lingerMs, 0);
    this.accessLog = options.accessLog === undefined ? null : new AccessLog(
      options.accessLog,
      (error) => this.reportError(error),
    );
    const header = options.proxyHeader ?? "x-forwarded-for";
    if (header !== "x-forwarded-for" && header !== "forwarded") {
      throw new RangeError(
        `proxyHeader must be "x-forwarded-for" or "forwarded", not ${shown(header)}`,
      );
    }
    this.proxies = { addresses: trustedAddresses(options.trustProxy), header };
    this.onError = options.onError ?? ((error) => console.error("binks: handler failed:", error));
    this.scope = new Scope({ onError: (error) => this.reportError(error) });
    this.accept = (transport: Transport): ConnectionEvents => {
      const conn = new Connection(transport, this);
      if (this.openCount >= this.limits.maxConnections || this.scope.closed) {
        this.refusedOpen++;
        conn.refuse(503);
        if (this.refusedOpen > MAX_LINGERING_REFUSALS) conn.abort();
        return conn;
      }
      this.link(conn);
      this.scope.own(conn);
      return conn;
    };
  }

  acquire(): boolean {
    if (this.inflight >= this.limits.maxInflight) return false;
    // First come, first served: a slot freed while others wait is theirs, not a newcomer's.
    if (this.waiting.length > 0 && !this.admitting) return false;
    this.inflight++;
    return true;
  }

  release(): void {
    this.inflight--;
    // Woken in a turn of their own, never from inside the connection that let the slot go: that
    // one may have an answer in the shared output buffer not yet sent, which the woken one would
    // send as its own; and a chain of synchronous handlers would nest one call per waiter.
    if (this.waiting.length > 0 && !this.wakeQueued) {
      this.wakeQueued = true;
      queueMicrotask(this.wakeWaiting);
    }
  }

  /** Hand every free slot to the connections waiting, in order. */
  private admitWaiting(): void {
    this.wakeQueued = false;
    this.admitting = true;
    try {
      // One still held back by something else (an answer it cannot send) takes none: go on.
      while (this.inflight < this.limits.maxInflight && this.waiting.length > 0) {
        this.waiting.shift()!.admitted();
      }
    } finally {
      this.admitting = false;
    }
  }

  waitForSlot(conn: Connection): void {
    this.waiting.push(conn);
  }

  /** Handlers running right now. */
  get running(): number {
    return this.inflight;
  }

  /** Open connections. */
  get connections(): number {
    return this.openCount;
  }

  reportError(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // An error hook that throws must not take the connection down with it.
    }
  }

  forget(connection: Connection): void {
    // A refused connection was never linked.
    if (connection.openPrev !== null || this.openHead === connection) this.unlink(connection);
    else this.refusedOpen--;
    const i = this.waiting.indexOf(connection);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** Add `conn` to the open connections. */
  private link(conn: Connection): void {
    const head = this.openHead;
    conn.openNext = head;
    if (head !== null) head.openPrev = conn;
    this.openHead = conn;
    this.openCount++;
  }

  /** Take `conn` out of the open connections. */
  private unlink(conn: Connection): void {
    const prev = conn.openPrev;
    const next = conn.openNext;
    if (prev === null) this.openHead = next;
    else prev.openNext = next;
    if (next !== null) next.openPrev = prev;
    // A closed connection points at nothing: a dead object's links would keep others alive.
    conn.openPrev = conn.openNext = null;
    this.openCount--;
  }

  /**
   * Graceful shutdown of the connections (the caller stops accepting first):
   * none reads another request from now on, idle ones close, busy ones after
   * answering what they have read, and whatever is left when `graceMs` runs out
   * is cut. Resolves when all are gone.
   *
   * `stopped`, when given, resolves once the listener takes no more connections: idle ones are
   * closed only then. A client sent away by its idle connection's close then finds the port
   * refused, where a listener that has not quite closed yet (Deno's closes a turn or more after
   * it is told to) would take its new connection and reset it.
   */
  async shutdown(graceMs: number, stopped?: Promise<void>): Promise<void> {
    // Checked before anything stops: a bad grace must not leave the server half shut down.
    checkGrace(graceMs);
    const deadline = now() + graceMs;
    this.draining = true;
    if (stopped === undefined) this.drainAll(true);
    else {
      this.drainAll(false);
      try {
        await settledBy(stopped, deadline);
      } finally {
        this.drainAll(true);
      }
    }
    try {
      await this.scope.wait(deadline);
    } catch (err) {
      if (!(err instanceof Timeout)) throw err;
    }
    this.accessLog?.flush();
    // Cancelling each connection's task cuts its socket; close() waits for them to go.
    try {
      await this.scope.close(now() + CLOSE_WAIT_MS);
    } catch (err) {
      if (!(err instanceof Timeout)) throw err;
    }
    this.accessLog?.flush();
  }

  /** Every open connection reads no more requests; with `closeIdle`, an idle one closes. */
  private drainAll(closeIdle: boolean): void {
    // Draining may close a connection, which unlinks it: take the next one first.
    for (let conn = this.openHead; conn !== null;) {
      const next: Connection | null = conn.openNext;
      conn.drain(closeIdle);
      conn = next;
    }
  }
}
