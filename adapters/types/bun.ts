/**
 * The few parts of the `Bun` global that the Bun adapter touches, typed by hand so that plain
 * `tsc` (with only `@types/node`) can check the adapter. Shapes follow bun-types for Bun 1.x
 * and were probed on Bun 1.4.5.
 *
 * @module
 */

/** A TCP socket handed to the listener's handlers; `data` is our per-socket state. */
export interface BunSocket<Data> {
  data: Data;
  readonly remoteAddress: string;
  /** Not in older bun-types; present at runtime in 1.4.5. */
  readonly remotePort?: number;
  /** Bytes handed to the kernel, which may be fewer than asked, or -1 once the socket is closed. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** `shutdown()` sends a FIN and keeps reading; `shutdown(true)` shuts the read side instead. */
  shutdown(halfClose?: boolean): void;
  /** Sends a FIN and closes at once; the close handler runs before this returns. */
  close(): void;
  /** Closes with SO_LINGER 0, so the peer gets a RST. */
  terminate(): void;
  /** Stops polling for readable data; FIN and RST are noticed only after `resume()`. */
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

/** Listener-wide socket handlers (declared once, not per socket). */
export interface BunSocketHandler<Data> {
  binaryType?: "buffer" | "uint8array" | "arraybuffer";
  open?(socket: BunSocket<Data>): void;
  data?(socket: BunSocket<Data>, chunk: Uint8Array): void;
  drain?(socket: BunSocket<Data>): void;
  /** The peer sent a FIN; with `allowHalfOpen` the socket stays writable. */
  end?(socket: BunSocket<Data>): void;
  /** Runs once; `error` is set for resets and failed reads. */
  close?(socket: BunSocket<Data>, error?: Error): void;
  /** Receives exceptions thrown by the other handlers. */
  error?(socket: BunSocket<Data>, error: Error): void;
}

/** Options of `Bun.listen` for TCP. */
export interface BunListenOptions<Data> {
  hostname: string;
  port: number;
  socket: BunSocketHandler<Data>;
  allowHalfOpen?: boolean;
  /** Undeclared in bun-types, but the native socket config parses it (Linux only). */
  reusePort?: boolean;
}

/** The address a listener is bound to, as `getsockname` fills it in. */
export interface BunSocketAddress {
  family?: string;
  address?: string;
  port?: number;
}

/** What `Bun.listen` returns. */
export interface BunTCPListener {
  readonly port: number;
  /** The hostname as given to `Bun.listen` (`localhost` stays `localhost`). */
  readonly hostname: string;
  /**
   * Fills `out` with the bound address, from getsockname(2). Not in bun-types: it is what
   * Bun's own `node:net` `Server.address()` calls. In 1.4.5 it needs the object and returns
   * undefined; some versions return the address as well, so both are read.
   */
  getsockname?(out: BunSocketAddress): BunSocketAddress | undefined;
  /** Without `true`, open connections are left alone. */
  stop(closeActiveConnections?: boolean): void;
}

/** The subset of `globalThis.Bun` used by binks. */
export interface BunNamespace {
  readonly version: string;
  listen<Data>(options: BunListenOptions<Data>): BunTCPListener;
}
