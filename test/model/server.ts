/**
 * Several connections on one real {@link HttpServer}, each a {@link Run} of the connection model
 * (test/model/harness.ts) over a transport of its own, driven by one schedule that interleaves
 * them: bytes delivered on each, their send buffers filling and draining, their FINs and resets,
 * handlers' gates opened, new connections arriving (past `maxConnections`, refused), a shutdown
 * with a grace, time going by on the virtual clock.
 *
 * What the server shares between its connections (the parsed head, the output buffer, the
 * handler slots of `maxInflight`, the timer wheel) is where one connection can disturb another;
 * so every request is named by its connection and number (in its target, its body and its
 * answer's `x-req` field and body), and on top of each connection's own checks (its answers,
 * byte for byte and in order, are its own) these must hold:
 *
 * - a connection is refused (an exact 503, then closed, no handler run) exactly when
 *   `maxConnections` are open as it arrives, and the server counts what is open;
 * - no more than `maxInflight` handlers run at once (one whose signal aborted has been let go);
 * - a slot that becomes free goes to a connection waiting for one: once every gate is open and
 *   every drain given, every request read whole before its client left is answered;
 * - after shutdown (and its grace), every connection is closed, no handler slot is held, no
 *   connection counted; at the end no timer is left in the wheel;
 * - nothing reaches onError but handlers' own failures (and deadlines, when time could reach
 *   them); no exception escapes; no promise is left rejected;
 * - each connection's access-log lines (told apart by its transport's address) are its own,
 *   and a refused connection has one, its 503's.
 */
import fc from "fast-check";
import { HttpServer } from "../../src/server.ts";
import { timers } from "../../src/clock.ts";
import type { IncomingRequest } from "../../src/request.ts";
import type { Reply } from "../../src/response.ts";
import { type ModelOptions, Run } from "./harness.ts";
import { onClock, VirtualClock } from "./clock.ts";
import { AccessSink, checkRefused } from "./access.ts";
import {
  type Action,
  DATE,
  errorText,
  label,
  type ReplySpec,
  requestArb,
  type RequestSpec,
  type Scenario,
} from "./scenario.ts";

const latin1 = new TextDecoder("latin1");
const DATE_LINE = /Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/g;

/** What one step of the schedule does: to one connection, or to the server as a whole. */
export type ServerAction =
  | { kind: "on"; conn: number; action: Action }
  | { kind: "gate"; pick: number }
  | { kind: "micro"; n: number }
  | { kind: "time"; ms: number }
  | { kind: "shutdown" };

/** A whole run: the connections (each a scenario of the connection model) and the schedule. */
export interface ServerScenario {
  /** Each connection's requests, cuts and transport (their `actions` are not used). */
  conns: Scenario[];
  /** Before which step of the schedule each connection arrives (past its end: after it). */
  arrivals: number[];
  actions: ServerAction[];
  maxConnections: number;
  maxInflight: number;
  maxPipelined: number;
  /** The shutdown's grace, in ms (Infinity: it waits for every connection). */
  grace: number;
}

/** How often each kind of step is drawn. */
export interface ServerWeights {
  deliver: number;
  micro: number;
  gate: number;
  full: number;
  drain: number;
  fin: number;
  reset: number;
  time: number;
  shutdown: number;
}

/** All a connection past `maxConnections` receives. */
const REFUSED_503 = errorText(503, false, "close");

/** One run of a {@link ServerScenario}. */
class ServerRun {
  readonly violations: string[] = [];
  readonly log: string[] = [];
  readonly server: HttpServer;
  readonly runs: Run[];
  /** Accepted by now, and refused (as the model says it must be). */
  private readonly arrived: boolean[];
  private readonly refused: boolean[];
  private readonly errors: unknown[] = [];
  private readonly access = new AccessSink();
  private shutdownAt = -1;
  private shutDown = false;
  private readonly s: ServerScenario;
  private readonly options: ModelOptions;
  private readonly clock: VirtualClock;
  /** Timers other suites in the process (bun test) left in the shared wheel: see Run's. */
  private readonly timersBefore: number = timers.size;

  constructor(s: ServerScenario, options: ModelOptions, clock: VirtualClock) {
    this.s = s;
    this.options = options;
    this.clock = clock;
    this.server = new HttpServer({
      handler: (req) => this.handle(req),
      lingerMs: options.lingerMs,
      timeouts: options.timeouts,
      limits: {
        maxPipelined: s.maxPipelined,
        maxInflight: s.maxInflight,
        maxConnections: s.maxConnections,
      },
      onError: (error) => this.errors.push(error),
      accessLog: this.access.write,
    });
    this.runs = s.conns.map((c, k) =>
      new Run(c, options, clock, { server: this.server, conn: k, access: this.access })
    );
    this.arrived = s.conns.map(() => false);
    this.refused = s.conns.map(() => false);
  }

  violation(what: string): void {
    this.violations.push(what);
    this.log.push(`VIOLATION ${this.violations.length}`);
  }

  /** Handlers called, not settled, and not let go by the server (their signal aborted). */
  private handlersRunning(): number {
    let n = 0;
    for (const run of this.runs) {
      for (const rec of run.records) {
        if (rec.called && !rec.settled && !rec.req!.signal.aborted) n++;
      }
    }
    return n;
  }

  private handle(req: IncomingRequest): Reply | Promise<Reply> {
    const m = /^c(\d+)\.(\d+)$/.exec(req.path.slice(2));
    const k = m === null ? -1 : Number(m[1]);
    const i = m === null ? -1 : Number(m[2]);
    const run = this.runs[k];
    if (run === undefined || run.s.requests[i] === undefined) {
      this.violation(`a handler called for ${JSON.stringify(req.url)}, which no client sent`);
      return { status: 200 };
    }
    if (!this.arrived[k] || this.refused[k]) {
      this.violation(`handler ${label(i, k)} called on a connection the server refused`);
    }
    const running = this.handlersRunning();
    if (running >= this.s.maxInflight) {
      this.violation(
        `handler ${label(i, k)} called while ${running} run, maxInflight ${this.s.maxInflight}`,
      );
    }
    if (this.server.running > this.s.maxInflight) {
      this.violation(`the server counts ${this.server.running} handlers running`);
    }
    this.log.push(`handler ${label(i, k)}`);
    return run.handle(req, i);
  }

  /** Connections open as the model counts them: accepted, not refused, not yet closed. */
  private openModel(): number {
    let n = 0;
    this.runs.forEach((run, k) => {
      if (this.arrived[k] && !this.refused[k] && run.t.notifiedAt < 0) n++;
    });
    return n;
  }

  private arrive(k: number): void {
    if (this.arrived[k]) return;
    const open = this.openModel();
    if (this.server.connections !== open) {
      this.violation(`the server counts ${this.server.connections} connections, ${open} are open`);
    }
    this.arrived[k] = true;
    this.refused[k] = open >= this.s.maxConnections;
    this.log.push(this.refused[k] ? `arrive ${k} (refused)` : `arrive ${k}`);
    try {
      this.runs[k]!.accept();
    } catch (err) {
      this.violation(`accept threw: ${(err as Error)?.stack ?? err}`);
    }
    const now = this.server.connections;
    if (now !== open + (this.refused[k] ? 0 : 1)) {
      this.violation(
        `connection ${k} ${
          this.refused[k] ? "should be refused" : "should be taken"
        } (${open} open of ${this.s.maxConnections}), the server counts ${now}`,
      );
    }
  }

  /** The connections that arrived and were taken. */
  private taken(): Run[] {
    return this.runs.filter((_, k) => this.arrived[k] && !this.refused[k]);
  }

  readonly settle = async (): Promise<void> => {
    for (let i = 0; i < 40; i++) await null;
  };

  private async act(a: ServerAction): Promise<void> {
    switch (a.kind) {
      case "on": {
        const k = a.conn % this.runs.length;
        if (!this.arrived[k]) return;
        if (a.action.kind !== "deliver") this.log.push(`${k}: ${JSON.stringify(a.action)}`);
        else this.log.push(`${k}: deliver`);
        await this.runs[k]!.act(a.action);
        return;
      }
      case "gate": {
        const shut = this.runs.flatMap((run) => run.gates.filter((g) => !g.opened));
        this.log.push(`gate ${shut.length > 0 ? a.pick % shut.length : "-"}`);
        if (shut.length > 0) shut[a.pick % shut.length]!.open();
        return;
      }
      case "micro":
        for (let i = 0; i < a.n; i++) await null;
        return;
      case "time":
        this.log.push(`time ${a.ms}`);
        await this.passTime(a.ms, true);
        return;
      case "shutdown":
        this.shutdown();
        return;
    }
  }

  private shutdown(): void {
    if (this.shutdownAt >= 0) return;
    this.log.push("shutdown");
    this.shutdownAt = this.clock.now;
    for (const run of this.taken()) run.beginDrain();
    this.server.shutdown(this.s.grace).then(
      () => {
        this.shutDown = true;
        this.log.push("shut down");
        this.checkShutDown();
      },
      (err) => this.violation(`shutdown failed: ${err}`),
    );
  }

  /** Once shutdown() has resolved: no connection is left, no handler slot held. */
  private checkShutDown(): void {
    if (this.server.connections !== 0) {
      this.violation(`shut down with ${this.server.connections} connections still counted`);
    }
    if (this.server.running !== 0) {
      this.violation(`shut down with ${this.server.running} handler slots held`);
    }
    if (this.server.scope.size !== 0) this.violation("shut down with connections in the scope");
    this.runs.forEach((run, k) => {
      if (!this.arrived[k] || this.refused[k]) return;
      if (run.t.closedAt < 0 && run.t.notifiedAt < 0) {
        this.violation(`shut down with connection ${k} still open`);
      }
    });
  }

  /**
   * Let `ms` go by. Counted as the schedule's (`counted`), every connection's deadlines may
   * have run out; after the schedule, only the ones a client that left or went quiet set off.
   */
  private async passTime(ms: number, counted: boolean): Promise<void> {
    if (counted) { for (const run of this.runs) run.elapsed += ms; }
    await this.clock.advance(ms, this.settle);
    const grace = this.s.grace;
    if (this.shutdownAt < 0 || grace === Infinity || this.shutDown) return;
    // The grace (with the wheel's slack) is over: whatever was left was cut, and is gone.
    if (this.clock.now > this.shutdownAt + grace + 2 * timers.resolution) {
      await this.settle();
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.shutDown) this.violation("the grace ran out, and shutdown() has not finished");
    }
  }

  /** Open every gate, drain every connection, deliver what is left, until nothing moves. */
  private async quiesce(): Promise<void> {
    const still = () => this.runs.every((run, k) => !this.arrived[k] || run.still());
    for (let round = 0; round < 500; round++) {
      let moved = false;
      this.runs.forEach((run, k) => {
        if (!this.arrived[k]) return;
        if (run.openGates()) moved = true;
        if (run.drain()) moved = true;
        if (run.deliver()) moved = true;
      });
      await this.settle();
      if (moved || !still()) continue;
      await new Promise((resolve) => setImmediate(resolve));
      if (still()) return;
    }
    this.violation("the run did not settle in 500 rounds");
  }

  async go(): Promise<void> {
    const s = this.s;
    for (let step = 0; step < s.actions.length; step++) {
      s.arrivals.forEach((at, k) => {
        if (at === step && this.shutdownAt < 0) this.arrive(k);
      });
      await this.act(s.actions[step]!);
    }
    // The listener is closed once the server stops: only before that do the others arrive.
    if (this.shutdownAt < 0) s.arrivals.forEach((_, k) => this.arrive(k));
    await this.quiesce();
    this.runs.forEach((run, k) => {
      if (this.arrived[k] && run.stuck()) {
        this.violation(`connection ${k}: input paused for good: nothing left to unblock it`);
      }
    });
    // Each client leaves: with a FIN, or by going quiet until the keep-alive time runs out.
    const arrived = this.runs.filter((_, k) => this.arrived[k]);
    for (const run of arrived) if (run.s.ending === "fin") run.fin();
    const idle = arrived.some((run) => run.s.ending === "idle");
    await this.settle();
    if (idle) await this.passTime(this.options.timeouts.keepAliveMs + 1 + timers.resolution, false);
    await this.quiesce();
    this.runs.forEach((run, k) => {
      if (this.arrived[k] && !run.gone() && run.t.endedAt < 0 && run.t.closedAt < 0) {
        this.violation(`connection ${k} never ended`);
      }
    });
    if (idle) await this.passTime(this.options.lingerMs + 1 + timers.resolution, false);
    for (const run of arrived) run.fin();
    await this.quiesce();
    for (const run of arrived) run.notifyClose();
    await this.quiesce();
    if (this.shutdownAt >= 0 && !this.shutDown) this.violation("shutdown() never finished");
    this.server.accessLog?.flush();
    this.check();
  }

  private check(): void {
    for (const fault of this.access.faults) this.violation(`access log: ${fault}`);
    this.runs.forEach((run, k) => {
      if (!this.arrived[k]) {
        if (run.records.some((rec) => rec.called)) {
          this.violation(`a handler ran for connection ${k}, which never arrived`);
        }
        if (this.access.of(run.t.remoteAddress).length > 0) {
          this.violation(`access log: lines for connection ${k}, which never arrived`);
        }
        return;
      }
      if (this.refused[k]) {
        const out = latin1.decode(run.t.bytes());
        if (out.replace(DATE_LINE, DATE) !== REFUSED_503) {
          this.violation(`connection ${k}, refused, got ${JSON.stringify(out)}`);
        }
        if (run.t.endedAt < 0) this.violation(`connection ${k}, refused, was not ended`);
        const remote = run.t.remoteAddress;
        checkRefused(this.access.of(remote), remote, out, (what) => this.violation(what));
        return;
      }
      run.checkConnection();
    });
    this.runs.forEach((run, k) => {
      for (const v of run.violations) this.violations.push(`connection ${k}: ${v}`);
      if (run.violations.length > 0) this.log.push(`-- connection ${k}: ${run.log.join(", ")}`);
    });
    const elapsed = this.runs[0]!.elapsed;
    const to = this.options.timeouts;
    const timed =
      elapsed >= Math.min(to.keepAliveMs, to.headMs, to.bodyMs, to.handlerMs, to.sendMs);
    for (const error of this.errors) {
      if (error instanceof Error && error.name === "ModelThrow") continue;
      if (error instanceof Error && error.name === "Timeout" && timed) continue;
      this.violation(`reported: ${(error as Error)?.stack ?? error}`);
    }
    if (timers.size > this.timersBefore) {
      this.violation(`${timers.size - this.timersBefore} timers left at the end`);
    }
    if (this.server.connections !== 0) {
      this.violation(`the server still counts ${this.server.connections} connections`);
    }
    if (this.server.running !== 0) {
      this.violation(`${this.server.running} handler slots held at the end`);
    }
    if (this.server.scope.size !== 0) this.violation("the scope still owns connections");
  }
}

/** The result of one run: what was violated, the trace, and what each connection received. */
export interface ServerOutcome {
  violations: string[];
  log: string[];
  outputs: string[];
}

const clock = new VirtualClock();

/** Run `s` against a fresh server on the virtual clock. */
export async function runServerScenario(
  s: ServerScenario,
  options: ModelOptions,
): Promise<ServerOutcome> {
  const run = await onClock(clock, () => new ServerRun(s, options, clock));
  return {
    violations: run.violations,
    log: run.log,
    outputs: run.runs.map((r) => latin1.decode(r.t.bytes())),
  };
}

// ---- generators ----

/**
 * `spec` with its bodies tagged `tag`: what a handler reads and answers says whose it is. A
 * `big` answer is made long: past the shared output buffer's room for a few (64 KiB), or past
 * what is copied into it (16 KiB).
 */
function tagged(r: RequestSpec, tag: string, big: number): RequestSpec {
  let body = r.body;
  if (body?.framing === "length") body = { ...body, data: tag + body.data };
  else if (body?.framing === "chunked") {
    body = {
      framing: "chunked",
      data: tag + body.data,
      chunks: [tag.length, ...body.chunks],
      badChunk: body.badChunk < 0 ? -1 : body.badChunk + 1,
    };
  }
  const reply = r.handler.reply;
  const filler = big > 0 ? (tag + "0123456789abcdef").repeat(Math.ceil(big / 16)) : "";
  let tagged: ReplySpec = reply;
  if (reply.kind === "text") tagged = { ...reply, text: tag + reply.text + filler };
  else if (reply.kind === "stream" && reply.pieces.length > 0) {
    const [first, ...rest] = reply.pieces;
    tagged = { ...reply, pieces: [{ ...first!, text: tag + first!.text + filler }, ...rest] };
  }
  return { ...r, body, handler: { ...r.handler, reply: tagged } };
}

/**
 * A request of the connection model, now and then with a request line that is none, or
 * answered with `Connection: close` (which gives up the requests read after it).
 */
const serverRequestArb: fc.Arbitrary<RequestSpec> = fc.tuple(
  requestArb,
  fc.integer({ min: 0, max: 19 }),
  fc.integer({ min: 0, max: 5 }),
).map(([r, bad, close]) => {
  const handler = close === 0 ? { ...r.handler, askClose: true } : r.handler;
  return bad === 0 ? { ...r, handler, badLine: true, badHead: false } : { ...r, handler };
});

function connArb(): fc.Arbitrary<
  Omit<Scenario, "maxPipelined" | "maxInflight" | "actions"> & { big: number[] }
> {
  return fc.record({
    requests: fc.array(serverRequestArb, { minLength: 1, maxLength: 5 }),
    cuts: fc.array(fc.nat(1200), { maxLength: 8 }),
    freshChunks: fc.boolean(),
    keepBorrowed: fc.boolean(),
    leakyPause: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    ending: fc.constantFrom("fin" as const, "idle" as const),
    big: fc.array(fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 9000, 20000), { maxLength: 5 }),
  });
}

function serverActionArb(w: ServerWeights): fc.Arbitrary<ServerAction> {
  const on = (kind: "deliver" | "full" | "drain" | "fin" | "reset", weight: number) => ({
    weight,
    arbitrary: fc.nat(5).map((conn): ServerAction => ({ kind: "on", conn, action: { kind } })),
  });
  const all: { weight: number; arbitrary: fc.Arbitrary<ServerAction> }[] = [
    on("deliver", w.deliver),
    on("full", w.full),
    on("drain", w.drain),
    on("fin", w.fin),
    on("reset", w.reset),
    {
      weight: w.micro,
      arbitrary: fc.integer({ min: 1, max: 8 }).map((n): ServerAction => ({ kind: "micro", n })),
    },
    {
      weight: w.gate,
      arbitrary: fc.nat(15).map((pick): ServerAction => ({ kind: "gate", pick })),
    },
    {
      weight: w.time,
      arbitrary: fc.integer({ min: 1, max: 60 }).map((ms): ServerAction => ({ kind: "time", ms })),
    },
    { weight: w.shutdown, arbitrary: fc.constant<ServerAction>({ kind: "shutdown" }) },
  ];
  return fc.oneof(...all.filter((a) => a.weight > 0));
}

/** Whole runs of 2 to 6 connections, with steps drawn by `weights`. */
export function serverScenarioArb(w: ServerWeights): fc.Arbitrary<ServerScenario> {
  return fc.record({
    conns: fc.array(connArb(), { minLength: 2, maxLength: 6 }),
    arrivals: fc.array(fc.nat(40), { minLength: 6, maxLength: 6 }),
    // Long schedules (fast-check's default size would keep them to a few steps).
    actions: fc.array(serverActionArb(w), { maxLength: 60, size: "max" }),
    maxConnections: fc.constantFrom(1, 2, 3, 3, 4, 10_000),
    maxInflight: fc.constantFrom(1, 1, 2, 3),
    maxPipelined: fc.constantFrom(1, 2, 64),
    grace: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 400 })),
  }).map((s): ServerScenario => ({
    ...s,
    // The first connection is there from the start.
    arrivals: s.conns.map((_, k) => k === 0 ? 0 : s.arrivals[k]!),
    conns: s.conns.map(({ big, ...c }, k) => ({
      ...c,
      requests: c.requests.map((r, i) => tagged(r, `${label(i, k)}:`, big[i] ?? 0)),
      actions: [],
      maxPipelined: s.maxPipelined,
      maxInflight: s.maxInflight,
    })),
  }));
}
