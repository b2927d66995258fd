/**
 * Every bound the server enforces, with its default. Each is configurable
 * through {@link ServeOptions} and the CLI.
 *
 * @module
 */
import { shown } from "./shown.ts";

/** Size and count limits on what a client may send. */
export interface Limits {
  /** Longest request line (method, target, version) in bytes; over it → 414. */
  maxRequestLine: number;
  /** Largest request head (request line + header fields + blank line) in bytes; over it → 431. */
  maxHeadBytes: number;
  /** Most header fields in one request; over it → 431. */
  maxHeaders: number;
  /** Largest request body in bytes (after chunked decoding); over it → 413. */
  maxBodyBytes: number;
  /** Longest chunk extension on one chunk-size line in bytes; over it → 400. */
  maxChunkExtension: number;
  /** Largest chunked trailer section in bytes; over it → 431. */
  maxTrailerBytes: number;
  /** Most requests read ahead of their responses on one connection (pipelining). */
  maxPipelined: number;
  /** Most open connections; a connection past it gets 503 and is closed. */
  maxConnections: number;
  /**
   * Most handlers running at once, server-wide. Past it, connections stop
   * reading until a handler finishes: requests wait, none is refused.
   */
  maxInflight: number;
}

/** The defaults: Node's 16 KiB head, 100 headers; a 16 MiB body. */
export const defaultLimits: Readonly<Limits> = Object.freeze({
  maxRequestLine: 8 * 1024,
  maxHeadBytes: 16 * 1024,
  maxHeaders: 100,
  maxBodyBytes: 16 * 1024 * 1024,
  maxChunkExtension: 1024,
  maxTrailerBytes: 8 * 1024,
  maxPipelined: 64,
  maxConnections: 10_000,
  maxInflight: Infinity,
});

/**
 * The smallest and largest value each limit takes (`maxInflight` may also be Infinity): a
 * header table is allocated for `maxHeaders` fields, and a zero would refuse everything.
 */
export const limitRanges: Readonly<Record<keyof Limits, readonly [number, number]>> = Object
  .freeze({
    maxRequestLine: [16, 1 << 20],
    maxHeadBytes: [16, 1 << 24],
    maxHeaders: [1, 10_000],
    maxBodyBytes: [0, 2 ** 50],
    maxChunkExtension: [0, 1 << 20],
    maxTrailerBytes: [0, 1 << 24],
    maxPipelined: [1, 10_000],
    maxConnections: [1, 1 << 24],
    maxInflight: [1, 1 << 24],
  });

/**
 * Refused connections (past `maxConnections`, or while stopping) left lingering at most: each
 * holds a socket for the linger, outside the count, so a flood of them could use up the
 * descriptors the limit protects. Past this many the refusal is written and the socket closed.
 */
export const MAX_LINGERING_REFUSALS = 64;

/**
 * Descriptors a server process holds before its first connection, with room to spare: the
 * runtime's own (stdio, event loop, threads: 9 on Bun, 21 on Node, 25 on Deno), the listener,
 * a worker's channel to its primary.
 */
export const RUNTIME_FILES = 64;

/**
 * The most connections a process allowed `openFiles` descriptors can hold, each costing
 * `filesPerConnection` (its socket; and the file it sends, when serving files), after the
 * runtime's own and the lingering refusals' (one more while it is being closed); at least 1.
 * A `maxConnections` above it runs out of descriptors before the limit refuses anyone:
 * accept() then fails (EMFILE), and clients get nothing, or a reset, instead of a 503.
 */
export function connectionsWithin(openFiles: number, filesPerConnection: number): number {
  const spare = openFiles - RUNTIME_FILES - (MAX_LINGERING_REFUSALS + 1);
  return Math.max(1, Math.floor(spare / filesPerConnection));
}

/** Timeouts are whole milliseconds in this range (what a timer can wait). */
export const timeoutRange: readonly [number, number] = [1, 2 ** 31 - 1];

/** Throws a RangeError naming the first limit out of {@link limitRanges}. */
export function checkLimits(limits: Readonly<Limits>): void {
  for (const key of Object.keys(limitRanges) as (keyof Limits)[]) {
    const value = limits[key];
    if (key === "maxInflight" && value === Infinity) continue;
    const [min, max] = limitRanges[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(
        `limits.${key} must be a whole number from ${min} to ${max}, not ${shown(value)}`,
      );
    }
  }
}

/** Throws a RangeError naming the first timeout out of {@link timeoutRange}. */
export function checkTimeouts(timeouts: Readonly<Timeouts>): void {
  for (const key of Object.keys(defaultTimeouts) as (keyof Timeouts)[]) {
    checkMs(`timeouts.${key}`, timeouts[key], timeoutRange[0]);
  }
}

/** Throws a RangeError unless `value` is whole ms from `min` up to what a timer can wait. */
export function checkMs(name: string, value: unknown, min: number): void {
  const max = timeoutRange[1];
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new RangeError(`${name} must be whole ms from ${min} to ${max}, not ${shown(value)}`);
  }
}

/** How long the server waits for a client, in ms. */
export interface Timeouts {
  /** Between requests on a kept-alive connection (and before the first); then it is closed. */
  keepAliveMs: number;
  /** From the first byte of a request head to its end; then 408 and close (slowloris). */
  headMs: number;
  /** Longest silence while a body arrives; then 408 and close. */
  bodyMs: number;
  /**
   * Longest a handler may take to produce its response, from the end of the request head: then
   * 503 and its signal aborts. The body's arrival counts (a handler that reads it waits for
   * it): a body still arriving then is answered 408 and the connection closed, as the client's
   * slowness, and not reported as the handler's failure.
   */
  handlerMs: number;
  /**
   * Longest the client may leave a full send buffer unread (no part of a response taken in
   * that time); then the connection is closed (a client that never reads holds nothing long).
   */
  sendMs: number;
}

/**
 * The defaults: Node's 5 s keep-alive; 20 s for a head; 30 s of silence in a body; 60 s per
 * handler; 60 s for a client to take more of a response (nginx's `send_timeout`).
 */
export const defaultTimeouts: Readonly<Timeouts> = Object.freeze({
  keepAliveMs: 5_000,
  headMs: 20_000,
  bodyMs: 30_000,
  handlerMs: 60_000,
  sendMs: 60_000,
});
