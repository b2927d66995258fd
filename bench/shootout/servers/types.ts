/**
 * The few parts of the `Deno` and `Bun` globals the shoot-out servers touch,
 * typed by hand so that plain `tsc` (with only `@types/node`) checks them.
 * Shapes follow Deno 2.x and Bun 1.x and were tried on Deno 2.9.6 and Bun 1.4.5.
 *
 * @module
 */

/** A fetch-style handler, as `Deno.serve`, `Bun.serve` and Hono's `app.fetch` take. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** `Deno.serve` options. */
export interface DenoServeOptions {
  port: number;
  hostname: string;
  onListen?: (addr: { port: number }) => void;
}

/** A TCP connection from `Deno.listen`. */
export interface DenoConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  setNoDelay(noDelay?: boolean): void;
  close(): void;
}

/** The subset of `globalThis.Deno` used here. */
export interface DenoGlobal {
  serve(options: DenoServeOptions, handler: FetchHandler): unknown;
  listen(options: { port: number; hostname: string }): AsyncIterable<DenoConn> & {
    readonly addr: { port: number };
  };
}

/** `Bun.serve` options (fetch handler only). */
export interface BunServeOptions {
  port: number;
  hostname: string;
  fetch: FetchHandler;
}

/** A TCP socket handed to `Bun.listen`'s handlers. */
export interface BunSocket {
  /** Bytes taken by the kernel; may be fewer than asked, -1 once closed. */
  write(data: Uint8Array): number;
  /** Flush, then close (FIN). */
  end(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

/** `Bun.listen` options for TCP. */
export interface BunListenOptions {
  hostname: string;
  port: number;
  socket: {
    data(socket: BunSocket, chunk: Uint8Array): void;
    open?(socket: BunSocket): void;
    drain?(socket: BunSocket): void;
    close?(socket: BunSocket): void;
  };
}

/** The subset of `globalThis.Bun` used here. */
export interface BunGlobal {
  serve(options: BunServeOptions): { readonly port: number };
  listen(options: BunListenOptions): { readonly port: number };
}

/** `globalThis.Deno`, or a clear error when this is not Deno. */
export function denoGlobal(): DenoGlobal {
  const deno = (globalThis as unknown as { Deno?: DenoGlobal }).Deno;
  if (deno === undefined) throw new Error("this server runs on Deno only");
  return deno;
}

/** `globalThis.Bun`, or a clear error when this is not Bun. */
export function bunGlobal(): BunGlobal {
  const bun = (globalThis as unknown as { Bun?: BunGlobal }).Bun;
  if (bun === undefined) throw new Error("this server runs on Bun only");
  return bun;
}
