/**
 * Runs a {@link Scenario} against the real {@link Connection} (made by {@link HttpServer.accept},
 * as an adapter has it made) over a transport of the test's own, on a virtual clock, and checks
 * what came out against what the scenario says must:
 *
 * - answers go out in request order, each byte for byte what its handler asked for (status line,
 *   fields, framing, no body for HEAD or 204), with `Connection: close` only where the server has
 *   a reason to close, and nothing after one;
 * - a request that asks to close (or HTTP/1.0 without keep-alive) is the last one handled; a
 *   malformed one gets its 400 and ends the connection; nothing is handled once the connection
 *   is done; every request read in full before the client left is answered;
 * - nothing is written after end() or close(); no exception escapes an event;
 * - a handler whose answer is dropped has its request's signal aborted; every handler settles
 *   (none is left waiting on a body that will never end); every stream answered with is read to
 *   its end or returned;
 * - the body a handler reads is exactly the bytes sent;
 * - once the socket is gone, no timer, handler slot, connection or scope member is left;
 * - the access log has one line per request dispatched or refused, as its answer went out on
 *   the wire (see test/model/access.ts).
 */
import { type HttpOptions, HttpServer } from "../../src/server.ts";
import type { ConnectionEvents, Transport } from "../../src/transport.ts";
import type { IncomingRequest } from "../../src/request.ts";
import type { Reply, StreamBody } from "../../src/response.ts";
import type { Timeouts } from "../../src/limits.ts";
import { timers } from "../../src/clock.ts";
import { onClock, VirtualClock } from "./clock.ts";
import { AccessSink, checkAccess, remoteOf } from "./access.ts";
import {
  type Action,
  bodyBeforeFault,
  closeDelimited,
  DATE,
  type Delay,
  errorText,
  keepsAlive,
  label,
  type Mode,
  replyCloses,
  replyText,
  type RequestSpec,
  requestText,
  type Scenario,
} from "./scenario.ts";

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** How the server is set up for a property. */
export interface ModelOptions {
  timeouts: Timeouts;
  lingerMs: number;
}

/** Thrown by handlers told to fail: the 500 it makes is the handler's answer. */
class ModelThrow extends Error {
  override name = "ModelThrow";
}

/** The transport: records every write and what the core told it, and checks the order of calls. */
class ModelTransport implements Transport {
  readonly out: Uint8Array[] = [];
  /** Offset in the output where each write began, and the event count at that write. */
  readonly writes: { at: number; seq: number }[] = [];
  written = 0;
  full = false;
  /** A write returned false since the last drain: the adapter owes an onDrain. */
  owesDrain = false;
  pending = 0;
  paused = false;
  keptBorrowed = false;
  readonly freshChunks: boolean;
  readonly keepBorrowed: boolean;
  readonly remoteAddress: string;
  readonly remotePort = 40000;
  /** Event count at end(), close() or the close being reported; -1 until then. */
  endedAt = -1;
  closedAt = -1;
  notifiedAt = -1;
  /** The server cut the connection itself (close or reset), rather than ending it. */
  cutByServer = false;
  /**
   * Writes after close() and before the close is reported go nowhere, as the adapters have it
   * (Deno's says so): not a violation, and not received. Left false, such a write is one.
   */
  dropAfterClose = false;
  events!: ConnectionEvents;

  private readonly run: Run;

  constructor(run: Run, s: Scenario) {
    this.run = run;
    this.remoteAddress = remoteOf(run.connNo);
    this.freshChunks = s.freshChunks;
    this.keepBorrowed = s.keepBorrowed;
  }

  write(bytes: Uint8Array, owned: boolean): boolean {
    if (this.notifiedAt >= 0) this.run.violation("write after the close was reported");
    else if (this.closedAt >= 0 && this.dropAfterClose) return true;
    else if (this.closedAt >= 0) this.run.violation("write after close()");
    else if (this.endedAt >= 0) this.run.violation("write after end()");
    this.writes.push({ at: this.written, seq: this.run.tick() });
    // A full transport that keeps a borrowed view sends from it later: it must stay as it is.
    this.keptBorrowed = !owned && this.keepBorrowed && this.full;
    this.out.push(owned || this.keptBorrowed ? bytes : bytes.slice());
    this.written += bytes.length;
    if (this.full) {
      this.pending += bytes.length;
      this.owesDrain = true;
      return false;
    }
    return true;
  }
  pause(): void {
    this.paused = true;
    this.run.log.push("pause");
  }
  resume(): void {
    this.paused = false;
    this.run.log.push("resume");
  }
  end(): void {
    if (this.endedAt < 0) this.endedAt = this.run.tick();
  }
  close(): void {
    if (this.closedAt >= 0) return;
    this.closedAt = this.run.tick();
    if (this.endedAt < 0) this.cutByServer = true;
    // As adapters do: the close is reported after the call, from the runtime. On a shared
    // server, later (Node reports it once the handle has closed, a turn of the event loop
    // later), so that handlers and streams settling meanwhile write to a closed transport; yet
    // within the microtasks a step settles with, so that no timer fires before it.
    let turns = this.dropAfterClose ? CLOSE_REPORT_TURNS : 0;
    const report = () => turns-- > 0 ? queueMicrotask(report) : this.run.notifyClose();
    queueMicrotask(report);
  }
  reset(): void {
    this.close();
  }
  bytes(): Uint8Array {
    const all = new Uint8Array(this.written);
    let at = 0;
    for (const piece of this.out) {
      all.set(piece, at);
      at += piece.length;
    }
    return all;
  }
}

/** One gate a handler or stream waits at, until the schedule opens it. */
export interface Gate {
  open: () => void;
  opened: boolean;
}

/** What happened to one request's handler. */
interface HandlerRecord {
  called: boolean;
  calledSeq: number;
  settled: boolean;
  settledSeq: number;
  req: IncomingRequest | null;
  /** The whole body as the handler read it, when the read succeeded. */
  body: string | null;
  /** What it read before its read failed, when it did. */
  bodyFailed: string | null;
  /** The handler gave up on its signal's reason (a 500 the server makes). */
  stoppedOnAbort: boolean;
  /** Its stream: made, read to the end, returned early. */
  stream: { made: boolean; done: boolean; returned: boolean };
}

/** A matched answer in the output. */
interface Slot {
  kind: "own" | "error";
  status: number;
  mode: Mode;
  at: number;
  /** Where it ends in the output (cut short: where the output does). */
  end: number;
  partial: boolean;
}

const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";

/** Microtask turns a shared server's transport takes to report a close (see `close()`). */
const CLOSE_REPORT_TURNS = 30;

const DATE_LINE = /Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/g;

/**
 * A server shared by several connections, each a {@link Run} of its own: that server's, the
 * connection's number (in its requests' targets and answers), and where its errors go.
 */
export interface Shared {
  server: HttpServer;
  conn: number;
  /** Where that server's access log goes. */
  access: AccessSink;
}

/** One run of one scenario: one connection, with a server of its own or a {@link Shared} one. */
export class Run {
  private seq = 0;
  readonly violations: string[] = [];
  readonly log: string[] = [];
  readonly records: HandlerRecord[];
  readonly gates: Gate[] = [];
  private readonly input: Uint8Array;
  private readonly pieces: Uint8Array[] = [];
  private nextPiece = 0;
  delivered = 0;
  /** Where each request's head and whole request end in the input. */
  readonly starts: number[] = [];
  readonly headEnds: number[] = [];
  readonly ends: number[] = [];
  finAt = -1;
  /** Input delivered when the server began to shut down, and whether that has finished. */
  private drainAt = -1;
  private shutDown = false;
  resetSeq = -1;
  /** Virtual ms gone by, for what the deadlines could have done. */
  elapsed = 0;
  private readonly reuse = new Uint8Array(4096);
  private readonly errors: unknown[] = [];
  readonly t: ModelTransport;
  readonly server: HttpServer;
  /** The connection's number on a shared server (undefined alone). */
  readonly connNo: number | undefined;
  /** The server's access log (shared: every connection's lines). */
  readonly access: AccessSink;
  private conn!: ConnectionEvents;

  readonly s: Scenario;
  readonly options: ModelOptions;
  private readonly clock: VirtualClock;
  /**
   * Timers in the shared wheel before the run: other suites in the same process (bun test) may
   * leave theirs, which the run's clock may fire. The run must leave no more than it found.
   */
  private readonly timersBefore: number = timers.size;

  constructor(s: Scenario, options: ModelOptions, clock: VirtualClock, shared?: Shared) {
    this.s = s;
    this.connNo = shared?.conn;
    this.access = shared?.access ?? new AccessSink();
    this.options = options;
    this.clock = clock;
    this.records = s.requests.map(() => ({
      called: false,
      calledSeq: -1,
      settled: false,
      settledSeq: -1,
      req: null,
      body: null,
      bodyFailed: null,
      stoppedOnAbort: false,
      stream: { made: false, done: false, returned: false },
    }));
    let text = "";
    s.requests.forEach((r, i) => {
      this.starts.push(text.length);
      const whole = requestText(r, i, this.connNo);
      this.headEnds.push(text.length + whole.indexOf("\r\n\r\n") + 4);
      text += whole;
      this.ends.push(text.length);
    });
    this.input = enc.encode(text);
    const cuts = [...new Set(s.cuts.map((c) => c % (text.length + 1)))]
      .filter((c) => c > 0 && c < text.length).sort((a, b) => a - b);
    let from = 0;
    for (const cut of [...cuts, text.length]) {
      this.pieces.push(this.input.subarray(from, cut));
      from = cut;
    }
    this.t = new ModelTransport(this, s);
    if (shared !== undefined) {
      this.server = shared.server;
      // A shutdown's grace cuts connections whose handlers may still answer before the close
      // is reported.
      this.t.dropAfterClose = true;
      return;
    }
    const options_: HttpOptions = {
      handler: (req) => this.handle(req, Number(req.path.slice(2))),
      lingerMs: options.lingerMs,
      timeouts: options.timeouts,
      limits: { maxPipelined: s.maxPipelined, maxInflight: s.maxInflight },
      onError: (error) => this.errors.push(error),
      accessLog: this.access.write,
    };
    this.server = new HttpServer(options_);
  }

  tick(): number {
    return ++this.seq;
  }

  violation(what: string): void {
    this.violations.push(`${what} (event ${this.seq})`);
    this.log.push(`VIOLATION ${this.violations.length}`);
  }

  /** Call into the connection as an adapter does; an exception escaping it is a violation. */
  private call(name: string, fn: () => void): void {
    this.log.push(name);
    try {
      fn();
    } catch (err) {
      this.violation(`${name} threw: ${(err as Error)?.stack ?? err}`);
    }
  }

  notifyClose(error?: unknown): void {
    if (this.t.notifiedAt >= 0) return;
    this.t.notifiedAt = this.tick();
    this.call(error === undefined ? "onClose" : "onClose(reset)", () => this.conn.onClose(error));
  }

  /** Let `n` turns of microtasks run. */
  private async micro(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await null;
  }

  /** Enough microtask turns for whatever a step set off to run its course. */
  readonly settle = (): Promise<void> => this.micro(40);

  private wait(delay: Delay): Promise<void> | null {
    if (delay.kind === "sync") return null;
    if (delay.kind === "micro") return this.micro(delay.n);
    return new Promise<void>((resolve) => {
      const gate: Gate = {
        opened: false,
        open: () => {
          gate.opened = true;
          resolve();
        },
      };
      this.gates.push(gate);
    });
  }

  // ---- the handler ----

  /** The handler, for request `i` of this run. */
  handle(req: IncomingRequest, i: number): Reply | Promise<Reply> {
    const r = this.s.requests[i]!;
    const rec = this.records[i]!;
    this.log.push(`handler ${i}`);
    if (rec.called) this.violation(`handler ${i} called twice`);
    if (i > 0 && !this.records[i - 1]!.called) this.violation(`handler ${i} called out of order`);
    if (this.t.endedAt >= 0 || this.t.closedAt >= 0 || this.t.notifiedAt >= 0) {
      this.violation(`handler ${i} called after the connection was done`);
    }
    if (this.drainAt >= 0 && this.headEnds[i]! > this.drainAt) {
      this.violation(`handler ${i} called for a request sent after the server began to stop`);
    }
    for (let j = 0; j < i; j++) {
      if (stops(this.s.requests[j]!)) this.violation(`handler ${i} called after request ${j}`);
    }
    if (r.badLine === true) this.violation(`handler ${i} called for no request`);
    rec.called = true;
    rec.calledSeq = this.tick();
    rec.req = req;
    const h = r.handler;
    if (h.read === "ignore" && h.delay.kind === "sync") {
      rec.settled = true;
      rec.settledSeq = this.tick();
      return this.reply(i);
    }
    const work = async (): Promise<Reply> => {
      try {
        if (h.readFirst) await this.read(i, req);
        const waiting = this.wait(h.delay);
        if (waiting !== null) {
          if (h.stopOnAbort) await stopOnAbort(waiting, req.signal);
          else await waiting;
        }
        if (!h.readFirst) await this.read(i, req);
        return this.reply(i);
      } catch (err) {
        if (req.signal.aborted && err === req.signal.reason) rec.stoppedOnAbort = true;
        throw err;
      }
    };
    return work().finally(() => {
      rec.settled = true;
      rec.settledSeq = this.tick();
    });
  }

  private async read(i: number, req: IncomingRequest): Promise<void> {
    const rec = this.records[i]!;
    const how = this.s.requests[i]!.handler.read;
    if (how === "ignore") return;
    if (how === "bytes") {
      try {
        rec.body = latin1.decode(await req.bytes());
      } catch {
        rec.bodyFailed = "";
      }
      return;
    }
    let seen = "";
    try {
      if (req.body !== null) { for await (const piece of req.body) seen += latin1.decode(piece); }
      rec.body = seen;
    } catch {
      rec.bodyFailed = seen;
    }
  }

  private reply(i: number): Reply {
    const spec = this.s.requests[i]!.handler.reply;
    if (spec.kind === "throw") throw new ModelThrow(`handler ${i} fails`);
    const headers: [string, string][] = [["x-req", label(i, this.connNo)]];
    if (this.s.requests[i]!.handler.askClose === true) headers.push(["Connection", "close"]);
    if (spec.kind === "text") return { status: spec.status, headers, body: spec.text };
    if (spec.kind === "empty") return { status: spec.status, headers };
    const state = this.records[i]!.stream;
    state.made = true;
    const pieces = spec.pieces;
    const body: StreamBody = {
      [Symbol.asyncIterator]: () => {
        let k = 0;
        return {
          next: async (): Promise<IteratorResult<string>> => {
            if (k >= pieces.length) {
              state.done = true;
              return { done: true, value: undefined };
            }
            const piece = pieces[k++]!;
            const waiting = this.wait(piece.delay);
            if (waiting !== null) await waiting;
            return { done: false, value: piece.text };
          },
          return: (): Promise<IteratorResult<string>> => {
            state.returned = true;
            return Promise.resolve({ done: true, value: undefined });
          },
        };
      },
    };
    const length = spec.sized ? pieces.reduce((n, p) => n + p.text.length, 0) : undefined;
    return { status: spec.status, headers, body, length };
  }

  // ---- the schedule ----

  deliver(): boolean {
    if (this.nextPiece >= this.pieces.length || this.finAt >= 0 || this.gone()) return false;
    if (this.t.paused && !this.s.leakyPause) return false;
    const piece = this.pieces[this.nextPiece++]!;
    this.delivered += piece.length;
    if (this.s.freshChunks) {
      this.call(`onData(${piece.length})`, () => this.conn.onData(piece.slice()));
      return true;
    }
    // As Deno's adapter: one buffer, read into again after the call.
    const view = this.reuse.subarray(0, piece.length);
    view.set(piece);
    this.call(`onData(${piece.length})`, () => this.conn.onData(view));
    this.reuse.fill(0x58);
    return true;
  }

  gone(): boolean {
    return this.t.notifiedAt >= 0;
  }

  /** The client takes what was sent, if the core was told it could not all go. */
  drain(): boolean {
    if (!this.t.owesDrain || this.gone()) return false;
    this.t.full = false;
    this.t.owesDrain = false;
    this.t.pending = 0;
    this.call("onDrain", () => this.conn.onDrain());
    return true;
  }

  fin(): void {
    if (this.finAt >= 0 || this.gone()) return;
    this.finAt = this.delivered;
    this.call("onEnd", () => this.conn.onEnd());
  }

  async act(a: Action): Promise<void> {
    if (a.kind !== "deliver" && a.kind !== "micro") this.log.push(JSON.stringify(a));
    switch (a.kind) {
      case "deliver":
        this.deliver();
        return;
      case "micro":
        await this.micro(a.n);
        return;
      case "gate": {
        const shut = this.gates.filter((g) => !g.opened);
        if (shut.length > 0) shut[a.pick % shut.length]!.open();
        return;
      }
      case "full":
        this.t.full = true;
        return;
      case "drain":
        this.drain();
        return;
      case "fin":
        this.fin();
        return;
      case "reset":
        if (this.gone()) return;
        this.resetSeq = this.tick();
        this.notifyClose(new Error("ECONNRESET"));
        return;
      case "shutdown":
        if (!this.beginDrain()) return;
        this.server.shutdown(Infinity).then(
          () => this.shutDown = true,
          (err) => this.violation(`shutdown failed: ${err}`),
        );
        return;
      case "time":
        this.elapsed += a.ms;
        await this.clock.advance(a.ms, this.settle);
        return;
    }
  }

  /** The server began to shut down: what was delivered by now may be answered. */
  beginDrain(): boolean {
    if (this.drainAt >= 0 || this.gone()) return false;
    this.drainAt = this.delivered;
    return true;
  }

  /** Open every gate still shut; false when there was none. */
  openGates(): boolean {
    let moved = false;
    for (const gate of this.gates) {
      if (!gate.opened) {
        gate.open();
        moved = true;
      }
    }
    return moved;
  }

  /** Open every gate, drain, deliver what is left, until nothing moves. */
  private async quiesce(): Promise<void> {
    for (let round = 0; round < 500; round++) {
      let moved = this.openGates();
      if (this.drain()) moved = true;
      if (this.deliver()) moved = true;
      await this.settle();
      if (moved || !this.still()) continue;
      // Whatever chain of promises is still under way runs out within a turn of the loop.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.still()) return;
    }
    this.violation("the run did not settle in 500 rounds");
  }

  /** Nothing for the schedule to do: no gate shut, no drain owed, no input that may go in. */
  still(): boolean {
    const deliverable = this.nextPiece < this.pieces.length && this.finAt < 0 && !this.gone() &&
      (!this.t.paused || this.s.leakyPause);
    const owed = this.t.owesDrain && !this.gone();
    return !deliverable && !owed && this.gates.every((g) => g.opened);
  }

  /** The server takes the connection, as a listener hands it an accepted socket. */
  accept(): void {
    this.conn = this.server.accept(this.t);
    this.t.events = this.conn;
  }

  /** Input is left that nothing will let in. */
  stuck(): boolean {
    return this.nextPiece < this.pieces.length && this.finAt < 0 && !this.gone() &&
      this.t.endedAt < 0 && this.t.closedAt < 0;
  }

  async go(): Promise<void> {
    this.accept();
    for (const a of this.s.actions) await this.act(a);
    await this.quiesce();
    if (this.stuck()) this.violation("input paused for good: nothing left to unblock it");
    // The client leaves: with a FIN, or by going quiet until the keep-alive time runs out.
    if (this.s.ending === "fin") this.fin();
    else await this.passTime(this.options.timeouts.keepAliveMs + 1);
    await this.quiesce();
    if (!this.gone() && this.t.endedAt < 0 && this.t.closedAt < 0) {
      this.violation("the connection never ended");
    }
    // A client that read everything closes its side; a server that lingers may close first.
    if (this.s.ending === "idle") await this.passTime(this.options.lingerMs + 1);
    this.fin();
    await this.quiesce();
    this.notifyClose();
    await this.quiesce();
    this.server.accessLog?.flush();
    this.check();
  }

  /**
   * Time that goes by after the schedule (not counted as the schedule's), `ms` and the wheel's
   * slack (a timer may fire up to its resolution late).
   */
  private async passTime(ms: number): Promise<void> {
    ms += timers.resolution;
    await this.clock.advance(ms, this.settle);
  }

  // ---- checks ----

  /** Could a deadline of `ms` have run out in this run? */
  private couldTime(ms: number): boolean {
    return this.elapsed >= ms;
  }

  /** What is checked of the connection itself: its answers, its closing, its handlers. */
  checkConnection(): void {
    const slots = this.match();
    this.checkClosing(slots);
    this.checkHandlers(slots);
    this.checkAccessLog(slots);
  }

  /** The connection's access-log lines, against its output (see test/model/access.ts). */
  private checkAccessLog(slots: Slot[]): void {
    const firstUncalled = this.records.findIndex((rec) => !rec.called);
    checkAccess({
      lines: this.access.of(this.t.remoteAddress),
      remote: this.t.remoteAddress,
      output: latin1.decode(this.t.bytes()),
      requests: this.s.requests.map((r, i) => ({
        method: r.method,
        target: `/r${label(i, this.connNo)}`,
        called: this.records[i]!.called,
      })),
      answers: slots.map((slot, k) =>
        slot.kind === "own" && !slot.partial && closeDelimited(this.s.requests[k]!)
          ? { ...slot, partial: !this.endedByServer() }
          : slot
      ),
      mayRefuseUnanswered: firstUncalled >= 0 && this.delivered > this.starts[firstUncalled]!,
    }, (what) => this.violation(what));
  }

  /**
   * The server ended the connection with a FIN before the client left, rather than cutting it:
   * what says that a body delimited by the close is whole, when the bytes are all there.
   */
  private endedByServer(): boolean {
    const { endedAt, closedAt, notifiedAt } = this.t;
    return endedAt >= 0 && (closedAt < 0 || endedAt < closedAt) &&
      (notifiedAt < 0 || endedAt < notifiedAt);
  }

  private check(): void {
    this.checkConnection();
    for (const fault of this.access.faults) this.violation(`access log: ${fault}`);
    this.checkErrors();
    if (this.drainAt >= 0 && !this.shutDown) this.violation("shutdown() never finished");
    if (timers.size > this.timersBefore) {
      this.violation(`${timers.size - this.timersBefore} timers left after the close`);
    }
    if (this.server.connections !== 0) this.violation("the server still counts the connection");
    if (this.server.running !== 0) this.violation(`${this.server.running} handler slots held`);
    if (this.server.scope.size !== 0) this.violation("the scope still owns the connection");
  }

  /** Read the output as answers to the requests in order; each must be one allowed for it. */
  private match(): Slot[] {
    const text = latin1.decode(this.t.bytes()).replace(DATE_LINE, DATE);
    const slots: Slot[] = [];
    let pos = 0;
    let sawContinue = -1;
    const to = this.options.timeouts;
    while (pos < text.length) {
      const k = slots.length;
      const r = this.s.requests[k];
      if (r === undefined) {
        this.violation(`bytes after the last answer: ${JSON.stringify(text.slice(pos, pos + 80))}`);
        break;
      }
      const headOnly = r.method === "HEAD";
      const rec = this.records[k]!;
      const keep: Mode = r.minor === 0 ? "keep10" : "keep";
      const candidates: { text: string; slot: Omit<Slot, "at" | "end" | "partial"> }[] = [];
      const modes: Mode[] = keepsAlive(r) ? [keep, "close"] : ["close"];
      const status = r.handler.reply.kind === "throw" ? 500 : r.handler.reply.status;
      if (rec.called) {
        for (const mode of replyCloses(r) ? ["close" as const] : modes) {
          candidates.push({
            text: replyText(r, k, mode, this.connNo),
            slot: { kind: "own", status, mode },
          });
        }
      }
      const errors: [number, boolean][] = [
        // A bad head or chunk, or a body the client stopped sending.
        [
          400,
          r.badHead || r.badLine === true || hasBadChunk(r) ||
          (this.finAt >= 0 && this.finAt < this.ends[k]!),
        ],
        [408, this.couldTime(Math.min(to.headMs, to.bodyMs, to.handlerMs))],
        [503, this.couldTime(to.handlerMs)],
        [500, rec.stoppedOnAbort],
      ];
      for (const [code, may] of errors) {
        if (!may) continue;
        // Refused, a request is answered with close; a handler's timeout or abort is its answer.
        const errorModes: Mode[] = code === 400 || code === 408 ? ["close"] : modes;
        for (const mode of errorModes) {
          // A head refused before its method was read has no method: its 400 has a body.
          for (const h of code === 408 || r.badLine === true ? [false] : [headOnly]) {
            candidates.push({
              text: errorText(code, h, mode),
              slot: { kind: "error", status: code, mode },
            });
          }
        }
      }
      // A client that asked may be invited to send the body, once, before the answer: only by
      // a handler that reads it, and only while the body is still to come.
      if (r.expect && text.startsWith(CONTINUE, pos)) {
        if (r.handler.read === "ignore" || sawContinue === k) {
          this.violation(`a 100 Continue to request ${k}, which never asked for its body`);
        }
        sawContinue = k;
        pos += CONTINUE.length;
        continue;
      }
      // The longest that fits: an answer without its body is a prefix of the one with it.
      const whole = candidates.filter((c) => text.startsWith(c.text, pos))
        .sort((a, b) => b.text.length - a.text.length)[0];
      if (whole !== undefined) {
        slots.push({ ...whole.slot, at: pos, end: pos + whole.text.length, partial: false });
        pos += whole.text.length;
        continue;
      }
      const rest = text.slice(pos);
      const part = candidates.find((c) => c.text.startsWith(rest));
      if (part !== undefined) {
        slots.push({ ...part.slot, at: pos, end: text.length, partial: true });
        break;
      }
      this.violation(
        `answer ${k} is none of those allowed: ${JSON.stringify(rest.slice(0, 200))}\n` +
          `  allowed: ${candidates.map((c) => JSON.stringify(c.text)).join("\n    ")}`,
      );
      break;
    }
    return slots;
  }

  /** The answer to request `k` may end the connection for a reason of the request's own. */
  private closesOfItself(k: number, slot: Slot): boolean {
    const r = this.s.requests[k]!;
    if (!keepsAlive(r) || slot.kind === "error" && slot.status !== 503) return true;
    if (replyCloses(r) && slot.kind === "own") return true;
    // An answer that goes out before its body is in: what is left of the body cannot be told
    // apart from a next request, so the connection ends.
    if (r.body !== null && r.handler.read === "ignore") return true;
    return hasBadChunk(r);
  }

  /** The server may say close on the answer to request `k`. */
  private mayClose(k: number, slot: Slot): boolean {
    return this.closesOfItself(k, slot) || this.finAt >= 0 || this.resetSeq >= 0 ||
      this.drainAt >= 0 || this.timed();
  }

  /** Could any deadline have run out while the schedule ran? */
  private timed(): boolean {
    const to = this.options.timeouts;
    return this.couldTime(
      Math.min(to.keepAliveMs, to.headMs, to.bodyMs, to.handlerMs, to.sendMs),
    );
  }

  private checkClosing(slots: Slot[]): void {
    const cleanEnd = this.t.closedAt < 0 || this.t.endedAt >= 0 && this.t.endedAt < this.t.closedAt;
    slots.forEach((slot, k) => {
      const r = this.s.requests[k]!;
      if (slot.mode === "close" && !this.mayClose(k, slot)) {
        this.violation(`answer ${k} says close with no reason to`);
      }
      if (slot.mode === "close" && k < slots.length - 1) {
        this.violation(`answer ${k} says close, yet answer ${k + 1} follows`);
      }
      if (slot.partial && cleanEnd && this.resetSeq < 0) {
        this.violation(`answer ${k} is cut short, yet the connection was ended cleanly`);
      }
      if (
        slot.kind === "error" && slot.status === 400 &&
        (r.badHead || r.badLine === true || hasBadChunk(r))
      ) {
        if (k !== slots.length - 1) this.violation(`the 400 to request ${k} is not the last`);
      }
    });
    // What must have been answered: every request read whole before the client left, up to one
    // that ends the connection.
    // A server that stops answers what it has read, which the schedule cannot tell.
    if (this.resetSeq >= 0 || this.drainAt >= 0 || this.timed()) return;
    const limit = this.finAt >= 0 ? this.finAt : this.input.length;
    let owed = 0;
    for (let j = 0; j < this.s.requests.length; j++) {
      const r = this.s.requests[j]!;
      if (this.headEnds[j]! > limit) break;
      owed = j + 1;
      if (this.ends[j]! > limit || stops(r)) break;
      // Closed early for a reason of its own (a body left unread, a close-delimited stream).
      const slot = slots[j];
      if (slot !== undefined && slot.mode === "close" && this.closesOfItself(j, slot)) break;
    }
    const answered = slots.filter((s) => !s.partial).length;
    if (answered < owed) {
      this.violation(`${answered} answers, yet ${owed} requests were read whole and owed one`);
    }
  }

  private checkHandlers(slots: Slot[]): void {
    const writeSeqAt = (at: number): number => {
      let seq = -1;
      for (const w of this.t.writes) if (w.at <= at) seq = w.seq;
      return seq;
    };
    const doneSeq = [this.t.endedAt, this.t.closedAt, this.t.notifiedAt]
      .filter((s) => s >= 0).reduce((a, b) => Math.min(a, b), Infinity);
    this.records.forEach((rec, i) => {
      if (!rec.called) return;
      const r = this.s.requests[i]!;
      if (!rec.settled) this.violation(`handler ${i} never settled`);
      const slot = slots[i];
      const own = slot !== undefined && slot.kind === "own" && !slot.partial;
      if (!own && !rec.req!.signal.aborted) {
        // Given up on while the handler still ran: it must have been told.
        const sealed = slot !== undefined ? writeSeqAt(slot.at) : doneSeq;
        if (rec.settledSeq > sealed) {
          this.violation(
            `handler ${i}'s answer was dropped while it ran, and its signal not aborted`,
          );
        }
      }
      const st = rec.stream;
      if (st.made && !st.done && !st.returned) {
        this.violation(`the stream answering ${i} was neither read to its end nor returned`);
      }
      const sent = bodyBeforeFault(r);
      const whole = r.body === null ? "" : r.body.data;
      if (rec.body !== null && rec.body !== whole) {
        this.violation(
          `handler ${i} read ${JSON.stringify(rec.body)}, sent ${JSON.stringify(whole)}`,
        );
      }
      if (rec.bodyFailed !== null) {
        if (!sent.startsWith(rec.bodyFailed)) {
          this.violation(
            `handler ${i} read ${JSON.stringify(rec.bodyFailed)} of ${JSON.stringify(sent)}`,
          );
        }
        const why = hasBadChunk(r) || this.finAt >= 0 && this.finAt < this.ends[i]! ||
          this.resetSeq >= 0 || this.timed();
        if (own && !why) {
          this.violation(`handler ${i}'s body failed for no reason, and it was answered`);
        }
      }
    });
  }

  private checkErrors(): void {
    for (const error of this.errors) {
      if (error instanceof ModelThrow) continue;
      if (error instanceof Error && error.name === "Timeout" && this.timed()) continue;
      this.violation(`reported: ${(error as Error)?.stack ?? error}`);
    }
  }
}

/** The request ends the connection: nothing after it may be handled. */
function stops(r: RequestSpec): boolean {
  return !keepsAlive(r) || r.badHead || r.badLine === true || hasBadChunk(r);
}

function hasBadChunk(r: RequestSpec): boolean {
  return r.body?.framing === "chunked" && r.body.badChunk >= 0;
}

/** `waiting`, or the signal's reason once it aborts. */
export function stopOnAbort(waiting: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    waiting.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/** The result of one run: what was violated, and the trace of events that led there. */
export interface Outcome {
  violations: string[];
  log: string[];
  output: string;
}

const clock = new VirtualClock();

/** Run `s` against a fresh server on the virtual clock. */
export async function runScenario(s: Scenario, options: ModelOptions): Promise<Outcome> {
  const run = await onClock(clock, () => new Run(s, options, clock));
  return { violations: run.violations, log: run.log, output: latin1.decode(run.t.bytes()) };
}
