/**
 * Transport over `Deno.listen` TCP connections, driven with `conn.read`/`conn.write` on
 * reused buffers (the `readable`/`writable` web streams allocate per chunk and are slow).
 *
 * `reusePort` needs Deno's unstable net API: run with `--unstable-net` (or
 * `"unstable": ["net"]` in deno.json). Without it Deno would exit the process, so `listen`
 * rejects instead.
 *
 * @module
 */
import { ChunkQueue } from "./queue.ts";
import { leaveSlab, type Slab, SLAB_MAX_COPY, slabWithRoom } from "./slab.ts";
import type {
  AcceptFn,
  ConnectionEvents,
  Listener,
  ListenFn,
  ListenOptions,
  Transport,
} from "../src/transport.ts";
import { ListenError } from "../src/transport.ts";
import type { DenoConn, DenoListenOptions, DenoNamespace, DenoTcpListener } from "./types/deno.ts";

/**
 * Each connection has a read in flight into its own buffer, so buffer size is
 * memory per idle connection: start small, grow when reads fill it (up to 64 KiB,
 * as Deno's own stream reads).
 */
const READ_INITIAL = 1024;
const READ_SIZE = 64 * 1024;
/**
 * The most a read between requests is given. Such a read carries a head (16 KiB at most by
 * default) and whatever the client sent with it; a body goes on in reads that grow to
 * {@link READ_SIZE}, and an idle connection keeps only this much.
 */
const HEAD_READ_MAX = 16 * 1024;
const HIGH_WATER_MARK = 64 * 1024;
/** Queued chunks are merged up to this size, so a backlog of small writes costs one write op. */
const COALESCE_LIMIT = 64 * 1024;
/**
 * The slab a merge of queued chunks took its memory from, if any: read right after
 * `ChunkQueue.take` (see {@link DenoTransport.take}).
 */
let mergedInto: Slab | null = null;

/** Memory for chunks merged into one write: small ones from a slab. */
function mergeAlloc(length: number): Uint8Array {
  if (length > SLAB_MAX_COPY) return new Uint8Array(length);
  const slab = slabWithRoom(length);
  mergedInto = slab;
  const start = slab.used;
  slab.used = start + length;
  return slab.bytes.subarray(start, start + length);
}

/** `stash` values besides a byte count. */
const STASH_NONE = -1;
const STASH_EOF = -2;

class DenoTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly conn: DenoConn;
  private events: ConnectionEvents | null = null;
  private buf: Uint8Array = new Uint8Array(READ_INITIAL);
  /**
   * The size of a read begun between requests: grown when one fills its buffer (the client's
   * heads, or pipelined batches, are that large), up to {@link HEAD_READ_MAX}.
   */
  private headSize = READ_INITIAL;
  /** Last view handed to onData; reused while reads keep the same length. */
  private view: Uint8Array = this.buf;
  private paused = false;
  /** A read loop is running (or about to resume); at most one read is ever in flight. */
  private reading = false;
  /** What a read that finished during pause() left in `buf`, delivered on resume(). */
  private stash = STASH_NONE;
  private readDone = false;

  /** Chunks not yet written; the one being written is held by flush() alone. */
  private readonly queue = new ChunkQueue();
  private queued = 0;
  /** A flush is scheduled or running, so write() must not start another. */
  private writing = false;
  private needDrain = false;
  private ending = false;
  private writeDone = false;
  private closed = false;
  /**
   * Every write is asynchronous on Deno, so borrowed bytes are copied, small ones into shared
   * slabs (adapters/slab.ts): these are the slabs this connection holds unwritten bytes in.
   */
  private slab: Slab | null = null;
  private moreSlabs: Slab[] | null = null;

  constructor(conn: DenoConn) {
    this.conn = conn;
    const addr = conn.remoteAddr;
    this.remoteAddress = addr.hostname ?? "";
    this.remotePort = addr.port ?? 0;
  }

  get pending(): number {
    return this.queued;
  }

  start(events: ConnectionEvents): void {
    this.events = events;
    // The core may have called close() from inside accept().
    if (this.closed) return;
    this.reading = true;
    void this.readLoop();
  }

  write(bytes: Uint8Array, owned: boolean): boolean {
    // Writes after end() or close() go nowhere; the core hears about the close separately.
    if (this.closed || this.ending) return true;
    const length = bytes.length;
    if (length !== 0) {
      if (owned) this.queue.push(bytes);
      else this.pushCopy(bytes);
      this.queued += length;
      if (!this.writing) {
        // Deferred to the end of this turn so that the core's other writes join the same op.
        this.writing = true;
        queueMicrotask(this.startFlush);
      }
    }
    if (this.queued < HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Before start() (resume() inside accept()) start() itself begins reading.
    if (!this.reading && !this.readDone && !this.closed && this.events !== null) {
      this.reading = true;
      void this.continueReading();
    }
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (!this.writing) void this.shutdownWrite();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    try {
      this.conn.close();
    } catch {
      // Deno already closed it (BadResource).
    }
    // Never call back into the core while it is inside close(), which may even be inside
    // accept(), before start() has the events.
    queueMicrotask(() => this.events?.onClose(undefined));
  }

  private readonly startFlush = (): void => {
    void this.flush();
  };

  private pushCopy(bytes: Uint8Array): void {
    const queue = this.queue;
    const length = bytes.length;
    if (length > SLAB_MAX_COPY) {
      // By constructor: slice() on a Buffer is a view, not a copy.
      queue.push(new Uint8Array(bytes));
      return;
    }
    const slab = slabWithRoom(length);
    this.useSlab(slab);
    const start = slab.used;
    const room = slab.bytes;
    room.set(bytes, start);
    slab.used = start + length;
    // A copy that lands right after the one queued last joins it: one write op for both.
    const tail = queue.last();
    if (
      tail !== undefined && tail.byteOffset + tail.length === start &&
      tail.length + length <= COALESCE_LIMIT &&
      // Offsets first: `.buffer` can cost an allocation on a small array V8 keeps on-heap.
      tail.buffer === room.buffer
    ) {
      queue.replaceLast(new Uint8Array(room.buffer, tail.byteOffset, tail.length + length));
    } else {
      queue.push(room.subarray(start, start + length));
    }
  }

  /** The next chunk to write, counting the slab a merge took memory from as held. */
  private take(): Uint8Array | null {
    const chunk = this.queue.take(COALESCE_LIMIT, mergeAlloc);
    if (mergedInto !== null) {
      this.useSlab(mergedInto);
      mergedInto = null;
    }
    return chunk;
  }

  /** This connection holds unwritten bytes in `slab`. */
  private useSlab(slab: Slab): void {
    if (this.slab === slab) return;
    if (this.slab === null) {
      this.slab = slab;
    } else {
      const more = this.moreSlabs ??= [];
      if (more.includes(slab)) return;
      more.push(slab);
    }
    slab.users++;
  }

  /**
   * All bytes this connection copied are written (or will never be): the slabs may be reused.
   * With a write still in flight they are only forgotten, never reused, since the op may
   * still read them.
   */
  private leaveSlabs(reuse: boolean): void {
    const slab = this.slab;
    if (slab === null) return;
    this.slab = null;
    const more = this.moreSlabs;
    this.moreSlabs = null;
    if (!reuse) return;
    leaveSlab(slab);
    if (more !== null) { for (const other of more) leaveSlab(other); }
  }

  private async flush(): Promise<void> {
    const conn = this.conn;
    let chunk = this.take();
    while (chunk !== null) {
      if (this.closed) return;
      let written: number;
      try {
        written = await conn.write(chunk);
      } catch (error) {
        this.destroy(error);
        return;
      }
      if (this.closed) return;
      this.queued -= written;
      // Deno writes what the kernel takes and resolves; the rest is ours to retry.
      chunk = written < chunk.length ? chunk.subarray(written) : this.take();
    }
    this.writing = false;
    // Before onDrain, whose writes may hold the same slabs afresh.
    this.leaveSlabs(true);
    if (this.needDrain) {
      this.needDrain = false;
      try {
        this.events!.onDrain();
      } catch (error) {
        this.destroy(error);
        return;
      }
    }
    if (this.ending && !this.writing && !this.closed) void this.shutdownWrite();
  }

  private async shutdownWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch (error) {
      this.destroy(error);
      return;
    }
    if (this.closed) return;
    this.writeDone = true;
    if (this.readDone) this.destroy(undefined);
  }

  private async readLoop(): Promise<void> {
    const conn = this.conn;
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(this.buf);
      } catch (error) {
        this.reading = false;
        this.destroy(error);
        return;
      }
      if (this.closed) {
        this.reading = false;
        return;
      }
      if (n === null) {
        this.reading = false;
        if (this.paused) this.stash = STASH_EOF;
        else this.gotEof();
        return;
      }
      if (n === 0) continue;
      if (this.paused) {
        // The read was already in flight when pause() came; hold its bytes in place.
        this.stash = n;
        this.reading = false;
        return;
      }
      if (!this.deliver(n)) {
        this.reading = false;
        return;
      }
    }
  }

  private async continueReading(): Promise<void> {
    // Never deliver data while the core is inside resume().
    await undefined;
    if (this.closed || this.paused) {
      this.reading = false;
      return;
    }
    const stash = this.stash;
    this.stash = STASH_NONE;
    if (stash === STASH_EOF) {
      this.reading = false;
      this.gotEof();
      return;
    }
    if (stash > 0 && !this.deliver(stash)) {
      this.reading = false;
      return;
    }
    await this.readLoop();
  }

  /** Hands `buf[0, n)` to the core; false when reading must stop (paused or closed). */
  private deliver(n: number): boolean {
    const events = this.events!;
    const full = n === this.buf.length;
    // A full read begun between requests: the client's heads come this large.
    if (full && this.headSize < HEAD_READ_MAX && events.betweenRequests?.() === true) {
      this.headSize = Math.min(HEAD_READ_MAX, n * 4);
    }
    let view = this.view;
    if (view.length !== n) view = this.view = this.buf.subarray(0, n);
    try {
      events.onData(view);
    } catch (error) {
      this.destroy(error);
      return false;
    }
    if (this.closed) return false;
    // A full read means more is waiting: read bigger from now on. Between requests, back to
    // the size of a head, so that a connection idle after a large body does not keep 64 KiB.
    let size = full ? Math.min(READ_SIZE, n * 4) : this.buf.length;
    if (size > this.headSize && events.betweenRequests?.() === true) size = this.headSize;
    if (size !== this.buf.length) {
      this.buf = new Uint8Array(size);
      this.view = this.buf;
    }
    return !this.paused;
  }

  private gotEof(): void {
    this.readDone = true;
    try {
      this.events!.onEnd();
    } catch (error) {
      this.destroy(error);
      return;
    }
    if (this.writeDone && !this.closed) this.destroy(undefined);
  }

  /** Final teardown from inside the adapter's own async code, so onClose can run at once. */
  private destroy(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    try {
      this.conn.close();
    } catch {
      // Already closed by Deno.
    }
    this.events!.onClose(error);
  }

  private release(): void {
    this.queue.clear();
    this.queued = 0;
    this.leaveSlabs(!this.writing);
  }
}

function startConnection(conn: DenoConn, accept: AcceptFn): void {
  try {
    conn.setNoDelay(true);
  } catch {
    // The peer is already gone; the first read reports it.
  }
  const transport = new DenoTransport(conn);
  let events: ConnectionEvents;
  try {
    events = accept(transport);
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    // Surface the core's bug as an uncaught error, as Node would, without ending the accept loop.
    queueMicrotask(() => {
      throw error;
    });
    return;
  }
  transport.start(events);
}

/** Errors of `accept()` about one connection only, not the listener. */
const GONE_BEFORE_ACCEPT = new Set(["NotConnected", "ConnectionReset", "ConnectionAborted"]);

async function acceptLoop(
  listener: DenoTcpListener,
  accept: AcceptFn,
  state: { closed: boolean },
): Promise<void> {
  for (;;) {
    let conn: DenoConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (state.closed || (error instanceof Error && error.name === "BadResource")) return;
      // A client that reset before we accepted it: nothing to wait for, take the next one.
      if (error instanceof Error && GONE_BEFORE_ACCEPT.has(error.name)) continue;
      // EMFILE and the like: retrying at once would spin while nothing can be accepted.
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    startConnection(conn, accept);
  }
}

/** Listen with `Deno.listen`. */
export const listen: ListenFn = (options: ListenOptions, accept: AcceptFn): Promise<Listener> => {
  const deno = (globalThis as unknown as { Deno: DenoNamespace }).Deno;
  const denoOptions: DenoListenOptions = {
    port: options.port,
    hostname: options.hostname,
    transport: "tcp",
  };
  if (options.backlog !== undefined) denoOptions.tcpBacklog = options.backlog;
  if (options.reusePort) {
    // Deno exposes its unstable net APIs only with the feature on; listen would exit otherwise.
    if (typeof deno.listenDatagram !== "function") {
      return Promise.reject(
        new Error(
          'reusePort on Deno needs the unstable net API: run with --unstable-net (or "unstable": ["net"] in deno.json)',
        ),
      );
    }
    denoOptions.reusePort = true;
  }
  let listener: DenoTcpListener;
  try {
    listener = deno.listen(denoOptions);
  } catch (error) {
    return Promise.reject(new ListenError(options, error));
  }
  const state = { closed: false };
  // Deno closes the socket once the accept in flight has been given up, a turn or more after
  // close(): until then the kernel still completes handshakes, and a client that comes in the
  // gap is reset rather than refused. Closing resolves when the loop has seen it end.
  const accepting = acceptLoop(listener, accept, state);
  const addr = listener.addr;
  return Promise.resolve<Listener>({
    port: addr.port,
    hostname: addr.hostname,
    runtime: "deno",
    close: (): Promise<void> => {
      if (!state.closed) {
        state.closed = true;
        try {
          listener.close();
        } catch {
          // Already closed.
        }
      }
      return accepting;
    },
  });
};
