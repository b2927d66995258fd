/**
 * Runs a program (test/scheduler/program.ts) on the real scheduler, on a virtual clock, in
 * lockstep with the model (test/scheduler/model.ts), and compares the two after every step:
 * every call's outcome and when it came, what each onError heard, each channel's buffer and
 * queues, each scope's members, each task's state, and the timers pending on the shared wheel.
 * At the end, with every channel closed and every scope closed, it also checks what holds of any
 * run: each value sent was received once or is still buffered, nothing else was received, no
 * timer and no waiter is left, and no promise was rejected with nobody to hear it.
 */
import { sleep, timers } from "../../src/clock.ts";
import { Channel, choose, type ChooseClause, EMPTY } from "../../src/channel.ts";
import { Canceled, type CancelSource, Closed, Timeout } from "../../src/errors.ts";
import { Scope, type Task, type TaskContext } from "../../src/scope.ts";
import type { Findings } from "../model/check.ts";
import { VirtualClock } from "../model/clock.ts";
import {
  type Concrete,
  type ConcreteAct,
  type ConcreteBlocking,
  type ConcreteOp,
  Model,
  SLOT_MS,
  type Snapshot,
} from "./model.ts";
import type { CancelHook, Policy, Program } from "./program.ts";

/** Where the virtual clock starts: on a slot boundary, so the model's slots are the wheel's. */
export const START: number = 8192 * SLOT_MS;

/** Microtask turns after each step: what a step sets off is a few promise hops deep. */
const SETTLE_TURNS = 40;

async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_TURNS; i++) await null;
}

/** The run has the wheel to itself: see {@link VirtualClock}. */
const clock = new VirtualClock(START, true);

/** The outcome of a settled call, as the model writes it. */
function shown(err: unknown): string {
  if (err instanceof Timeout) return "Timeout";
  if (err instanceof Canceled) return "Canceled";
  if (err instanceof Closed) return err.index >= 0 ? `Closed #${err.index}` : "Closed";
  return `unexpected ${String(err)}`;
}

/** What the gate answers a cancelled task that does not carry on. */
const CANCELLED = Symbol("cancelled");
type Command = { readonly key: string; readonly op: ConcreteOp };

/** One task: waits at its gate for the driver's next command, runs it, records how it ended. */
class Agent {
  readonly id: number;
  readonly policy: Policy;
  private readonly hook: CancelHook;
  private readonly world: World;
  task: Task<void> | null = null;
  private mailbox: Command | null = null;
  private waiting: ((c: Command | typeof CANCELLED) => void) | null = null;

  constructor(world: World, id: number, policy: Policy, hook: CancelHook) {
    this.world = world;
    this.id = id;
    this.policy = policy;
    this.hook = hook;
  }

  give(c: Command): void {
    if (this.waiting !== null) this.waiting(c);
    else this.mailbox = c;
  }

  private next(cx: TaskContext): Promise<Command | typeof CANCELLED> {
    const waiting = this.mailbox;
    if (waiting !== null) {
      this.mailbox = null;
      return Promise.resolve(waiting);
    }
    return new Promise((resolve) => {
      let off = (): void => {};
      this.waiting = (c) => {
        this.waiting = null;
        off();
        resolve(c);
      };
      if (this.policy !== "continue") off = cx.onCancel(() => this.waiting?.(CANCELLED));
    });
  }

  async body(cx: TaskContext): Promise<void> {
    const hook = this.hook;
    if (hook.kind === "close") cx.onCancel(() => this.world.chans[hook.ch].close());
    if (hook.kind === "throw") {
      cx.onCancel(() => {
        throw new Error(`c${this.id}`);
      });
    }
    for (;;) {
      const c = await this.next(cx);
      if (c === CANCELLED) {
        if (this.policy === "rethrow") cx.throwIfCanceled();
        return;
      }
      const op = c.op;
      if (op.kind === "return") return;
      if (op.kind === "leave") {
        // Started and not awaited: the task ends with the call pending (heard here only to
        // record how it ends; the unit tests show it is never an unhandled rejection).
        this.perform(op.op, cx).then(
          (got) => this.world.record(c.key, got),
          (err: unknown) => this.world.record(c.key, shown(err)),
        );
        if (op.throws) throw new Error(`t${this.id}`);
        return;
      }
      if (op.kind === "throw") {
        throw op.canceled ? new Canceled(`t${this.id}`) : new Error(`t${this.id}`);
      }
      try {
        const got = await this.perform(op, cx);
        this.world.record(c.key, got);
      } catch (err) {
        this.world.record(c.key, shown(err));
        if (err instanceof Canceled && this.policy !== "continue") {
          if (this.policy === "rethrow") throw err;
          return;
        }
      }
    }
  }

  private async perform(op: ConcreteBlocking, cx: TaskContext): Promise<string> {
    const source: CancelSource | undefined = !("cancel" in op) || op.cancel === "none"
      ? undefined
      : op.cancel === "cx"
      ? cx
      : cx.signal;
    const chans = this.world.chans;
    switch (op.kind) {
      case "send":
        await chans[op.ch].send(op.value, op.deadline, source);
        return "ok";
      case "recv":
        return `ok ${await chans[op.ch].recv(op.deadline, source)}`;
      case "choose": {
        const clauses: ChooseClause<number>[] = op.clauses.map((c) =>
          c.op === "send"
            ? { op: "send", ch: chans[c.ch], value: c.value }
            : { op: "recv", ch: chans[c.ch] }
        );
        const got = await choose(clauses, op.deadline, source);
        return `ok #${got.index}${got.value === undefined ? "" : ` ${got.value}`}`;
      }
      case "sleep":
        await sleep(op.deadline, source);
        return "ok";
    }
  }
}

/** The real scheduler's side of a run. */
class World {
  readonly chans: Channel<number>[];
  readonly scopes: Scope[] = [];
  readonly agents: Agent[] = [];
  readonly outcomes: Record<string, string> = {};
  readonly reports: string[] = [];

  constructor(caps: readonly number[]) {
    this.chans = caps.map((cap) => new Channel<number>(cap));
    this.scopes.push(new Scope({ onError: this.handler(0) }));
  }

  private handler(id: number): (err: unknown) => void {
    return (err) =>
      this.reports.push(
        `${id}:${err instanceof Error ? `${err.name} ${err.message}` : String(err)}`,
      );
  }

  record(key: string, what: string): void {
    if (key in this.outcomes) this.outcomes[`${key}!again`] = `${what}@${clock.now - START}`;
    else this.outcomes[key] = `${what}@${clock.now - START}`;
  }

  /** Records how `promise` settles, under `key`. */
  private track(key: string, promise: Promise<unknown>): void {
    promise.then(() => this.record(key, "ok"), (err: unknown) => this.record(key, shown(err)));
  }

  private attempt(key: string, f: () => string): void {
    try {
      this.record(key, f());
    } catch (err) {
      this.record(key, shown(err));
    }
  }

  async run(step: Concrete): Promise<void> {
    switch (step.kind) {
      case "spawn":
        this.attempt(step.key, () => {
          const agent = new Agent(this, step.task, step.policy, step.hook);
          agent.task = this.scopes[step.scope].go((cx) => agent.body(cx));
          this.agents.push(agent);
          // Asking for the result also keeps a failed task's rejection heard.
          agent.task.result.then(
            () => this.record(`task${agent.id}`, "returned"),
            (err: unknown) =>
              this.record(
                `task${agent.id}`,
                `threw ${err instanceof Error ? err.name : String(err)}`,
              ),
          );
          return "ok";
        });
        break;
      case "op":
        this.agents[step.task].give({ key: step.key, op: step.op });
        break;
      case "open":
        this.attempt(step.key, () => {
          const parent = this.scopes[step.parent];
          this.scopes.push(
            parent.scope(step.handler ? { onError: this.handler(step.scope) } : undefined),
          );
          return "ok";
        });
        break;
      case "wait":
        this.track(step.key, this.scopes[step.scope].wait(step.deadline));
        break;
      case "advance":
        await clock.advance(step.ms, settle);
        break;
      case "burst":
        for (const act of step.acts) this.act(act);
        break;
    }
    await settle();
  }

  private act(act: ConcreteAct): void {
    switch (act.kind) {
      case "trySend":
        return this.attempt(act.key, () => String(this.chans[act.ch].trySend(act.value)));
      case "tryRecv":
        return this.attempt(act.key, () => {
          const v = this.chans[act.ch].tryRecv();
          return v === EMPTY ? "EMPTY" : String(v);
        });
      case "closeCh":
        return this.chans[act.ch].close();
      case "cancel":
        return this.agents[act.task].task?.cancel();
      case "close":
        return this.track(act.key, this.scopes[act.scope].close(act.deadline));
    }
  }

  snapshot(): Snapshot {
    return {
      outcomes: { ...this.outcomes },
      reports: [...this.reports],
      channels: this.chans.map((c) =>
        `${c.length}/${c.pendingSenders}/${c.pendingReceivers}/${c.closed}`
      ),
      scopes: this.scopes.map((s) => `${s.size}/${s.taskCount}/${s.closed}`),
      tasks: this.agents.map((a) => `${a.task?.done}/${a.task?.canceled}`),
      timers: timers.size,
    };
  }
}

/** The first difference between what the model expected and what the scheduler did. */
function differences(expected: Snapshot, actual: Snapshot): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(expected.outcomes), ...Object.keys(actual.outcomes)]);
  for (const k of keys) {
    if (expected.outcomes[k] !== actual.outcomes[k]) {
      out.push(
        `${k}: expected ${expected.outcomes[k] ?? "pending"}, got ${
          actual.outcomes[k] ?? "pending"
        }`,
      );
    }
  }
  const lists = ["reports", "channels", "scopes", "tasks"] as const;
  for (const name of lists) {
    const e = JSON.stringify(expected[name]);
    const a = JSON.stringify(actual[name]);
    if (e !== a) out.push(`${name}: expected ${e}, got ${a}`);
  }
  if (expected.timers !== actual.timers) {
    out.push(`timers: expected ${expected.timers}, got ${actual.timers}`);
  }
  return out;
}

/** What holds of any run, model or not: each value sent arrived once, or is still buffered. */
function deliveryViolations(
  outcomes: Record<string, string>,
  program: Concrete[],
  buffered: number[],
): string[] {
  const sent = new Set<number>();
  const received: number[] = [...buffered];
  const sends = new Map<string, number[]>();
  for (const step of program) {
    if (step.kind === "op") {
      const op = step.op.kind === "leave" ? step.op.op : step.op;
      if (op.kind === "send") sends.set(step.key, [op.value]);
      if (op.kind === "choose") sends.set(step.key, op.clauses.map((c) => c.value));
    }
    if (step.kind === "burst") {
      for (const act of step.acts) if (act.kind === "trySend") sends.set(act.key, [act.value]);
    }
  }
  for (const [key, values] of sends) {
    const out = outcomes[key] ?? "";
    if (out.startsWith("ok #")) {
      const index = Number(out.slice(4).split(/[ @]/)[0]);
      if (!out.slice(4).split("@")[0].includes(" ")) sent.add(values[index]);
    } else if (out.startsWith("ok@") || out.startsWith("true@")) sent.add(values[0]);
  }
  for (const [key, out] of Object.entries(outcomes)) {
    const m = /^(?:ok(?: #\d+)? (\d+)|(\d+))@/.exec(out);
    if (m !== null && (key.startsWith("op") || key.startsWith("try"))) {
      received.push(Number(m[1] ?? m[2]));
    }
  }
  const out: string[] = [];
  const seen = new Set<number>();
  for (const v of received) {
    if (seen.has(v)) out.push(`value ${v} received twice`);
    seen.add(v);
    if (!sent.has(v)) out.push(`value ${v} received but never sent`);
  }
  for (const v of sent) if (!seen.has(v)) out.push(`value ${v} sent but lost`);
  return out;
}

/** Drains each channel's buffer without the model: what is left in them at the end. */
function leftInBuffers(chans: Channel<number>[]): number[] {
  const left: number[] = [];
  for (const ch of chans) {
    while (ch.length > 0) left.push(ch.tryRecv() as number);
  }
  return left;
}

/** Steps that end every run: all closed, time enough for every deadline, lingering tasks told to go. */
function* ending(model: Model): Generator<Concrete> {
  yield {
    kind: "burst",
    acts: [
      { kind: "close", key: "final-close", scope: 0, deadline: Infinity },
      ...Array.from({ length: model.channelCount }, (_, ch) => ({ kind: "closeCh", ch }) as const),
    ],
  };
  for (let round = 0; round < 3; round++) {
    yield { kind: "advance", ms: 4000 };
    for (const task of model.lingering()) {
      yield { kind: "op", task, key: `end${task}`, op: { kind: "return" } };
    }
  }
}

/** Runs `program` on the real scheduler and the model side by side. */
export async function runProgram(
  program: Program,
): Promise<Findings & { outcomes: Record<string, string> }> {
  const violations: string[] = [];
  const log: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  clock.install();
  const world = new World(program.caps);
  try {
    const model = new Model(program.caps, START);
    const ran: Concrete[] = [];
    const steps = function* (): Generator<Concrete> {
      for (const step of program.steps) {
        const c = model.concrete(step);
        if (c !== null) yield c;
      }
      yield* ending(model);
    };
    for (const step of steps()) {
      ran.push(step);
      log.push(JSON.stringify(step, (_, v) => v === Infinity ? "inf" : v));
      model.apply(step);
      await world.run(step);
      const diff = differences(model.snapshot(), world.snapshot());
      if (diff.length > 0) {
        violations.push(`after step ${ran.length - 1} (t=${model.now}):`, ...diff);
        break;
      }
    }
    if (violations.length === 0) {
      if (world.outcomes["final-close"]?.startsWith("ok") !== true) {
        violations.push("the root scope never closed");
      }
      for (const a of world.agents) {
        if (a.task?.done !== true) violations.push(`task ${a.id} never finished`);
      }
      for (const ch of world.chans) {
        if (ch.pendingSenders + ch.pendingReceivers > 0) {
          violations.push("a waiter was left in a channel");
        }
      }
      violations.push(...deliveryViolations(world.outcomes, ran, leftInBuffers(world.chans)));
    }
    // Those left are dropped with the run's clock.
    if (timers.size > 0) violations.push(`${timers.size} timers left`);
  } finally {
    clock.uninstall();
  }
  // Runtimes report a rejection nobody handled once the microtasks have run out. The real clock
  // is back: timers that other suites' code sets meanwhile are not taken for the run's.
  await new Promise((resolve) => setTimeout(resolve, 0));
  process.off("unhandledRejection", onUnhandled);
  for (const reason of unhandled) violations.push(`unhandled rejection: ${String(reason)}`);
  return { violations, log, outcomes: world.outcomes };
}
