/**
 * One HTTP/1.1 connection: reads requests off a {@link Transport}, hands them
 * to the handler, and writes the responses back in request order.
 *
 * States of the input side:
 * - HEAD: waiting for (more of) a request head;
 * - BODY: the current request's body is arriving;
 * - DISCARD: no further request will be read (an error was answered, the
 *   connection is to close, or the peer half-closed); input is dropped;
 * - CLOSED: the socket is gone.
 *
 * Requests may be pipelined: their handlers run as they are parsed (up to
 * `maxPipelined` ahead), and their responses wait in a queue so that they go
 * out in order. All responses produced in one turn go out in one write.
 *
 * Input stops (the transport is paused) while any of these holds: the
 * transport's send buffer is over its high-water mark, too many responses are
 * pending, or a body's reader has fallen behind.
 *
 * @module
 */
import { plainAddress } from "./address.ts";
import { CR, keepBytes, LF } from "./bytes.ts";
import { type BodySource, RequestBody } from "./body.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { findHeadEnd, NEED_MORE, parseHead, type RequestHead } from "./parser.ts";
import { IncomingRequest, type Peer, type ProxyTrust } from "./request.ts";
import {
  chunkFrame,
  chunkSizeLine,
  CLOSE,
  closeIterator,
  CONTINUE_100,
  discardStream,
  INLINE_AT_ONCE_MAX,
  INLINE_BODY_MAX,
  KEEP,
  KEEP_10,
  LAST_CHUNK,
  type Out,
  pieceBytes,
  type Reply,
  type ReplyBody,
  StaticReply,
  type StreamBody,
  type Tail,
  writeReply,
  writeStatic,
} from "./response.ts";
import type { Limits, Timeouts } from "./limits.ts";
import type { ConnectionEvents, Transport } from "./transport.ts";
import { now, type Timer, timers, type TimerTarget } from "./clock.ts";
import { Canceled, Timeout } from "./errors.ts";
import { statusOf } from "./http-error.ts";
import type { AccessLog, LogInfo } from "./log.ts";
import { Owned } from "./scope.ts";

/** A request handler: returns the response, or a promise of it. */
export type Handler = (
  request: IncomingRequest,
) => Reply | StaticReply | Promise<Reply | StaticReply>;

/** What a connection needs from its server. */
export interface ConnectionHost {
  /** Size limits for requests and connections. */
  readonly limits: Limits;
  /** Deadlines for idle connections, heads, bodies and handlers. */
  readonly timeouts: Timeouts;
  /** Answers every request. */
  readonly handler: Handler;
  /** Serialisation buffer shared by all connections: each empties it before returning. */
  readonly out: Out;
  /** The head the parser fills; shared, since a request that outlives its turn copies it. */
  readonly head: RequestHead;
  /** Where the head scanner stopped (read at once by the connection that ran it). */
  readonly resume: { scan: number };
  /** What the response writer left to send (read at once by the connection that wrote). */
  readonly tail: Tail;
  /** Once true, every response carries `Connection: close`. */
  readonly draining: boolean;
  /** Requests received, for statistics. */
  requests: number;
  /** Where responses are logged, if anywhere. */
  readonly accessLog: AccessLog | null;
  /** Proxies whose forwarding field `IncomingRequest.ip` believes, and which field. */
  readonly proxies: ProxyTrust;
  /** How long to keep reading (and dropping) after a final response before closing, in ms. */
  readonly lingerMs: number;
  /** A handler failed or produced an invalid response. */
  reportError(error: unknown): void;
  /** Take a handler slot (`maxInflight`); false when none is free. */
  acquire(): boolean;
  /** Give a handler slot back. */
  release(): void;
  /** Call `conn.admitted()` once a slot may be free. */
  waitForSlot(conn: Connection): void;
  /** The connection is gone. */
  forget(connection: Connection): void;
}

const HEAD = 0;
const BODY = 1;
const DISCARD = 2;
const CLOSED = 3;

/** Reasons input is stopped, as bits. */
const BLOCK_WRITE = 1;
const BLOCK_PIPELINE = 2;
const BLOCK_BODY = 4;
const BLOCK_ADMIT = 8;
/** A pipelined request waits for handlers still running before it (see {@link mayStart}). */
const BLOCK_ORDER = 16;
/** For {@link Connection.step}: not a block, but "answer what is ready". */
const DRAIN = 0;

/** What the connection's one deadline is guarding. */
const WAIT_NONE = 0;
/** Between requests: the client may go quiet this long, then we close. */
const WAIT_IDLE = 1;
/** A head has begun: all of it must arrive in time (slowloris). */
const WAIT_HEAD = 2;
/** A body is arriving: the next bytes must come in time. */
const WAIT_BODY = 3;
/** Our side is done (see finish): the socket is closed when this runs out, read or not. */
const WAIT_LINGER = 4;
/** The socket's send buffer is full: the client must take some of it in time, or we close. */
const WAIT_SEND = 5;
/**
 * How soon after a send buffer fills its unsent bytes are counted again, as the mark the
 * client's reading is judged by: a transport that writes after the turn (Deno) hands the kernel
 * what still fits only then, which is not the client taking its answer (that mark would make
 * the first look re-arm the deadline, and a client that reads nothing would get twice sendMs).
 */
const SEND_SETTLE_MS = 25;

/** Continue states of a request with a body. */
const NO_EXPECT = 0;
const EXPECTING = 1;
const WANTED = 2;
const CONTINUED = 3;

/** Streamed pieces up to this size are copied into one chunk frame; larger ones go out as they are. */
const FRAME_COPY_MAX = 4096;
const CRLF_BYTES = new Uint8Array([0x0d, 0x0a]);

const errorReplies = new Map<number, StaticReply>();

/**
 * The input being parsed is a chunk the transport gave away for good (`freshChunks`), not
 * the connection's own buffer: what a request keeps of it may be a view rather than a copy.
 */
let inputFresh = false;

/** The canned answer to a request the server refuses: status and reason, nothing echoed. */
export function errorReply(status: number): StaticReply {
  let reply = errorReplies.get(status);
  if (reply === undefined) {
    const body = `${status}\n`;
    reply = new StaticReply(status, { "Content-Type": "text/plain" }, body);
    errorReplies.set(status, reply);
  }
  return reply;
}

/** A reply that will not be sent: its stream, if any, is closed (it may hold an open file). */
function drop(reply: Reply | StaticReply): void {
  // What a handler gave is checked only when it is written: here it may be anything.
  if (reply instanceof StaticReply || typeof reply !== "object" || reply === null) return;
  let body: ReplyBody;
  try {
    body = reply.body;
  } catch {
    // A getter that throws: no stream to close that binks could reach.
    return;
  }
  discardStream(body);
}

/** One request on its way through the connection. */
class Exchange implements BodySource, TimerTarget {
  readonly conn: Connection;
  readonly req: IncomingRequest;
  readonly body: RequestBody | null;
  readonly headOnly: boolean;
  readonly minor: number;
  readonly keepAlive: boolean;
  reply: Reply | StaticReply | null = null;
  /** The reply was forced by the server (an error): close after it. */
  forced = false;
  written = false;
  /** The connection gave up on this exchange (closed before it was answered). */
  abandoned = false;
  /** Holds a handler slot until the handler settles. */
  running = true;
  /** The handler went on past its first turn: the connection counts it as running. */
  watched = false;
  /** Fires when the handler takes too long. */
  timer: Timer | null = null;
  /** For the access log, when there is one. */
  log: LogInfo | null = null;
  continueState: number;
  /** The exchange after this one in the connection's queue. */
  next: Exchange | null = null;

  constructor(
    conn: Connection,
    head: RequestHead,
    peer: Peer,
    hasBody: boolean,
    req: IncomingRequest | null = null,
  ) {
    this.conn = conn;
    this.body = hasBody ? new RequestBody(this, head.contentLength) : null;
    this.req = req ?? new IncomingRequest(head, this.body, peer, conn.proxies);
    this.headOnly = head.method === "HEAD";
    this.minor = head.minor;
    this.keepAlive = head.keepAlive;
    this.continueState = hasBody && head.expectContinue ? EXPECTING : NO_EXPECT;
  }

  bodyWanted(): void {
    if (this.continueState === EXPECTING) {
      this.continueState = WANTED;
      this.conn.sendContinue(this);
    }
  }

  bodyPressure(full: boolean): void {
    this.conn.bodyPressure(full);
  }

  /** The handler's deadline passed (the exchange is its own timer target: no closure). */
  onTimer(): void {
    this.conn.handlerTimedOut(this);
  }
}

/** GET, HEAD, OPTIONS and TRACE: the safe methods of RFC 9110 §9.2.1. */
function isSafe(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "TRACE";
}

/** What a handler that answered with nothing did wrong. */
function noReply(method: string, value: null | undefined): TypeError {
  return new TypeError(
    `the handler for ${method} returned ${value}: it must return a reply (or a promise of one)`,
  );
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** Whether `value` has a `then` to call: read inside call()'s try, as its getter may throw. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown }).then === "function";
}

/** The connection state machine. Created by the server for each accepted socket. */
export class Connection extends Owned implements ConnectionEvents, TimerTarget {
  private readonly t: Transport;
  private readonly host: ConnectionHost;
  private phase = HEAD;
  private blocked = 0;
  /** Handlers of this connection that went on past their first turn, and the unsafe among them. */
  private handlersRunning = 0;
  private unsafeRunning = 0;
  /** Inside onData/processBuffered: nested unblocking must not re-enter the parser. */
  private processing = false;
  /** Inside an entry point: writes gather in the shared buffer and go out at the end. */
  private busy = false;

  /** Unparsed input kept across reads (only a partial head, or input held while blocked). */
  private inBuf: Uint8Array | null = null;
  private inLen = 0;
  /** Bytes of the current head already scanned for its end. */
  private scanned = 0;
  /** A head is under way across reads: leave it to the resumable scanner. */
  private partial = false;

  /** The request whose body is arriving. */
  private bodyEx: Exchange | null = null;
  private bodyLeft = 0;
  private chunked: ChunkedDecoder | null = null;

  /** Requests awaiting their turn to be answered, oldest first. */
  private first: Exchange | null = null;
  private last: Exchange | null = null;
  private queued = 0;
  /** The peer half-closed while input was held back; handle it once that input is read. */
  private peerEnded = false;
  /** A streamed body is going out; everything after it waits. */
  private streaming = false;
  private drainWaiter: (() => void) | null = null;
  /** The one timer of this connection, and what it guards; re-armed lazily when it fires early. */
  private timer: Timer | null = null;
  private deadline = Infinity;
  private waiting = WAIT_NONE;
  /**
   * While waiting on a client to take what is sent (WAIT_SEND, or lingering after the last
   * answer): the transport's unsent bytes at the last look (-1: not looked yet while lingering).
   */
  private sentMark = -1;
  /** When the client was last seen taking some of it. */
  private sentAt = 0;
  /** While waiting on a send: when `sentMark` is taken again (see SEND_SETTLE_MS); 0 once done. */
  private settleAt = 0;
  /** While an answer is streamed: its request (aborted if the client goes) and its producer. */
  private streamReq: IncomingRequest | null = null;
  private streamIterator: AsyncIterator<Uint8Array | string> | null = null;
  /** A streamed answer's access-log entry, written when the stream ends, whole or cut. */
  private streamLog: LogInfo | null = null;
  private streamStatus = 0;
  /** Bytes of the streamed answer handed to the transport: head, framing and body. */
  private streamBytes = 0;
  /**
   * Entries of requests given up on behind a streamed answer still going out: written after
   * its own, so that the log keeps the order the answers would have gone out in.
   */
  private logAfterStream: LogInfo[] | null = null;
  /** A sized stream's whole length went out: cut after that, its client has it all. */
  private streamWhole = false;
  /** Why the server itself cut the connection, for the requests it leaves unanswered. */
  private cutWhy: string | null = null;
  /**
   * The connection closed its transport itself: what it would write after that goes nowhere
   * (the close is reported later, on Node a turn of the event loop later), so nothing is.
   */
  private cut = false;
  /** @internal Links in the host's list of open connections (see {@link HttpServer}). */
  openPrev: Connection | null = null;
  /** @internal */
  openNext: Connection | null = null;
  /** Resolves the connection's task (see {@link run}) when the socket is gone. */
  constructor(transport: Transport, host: ConnectionHost) {
    super();
    this.t = transport;
    this.host = host;
    this.wait(WAIT_IDLE, host.timeouts.keepAliveMs);
  }

  /** @internal For the requests of this connection. */
  get proxies(): ProxyTrust {
    return this.host.proxies;
  }

  /** Requests read and not yet answered. */
  get pendingRequests(): number {
    return this.queued;
  }

  /** No request is in progress: nothing read of a next one, nothing unanswered. */
  get idle(): boolean {
    return this.phase === HEAD && this.queued === 0 && !this.streaming && this.inLen === 0;
  }

  /** Owned by the server's scope: closing that scope tears the socket down. */
  cancel(): void {
    this.abort();
  }

  /**
   * Refuse with `status` and close, from outside the transport's events: the connection before
   * reading anything (too many open), or the request whose body is late.
   */
  refuse(status: number): void {
    this.busy = true;
    this.fail(status);
    this.busy = false;
    this.flush();
  }

  /**
   * Unblock `bit` (or, given DRAIN, answer what is ready) from outside the
   * transport's events: writes are gathered, sent once, and the deadline set.
   */
  private step(bit: number): void {
    const wasBusy = this.busy;
    this.busy = true;
    if (bit === DRAIN) this.drainQueue();
    else this.unblock(bit);
    this.busy = wasBusy;
    this.flush();
    this.updateWait();
  }

  /** A handler slot may be free: go on reading. False when this connection no longer wants one. */
  admitted(): boolean {
    if (this.phase >= DISCARD) return false;
    this.step(BLOCK_ADMIT);
    return true;
  }

  /**
   * The server is shutting down: read no new request, answer the ones already
   * read (the last answer says `Connection: close`), and with `closeIdle` close at once if idle.
   */
  drain(closeIdle = true): void {
    if (this.phase === CLOSED) return;
    // A whole head held back for a handler slot or its turn was received: it is answered in
    // the grace, as the connection's last request. Anything short of a request is dropped, and
    // so is a request behind the one whose handler (or a stream's return(), onError…) is
    // shutting down: not read yet, whichever of its answer or the read comes first.
    if (this.phase === HEAD && (this.blocked & (BLOCK_ADMIT | BLOCK_ORDER)) === 0) {
      this.phase = DISCARD;
      this.inLen = 0;
    }
    if (!closeIdle) return;
    if (this.busy) {
      // Called from code that runs inside a read (a handler starting the shutdown): the request
      // it answers is not queued yet, nor its answer written, so the connection only looks idle.
      // So from inside a write (onError told of a refused reply, whose 500 is not written yet).
      // Looked at again once the read or write is done.
      queueMicrotask(() => this.drain());
      return;
    }
    if (this.phase === DISCARD && this.queued === 0 && !this.streaming) this.finish();
  }

  /** Tear the connection down now (shutdown grace period over). */
  abort(): void {
    if (this.phase === CLOSED) return;
    this.cutWhy = "the server stopped: its shutdown grace ran out";
    this.cutTransport(false);
  }

  // ---- events from the transport ----

  onData(chunk: Uint8Array): void {
    if (this.phase >= DISCARD) return;
    this.busy = true;
    if (this.inLen > 0 || this.blocked !== 0) {
      this.append(chunk);
      if (this.blocked === 0) this.processBuffered();
    } else {
      this.processing = true;
      inputFresh = this.t.freshChunks === true;
      const pos = this.process(chunk, 0, chunk.length);
      inputFresh = false;
      this.processing = false;
      if (pos < chunk.length && this.phase < DISCARD) this.append(chunk.subarray(pos));
    }
    this.busy = false;
    this.flush();
    this.updateWait();
  }

  betweenRequests(): boolean {
    return this.phase === HEAD && this.inLen === 0;
  }

  onDrain(): void {
    // The client took some: its time to take the rest starts again at the next full buffer.
    if (this.waiting === WAIT_SEND) {
      this.waiting = WAIT_NONE;
      this.deadline = Infinity;
    }
    const wake = this.drainWaiter;
    if (wake !== null) {
      this.drainWaiter = null;
      wake();
    }
    if (this.blocked & BLOCK_WRITE) {
      this.busy = true;
      this.unblock(BLOCK_WRITE);
      this.busy = false;
      this.flush();
      this.updateWait();
    }
  }

  onEnd(): void {
    if (this.phase === CLOSED) return;
    if (this.blocked !== 0 && this.inLen > 0) {
      // Whole requests may wait in the buffer behind a block: read them first.
      this.peerEnded = true;
      this.peerLeft();
      return;
    }
    this.endInput();
  }

  /**
   * The peer's FIN: how most clients leave (a tab closed, an aborted fetch, curl stopped), and
   * what node:http, Deno.serve, Bun.serve and nginx take for a client gone. The signals of
   * the requests being handled and of a streamed answer abort, so that work nobody waits for
   * can stop; answers that still come are sent, for a client that only half-closed.
   */
  private peerLeft(): void {
    let reason: Canceled | null = null;
    for (let ex = this.first; ex !== null; ex = ex.next) {
      if (ex.reply === null) ex.req.abort(reason ??= new Canceled("client closed the connection"));
    }
    this.streamReq?.abort(reason ?? new Canceled("client closed the connection"));
  }

  /** No more input will come: whatever was half-read can never be completed; what was read is answered. */
  private endInput(): void {
    const ex = this.bodyEx;
    this.bodyEx = null;
    this.phase = DISCARD;
    this.inLen = 0;
    // Before the 400 below answers it: the request cut short is being handled too.
    this.peerLeft();
    if (ex !== null && ex.body !== null) {
      ex.body.fail(new Error("client closed before the body ended"));
      // An incomplete request (RFC 9112 §8) is the client's error, not its handler's.
      if (!ex.written && ex.reply === null) {
        ex.reply = errorReply(400);
        ex.forced = true;
        // Its answer will not go out (peerLeft told it): the slot is given back, as in fail().
        this.handlerDone(ex);
        ex.req.release();
        this.drainQueue();
      }
    }
    if (this.queued === 0 && !this.streaming) this.finish();
  }

  onClose(_error?: unknown): void {
    if (this.phase === CLOSED) return;
    this.phase = CLOSED;
    this.timer?.cancel();
    this.timer = null;
    // Errors capture a stack: make them only when a request is there to receive them.
    if (this.queued > 0) {
      const gone = new Error("connection closed");
      this.abandonQueue(new Canceled(this.cutWhy ?? "client went away"), gone);
    }
    if (this.bodyEx !== null && this.bodyEx.body !== null) {
      this.bodyEx.body.fail(new Error("connection closed"));
    }
    this.logStream(this.streamWhole);
    this.bodyEx = null;
    this.inBuf = null;
    this.inLen = 0;
    const wake = this.drainWaiter;
    this.drainWaiter = null;
    if (wake !== null) wake();
    // A streamed answer's producer may be waiting for something else than the socket (the
    // next event, the request's signal): tell it now, not at its next piece.
    const streamReq = this.streamReq;
    const iterator = this.streamIterator;
    this.streamReq = null;
    this.streamIterator = null;
    streamReq?.abort(new Canceled(this.cutWhy ?? "client went away"));
    if (iterator !== null) closeIterator(iterator);
    this.host.forget(this);
    this.release();
  }

  // ---- input ----

  /** Keep `bytes` after the input already held (the buffer doubles as needed). */
  private append(bytes: Uint8Array): void {
    const need = this.inLen + bytes.length;
    let buf = this.inBuf;
    if (buf === null || buf.length < need) {
      let size = buf === null ? 1024 : buf.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      if (buf !== null) next.set(buf.subarray(0, this.inLen));
      this.inBuf = buf = next;
    }
    buf.set(bytes, this.inLen);
    this.inLen = need;
  }

  /** Parse the input held back (e.g. while blocked), keeping what is left unparsed. */
  private processBuffered(): void {
    if (this.processing || this.inLen === 0 || this.phase >= DISCARD) return;
    const buf = this.inBuf!;
    this.processing = true;
    // The connection's own buffer, reused: nothing may keep a view of it.
    inputFresh = false;
    const pos = this.process(buf, 0, this.inLen);
    this.processing = false;
    if (this.phase >= DISCARD) {
      this.inLen = 0;
    } else if (pos > 0) {
      buf.copyWithin(0, pos, this.inLen);
      this.inLen -= pos;
    }
    // A large buffer held for a burst need not stay with an idle connection.
    if (this.inLen === 0 && buf.length > 16 * 1024) this.inBuf = null;
  }

  /** Parse and dispatch what `buf[pos, end)` holds; returns where it stopped. */
  private process(buf: Uint8Array, pos: number, end: number): number {
    const limits = this.host.limits;
    while (pos < end && this.blocked === 0) {
      if (this.phase === BODY) {
        pos = this.feedBody(buf, pos, end);
        continue;
      }
      if (this.phase !== HEAD) return end;
      if (!this.partial) {
        // Empty lines before a request line are ignored (RFC 9112 §2.2).
        while (pos + 1 < end && buf[pos] === CR && buf[pos + 1] === LF) pos += 2;
        if (pos === end || (pos + 1 === end && buf[pos] === CR)) break;
      }
      const head = this.host.head;
      // Most heads arrive whole: find and parse them in one pass. A head that
      // did not is followed by the resumable scanner, so a trickle stays O(n).
      let status = this.partial ? NEED_MORE : parseHead(buf, pos, end, head, limits);
      // Whether `head` was parsed from this request (its method then is this request's, or "").
      let parsed = status !== NEED_MORE;
      if (status === NEED_MORE) {
        const found = findHeadEnd(buf, pos, pos + this.scanned, end, this.host.resume);
        if (found === NEED_MORE) {
          this.partial = true;
          this.scanned = this.host.resume.scan - pos;
          const have = end - pos;
          // No line end yet: what came may be the whole request line and the CR of its CRLF.
          if (this.scanned === 0 && have > limits.maxRequestLine + 1) this.fail(414);
          else if (have > limits.maxHeadBytes) this.fail(431);
          break;
        }
        status = found < 0 ? 400 : parseHead(buf, pos, found, head, limits);
        parsed = found >= 0;
      }
      this.partial = false;
      this.scanned = 0;
      if (status !== 0) {
        this.fail(status, parsed);
        return end;
      }
      const headEnd = head.end;
      if (!this.mayStart(head.method)) {
        // As below: found again at once when the handlers before it are done.
        this.partial = true;
        this.scanned = headEnd - 2 - pos;
        this.block(BLOCK_ORDER);
        break;
      }
      if (!this.host.acquire()) {
        // Resume the scan at the blank line, so the head is found again at once.
        this.partial = true;
        this.scanned = headEnd - 2 - pos;
        this.block(BLOCK_ADMIT);
        this.host.waitForSlot(this);
        break;
      }
      this.host.requests++;
      pos = this.startRequest(buf, headEnd, end);
    }
    return pos;
  }

  /**
   * A head is parsed (the input goes on at `buf[pos]`): run its handler; the request is queued
   * unless it is answered at once. Returns where the input goes on after what was taken.
   */
  private startRequest(buf: Uint8Array, pos: number, end: number): number {
    // The next head, if any, gets a deadline of its own.
    this.waiting = WAIT_NONE;
    const head = this.host.head;
    const hasBody = head.chunked || head.contentLength > 0;
    if (!hasBody && this.queued === 0 && !this.streaming) {
      this.fastRequest(head);
      return pos;
    }
    const ex = new Exchange(this, head, this.t, hasBody);
    if (this.host.accessLog !== null) ex.log = this.logInfo(ex.req);
    this.enqueue(ex);
    // The last request of the connection (RFC 9112 §9.6), or one held back when the server began
    // to drain (see drain()): nothing after it is read.
    if ((!head.keepAlive || this.host.draining) && !hasBody) this.stopReading();
    if (hasBody) {
      this.bodyEx = ex;
      this.phase = BODY;
      if (head.chunked) {
        if (this.chunked === null) this.chunked = new ChunkedDecoder();
        else this.chunked.reset();
        this.bodyLeft = -1;
      } else {
        this.bodyLeft = head.contentLength;
      }
    }
    // A request whose body is still to come is not read ahead of its answer: its handler may
    // wait for that body, so the pipeline is full only once the body is in (see endBody).
    if (this.queued >= this.host.limits.maxPipelined && !hasBody) this.block(BLOCK_PIPELINE);
    // A body that came whole with its head is the handler's before it runs: reading it then
    // takes no wait, and an answer that ignores it need not cost the connection.
    if (hasBody && this.bodyLeft > 0 && end - pos >= this.bodyLeft) {
      pos = this.feedBody(buf, pos, end);
    }
    const result = this.call(ex.req);
    if (isPromise(result)) {
      ex.req.detach(inputFresh);
      this.watchHandler(ex, result);
      return pos;
    }
    this.handlerDone(ex);
    ex.req.release();
    if (ex.reply === null) ex.reply = result;
    else drop(result);
    this.drainQueue();
    return pos;
  }

  /** An async handler: settle its exchange when it does, or when its deadline passes. */
  private watchHandler(ex: Exchange, result: Promise<Reply | StaticReply>): void {
    ex.watched = true;
    this.handlersRunning++;
    if (!isSafe(ex.req.method)) this.unsafeRunning++;
    const ms = this.host.timeouts.handlerMs;
    if (ms < Infinity) ex.timer = timers.add(now() + ms, ex);
    result.then(
      (reply) =>
        this.settle(ex, reply == null ? this.internalError(noReply(ex.req.method, reply)) : reply),
      (err) => {
        // A handler that failed because its request was refused or its client
        // left is no handler failure: nothing to report.
        if (ex.reply !== null || ex.abandoned || this.phase === CLOSED) this.handlerDone(ex);
        else if (ex.req.abortedWith(err)) this.settle(ex, errorReply(500));
        else this.settle(ex, this.internalError(err));
      },
    );
  }

  /** @internal The handler of `ex` passed its deadline: abort its request and answer 503. */
  handlerTimedOut(ex: Exchange): void {
    ex.timer = null;
    if (!ex.running) return;
    if (this.bodyEx === ex) {
      // The request has not all come: the client is the slow one, not the handler (RFC 9110
      // §15.5.9), as with a head or a body gone silent. Its deadline still holds: moved with
      // each byte, it would let a trickle hold a handler slot for good.
      ex.req.abort(new Timeout("request not received in time"));
      this.handlerDone(ex);
      this.refuse(408);
      this.updateWait();
      return;
    }
    ex.req.abort(new Timeout("handler deadline passed"));
    if (ex.reply !== null || ex.abandoned || this.phase === CLOSED) {
      // Answered already (e.g. refused mid-body): just stop waiting for the handler.
      this.handlerDone(ex);
      return;
    }
    this.host.reportError(
      new Timeout(`handler for ${ex.req.method} took longer than its deadline`),
    );
    this.settle(ex, errorReply(503));
  }

  /** The handler of `ex` is finished (or given up on): free its slot and its timer. */
  private handlerDone(ex: Exchange): void {
    if (!ex.running) return;
    ex.running = false;
    ex.timer?.cancel();
    ex.timer = null;
    this.host.release();
    if (!ex.watched) return;
    this.handlersRunning--;
    if (!isSafe(ex.req.method)) this.unsafeRunning--;
    // After the caller is done with `ex` (its answer may be on its way out): the request held
    // back may start now, or find it must wait for another.
    if ((this.blocked & BLOCK_ORDER) !== 0) queueMicrotask(() => this.resumeInOrder());
  }

  /**
   * Whether a request with `method` may start its handler now. Pipelined requests run at once
   * only while every one running is safe (RFC 9112 §9.3.2): an unsafe one (a POST, a DELETE)
   * starts after those before it are done, and those after it wait for it, so each sees the
   * effects of the ones before, as if the client had waited for every answer.
   */
  private mayStart(method: string): boolean {
    return this.handlersRunning === 0 || (this.unsafeRunning === 0 && isSafe(method));
  }

  /** A handler finished while a request waited behind it: try that request again. */
  private resumeInOrder(): void {
    if (this.phase >= DISCARD) return;
    this.step(BLOCK_ORDER);
  }

  /** No body, nothing queued: answer at once if the handler does, with no Exchange. */
  private fastRequest(head: RequestHead): void {
    const req = new IncomingRequest(head, null, this.t, this.host.proxies);
    const headOnly = head.method === "HEAD";
    const minor = head.minor;
    const keepAlive = head.keepAlive;
    const log = this.host.accessLog === null ? null : this.logInfo(req);
    const result = this.call(req);
    if (isPromise(result)) {
      req.detach(inputFresh);
      const ex = new Exchange(this, head, this.t, false, req);
      ex.log = log;
      this.enqueue(ex);
      if (!keepAlive || this.host.draining) this.stopReading();
      else if (this.queued >= this.host.limits.maxPipelined) this.block(BLOCK_PIPELINE);
      this.watchHandler(ex, result);
      return;
    }
    this.host.release();
    req.release();
    const close = !keepAlive || this.host.draining || this.phase === DISCARD;
    const mode = close ? CLOSE : minor === 0 ? KEEP_10 : KEEP;
    const asked = this.writeResponse(
      this.noTunnel(req.method, result),
      headOnly,
      minor,
      mode,
      log,
      req,
    );
    if (close || asked) this.closeAfterResponse();
  }

  /**
   * A 2xx to CONNECT would turn the connection into a tunnel (RFC 9110 §9.3.6), which binks does
   * not provide: such an answer is the handler's error, and the client gets a 500.
   */
  private noTunnel(method: string, reply: Reply | StaticReply): Reply | StaticReply {
    if (method !== "CONNECT") return reply;
    let status: number;
    try {
      status = reply instanceof StaticReply ? reply.status : reply.status ?? 200;
    } catch (err) {
      // What the reply is cannot be told: a failed handler's answer, like any other.
      this.host.reportError(err);
      drop(reply);
      return errorReply(500);
    }
    if (status < 200 || status > 299) return reply;
    this.host.reportError(
      new Error("a 2xx answer to CONNECT opens a tunnel, which binks does not provide"),
    );
    drop(reply);
    return errorReply(500);
  }

  /** What the access log records of `req`, taken as the request starts. */
  private logInfo(req: IncomingRequest): LogInfo {
    return { method: req.method, url: req.url, remote: req.ip, started: now() };
  }

  /** Run the handler; one that throws, or returns no reply at all, is answered with a 500. */
  private call(req: IncomingRequest): Reply | StaticReply | Promise<Reply | StaticReply> {
    let result: Reply | StaticReply | Promise<Reply | StaticReply>;
    // Read after the client's FIN, from input held back then: its client is gone as much as
    // for the requests that FIN aborted (see peerLeft), and a stream answering it must learn
    // so, or one that never ends holds the connection for good.
    if (this.peerEnded) req.abort(new Canceled("client closed the connection"));
    try {
      result = this.host.handler(req);
      // Settled as a Promise settles it: a thenable of another kind may throw from its `then`
      // (or its getter), or call back more than once, where the connection must not.
      if (result != null && isThenable(result)) {
        return Promise.resolve(result) as Promise<Reply | StaticReply>;
      }
    } catch (err) {
      return this.internalError(err);
    }
    // Plain JavaScript has no types to stop `return;` (or a forgotten `return`).
    return result == null ? this.internalError(noReply(req.method, result)) : result;
  }

  /**
   * The answer to a handler that failed with `err`: the status it asks for (an `HttpError`,
   * a bad JSON body's 400), else a bare 500. Reported unless it is the client's mistake (4xx).
   */
  private internalError(err: unknown): StaticReply {
    const status = statusOf(err);
    if (status === 0 || status >= 500) this.host.reportError(err);
    return errorReply(status === 0 ? 500 : status);
  }

  /** Pass the body bytes in `buf[pos, end)` to the request; returns where its body stopped. */
  private feedBody(buf: Uint8Array, pos: number, end: number): number {
    const ex = this.bodyEx!;
    const decoder = this.chunked;
    if (this.bodyLeft >= 0) {
      const take = Math.min(this.bodyLeft, end - pos);
      this.deliver(ex, buf, pos, pos + take);
      this.bodyLeft -= take;
      pos += take;
      if (this.bodyLeft === 0) this.endBody(ex);
      return pos;
    }
    // Every chunk this read holds, gathered: an array per chunk would let a body of 2-byte
    // chunks cost a hundred times its size in memory.
    let first = -1;
    let firstEnd = -1;
    let more: number[] | null = null;
    let size = 0;
    do {
      pos = decoder!.decode(buf, pos, end, this.host.limits);
      if (decoder!.error !== 0) {
        this.fail(decoder!.error);
        return end;
      }
      const start = decoder!.spanStart;
      const stop = decoder!.spanEnd;
      if (stop > start) {
        if (first < 0) {
          first = start;
          firstEnd = stop;
        } else (more ??= []).push(start, stop);
        size += stop - start;
      }
    } while (pos < end && !decoder!.done);
    if (more !== null) this.deliverSpans(ex, buf, first, firstEnd, more, size);
    else if (first >= 0) this.deliver(ex, buf, first, firstEnd);
    if (decoder!.done) this.endBody(ex);
    return pos;
  }

  /** Hand the spans `[first, firstEnd)` and `more` (start, end pairs) of `buf` over as one copy. */
  private deliverSpans(
    ex: Exchange,
    buf: Uint8Array,
    first: number,
    firstEnd: number,
    more: readonly number[],
    size: number,
  ): void {
    if ((ex.written && !this.streaming) || ex.abandoned) return;
    const joined = new Uint8Array(size);
    joined.set(buf.subarray(first, firstEnd), 0);
    let at = firstEnd - first;
    for (let i = 0; i < more.length; i += 2) {
      joined.set(buf.subarray(more[i]!, more[i + 1]!), at);
      at += more[i + 1]! - more[i]!;
    }
    ex.body!.push(joined);
  }

  /** Hand `buf[start, end)` to the body of `ex`, as a copy or a view that stays valid. */
  private deliver(ex: Exchange, buf: Uint8Array, start: number, end: number): void {
    // Nobody will read the body of an answered request, unless its answer is being streamed:
    // drop it rather than copy it.
    if ((ex.written && !this.streaming) || ex.abandoned || start === end) return;
    ex.body!.push(keepBytes(buf, start, end, inputFresh));
  }

  /** The body of `ex` is complete: read the next head, unless no further request is read. */
  private endBody(ex: Exchange): void {
    ex.body!.end();
    this.bodyEx = null;
    // A body that ends under its streamed answer: that answer closes the connection.
    if (this.phase === BODY) {
      this.phase = this.host.draining || !ex.keepAlive || ex.written ? DISCARD : HEAD;
      if (this.phase === HEAD && this.queued >= this.host.limits.maxPipelined) {
        this.block(BLOCK_PIPELINE);
      }
    }
  }

  /** Read no further request: what was read is still answered, the rest of the input dropped. */
  private stopReading(): void {
    this.phase = DISCARD;
    this.partial = false;
    this.scanned = 0;
  }

  /**
   * Refuse the request being read with `status`, then close. `parsed`: its head went through
   * the parser, so the shared head holds its method (a refused HEAD gets no body).
   */
  private fail(status: number, parsed = false): void {
    this.phase = DISCARD;
    this.scanned = 0;
    const ex = this.bodyEx;
    this.bodyEx = null;
    if (ex !== null) {
      ex.body!.fail(new Error(`request body refused with ${status}`));
      if (!ex.written) {
        // The handler's answer will not go out, whether it is still at work or its answer waits
        // its turn: it is told, and a stream it answered with (it may hold a file) is closed.
        if (ex.reply !== null) drop(ex.reply);
        ex.req.abort(new Canceled(`request refused with ${status}`));
        // Given up on, it gives its slot back now, as when its client leaves: nothing else
        // would once the connection is gone, and a handler that goes on held it for good.
        this.handlerDone(ex);
        ex.reply = errorReply(status);
        ex.forced = true;
        ex.req.release();
      }
      // Answered already: all that is left is to close once the queue is out.
    } else {
      // Otherwise the shared head holds whatever was parsed last, on any connection (a HEAD
      // would make this answer bodiless under its Content-Length): the method is unknown.
      if (!parsed) this.host.head.method = "";
      const err = new Exchange(this, this.host.head, this.t, false);
      err.running = false;
      err.reply = errorReply(status);
      err.forced = true;
      // Refused before it was a request: logged all the same (attacks are what a log is for),
      // with no method or target, which may be anything, and the peer's own address (written as
      // `req.ip` writes it: an IPv4-mapped address as IPv4).
      if (this.host.accessLog !== null) {
        err.log = {
          method: null,
          url: null,
          remote: plainAddress(this.t.remoteAddress),
          started: now(),
        };
      }
      this.enqueue(err);
    }
    this.drainQueue();
    if (this.queued === 0 && !this.streaming) this.finish();
  }

  // ---- flow control ----

  /** Stop input for reason `bit`; the transport is paused at the first reason. */
  private block(bit: number): void {
    if (this.blocked === 0) this.t.pause();
    this.blocked |= bit;
  }

  /** Clear reason `bit`; once none is left, resume input and read what was held back. */
  private unblock(bit: number): void {
    if ((this.blocked & bit) === 0) return;
    this.blocked &= ~bit;
    if (this.blocked !== 0 || this.phase >= DISCARD) return;
    this.t.resume();
    this.processBuffered();
    // Unblocked from inside the read of the buffer (an answer written at once), the rest of the
    // buffer is still to be read: the read that is going on ends the input once it has.
    if (this.peerEnded && this.blocked === 0 && !this.processing) {
      this.peerEnded = false;
      this.endInput();
    }
  }

  /** @internal A body's reader fell behind (true) or caught up (false). */
  bodyPressure(full: boolean): void {
    if (this.phase === CLOSED) return;
    if (full) {
      this.block(BLOCK_BODY);
      return;
    }
    this.step(BLOCK_BODY);
  }

  /** @internal The handler of `ex` wants its body: tell the client to send it, in turn. */
  sendContinue(ex: Exchange): void {
    if (this.first !== ex || this.streaming || this.phase === CLOSED) return;
    ex.continueState = CONTINUED;
    // The client did not wait for us: nothing to invite.
    if (ex.body !== null && ex.body.complete) return;
    this.host.out.put(CONTINUE_100);
    this.flush();
    // Invited: from now on the body's silence is the client's.
    if (this.bodyEx === ex && this.phase === BODY && this.waiting === WAIT_NONE) {
      this.wait(WAIT_BODY, this.host.timeouts.bodyMs);
    }
  }

  // ---- output ----

  /** `reply` answers `ex` (unless it was answered or given up already): write what is ready. */
  private settle(ex: Exchange, reply: Reply | StaticReply): void {
    this.handlerDone(ex);
    if (ex.reply !== null || ex.abandoned || this.phase === CLOSED) {
      drop(reply);
      return;
    }
    ex.reply = reply;
    ex.req.release();
    this.step(DRAIN);
  }

  /** Write every answered response at the front of the queue, in order. */
  private drainQueue(): void {
    while (this.first !== null && !this.streaming && this.phase !== CLOSED && !this.cut) {
      const ex = this.first;
      if (ex.reply === null) {
        if (ex.continueState === WANTED) this.sendContinue(ex);
        break;
      }
      this.dequeue();
      const close = ex.forced || !ex.keepAlive ||
        (ex.body !== null && !ex.body.complete) ||
        (this.phase === DISCARD && this.queued === 0 && this.bodyEx === null);
      ex.written = true;
      const asked = this.writeResponse(
        this.noTunnel(ex.req.method, ex.reply),
        ex.headOnly,
        ex.minor,
        close ? CLOSE : ex.minor === 0 ? KEEP_10 : KEEP,
        ex.log,
        ex.req,
      );
      if (close || asked) {
        if (this.queued > 0) {
          this.abandonQueue(new Canceled("connection closing"), new Error("connection closing"));
        }
        // A streamed answer may go on reading its request's body (an echo, a proxy): the body
        // is still taken in while it is sent, and the connection closes after it (pump).
        if (this.streaming && this.bodyEx === ex) return;
        this.closeAfterResponse();
        return;
      }
    }
    if (this.queued < this.host.limits.maxPipelined) this.unblock(BLOCK_PIPELINE);
    if (this.queued === 0 && !this.streaming && this.phase === DISCARD && this.bodyEx === null) {
      this.finish();
    }
  }

  // The queue of exchanges awaiting their turn is linked through the
  // exchanges: an idle connection holds no array for it.
  /** Add `ex` at the back of the queue. */
  private enqueue(ex: Exchange): void {
    if (this.last === null) this.first = ex;
    else this.last.next = ex;
    this.last = ex;
    this.queued++;
  }

  /** Take the front exchange off the queue. */
  private dequeue(): void {
    const ex = this.first!;
    this.first = ex.next;
    if (this.first === null) this.last = null;
    ex.next = null;
    this.queued--;
  }

  /** Give up on every queued exchange: their handlers are told, their bodies fail. */
  private abandonQueue(reason: Canceled, bodyError: Error): void {
    let ex = this.first;
    this.first = this.last = null;
    this.queued = 0;
    while (ex !== null) {
      const next = ex.next;
      ex.next = null;
      ex.abandoned = true;
      // An answer that was ready and waiting will never go out: its stream may hold a file.
      if (ex.reply !== null && !ex.written) drop(ex.reply);
      // Received and never answered: a log that left it out would hide it.
      if (ex.log !== null) this.logUnanswered(ex.log);
      this.handlerDone(ex);
      ex.req.abort(reason);
      if (ex.body !== null) ex.body.fail(bodyError);
      ex = next;
    }
  }

  /**
   * Serialise a response into the shared buffer and log it; a large body or a
   * stream is sent after the head, on its own. Returns true when the reply itself
   * said `Connection: close` (the handler's wish): the caller closes after it.
   */
  private writeResponse(
    reply: Reply | StaticReply,
    headOnly: boolean,
    minor: number,
    mode: number,
    log: LogInfo | null,
    req: IncomingRequest,
  ): boolean {
    const out = this.host.out;
    const tail = this.host.tail;
    // Counted from `out.start`: a buffer outgrown while writing is replaced, and the bytes that
    // wait in it move to its start.
    const before = out.len - out.start;
    // A large body is copied next to its head only into a write that begins with that head:
    // pipelined answers do not pile up copies into one write larger than the kernel takes.
    out.inlineMax = before === 0 && this.t.sendsAtOnce === true
      ? INLINE_AT_ONCE_MAX
      : INLINE_BODY_MAX;
    let asked: boolean;
    // The status that goes out, for the access log: a reply refused is logged as its 500.
    let status: number;
    if (reply instanceof StaticReply) {
      tail.bytes = writeStatic(out, reply, headOnly, mode);
      tail.stream = null;
      asked = reply.close;
      status = reply.status;
    } else {
      try {
        writeReply(out, reply, headOnly, mode, minor, tail);
        asked = tail.close;
        status = tail.status;
      } catch (err) {
        this.host.reportError(err);
        // Whatever of the head was written before the failure goes: the 500 replaces it.
        out.len = out.start + before;
        tail.bytes = writeStatic(out, errorReply(500), headOnly, mode);
        tail.stream = null;
        asked = false;
        status = 500;
      }
    }
    if (asked) mode = CLOSE;
    if (log !== null) {
      const bytes = out.len - out.start - before + (tail.bytes?.length ?? 0);
      if (tail.stream === null) this.host.accessLog!.record(log, status, bytes, true);
      else {
        // A stream may yet fail or lose its client: logged when it ends, as it went.
        this.streamLog = log;
        // Of length 0, it went out whole with its head, whenever its producer ends.
        this.streamWhole = tail.sized === 0;
        this.streamStatus = status;
        this.streamBytes = bytes;
      }
    }
    if (tail.bytes !== null) {
      this.flushNow();
      this.send(tail.bytes, true);
      tail.bytes = null;
    } else if (tail.stream !== null) {
      const stream = tail.stream;
      tail.stream = null;
      this.flushNow();
      this.streaming = true;
      this.streamReq = req;
      void this.pump(stream, req, tail.closeDelimited, tail.sized, mode === CLOSE);
    }
    return asked;
  }

  /**
   * Close the stream being sent unless onClose did (it takes the iterator it finds): a producer's
   * return() runs once, as a for-await loop calls it, not again when its pending piece comes.
   * Its failure is not reported, as onClose reports none: whether the piece or the close comes
   * first is the transport's timing.
   */
  private closeStreamOnce(iterator: AsyncIterator<unknown>): void {
    if (this.streamIterator !== iterator) return;
    this.streamIterator = null;
    closeIterator(iterator);
  }

  /**
   * The producer ended by itself (done, or failed): it is not closed after that, as for-await
   * does not close it, or one that closes its file as it ends would close it twice.
   */
  private producerEnded(iterator: AsyncIterator<unknown>): void {
    if (this.streamIterator === iterator) this.streamIterator = null;
  }

  /** Send a streamed body, chunk by chunk, waiting for the socket to drain. */
  private async pump(
    stream: StreamBody,
    req: IncomingRequest,
    closeDelimited: boolean,
    sized: number,
    closeAfter: boolean,
  ): Promise<void> {
    const raw = closeDelimited || sized >= 0;
    let left = sized;
    try {
      // Inside the try: an iterable whose iterator cannot be made fails like one that breaks.
      const iterator = stream[Symbol.asyncIterator]();
      this.streamIterator = iterator;
      for (;;) {
        let step: IteratorResult<Uint8Array | string>;
        try {
          step = await iterator.next();
        } catch (err) {
          this.producerEnded(iterator);
          throw err;
        }
        if (step.done) {
          this.producerEnded(iterator);
          break;
        }
        if (this.phase === CLOSED || this.cut) {
          this.closeStreamOnce(iterator);
          return;
        }
        const bytes = pieceBytes(step.value);
        if (bytes.length === 0) continue;
        if (sized >= 0 && (left -= bytes.length) < 0) {
          throw new RangeError("stream longer than its length");
        }
        const room = this.sendPiece(bytes, raw);
        if (left === 0) this.streamWhole = true;
        if (!room) {
          await new Promise<void>((resolve) => {
            this.drainWaiter = resolve;
          });
          if (this.phase === CLOSED || this.cut) {
            this.closeStreamOnce(iterator);
            return;
          }
        }
      }
    } catch (err) {
      // The status line went out long ago: the only honest signal left is to cut the connection,
      // with a reset where a FIN would say that a close-delimited body is complete.
      // A producer that stopped because its client left (the request's signal), or because its
      // request's body failed (an echo whose client left mid-body, or framed it wrong), did no
      // wrong.
      if (!req.abortedWith(err) && req.body?.failedWith(err) !== true) this.host.reportError(err);
      // One of a known length that failed after its last byte went out (closing its file) left
      // its client with the whole answer, as one cut then does.
      this.logStream(this.streamWhole);
      this.cutTransport(closeDelimited);
      return;
    }
    if (this.phase === CLOSED || this.cut) return;
    if (left > 0) {
      this.host.reportError(new RangeError("stream shorter than its length"));
      this.logStream(false);
      this.cutTransport(false);
      return;
    }
    if (!raw) {
      this.send(LAST_CHUNK, false);
      this.streamBytes += LAST_CHUNK.length;
    }
    this.logStream(true);
    this.streaming = false;
    this.streamReq = null;
    this.streamIterator = null;
    if (closeDelimited || closeAfter) {
      this.closeAfterResponse();
      return;
    }
    this.step(DRAIN);
  }

  /** One piece of a streamed body: as is, or framed as a chunk (large pieces are not copied). */
  private sendPiece(bytes: Uint8Array, raw: boolean): boolean {
    if (raw) {
      this.streamBytes += bytes.length;
      return this.send(bytes, true);
    }
    if (bytes.length <= FRAME_COPY_MAX) {
      const frame = chunkFrame(bytes);
      this.streamBytes += frame.length;
      return this.send(frame, true);
    }
    const sizeLine = chunkSizeLine(bytes.length);
    this.streamBytes += sizeLine.length + bytes.length + CRLF_BYTES.length;
    this.send(sizeLine, true);
    this.send(bytes, true);
    return this.send(CRLF_BYTES, false);
  }

  /** Write the streamed answer's log entry, if it has one not yet written, and those behind it. */
  private logStream(complete: boolean): void {
    const log = this.streamLog;
    if (log === null) return;
    this.streamLog = null;
    this.host.accessLog!.record(log, this.streamStatus, this.streamBytes, complete);
    const behind = this.logAfterStream;
    this.logAfterStream = null;
    if (behind !== null) {
      for (const info of behind) this.host.accessLog!.record(info, null, 0, false);
    }
  }

  /** Log a request given up on unanswered: now, or after the streamed answer before it. */
  private logUnanswered(log: LogInfo): void {
    if (this.streamLog !== null) (this.logAfterStream ??= []).push(log);
    else this.host.accessLog!.record(log, null, 0, false);
  }

  /** Write `bytes` to the transport; false (and input blocked) once its buffer is full. */
  private send(bytes: Uint8Array, owned: boolean): boolean {
    if (this.phase === CLOSED || this.cut) return true;
    const ok = this.t.write(bytes, owned);
    if (!ok) {
      this.block(BLOCK_WRITE);
      // Also while a stream or a closing answer is sent, when no other deadline is set.
      if (this.waiting !== WAIT_SEND && this.waiting !== WAIT_LINGER) {
        this.wait(WAIT_SEND, this.host.timeouts.sendMs);
      }
    }
    return ok;
  }

  /**
   * Close the transport (with a reset, when `reset` and the runtime can), before its close is
   * reported: no request is read after it, and no answer written, so none is logged as sent.
   */
  private cutTransport(reset: boolean): void {
    this.cut = true;
    if (this.phase !== CLOSED) this.phase = DISCARD;
    this.inLen = 0;
    if (reset && this.t.reset !== undefined) this.t.reset();
    else this.t.close();
  }

  /** Send what the shared buffer holds, unless an entry point further up will. */
  private flush(): void {
    if (!this.busy) this.flushNow();
  }

  /** Send what the shared buffer holds, now. */
  private flushNow(): void {
    const out = this.host.out;
    if (out.len === out.start) return;
    // A closed connection writes nothing, so keeps nothing.
    const wrote = this.phase !== CLOSED && !this.cut;
    this.send(out.written(), false);
    out.sent(wrote && this.t.keptBorrowed === true);
  }

  /** The last response is written: read no more requests, and close once it is sent. */
  private closeAfterResponse(): void {
    this.phase = this.phase === CLOSED ? CLOSED : DISCARD;
    this.bodyEx = null;
    this.inLen = 0;
    if (!this.streaming) this.finish();
  }

  /** Half-close our side, then linger a little so the client reads the answer before any reset. */
  private finish(): void {
    if (this.phase === CLOSED || this.cut || this.waiting === WAIT_LINGER) return;
    this.phase = DISCARD;
    // The connection's own timer bounds the linger: no closure or second timer per connection.
    this.sentMark = -1;
    this.wait(WAIT_LINGER, this.host.lingerMs);
    this.flushNow();
    this.t.end();
    if (this.blocked !== 0) {
      this.blocked = 0;
      this.t.resume();
    }
  }

  // ---- timeouts ----

  /** Guard `what` with a deadline `ms` from now. */
  private wait(what: number, ms: number): void {
    const t = now();
    const deadline = t + ms;
    let fireAt = deadline;
    if (what === WAIT_SEND && this.waiting !== WAIT_SEND) {
      this.sentMark = this.t.pending;
      this.settleAt = ms > 2 * SEND_SETTLE_MS ? t + SEND_SETTLE_MS : 0;
      if (this.settleAt !== 0) fireAt = this.settleAt;
    }
    this.waiting = what;
    this.deadline = deadline;
    // An armed timer that fires earlier re-arms itself; only a later one must be replaced.
    const timer = this.timer;
    if (timer !== null && timer.pending && timer.deadline <= fireAt) return;
    timer?.cancel();
    this.timer = timers.add(fireAt, this);
  }

  /** Pick the deadline that fits the state after a burst of input or output. */
  private updateWait(): void {
    if (this.phase === CLOSED || this.waiting === WAIT_LINGER) return;
    const t = this.host.timeouts;
    if ((this.blocked & BLOCK_WRITE) !== 0) {
      // The client is not taking what we send: that, it may not do for long.
      if (this.waiting !== WAIT_SEND) this.wait(WAIT_SEND, t.sendMs);
      return;
    }
    if (this.phase >= DISCARD) {
      if (this.waiting === WAIT_SEND) {
        this.waiting = WAIT_NONE;
        this.deadline = Infinity;
      }
      return;
    }
    if (this.blocked !== 0) {
      // Held back by us (slow handler, full socket): not the client's silence.
      this.waiting = WAIT_NONE;
      this.deadline = Infinity;
    } else if (this.phase === BODY) {
      const state = this.bodyEx?.continueState;
      if (state === EXPECTING || state === WANTED) {
        // The client waits for a 100 Continue before it sends the body: the silence is ours.
        this.waiting = WAIT_NONE;
        this.deadline = Infinity;
      } else {
        // Reset on every read: what is limited is the silence between body bytes.
        this.wait(WAIT_BODY, t.bodyMs);
      }
    } else if (this.inLen > 0) {
      // A lone CR is half an empty line, not the start of a head: were the head deadline to
      // replace the keep-alive one, the LF after it would start the keep-alive time anew.
      if (this.waiting !== WAIT_HEAD && !(this.waiting === WAIT_IDLE && this.loneCR())) {
        this.wait(WAIT_HEAD, t.headMs);
      }
    } else if (this.queued === 0 && !this.streaming) {
      // Re-armed only after a request (startRequest clears `waiting`): bare empty
      // lines must not keep a connection open.
      if (this.waiting !== WAIT_IDLE) this.wait(WAIT_IDLE, t.keepAliveMs);
    } else {
      this.waiting = WAIT_NONE;
      this.deadline = Infinity;
    }
  }

  /** All the input held is one CR, which may begin an empty line (see {@link process}). */
  private loneCR(): boolean {
    return this.inLen === 1 && this.inBuf![0] === CR;
  }

  /**
   * At the end of a linger: is the last answer still going out (or did it just finish)? Then the
   * linger starts again, so that it counts from when all is sent: a long answer that ends the
   * connection is not cut. A client that takes nothing of it for the send timeout is let go.
   */
  private lingerGoesOn(): boolean {
    const pending = this.t.pending;
    const mark = this.sentMark;
    if (pending === 0 && mark <= 0) return false;
    const t = now();
    if (mark < 0 || pending < mark) this.sentAt = t;
    this.sentMark = pending;
    return t - this.sentAt < this.host.timeouts.sendMs;
  }

  /** @internal The connection's deadline timer fired (it is its own {@link TimerTarget}). */
  onTimer(): void {
    this.timer = null;
    const what = this.waiting;
    if (what === WAIT_NONE || this.phase === CLOSED) return;
    if (this.phase === DISCARD && what !== WAIT_LINGER && what !== WAIT_SEND) return;
    const t = now();
    if (t < this.deadline) {
      let fireAt = this.deadline;
      if (what === WAIT_SEND && this.settleAt !== 0) {
        if (t < this.settleAt) fireAt = this.settleAt;
        else {
          // What the transport handed the kernel since the buffer filled is not the client's.
          this.settleAt = 0;
          this.sentMark = this.t.pending;
        }
      }
      this.timer = timers.add(fireAt, this);
      return;
    }
    this.deadline = Infinity;
    if (what === WAIT_LINGER) {
      if (this.lingerGoesOn()) {
        this.wait(WAIT_LINGER, this.host.lingerMs);
        return;
      }
      // Still lingering as far as finish() is concerned, until onClose.
      this.cutTransport(false);
      return;
    }
    if (what === WAIT_SEND) {
      this.settleAt = 0;
      // A client that took some since the last look is still reading, if slowly.
      const pending = this.t.pending;
      if (pending < this.sentMark) {
        this.sentMark = pending;
        this.wait(WAIT_SEND, this.host.timeouts.sendMs);
        return;
      }
      // Nothing more can be said to a client that does not read: let it go.
      this.waiting = WAIT_NONE;
      this.cutTransport(false);
      return;
    }
    this.waiting = WAIT_NONE;
    if (what === WAIT_IDLE) {
      this.finish();
      return;
    }
    this.busy = true;
    this.fail(408);
    this.busy = false;
    this.flush();
  }
}
