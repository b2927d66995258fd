/**
 * `serve()`: start an HTTP server on the running runtime's sockets.
 *
 * @module
 */
import { detectRuntime, loadAdapter } from "./adapters/detect.ts";
import { checkGrace, type HttpOptions, HttpServer } from "./src/server.ts";
import { type FetchHandler, fetchHandler } from "./src/fetch.ts";
import type { Handler } from "./src/connection.ts";
import { shown } from "./src/shown.ts";
import type { Listener, RuntimeName } from "./src/transport.ts";

/**
 * Everything `serve()` takes: where to listen, and how to answer — a native
 * `handler`, or a standard `fetch(request) => Response`.
 */
export interface ServeOptions extends Omit<HttpOptions, "handler"> {
  /** The native handler (e.g. `router.handler`). */
  handler?: Handler;
  /** A Web-standard handler (Hono's `app.fetch`, a `Deno.serve`/`Bun.serve` handler). */
  fetch?: FetchHandler;
  /**
   * With `fetch`: make the global `Response` one that keeps the string or bytes it was
   * made from, so that such answers skip reading their body through a stream (a
   * subclass: `instanceof Response` holds for every response). Default true.
   */
  globalResponse?: boolean;
  /** TCP port; 0 picks a free one. Default 3000. */
  port?: number;
  /** Address to bind. Default `0.0.0.0`. */
  hostname?: string;
  /** Force a transport; by default the running runtime's own. */
  runtime?: RuntimeName;
  /**
   * Share the port with other processes (SO_REUSEPORT): Node from 22.12, Bun, and Deno run with
   * `--unstable-net`; elsewhere `serve()` rejects, saying what is missing.
   */
  reusePort?: boolean;
}

/** A running server. */
export interface Server {
  /** The port bound. */
  readonly port: number;
  /** The address bound. */
  readonly hostname: string;
  /** The transport in use. */
  readonly runtime: RuntimeName;
  /** The HTTP side: connection count, limits. */
  readonly http: HttpServer;
  /** Stop accepting connections; open ones are left alone. */
  close(): Promise<void>;
  /**
   * Stop accepting, answer what was already received (no new requests are
   * read), close idle connections, and cut what is left after `graceMs`
   * (a `RangeError` for a grace that is not a number ≥ 0, before anything stops).
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** Every option `serve()` knows: anything else is a mistake (`host` for `hostname`, say). */
const KNOWN_OPTIONS: Readonly<Record<keyof ServeOptions, true>> = {
  handler: true,
  fetch: true,
  globalResponse: true,
  port: true,
  hostname: true,
  runtime: true,
  reusePort: true,
  limits: true,
  timeouts: true,
  onError: true,
  lingerMs: true,
  accessLog: true,
  trustProxy: true,
  proxyHeader: true,
};

/**
 * Refuse options that would be ignored or fail only later (at the first request, or at
 * shutdown): unknown names, and values of the wrong type. Values out of range are for the
 * parts that use them (`HttpServer`, the adapters).
 */
function checkOptions(options: ServeOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("serve() takes an options object");
  }
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(KNOWN_OPTIONS, key)) throw new TypeError(`serve(): unknown option "${key}"`);
  }
  const kinds: [keyof ServeOptions, string][] = [
    ["handler", "a function"],
    ["fetch", "a function"],
    ["onError", "a function"],
    ["accessLog", "a function"],
    ["hostname", "a string"],
    ["runtime", "a string"],
    ["proxyHeader", "a string"],
    ["globalResponse", "a boolean"],
    ["reusePort", "a boolean"],
    ["limits", "an object"],
    ["timeouts", "an object"],
  ];
  for (const [key, kind] of kinds) {
    const value = options[key];
    if (value !== undefined && (typeof value !== kind.split(" ")[1] || value === null)) {
      throw new TypeError(`serve(): ${key} must be ${kind}, not ${shown(value)}`);
    }
  }
  const proxies = options.trustProxy;
  if (
    proxies !== undefined &&
    !(Array.isArray(proxies) && proxies.every((p) => typeof p === "string"))
  ) {
    throw new TypeError(
      `serve(): trustProxy must be an array of addresses, not ${shown(proxies)}`,
    );
  }
}

/**
 * The address to bind: an IPv6 literal may come in brackets, as in a URL (`[::1]`), and is
 * passed on without them; an empty one is refused (Node would bind every interface, Deno and
 * Bun refuse it, each in its own words).
 */
function bindAddress(hostname: string | undefined): string {
  if (hostname === undefined) return "0.0.0.0";
  const bare = hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
  if (bare === "") throw new TypeError("serve(): hostname must not be empty");
  return bare;
}

/** Listen and serve. Resolves once the socket is bound. */
export async function serve(options: ServeOptions): Promise<Server> {
  checkOptions(options);
  const hostname = bindAddress(options.hostname);
  let handler = options.handler;
  if (handler === undefined) {
    if (options.fetch === undefined) {
      throw new TypeError("serve() needs a handler or a fetch function");
    }
    const runtime = detectRuntime();
    handler = fetchHandler(options.fetch, {
      globalResponse: options.globalResponse,
      ready: {
        // Node has no server of its own that could be handed a Response without its body.
        lazy: runtime === "node",
        // Lazy, the kept copy is the only one: up to what a stream's body is gathered to, a
        // copy costs less than undici's stream (64 KiB: about half).
        keepBytes: runtime === "node" ? 1024 * 1024 : undefined,
        // Bun hands bytes out of a Response's stream in pieces to be joined, but its bytes()
        // hands over the copy its Response took: larger bytes are taken out that way.
        takeBytes: runtime === "bun",
      },
      holdBody: runtime === "node",
      // The answers go from this handler to the connections alone.
      releaseBytes: true,
    });
  } else if (options.fetch !== undefined) {
    throw new TypeError("serve() takes a handler or a fetch function, not both");
  }
  const port = options.port ?? 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `serve(): port must be a whole number from 0 to 65535, not ${shown(port)}`,
    );
  }
  const listen = await loadAdapter(options.runtime);
  const http = new HttpServer({ ...options, handler });
  const listener: Listener = await listen({
    port,
    hostname,
    reusePort: options.reusePort,
  }, http.accept);
  return {
    port: listener.port,
    hostname: listener.hostname,
    runtime: listener.runtime,
    http,
    close: () => listener.close(),
    shutdown: async (graceMs = 10_000) => {
      // Refused before the listener closes, so a bad grace leaves the server serving.
      checkGrace(graceMs);
      // Draining begins now, not once the listener has closed: a request read in between (one
      // pipelined behind a handler that called this) would be answered as if nothing stopped.
      // Idle connections close once it has.
      await http.shutdown(graceMs, listener.close());
    },
  };
}
