/**
 * Transport over `Bun.listen` TCP sockets.
 *
 * Behaviour that was probed on Bun 1.4.5 and that this file relies on:
 * - `socket.write` is unbuffered: it returns what the kernel took (possibly 0), or -1 once
 *   the socket is closed. `drain` may also fire when nothing was pending.
 * - `socket.pause()`/`resume()` stop and restart polling the fd, so a paused peer fills the
 *   kernel buffers and stalls; the FIN is noticed only after `resume()` as well.
 * - With `allowHalfOpen: true` the `end` handler reports the peer's FIN and the socket stays
 *   writable. `socket.end()` closes the whole socket at once, so a half-close is
 *   `socket.shutdown()`; after it the peer's FIN arrives as `close` without `end`.
 * - `socket.close()` and `terminate()` run the `close` handler before they return.
 * - Accepted sockets come with TCP_NODELAY set (seen with strace: one setsockopt per accept).
 * - Each `data` event brings a new array, which Bun never writes into again.
 * - An exception thrown by a handler goes to the `error` handler, after which Bun closes the
 *   socket; rethrowing from `error` would skip the `close` handler.
 * - The listener's `hostname` is the text it was given (`localhost`, `0:0::1`); its
 *   undocumented `getsockname(out)` fills `out` with the address bound (`127.0.0.1`, `::1`).
 *
 * @module
 */
import { ChunkQueue } from "./queue.ts";
import type {
  AcceptFn,
  ConnectionEvents,
  Listener,
  ListenFn,
  ListenOptions,
  Transport,
} from "../src/transport.ts";
import { ListenError } from "../src/transport.ts";
import { writtenWhole } from "../src/release.ts";
import type {
  BunListenOptions,
  BunNamespace,
  BunSocket,
  BunSocketAddress,
  BunSocketHandler,
  BunTCPListener,
} from "./types/bun.ts";

const HIGH_WATER_MARK = 64 * 1024;
/** Queued chunks are merged up to this size, since every `socket.write` is a syscall. */
const COALESCE_LIMIT = 64 * 1024;

/** Stands in until `accept` returns, so hot paths need no null check. */
const NO_EVENTS: ConnectionEvents = {
  onData(): void {},
  onDrain(): void {},
  onEnd(): void {},
  onClose(): void {},
};

class BunTransport implements Transport {
  events: ConnectionEvents = NO_EVENTS;
  /** Set while paused, or while data held back by pause() waits to be delivered. */
  holding = false;
  private readonly socket: BunSocket<BunTransport>;
  private paused = false;
  private held: Uint8Array[] | null = null;
  private heldEnd = false;
  private deliverScheduled = false;

  /** Unsent bytes, in order, that the kernel would not take yet (made on first need). */
  private queue: ChunkQueue | null = null;
  private queued = 0;
  private needDrain = false;
  private ending = false;
  private shut = false;
  private sawEnd = false;
  private closed = false;
  private closeCalled = false;
  private reported = false;
  /** The peer's FIN came as a plain close: report an end first. */
  private endBeforeClose = false;
  failure: unknown = undefined;

  constructor(socket: BunSocket<BunTransport>) {
    this.socket = socket;
  }

  // Asked of the socket only when read: most requests never need the peer's address.
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "";
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  get pending(): number {
    return this.queued;
  }

  /** Nothing queued: `socket.write` sends at once, and copies only what the kernel left. */
  get sendsAtOnce(): boolean {
    return this.queued === 0;
  }

  write(bytes: Uint8Array, owned: boolean): boolean {
    // Writes after end() or close() go nowhere; the core hears about the close separately.
    if (this.closed || this.ending) return true;
    const length = bytes.length;
    if (length !== 0) {
      if (this.queued === 0) {
        const written = this.socket.write(bytes);
        // All taken at once: the borrowed bytes were never kept, so nothing to copy (and what
        // is kept is a copy, so there is no `keptBorrowed` to report). Bun keeps no reference
        // to what it wrote: bytes the server holds alone may go back now.
        if (written === length) {
          if (owned) writtenWhole(bytes);
          return true;
        }
        if (written < 0) return true;
        const rest = written === 0 ? bytes : bytes.subarray(written);
        (this.queue ??= new ChunkQueue()).push(owned ? rest : new Uint8Array(rest));
        this.queued = length - written;
      } else {
        // Order matters: nothing may overtake what is already queued. (A copy by constructor:
        // slice() on a Buffer is a view.)
        this.queue!.push(owned ? bytes : new Uint8Array(bytes));
        this.queued += length;
      }
    }
    if (this.queued < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.holding = true;
    if (!this.closed) this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.closed) return;
    if (this.held === null && !this.heldEnd) this.holding = false;
    else if (!this.deliverScheduled) {
      this.deliverScheduled = true;
      queueMicrotask(() => this.deliverHeld());
    }
    this.socket.resume();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queued === 0) this.shutdown();
  }

  close(): void {
    if (this.closed) return;
    this.closeCalled = true;
    this.release();
    // FIN and close, like Node's destroy(); terminate() would send a RST that can make the
    // peer discard a response it has not read yet.
    this.socket.close();
  }

  reset(): void {
    if (this.closed) return;
    this.closeCalled = true;
    this.release();
    // SO_LINGER 0, then close: a RST.
    this.socket.terminate();
  }

  /** `drain` handler: the kernel takes bytes again. */
  flush(): void {
    if (this.closed) return;
    const socket = this.socket;
    const queue = this.queue;
    let chunk = queue === null ? null : queue.take(COALESCE_LIMIT);
    while (chunk !== null) {
      const written = socket.write(chunk);
      if (written < 0) return;
      this.queued -= written;
      if (written < chunk.length) {
        queue!.putBack(chunk.subarray(written));
        return;
      }
      chunk = queue!.take(COALESCE_LIMIT);
    }
    if (this.needDrain) {
      this.needDrain = false;
      this.events.onDrain();
    }
    if (this.ending && this.queued === 0 && !this.shut && !this.closed) this.shutdown();
  }

  /**
   * `data` handler while holding: keep the chunk for resume(). Bun's chunks are new arrays it
   * never writes into again, yet the adapter does not offer them as `freshChunks`: on
   * JavaScriptCore a view of one costs more than the core's small copies (POST /echo 8.4–8.9
   * against 7.7–8.3 µs of CPU per request).
   */
  hold(chunk: Uint8Array): void {
    (this.held ??= []).push(chunk);
  }

  /** `end` handler. */
  peerEnded(): void {
    this.sawEnd = true;
    if (this.holding) this.heldEnd = true;
    else this.events.onEnd();
  }

  /** `close` handler; Bun calls it once, sometimes from inside our own close(). */
  socketClosed(error: Error | undefined): void {
    if (this.reported) return;
    this.reported = true;
    this.release();
    const failure = (this.failure = error ?? this.failure);
    // After shutdown() Bun reports the peer's FIN as a plain close; tell the core about the
    // FIN as Node and Deno do.
    this.endBeforeClose = failure === undefined && this.shut && !this.sawEnd && !this.closeCalled;
    // Deferred so that the core never hears onClose while inside write() or close(); that
    // includes a close() inside accept(), so `events` is read only then.
    if (closing.push(this) === 1) queueMicrotask(reportClosed);
  }

  /** Tell the core the socket is gone (from {@link reportClosed}). */
  reportClose(): void {
    const events = this.events;
    if (this.endBeforeClose) events.onEnd();
    events.onClose(this.failure);
  }

  private deliverHeld(): void {
    this.deliverScheduled = false;
    try {
      const held = this.held;
      let i = 0;
      if (held !== null) {
        while (i < held.length && !this.paused && !this.closed) this.events.onData(held[i++]!);
      }
      if (this.paused || this.closed) {
        if (held !== null) this.held = i === held.length ? null : held.slice(i);
        return;
      }
      this.held = null;
      this.holding = false;
      if (this.heldEnd) {
        this.heldEnd = false;
        this.events.onEnd();
      }
    } catch (error) {
      // A handler that throws on Bun's own stack ends in `error` and then `close`; match that.
      this.failure = error;
      this.close();
    }
  }

  private shutdown(): void {
    this.shut = true;
    this.socket.shutdown();
  }

  private release(): void {
    this.closed = true;
    this.queue?.clear();
    this.queued = 0;
  }
}

/**
 * Transports whose close is still to be reported, in order. One microtask
 * reports all that close in a turn, rather than a closure per connection.
 */
const closing: BunTransport[] = [];

function reportClosed(): void {
  // Closes caused while reporting join this same pass.
  for (let i = 0; i < closing.length; i++) {
    try {
      closing[i]!.reportClose();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
  closing.length = 0;
}

/** One handler set per listener; per-socket state lives on `socket.data`. */
function handlers(accept: AcceptFn): BunSocketHandler<BunTransport> {
  return {
    // Plain Uint8Array, like Deno's chunks: Buffer was no faster in a 1 GiB and a ping-pong
    // probe, and its slice() is a view rather than a copy, which is a trap for the core.
    binaryType: "uint8array",
    open(socket: BunSocket<BunTransport>): void {
      // No setNoDelay(true): Bun has set TCP_NODELAY on the accepted socket already, and a
      // second setsockopt(2) would cost every connection a syscall.
      const transport = new BunTransport(socket);
      socket.data = transport;
      transport.events = accept(transport);
    },
    data(socket: BunSocket<BunTransport>, chunk: Uint8Array): void {
      const transport = socket.data;
      if (transport.holding) transport.hold(chunk);
      else transport.events.onData(chunk);
    },
    drain(socket: BunSocket<BunTransport>): void {
      socket.data.flush();
    },
    end(socket: BunSocket<BunTransport>): void {
      socket.data.peerEnded();
    },
    close(socket: BunSocket<BunTransport>, error?: Error): void {
      socket.data?.socketClosed(error);
    },
    error(socket: BunSocket<BunTransport>, error: Error): void {
      // Only exceptions from our handlers (that is, from the core) land here for plain TCP;
      // Bun closes the socket afterwards and onClose carries the error.
      if (socket.data !== undefined) socket.data.failure = error;
    },
  };
}

/**
 * The address the listener is bound to, as Node's `server.address()` and Deno's
 * `listener.addr` report it: a name such as `localhost` resolved to the IP address taken
 * (`127.0.0.1` or `::1`), IPv6 in RFC 5952 form. Bun's `hostname` is the text it was given, so
 * the kernel is asked; a Bun without `getsockname` gets the given text, IPv6 written as
 * the others would.
 */
function boundAddress(server: BunTCPListener): string {
  if (typeof server.getsockname === "function") {
    const out: BunSocketAddress = {};
    try {
      const address = (server.getsockname(out) ?? out).address;
      if (typeof address === "string" && address !== "") return address;
    } catch {
      // A Bun whose getsockname has another shape: fall back to the given text.
    }
  }
  return ipv6Text(server.hostname);
}

/** An IPv6 address as the other runtimes report it (RFC 5952: `0:0::1` is `::1`). */
function ipv6Text(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  try {
    return new URL(`http://[${hostname}]/`).hostname.slice(1, -1);
  } catch {
    return hostname;
  }
}

/** Listen with `Bun.listen`. The accept backlog is Bun's own (512 on Linux). */
export const listen: ListenFn = (options: ListenOptions, accept: AcceptFn): Promise<Listener> => {
  const bun = (globalThis as unknown as { Bun: BunNamespace }).Bun;
  const bunOptions: BunListenOptions<BunTransport> = {
    hostname: options.hostname,
    port: options.port,
    socket: handlers(accept),
    // Without it Bun closes the socket on the peer's FIN, before the response is written.
    allowHalfOpen: true,
  };
  if (options.reusePort) bunOptions.reusePort = true;
  let server: BunTCPListener;
  try {
    server = bun.listen(bunOptions);
  } catch (error) {
    return Promise.reject(new ListenError(options, error));
  }
  let closed = false;
  return Promise.resolve<Listener>({
    port: server.port,
    hostname: boundAddress(server),
    runtime: "bun",
    close: (): Promise<void> => {
      if (!closed) {
        closed = true;
        // Without `true`, open connections are left to the core.
        server.stop(false);
      }
      return Promise.resolve();
    },
  });
};
