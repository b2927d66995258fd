/**
 * Transport over Node's `net` sockets (Node 20+, and Deno/Bun's `node:net` compat).
 *
 * @module
 */
import * as net from "node:net";
import type {
  AcceptFn,
  ConnectionEvents,
  Listener,
  ListenFn,
  ListenOptions,
  Transport,
} from "../src/transport.ts";
import { ListenError } from "../src/transport.ts";

/** `net` learnt `reusePort` in 22.12 and 23.1; older versions ignore or reject it. */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * Node sends a borrowed view in place when nothing is queued before it: the kernel takes it at
 * once, or Node keeps a reference to it until it does. Deno's and Bun's `node:net` write
 * asynchronously whatever they are given, so there a borrowed view is always copied.
 */
const WRITES_IN_PLACE = process.versions.bun === undefined && process.versions.deno === undefined;

/**
 * On Node itself sockets read into one shared buffer (`net.Socket`'s `onread` option): `net`
 * would otherwise allocate 64 KiB for each read and then shrink it to what came. Not under Deno
 * and Bun, whose `node:net` is their own (Bun's hands over a chunk of its own all the same,
 * oven-sh/bun#33382): there each read stays a new Buffer.
 */
const READS_IN_PLACE = WRITES_IN_PLACE;
/** The read buffers' size: what libuv offers for one read, as `net`'s own. */
const READ_BUFFER_BYTES = 64 * 1024;
let readBuffer: Uint8Array | null = null;
/** The read just delivered filled its buffer: see {@link readTarget}. */
let bulkNext = false;

/**
 * What a socket reads into next, asked by `net` right after each delivery. A read that filled its
 * buffer means more is waiting (a large body on its way): the next one goes into 64 KiB of its own,
 * uninitialised, which the core keeps views of, rather than into the shared buffer, whose every
 * piece the core would copy out into zeroed memory (for 1 MiB uploads 2-5 times the CPU). Reads
 * that leave room (heads, small bodies) go to the shared buffer.
 */
function readTarget(): Uint8Array {
  if (!bulkNext) return readBuffer!;
  bulkNext = false;
  return Buffer.allocUnsafe(READ_BUFFER_BYTES);
}

class NodeTransport implements Transport {
  readonly socket: net.Socket;
  keptBorrowed = false;
  events: ConnectionEvents | null = null;
  /** Why the socket went away, when it did not simply close. */
  failure: unknown = undefined;
  constructor(socket: net.Socket, freshChunks: boolean) {
    this.socket = socket;
    this.freshChunks = freshChunks;
  }

  // Read when asked: each read is a getpeername(2) that most requests never need.
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "";
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  get pending(): number {
    return this.socket.writableLength;
  }

  /**
   * Whether the chunk being delivered is memory of its own: always for sockets `net` made; for
   * those reading in place, only a read into a buffer of its own that filled most of it (the core
   * copies out of a short one rather than keep its 64 KiB).
   */
  freshChunks: boolean;

  /** On Node itself, with nothing queued: the view goes to the kernel in the call. */
  get sendsAtOnce(): boolean {
    return WRITES_IN_PLACE && this.socket.writableLength === 0;
  }

  write(bytes: Uint8Array, owned: boolean): boolean {
    const socket = this.socket;
    if (owned) return socket.write(bytes);
    if (!WRITES_IN_PLACE || socket.writableLength !== 0) {
      // Queued behind other bytes: `net` would keep the view until its turn. Copying here keeps
      // a stalled connection to one kept view of the core's buffer, however often it writes.
      this.keptBorrowed = false;
      return socket.write(Buffer.from(bytes));
    }
    // A copy per response (an ArrayBuffer past 4 KiB) is what drove peak RSS up under load;
    // the view goes as it is, and what the kernel did not take stays counted in writableLength.
    const ok = socket.write(bytes);
    this.keptBorrowed = socket.writableLength !== 0;
    return ok;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  reset(): void {
    this.socket.resetAndDestroy();
  }
}

/** Each socket carries its transport, so one set of listeners serves every socket. */
type BinksSocket = net.Socket & { binks: NodeTransport };

function failed(socket: BinksSocket, err: unknown): void {
  // As on Deno and Bun: a failure in the core takes down its connection, not the process.
  socket.binks.failure = err;
  socket.destroy();
}

function onData(this: BinksSocket, chunk: Buffer): void {
  try {
    this.binks.events!.onData(chunk);
  } catch (err) {
    failed(this, err);
  }
}

/** `onread`'s callback: `n` bytes read into `buffer`, the shared one or one of its own. */
function onRead(this: BinksSocket, n: number, buffer: Uint8Array): void {
  const events = this.binks.events!;
  this.binks.freshChunks = buffer !== readBuffer && n * 2 >= buffer.length;
  bulkNext = false;
  try {
    events.onData(buffer.subarray(0, n));
  } catch (err) {
    failed(this, err);
    return;
  }
  // Unless the read ended a request, when the next may be a long while coming.
  bulkNext = n === buffer.length && events.betweenRequests?.() !== true;
}

function onDrain(this: BinksSocket): void {
  try {
    this.binks.events!.onDrain();
  } catch (err) {
    failed(this, err);
  }
}

function onEnd(this: BinksSocket): void {
  try {
    this.binks.events!.onEnd();
  } catch (err) {
    failed(this, err);
  }
}

function onError(this: BinksSocket, err: Error): void {
  this.binks.failure = err;
}

function onClose(this: BinksSocket): void {
  this.binks.events!.onClose(this.binks.failure);
}

function attach(socket: net.Socket, accept: AcceptFn, freshChunks: boolean): void {
  const transport = new NodeTransport(socket, freshChunks);
  (socket as BinksSocket).binks = transport;
  transport.events = accept(transport);
  if (freshChunks) socket.on("data", onData);
  socket.on("drain", onDrain);
  socket.on("end", onEnd);
  socket.on("error", onError);
  socket.on("close", onClose);
}

/** The native handle of a listening `net.Server`, as `net` itself (and `node:cluster`) uses it. */
interface ListenHandle {
  onconnection?: unknown;
}

type OnConnection = (this: unknown, status: number, client: unknown) => void;

/**
 * Take the connections `server` accepts before `net` wraps them, and wrap them as sockets that
 * read into the shared buffer: `net.Server` has no `onread` option for the sockets it makes. The
 * listening handle's `onconnection` is where `net` (and, in a worker, `node:cluster`) hands each
 * accepted handle over; `new net.Socket({ handle })` is what `net` makes of it. Neither is public
 * API, so where either is not as expected `net` goes on making the sockets.
 */
function acceptInPlace(server: net.Server, accept: AcceptFn): void {
  const handle = (server as unknown as { _handle?: ListenHandle | null })._handle;
  if (!READS_IN_PLACE || handle === null || handle === undefined) return;
  const original = handle.onconnection;
  if (typeof original !== "function") return;
  readBuffer ??= new Uint8Array(READ_BUFFER_BYTES);
  const onread = { buffer: readTarget, callback: onRead };
  handle.onconnection = function (this: unknown, status: number, client: unknown): void {
    // A failed accept is `net`'s to report, as before.
    if (status !== 0 || typeof client !== "object" || client === null) {
      return (original as OnConnection).call(this, status, client);
    }
    bulkNext = false;
    const socket = new net.Socket(
      { handle: client, allowHalfOpen: true, readable: true, writable: true, onread } as
        & net.SocketConstructorOpts
        & { handle: unknown },
    );
    socket.setNoDelay(true);
    attach(socket, accept, false);
  };
}

/** Listen with `node:net`. */
export const listen: ListenFn = (options: ListenOptions, accept: AcceptFn): Promise<Listener> => {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    attach(socket, accept, true);
  });
  const listenOptions: net.ListenOptions & { reusePort?: boolean } = {
    port: options.port,
    host: options.hostname,
    backlog: options.backlog ?? 511,
  };
  if (options.reusePort) {
    if (!nodeHasReusePort()) {
      return Promise.reject(
        new Error(`reusePort needs Node 22.12 or newer (this is ${process.versions.node})`),
      );
    }
    listenOptions.reusePort = true;
  }
  return new Promise<Listener>((resolve, reject) => {
    const failed = (error: unknown) => reject(new ListenError(options, error));
    server.once("error", failed);
    server.listen(listenOptions, () => {
      server.off("error", failed);
      acceptInPlace(server, accept);
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        hostname: address.address,
        runtime: "node",
        close: () => {
          // The callback would wait for every open connection; the core closes those.
          server.close();
          return Promise.resolve();
        },
      });
    });
  });
};
