/**
 * The few parts of the `Deno` namespace that the Deno adapter touches, typed by hand so that
 * plain `tsc` (with only `@types/node`) can check the adapter. Shapes follow Deno 2.x
 * (`ext/net/lib.deno_net.d.ts`).
 *
 * @module
 */

/** An IP endpoint as Deno reports it. */
export interface DenoNetAddr {
  readonly transport: "tcp" | "udp";
  readonly hostname: string;
  readonly port: number;
}

/** An accepted TCP connection (`Deno.TcpConn`). */
export interface DenoConn {
  readonly remoteAddr: DenoNetAddr;
  /** Resolves to the byte count, or `null` at EOF; 0 is not EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Resolves to the byte count, which may be less than `p.length`. */
  write(p: Uint8Array): Promise<number>;
  /** shutdown(SHUT_WR); rejects (does not throw) once the connection is closed. */
  closeWrite(): Promise<void>;
  /** Throws `BadResource` when already closed. */
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}

/** A listening TCP socket (`Deno.TcpListener`). */
export interface DenoTcpListener {
  readonly addr: DenoNetAddr;
  /** Rejects with `BadResource` once the listener is closed. */
  accept(): Promise<DenoConn>;
  close(): void;
}

/** Options of `Deno.listen` for TCP. */
export interface DenoListenOptions {
  port: number;
  hostname?: string;
  transport?: "tcp";
  /** Unstable: without `--unstable-net` Deno exits the process instead of throwing. */
  reusePort?: boolean;
  /** Not in the public listen types, but honoured (checked with `ss -ltn` on 2.9.6). */
  tcpBacklog?: number;
}

/** The subset of `globalThis.Deno` used by binks. */
export interface DenoNamespace {
  readonly version: { readonly deno: string };
  listen(options: DenoListenOptions): DenoTcpListener;
  /** Present only when the `net` unstable feature is on, which makes it a probe for that. */
  readonly listenDatagram?: unknown;
}
