/**
 * A model-based property test of the multi-core supervisor (src/supervisor.ts): random schedules
 * of fake workers (ready or never, crashing with codes and signals, crash loops, answering
 * `stats?` or not, sending junk, closing their control pipe, draining in time, late or never)
 * and of the primary's calls (shutdown at random points, twice; stopReplacing; collect), on a
 * virtual clock, against a reference model written from the doc comments of src/supervisor.ts
 * and the README's Multi-core and Shutdown sections.
 *
 * Fixed seeds and bounded runs keep this to a few seconds; a failure prints the seed, the
 * counterexample and the trace of the run.
 */
import { describe, it } from "node:test";
import fc from "fast-check";
import { timers } from "../src/clock.ts";
import { type ControlMessage, Supervisor, type WorkerProcess } from "../src/supervisor.ts";
import { PortChannel } from "../src/port.ts";
import { check, holdsIn } from "./model/check.ts";
import { onClock, START, VirtualClock } from "./model/clock.ts";

/** As documented in src/supervisor.ts (MAX_RESTARTS, RESTART_WINDOW_MS, RESTART_DELAY_MS). */
const MAX_RESTARTS = 10;
const RESTART_WINDOW_MS = 10_000;
const RESTART_DELAY_MS = 100;
/** src/clock.ts: a timer fires up to 1/16 of its delay late, never more than 250 ms. */
const slackOf = (delay: number): number => Math.min(250, delay / 16);
/** Virtual ms a schedule's own events span; the shutdown comes by then if none came before. */
const HORIZON = 12_000;

type Junk = null | number | string | { type: string; graceMs?: number } | {
  type: "stats";
  pid?: number;
  connections?: unknown;
  requests?: unknown;
};

interface Plan {
  /** ms after its spawn that it says ready; null: never. */
  readyAt: number | null;
  crashAt: number | null;
  crashCode: number | null;
  /** Drops what comes on its pipe before it is ready (node:cluster on Node 20). */
  deafUntilReady: boolean;
  answersStats: boolean;
  statsDelay: number;
  connections: number;
  requests: number;
  /** ms after it is told to drain that it exits; null: never (SIGKILL only). */
  drainMs: number | null;
  closeControlAt: number | null;
  /** Its crash is seen before its last report, which still comes through its pipe. */
  lateReport: boolean;
  /** spawn() throws instead of starting it. */
  spawnThrows: boolean;
  junk: { at: number; message: Junk }[];
}

interface Scenario {
  workers: number;
  graceMs: number;
  exitMs: number;
  readyMs: number;
  plans: Plan[];
  /** What spawns past the plans do: serve steadily, or crash soon after ready (a crash loop). */
  after: "steady" | "loop";
  shutdowns: number[];
  stopReplacingAt: number | null;
  collects: { at: number; waitMs: number }[];
}

const STEADY: Plan = {
  readyAt: 5,
  crashAt: null,
  crashCode: null,
  deafUntilReady: false,
  answersStats: true,
  statsDelay: 3,
  connections: 2,
  requests: 7,
  drainMs: 20,
  closeControlAt: null,
  lateReport: false,
  spawnThrows: false,
  junk: [],
};
const LOOPING: Plan = { ...STEADY, readyAt: 2, crashAt: 30, crashCode: 1 };

/** The model's and the fake's record of one spawned worker. */
interface Fake {
  pid: number;
  slot: number;
  plan: Plan;
  spawnedAt: number;
  exitedAt: number | null;
  pipeOpen: boolean;
  ready: boolean;
  /** Whether it acted on a shutdown (started draining). */
  drainingSince: number | null;
  posted: { at: number; message: ControlMessage }[];
  kills: { at: number; signal: string }[];
  /** Expected shutdown posts (the model's count). */
  shutdownsOwed: number;
  statsAsksOwed: number;
  lastReport: { connections: number; requests: number } | null;
  /** Windows in which a SIGKILL is allowed: [from, to]. */
  killWindows: [number, number][];
  exit(code: number | null): void;
  say(message: unknown): void;
  closePipe(): void;
}

interface Slot {
  started: boolean;
  dead: boolean;
  worker: Fake | null;
  /** Window a replacement is due in, with the exit that calls for it. */
  respawn: { from: number; to: number; pid: number; code: number | null } | null;
  firstPort: number | null;
}

class Run {
  readonly violations: string[] = [];
  readonly log: string[] = [];
  private readonly clock: VirtualClock;
  private readonly s: Scenario;
  private readonly sup: Supervisor;
  private readonly fakes: Fake[] = [];
  private readonly slots: Slot[] = [];
  private readonly queue: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;
  private spawns = 0;
  private readonly logged: string[] = [];
  private readonly expectedLog: string[] = [];
  private readonly restarts: number[] = [];
  private replacing = true;
  private shutdownAt: number | null = null;
  private shutdownResolvedAt: number | null = null;
  private resolvedCount = 0;
  private shutdownCalls = 0;
  /** collect() calls not yet resolved: each waits on one timer. */
  private collecting = 0;
  private failure: string | null = null;
  private gaveUpSeen = false;
  private startOutcome: string | null = null;
  /** What start() settles with: whichever comes first of every slot ready, a give-up, shutdown. */
  private startExpected: string | null = null;
  private readonly timersBefore: number;

  constructor(clock: VirtualClock, s: Scenario) {
    this.clock = clock;
    this.s = s;
    this.timersBefore = timers.size;
    for (let i = 0; i < s.workers; i++) {
      this.slots.push({
        started: false,
        dead: false,
        worker: null,
        respawn: null,
        firstPort: null,
      });
    }
    this.sup = new Supervisor({
      workers: s.workers,
      graceMs: s.graceMs,
      exitMs: s.exitMs,
      readyMs: s.readyMs,
      spawn: (index) => this.spawn(index),
      log: (line) => {
        this.logged.push(line);
        this.note(`log "${line}"`);
      },
    });
    void this.sup.gaveUp.then(() => {
      this.gaveUpSeen = true;
      this.note(`gaveUp: ${this.sup.failureReason}`);
    });
  }

  violation(what: string): void {
    this.violations.push(`t=${this.t}: ${what}`);
  }

  private get t(): number {
    return this.clock.now - START;
  }

  private note(what: string): void {
    this.log.push(`${this.t} ${what}`);
  }

  readonly settle = async (): Promise<void> => {
    for (let i = 0; i < 60; i++) await null;
  };

  private at(t: number, fn: () => void): void {
    this.queue.push({ at: t, seq: this.seq++, fn });
  }

  private alive(): Fake[] {
    return this.fakes.filter((f) => f.exitedAt === null);
  }

  // -- the fake workers --

  private spawn(index: number): WorkerProcess {
    const k = this.spawns++;
    const plan = this.s.plans[k] ?? (this.s.after === "loop" ? LOOPING : STEADY);
    const pid = 1000 + k;
    this.note(`spawn ${pid} in slot ${index}`);
    const slot = this.slots[index]!;
    if (this.shutdownAt !== null) this.violation(`spawned ${pid} after shutdown began`);
    else if (!this.replacing) this.violation(`spawned ${pid} after stopReplacing()`);
    if (slot.dead) this.violation(`spawned ${pid} in slot ${index}, which gave up`);
    if (slot.worker !== null && slot.worker.exitedAt === null) {
      this.violation(`spawned ${pid} in slot ${index} while ${slot.worker.pid} is alive`);
    }
    if (slot.worker !== null) {
      const due = slot.respawn;
      if (due === null) this.violation(`spawned ${pid} in slot ${index}: no replacement was due`);
      else {
        if (this.t < due.from || this.t > due.to) {
          this.violation(`replacement ${pid} spawned outside [${due.from}, ${due.to}]`);
        }
        this.expectedLog.push(
          `worker ${due.pid} exited (${due.code ?? "killed"}); starting another`,
        );
      }
    } else if (this.t !== 0) this.violation(`first spawn of slot ${index} after start`);
    slot.respawn = null;
    if (this.alive().length >= this.s.workers) this.violation(`more than ${this.s.workers} alive`);
    if (plan.spawnThrows) {
      // As spawnWorker() does when the runtime cannot start a process: the slot gives up with it.
      const reason = `cannot start a worker: ${pid}`;
      this.note(`spawn ${pid} throws`);
      if (this.shutdownAt === null && this.replacing) this.giveUp(reason);
      slot.dead = true;
      throw new Error(reason);
    }

    let deliver: (message: ControlMessage) => void = () => {};
    let pipeClosed: () => void = () => {};
    let exit: (code: number | null) => void = () => {};
    const exited = new Promise<number | null>((resolve) => (exit = resolve));
    const fake: Fake = {
      pid,
      slot: index,
      plan,
      spawnedAt: this.t,
      exitedAt: null,
      pipeOpen: true,
      ready: false,
      drainingSince: null,
      posted: [],
      kills: [],
      shutdownsOwed: 0,
      statsAsksOwed: 0,
      lastReport: null,
      killWindows: [],
      exit: (code) => {
        if (fake.exitedAt !== null) return;
        fake.exitedAt = this.t;
        this.note(`${pid} exits ${code}`);
        exit(code);
        fake.closePipe();
        this.exitedModel(fake, code);
      },
      say: (message) => {
        if (fake.exitedAt !== null || !fake.pipeOpen) return;
        deliver(message as ControlMessage);
      },
      closePipe: () => {
        if (!fake.pipeOpen) return;
        fake.pipeOpen = false;
        pipeClosed();
      },
    };
    const control = new PortChannel<ControlMessage>({
      post: (message) => {
        fake.posted.push({ at: this.t, message });
        this.note(`-> ${pid} ${JSON.stringify(message)}`);
        this.received(fake, message);
      },
      listen: (onMessage, onClose) => {
        deliver = onMessage;
        pipeClosed = onClose;
      },
      close: () => {},
    });
    slot.worker = fake;
    this.fakes.push(fake);
    const readyBy = this.t + this.s.readyMs;
    fake.killWindows.push([readyBy, readyBy + slackOf(this.s.readyMs)]);
    const t0 = this.t;
    if (plan.readyAt !== null) {
      this.at(t0 + plan.readyAt, () => {
        if (fake.exitedAt !== null || !fake.pipeOpen) return;
        if (!this.heard(fake)) {
          // Its readyMs is over, though the wheel has not fired yet: the deadline wins.
          this.note(`${pid} says ready too late`);
          fake.say({ type: "ready", pid, port: 8000 + pid });
          return;
        }
        fake.ready = true;
        this.note(`${pid} says ready`);
        fake.say({ type: "ready", pid, port: 8000 + pid });
        this.readyModel(fake);
      });
    }
    if (plan.crashAt !== null) {
      this.at(t0 + plan.crashAt, () => {
        if (!plan.lateReport || fake.exitedAt !== null || !fake.pipeOpen) {
          fake.exit(plan.crashCode);
          return;
        }
        // The exit first, then what was still in the pipe, then the pipe's close.
        fake.exitedAt = this.t;
        this.note(`${pid} exits ${plan.crashCode}, its last report after`);
        exit(plan.crashCode);
        const requests = plan.requests + 1;
        if (this.heard(fake)) fake.lastReport = { connections: plan.connections, requests };
        deliver({ type: "stats", pid, connections: plan.connections, requests });
        fake.closePipe();
        this.exitedModel(fake, plan.crashCode);
      });
    }
    if (plan.closeControlAt !== null) {
      this.at(t0 + plan.closeControlAt, () => {
        if (fake.exitedAt !== null || !fake.pipeOpen) return;
        this.note(`${pid} closes its pipe`);
        fake.closePipe();
      });
    }
    for (const j of plan.junk) {
      this.at(t0 + j.at, () => {
        if (fake.exitedAt !== null || !fake.pipeOpen) return;
        this.note(`${pid} says ${JSON.stringify(j.message)}`);
        fake.say(j.message);
      });
    }
    return {
      pid,
      control,
      exited,
      kill: (signal) => {
        fake.kills.push({ at: this.t, signal });
        this.note(`kill ${pid} ${signal}`);
        if (fake.exitedAt !== null) {
          // Two deadlines of one worker (readyMs, the grace) may share a wheel slot: harmless.
          const twice = fake.kills.some((k) => k.at === this.t && k !== fake.kills.at(-1));
          // An exit at the very instant its readyMs ran out: the primary, told of both at once,
          // takes the deadline first (src/channel.ts, expired()); such a kill finds no process.
          const tie = fake.exitedAt === this.t &&
            fake.killWindows.some(([from, to]) => this.t >= from && this.t <= to);
          if (!twice && !tie) this.violation(`${signal} to ${pid}, which had exited`);
          return;
        }
        const ok = fake.killWindows.some(([from, to]) => this.t >= from && this.t <= to);
        if (!ok) {
          this.violation(`${signal} to ${pid} outside ${JSON.stringify(fake.killWindows)}`);
        }
        if (signal === "SIGKILL") fake.exit(null);
      },
    };
  }

  /** What a fake does with what the primary posts it. */
  private received(fake: Fake, message: ControlMessage): void {
    if (fake.plan.deafUntilReady && !fake.ready) return;
    if (message.type === "shutdown") {
      if (message.graceMs !== this.s.graceMs) {
        this.violation(`shutdown with grace ${message.graceMs}`);
      }
      if (this.shutdownAt === null) this.violation(`${fake.pid} told to drain before shutdown`);
      if (fake.drainingSince !== null) return;
      fake.drainingSince = this.t;
      const drainMs = fake.plan.drainMs;
      if (drainMs === null) return;
      this.at(this.t + drainMs, () => {
        if (fake.exitedAt !== null) return;
        // As a real worker does: its last counts, then the exit.
        this.report(fake, 0);
        fake.exit(0);
      });
    } else if (message.type === "stats?") {
      if (!fake.plan.answersStats) return;
      this.at(this.t + fake.plan.statsDelay, () => {
        if (fake.exitedAt !== null || !fake.pipeOpen) return;
        this.report(fake, fake.plan.connections);
      });
    } else this.violation(`${fake.pid} was posted ${JSON.stringify(message)}`);
  }

  private report(fake: Fake, connections: number): void {
    if (!fake.pipeOpen) return;
    const requests = fake.plan.requests;
    if (this.heard(fake)) fake.lastReport = { connections, requests };
    fake.say({ type: "stats", pid: fake.pid, connections, requests });
  }

  // -- the reference model --

  /**
   * The primary still reads what `fake` says: it said ready, or its readyMs is not over. A
   * deadline is over at its very instant (src/channel.ts, expired()): from then on, what comes
   * before the wheel fires ends the wait as the deadline would, and is left unread.
   */
  private heard(fake: Fake): boolean {
    return fake.ready || this.t < fake.spawnedAt + this.s.readyMs;
  }

  private readyModel(fake: Fake): void {
    const slot = this.slots[fake.slot]!;
    this.expectedLog.push(`worker ${fake.pid} ready`);
    if (!slot.started) {
      slot.started = true;
      slot.firstPort = 8000 + fake.pid;
      if (this.slots.every((sl) => sl.started)) {
        this.startExpected ??= `port ${this.slots[0]!.firstPort}`;
      }
    }
    // Told to drain before it said ready: told again (drain()'s comment).
    if (this.shutdownAt !== null && fake.shutdownsOwed > 0) fake.shutdownsOwed++;
  }

  private exitedModel(fake: Fake, code: number | null): void {
    const slot = this.slots[fake.slot]!;
    if (this.shutdownAt !== null || !this.replacing || slot.dead) return;
    if (!slot.started) {
      this.giveUp(`worker ${fake.pid} exited (${code ?? "killed"}) before it was ready`);
      slot.dead = true;
      return;
    }
    const t = this.t;
    this.restarts.push(t);
    while (this.restarts.length > 0 && this.restarts[0]! < t - RESTART_WINDOW_MS) {
      this.restarts.shift();
    }
    if (this.restarts.length > MAX_RESTARTS) {
      this.giveUp(
        `workers keep dying (${this.restarts.length} restarts in ${RESTART_WINDOW_MS / 1000} s)`,
      );
      slot.dead = true;
      return;
    }
    const from = t + RESTART_DELAY_MS;
    slot.respawn = { from, to: from + slackOf(RESTART_DELAY_MS), pid: fake.pid, code };
  }

  private giveUp(reason: string): void {
    this.failure ??= reason;
    this.startExpected ??= `rejected ${this.failure}`;
  }

  private beginShutdown(): void {
    this.shutdownCalls++;
    this.note(`shutdown() #${this.shutdownCalls}`);
    if (this.shutdownAt === null) {
      this.shutdownAt = this.t;
      this.startExpected ??= "rejected shut down before every worker was ready";
      const lateAt = this.t + this.s.graceMs + this.s.exitMs;
      for (const f of this.alive()) {
        if (f.pipeOpen) f.shutdownsOwed = 1;
        f.killWindows.push([lateAt, lateAt + slackOf(this.s.graceMs + this.s.exitMs)]);
      }
      for (const slot of this.slots) slot.respawn = null;
    }
    this.sup.shutdown().then(
      () => {
        this.resolvedCount++;
        this.shutdownResolvedAt ??= this.t;
        this.note(`shutdown() resolved (${this.resolvedCount})`);
        const left = this.alive().map((f) => f.pid);
        if (left.length > 0) this.violation(`shutdown resolved with ${left} alive`);
      },
      (err) => this.violation(`shutdown() rejected: ${err}`),
    );
  }

  private collect(waitMs: number): void {
    const asked = this.alive().filter((f) => f.pipeOpen);
    for (const f of asked) f.statsAsksOwed++;
    this.note(`collect(${waitMs})`);
    if (waitMs > 0) this.collecting++;
    this.sup.collect(waitMs).then((stats) => {
      if (waitMs > 0) this.collecting--;
      // Its sleep may run out in the wheel slot of a replacement's spawn or a kill: the
      // workers then are those before that instant, or after it.
      const views = [true, false].map((before) => {
        const alive = (f: Fake) =>
          before ? f.spawnedAt < this.t && (f.exitedAt ?? Infinity) >= this.t : f.exitedAt === null;
        let connections = 0;
        let requests = 0;
        for (const f of this.fakes) {
          if (f.lastReport === null) continue;
          requests += f.lastReport.requests;
          if (alive(f)) connections += f.lastReport.connections;
        }
        return JSON.stringify({ workers: this.fakes.filter(alive).length, connections, requests });
      });
      const got = JSON.stringify(stats);
      if (!views.includes(got)) {
        this.violation(`collect(${waitMs}) gave ${got}, the model ${views.at(-1)}`);
      }
    }, (err) => this.violation(`collect() rejected: ${err}`));
  }

  // -- the run --

  async go(): Promise<void> {
    const s = this.s;
    for (const at of s.shutdowns) this.at(at, () => this.beginShutdown());
    if (s.stopReplacingAt !== null) {
      this.at(s.stopReplacingAt, () => {
        this.note("stopReplacing()");
        this.replacing = false;
        for (const slot of this.slots) slot.respawn = null;
        this.sup.stopReplacing();
      });
    }
    for (const c of s.collects) this.at(c.at, () => this.collect(c.waitMs));
    this.sup.start().then(
      (port) => {
        this.startOutcome = `port ${port}`;
        this.note(`start() resolved ${port}`);
      },
      (err: unknown) => {
        this.startOutcome = `rejected ${err instanceof Error ? err.message : String(err)}`;
        this.note(`start() ${this.startOutcome}`);
      },
    );
    await this.settle();
    await this.play(HORIZON);
    if (this.shutdownAt === null) {
      this.beginShutdown();
      await this.settle();
    }
    const bound = this.t + s.graceMs + s.exitMs + 60_000;
    await this.play(bound);
    if (this.shutdownResolvedAt === null) {
      this.violation("shutdown() never resolved");
      return;
    }
    this.final();
  }

  /** Play queued events and timers until `until`, or until shutdown() has resolved every call. */
  private async play(until: number): Promise<void> {
    const done = () => this.shutdownCalls > 0 && this.resolvedCount === this.shutdownCalls;
    for (;;) {
      if (done()) return;
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      const target = next === undefined || next.at > until ? until : next.at;
      // A timer that spawns a worker queues its events: stop there to play them in order.
      const sooner = () => done() || this.queue.some((e) => e.at < target);
      await this.clock.advance(target - this.t, this.settle, sooner);
      if (done()) return;
      if (this.t < target) continue;
      if (next === undefined || next.at > until) return;
      this.queue.shift();
      next.fn();
      await this.settle();
      this.checkOnline();
    }
  }

  private checkOnline(): void {
    if (this.alive().length > this.s.workers) this.violation("more workers alive than slots");
  }

  private final(): void {
    const R = this.shutdownResolvedAt!;
    const lastExit = Math.max(this.shutdownAt!, ...this.fakes.map((f) => f.exitedAt ?? 0));
    if (R !== lastExit) this.violation(`shutdown resolved at ${R}, the last exit at ${lastExit}`);
    const leftTimers = timers.size - this.timersBefore - this.collecting;
    if (leftTimers !== 0) this.violation(`${leftTimers} timers left after shutdown resolved`);
    for (const f of this.fakes) {
      const told = f.posted.filter((p) => p.message.type === "shutdown").length;
      if (told !== f.shutdownsOwed) {
        this.violation(`${f.pid} told to drain ${told} times, the model ${f.shutdownsOwed}`);
      }
      const asked = f.posted.filter((p) => p.message.type === "stats?").length;
      if (asked !== f.statsAsksOwed) {
        this.violation(`${f.pid} asked for stats ${asked} times, the model ${f.statsAsksOwed}`);
      }
      const killedAt = new Set(f.kills.map((k) => k.at));
      if (killedAt.size > 1) this.violation(`${f.pid} killed at ${[...killedAt]}`);
      // readyMs: how long a new worker may take to say it is ready.
      const [readyBy, readyLate] = f.killWindows[0]!;
      if (!f.ready && (f.exitedAt === null || f.exitedAt > readyLate)) {
        if (!f.kills.some((k) => k.at >= readyBy && k.at <= readyLate)) {
          this.violation(`${f.pid} never said ready, not killed at ${readyBy}`);
        }
      }
      // A straggler: alive past the grace and the exit time, with no earlier kill due.
      const lateAt = this.shutdownAt! + this.s.graceMs + this.s.exitMs +
        slackOf(this.s.graceMs + this.s.exitMs);
      if (f.spawnedAt <= this.shutdownAt! && f.exitedAt !== null && f.exitedAt > lateAt) {
        if (f.kills.length === 0) this.violation(`${f.pid} outlived its grace unkilled`);
      }
    }
    // Slots whose replacement was due when the run ended: none should be (shutdown clears them).
    const expected = this.expectedLog.filter((l) => !l.endsWith("killing it"));
    const got = this.logged.filter((l) => !l.endsWith("killing it"));
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      this.violation(`log ${JSON.stringify(got)}, the model ${JSON.stringify(expected)}`);
    }
    if (this.failure !== null) {
      if (!this.gaveUpSeen) this.violation(`did not give up (${this.failure})`);
      else if (this.sup.failureReason !== this.failure) {
        this.violation(`gave up with "${this.sup.failureReason}", the model "${this.failure}"`);
      }
    } else if (this.gaveUpSeen) this.violation(`gave up: ${this.sup.failureReason}`);
    // Settled by the time shutdown() resolves, whatever came first.
    if (this.startOutcome !== this.startExpected) {
      this.violation(`start() ${this.startOutcome ?? "pending"}, the model ${this.startExpected}`);
    }
  }
}

// -- the schedules --

const junkArb: fc.Arbitrary<Junk> = fc.constantFrom<Junk>(
  null,
  7,
  "ready",
  { type: "bogus" },
  { type: "stats?" },
  { type: "shutdown", graceMs: 1 },
  // Reports that are no counts: they change no total.
  { type: "stats" },
  { type: "stats", pid: 1000, connections: 1, requests: "5" },
  { type: "stats", pid: 1000, connections: -1, requests: 5 },
);

const planArb = (maxTime: number): fc.Arbitrary<Plan> =>
  fc.record({
    readyAt: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 600 }) }, {
      weight: 1,
      arbitrary: fc.constant(null),
    }),
    crashAt: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, {
      weight: 3,
      arbitrary: fc.integer({ min: 0, max: maxTime }),
    }),
    crashCode: fc.constantFrom(0, 1, 2, null),
    deafUntilReady: fc.boolean(),
    answersStats: fc.boolean(),
    statsDelay: fc.integer({ min: 0, max: 60 }),
    connections: fc.integer({ min: 0, max: 5 }),
    requests: fc.integer({ min: 0, max: 50 }),
    drainMs: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 2500 }) }, {
      weight: 1,
      arbitrary: fc.constant(null),
    }),
    closeControlAt: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: maxTime }),
    }),
    lateReport: fc.boolean(),
    spawnThrows: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, {
      weight: 1,
      arbitrary: fc.constant(true),
    }),
    junk: fc.array(
      fc.record({ at: fc.integer({ min: 0, max: maxTime }), message: junkArb }),
      { maxLength: 2 },
    ),
  });

const scenarioArb = (maxTime: number, plans: number): fc.Arbitrary<Scenario> =>
  fc.record({
    workers: fc.integer({ min: 1, max: 3 }),
    graceMs: fc.constantFrom(200, 1000, 3000),
    exitMs: fc.constantFrom(100, 1000),
    readyMs: fc.constantFrom(300, 2000),
    plans: fc.array(planArb(maxTime), { maxLength: plans }),
    after: fc.constantFrom<Scenario["after"]>("steady", "loop"),
    shutdowns: fc.array(fc.integer({ min: 0, max: maxTime }), { maxLength: 2 }),
    stopReplacingAt: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: maxTime }),
    }),
    collects: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: maxTime }),
        waitMs: fc.constantFrom(0, 30, 100),
      }),
      { maxLength: 3 },
    ),
  });

async function holds(clock: VirtualClock, s: Scenario): Promise<void> {
  // What a run may leave (a collect() still waiting) must not fire in the next one.
  const run = await onClock(clock, () => new Run(clock, s), true);
  holdsIn(run, null);
}

describe("supervisor model", () => {
  // The wheel to itself: other suites' timers (bun test runs all in one process) stay out of the count.
  const clock = new VirtualClock(START, true);

  it("keeps N workers, replaces the dead, drains on shutdown, as documented", async () => {
    await check(
      fc.asyncProperty(scenarioArb(3_000, 6), (s) => holds(clock, s)),
      { seed: 0x5_0b_1e, numRuns: 150 },
    );
  });

  it("gives up on crash loops and on workers that never get ready", async () => {
    await check(
      fc.asyncProperty(
        scenarioArb(9_000, 3).map((s) => ({ ...s, after: "loop" as const })),
        (s) => holds(clock, s),
      ),
      { seed: 0x1_00_9, numRuns: 60 },
    );
  });
});
