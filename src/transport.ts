/**
 * The contract between the HTTP core and a runtime's TCP sockets.
 *
 * An adapter moves bytes and reports events; it knows nothing of HTTP. The core
 * implements {@link ConnectionEvents} for each accepted socket and drives the
 * socket through {@link Transport}.
 *
 * @module
 */
import { canonicalAddress } from "./address.ts";

/** One accepted TCP connection, as the core sees it. */
export interface Transport {
  /**
   * Queue bytes for sending. When `owned` is false the bytes are only borrowed
   * for the duration of the call (the core reuses its buffer afterwards), so an
   * adapter that cannot send them at once must copy them, or report that it kept
   * them with {@link keptBorrowed}. When `owned` is true
   * the adapter may keep the array; the core never touches it again.
   *
   * Returns false once the adapter holds more unsent bytes than its high-water
   * mark: the core then stops producing and waits for {@link ConnectionEvents.onDrain}.
   */
  write(bytes: Uint8Array, owned: boolean): boolean;
  /**
   * Set by each borrowed {@link write}: true when the adapter kept the view itself rather than a
   * copy (the runtime sends straight from it and did not send it all at once). The core then
   * writes nothing more into that memory. Adapters that copy what they keep may leave it out.
   */
  readonly keptBorrowed?: boolean;
  /**
   * Whether a borrowed {@link write} now would be handed to the kernel during the call, as it
   * is (nothing queued before it, no copy made first): then a larger body is worth copying next
   * to its head, so that both go in one send. Read before each answer; left out, false.
   */
  readonly sendsAtOnce?: boolean;
  /**
   * Each chunk given to {@link ConnectionEvents.onData} is memory of its own that the adapter
   * never writes into again (`node:net` under Deno and Bun allocates one per read), so the core
   * may keep views of it rather than copies. Left out, chunks are borrowed (Deno's adapter reads
   * each connection into a buffer of its own, the node adapter on Node all into one). Read at each
   * delivery, so an adapter may say it chunk by chunk (the node adapter on Node, for a large body).
   */
  readonly freshChunks?: boolean;
  /** Stop delivering data (the peer is sending faster than we answer). */
  pause(): void;
  /** Start delivering data again after {@link pause}. */
  resume(): void;
  /**
   * Send what is queued, then a FIN. Reading goes on until the peer closes or {@link close} is
   * called: a full close while the peer still sends (a client that asked to close may send more
   * all the same) would answer it with a reset, which can destroy the answer it has not read.
   */
  end(): void;
  /** Tear the connection down now; queued bytes may be lost. */
  close(): void;
  /**
   * Tear the connection down with a reset (RST) rather than a FIN, where the runtime can: the
   * one way to tell a client that a body delimited by the close is not complete. Left out
   * (Deno has no way to send one), the core calls {@link close}.
   */
  reset?(): void;
  /** Bytes accepted by {@link write} and not yet handed to the kernel. */
  readonly pending: number;
  /** The peer's IP address as text (`127.0.0.1`, `::1`), or "" when unknown. */
  readonly remoteAddress: string;
  /** The peer's port, or 0 when unknown. */
  readonly remotePort: number;
}

/** What an adapter reports about one connection. Called by the adapter only. */
export interface ConnectionEvents {
  /**
   * Bytes arrived. Unless the transport says {@link Transport.freshChunks}, the view is
   * valid only during this call: the adapter may reuse the memory afterwards (Deno reads
   * into one buffer), so the core copies whatever it keeps.
   */
  onData(chunk: Uint8Array): void;
  /**
   * Nothing of a request is held: the next bytes begin a new request head. An adapter that sizes
   * its reads asks it, to give back what a body's reads needed, so that an idle keep-alive
   * connection holds a buffer the size of a head rather than of a body. Left out: never.
   */
  betweenRequests?(): boolean;
  /** Everything queued with {@link Transport.write} has gone to the kernel. */
  onDrain(): void;
  /** The peer half-closed (FIN received); writing is still possible. */
  onEnd(): void;
  /** The socket is gone (closed by either side, reset, or failed). Called once, last. */
  onClose(error?: unknown): void;
}

/** Where and how to listen. */
export interface ListenOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind (`0.0.0.0`, `127.0.0.1`, `::`, `::1`, a host name). */
  hostname: string;
  /** Share the port between processes (SO_REUSEPORT) where the runtime can. */
  reusePort?: boolean;
  /** Length of the kernel's accept queue. */
  backlog?: number;
}

/** A socket that accepts connections. */
export interface Listener {
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** The address actually bound. */
  readonly hostname: string;
  /** Which adapter runs it: `node`, `deno` or `bun`. */
  readonly runtime: RuntimeName;
  /** Stop accepting new connections. Open connections are left to the core. */
  close(): Promise<void>;
}

/** The runtimes binks has adapters for. */
export type RuntimeName = "node" | "deno" | "bun";

/** Called once per accepted socket; returns the object that receives its events. */
export type AcceptFn = (transport: Transport) => ConnectionEvents;

/**
 * Listening failed: the same message on every runtime (each words its own differently, and
 * some leave out the address or the reason), with the runtime's error as `cause`.
 */
export class ListenError extends Error {
  /** Names the class in logs and stack traces. */
  override name: string = "ListenError";
  /** The system's error code when the runtime gave one (`EADDRINUSE`, `EACCES`, …). */
  readonly code: string | undefined;

  /** `cause` is the runtime's own error. */
  constructor(options: Pick<ListenOptions, "hostname" | "port">, cause: unknown) {
    const given = (cause as { code?: unknown } | null)?.code;
    const [code, why] = classify(typeof given === "string" ? given : undefined, cause, options);
    const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
    super(`cannot listen on ${host}:${options.port}: ${why}`, { cause });
    this.code = code;
  }
}

/**
 * The code and reason of a failed listen. Where a runtime gives no code, or another one, for a
 * failure the others name, the code is the one Node gives, so callers can branch on it anywhere.
 */
function classify(
  code: string | undefined,
  cause: unknown,
  { hostname }: Pick<ListenOptions, "hostname">,
): [string | undefined, string] {
  switch (code) {
    case "EADDRINUSE":
      return [code, "address already in use"];
    case "EADDRNOTAVAIL":
      return [code, "no such address on this machine"];
    case "EACCES":
      return [code, "permission denied (ports below 1024 need privileges)"];
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return [code, "no such host"];
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  const isAddress = canonicalAddress(hostname) !== null;
  // Deno's node:net (the port check of --workers) says EINVAL for an address not on the machine.
  if (code === "EINVAL" && isAddress) return ["EADDRNOTAVAIL", "no such address on this machine"];
  // Deno gives a failed name lookup no code, and refuses a name no DNS could hold (`a b!`)
  // before any lookup; Bun gives it, and whatever else has none, no reason.
  if (/failed to lookup address|invalid char found in FQDN/i.test(message)) {
    return ["ENOTFOUND", "no such host"];
  }
  // Bun says only that it failed: an address it could not bind is not this machine's, and
  // anything else was a name that did not resolve (as the other runtimes word them).
  if (/^Failed to listen at/.test(message)) {
    return isAddress
      ? ["EADDRNOTAVAIL", "no such address on this machine"]
      : ["ENOTFOUND", "no such host"];
  }
  return [code, message];
}

/** What every adapter module exports. */
export type ListenFn = (options: ListenOptions, accept: AcceptFn) => Promise<Listener>;
