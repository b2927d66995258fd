/**
 * A reference model of the scheduler, written from the doc comments of src/channel.ts,
 * src/scope.ts and src/clock.ts (and libdill's semantics they follow), not from their code:
 *
 * - a channel hands values over in FIFO order: a send goes to the longest-waiting receiver, else
 *   into the buffer if there is room, else waits; a receive takes the oldest buffered value (and
 *   the longest-waiting sender's value moves into the freed slot), else a waiting sender's value,
 *   else waits. `close()` fails waiting senders, then waiting receivers, with `Closed`; buffered
 *   values are still received, then `Closed`.
 * - each call checks, in order: its cancellation (`Canceled` even when it could proceed), the
 *   channel, and only then its deadline (a deadline already past is a poll: `Timeout` at once).
 * - `choose` takes the first ready clause in array order (a clause on a closed channel counts as
 *   ready, with `Closed` naming it); blocked, the first clause a peer completes wins, and a close
 *   fails it with `Closed` naming the clause that channel's queue reached first.
 * - a blocked call leaves every queue the moment it ends, whatever ended it.
 * - timers fire at their deadline, or in the late programs at the wheel's slot for it (up to
 *   1/16 of the delay later); a call whose deadline has passed is over even before then: a peer
 *   neither hands it a value nor takes its value, and a close or a cancel that comes in between
 *   finds it timed out (a sleep ended, a scope's close or wait timed out if it drains then).
 *   Timers due at one instant fire in the order they were added, and what each sets off runs
 *   before the next instant.
 * - cancelling a task rejects every blocked call given its context or its signal with
 *   `Canceled`, after running what it registered with `onCancel`; a task's context ends with the
 *   task, so when it returns or throws uncancelled, what it registered runs and a call it started
 *   on its context or signal and left pending ends as at a cancel (before the scope hears of its
 *   end; a call given no cancellation stays pending); closing a scope cancels its tasks and closes its child scopes, and its `close()`
 *   resolves once every member is gone (or rejects with `Timeout` at its deadline); `wait()`
 *   resolves once the scope's own tasks have all finished; `go()` and opening a child on a scope
 *   that is closing throw `Closed`.
 * - a task's failure goes to the nearest `onError` up the tree, except a `Canceled` thrown by a
 *   cancelled task.
 *
 * Outcomes are strings, "what@when" (ms since the run began), compared with what the real
 * scheduler gave for the same call.
 */
import type {
  BlockingSpec,
  CancelHook,
  CancelKind,
  ClauseSpec,
  DeadlineSpec,
  OpSpec,
  Policy,
  Step,
  SyncAct,
} from "./program.ts";

/** The wheel's resolution (src/clock.ts DEFAULT_RESOLUTION_MS): the most it fires late. */
const RESOLUTION_MS = 250;
/** A timer may fire up to 1/SLACK_DIVISOR of its delay late (src/clock.ts). */
const SLACK_DIVISOR = 16;

/**
 * When the wheel fires `deadline`, set at `now` (both on the real clock): on the next multiple of
 * its slack, the largest power of two within 1/16 of the delay and the resolution (the
 * resolution itself for delays of 16 resolutions or more), as clock.ts's fireTimeFor says.
 */
function wheelInstant(deadline: number, now: number): number {
  const delay = deadline - now;
  let slack = 1;
  while (slack * 2 * SLACK_DIVISOR <= delay && slack * 2 <= RESOLUTION_MS) slack *= 2;
  if (delay >= RESOLUTION_MS * SLACK_DIVISOR) slack = RESOLUTION_MS;
  return Math.ceil(deadline / slack) * slack;
}

/** Deadlines on 128 ms boundaries are fired exactly by the wheel (see DeadlineSpec). */
export const SLOT_MS = 128;

/** One close in this many closes the root (given any child to close instead). */
const ROOT_CLOSE_ODDS = 8;
/** One spawn or open in this many may pick a scope already closing. */
const CLOSED_TARGET_ODDS = 6;

type Err = "Timeout" | "Canceled" | `Closed${string}`;

interface MWaiter {
  readonly op: MOp;
  /** The clause index; -1 for a plain send or recv. */
  readonly index: number;
  readonly value: number;
}

interface MChan {
  readonly cap: number;
  readonly buf: number[];
  closed: boolean;
  senders: MWaiter[];
  receivers: MWaiter[];
}

interface MTimer {
  /** When it is due (ms since the run began); the wheel fires it at `at`, up to 1/16 of its delay later. */
  readonly deadline: number;
  readonly at: number;
  readonly seq: number;
  live: boolean;
  readonly fire: () => void;
}

interface MOp {
  readonly key: string;
  readonly task: MTask | null;
  readonly choose: boolean;
  readonly sleep: boolean;
  readonly cancel: CancelKind;
  waiters: MWaiter[];
  timer: MTimer | null;
  pending: boolean;
}

interface MTask {
  readonly id: number;
  readonly scope: MScope;
  readonly policy: Policy;
  readonly hook: CancelHook;
  canceled: boolean;
  state: "idle" | "blocked" | "done";
  op: MOp | null;
  /** Its last operation failed with `Canceled` and its policy is to leave on that. */
  leaving: boolean;
}

interface MDeadlineWaiter {
  readonly key: string;
  timer: MTimer | null;
}

interface MScope {
  readonly id: number;
  readonly parent: MScope | null;
  readonly handler: boolean;
  state: "open" | "closing" | "closed";
  members: (MTask | MScope)[];
  taskCount: number;
  idle: MDeadlineWaiter[];
  drain: MDeadlineWaiter[];
}

/** A step with every target and deadline resolved, for the real scheduler to run as is. */
export type Concrete =
  | {
    readonly kind: "spawn";
    readonly key: string;
    readonly scope: number;
    readonly task: number;
    readonly policy: Policy;
    readonly hook: CancelHook;
  }
  | { readonly kind: "op"; readonly task: number; readonly key: string; readonly op: ConcreteOp }
  | {
    readonly kind: "open";
    readonly key: string;
    readonly parent: number;
    readonly scope: number;
    readonly handler: boolean;
  }
  | {
    readonly kind: "wait";
    readonly key: string;
    readonly scope: number;
    readonly deadline: number;
  }
  | { readonly kind: "advance"; readonly ms: number }
  | { readonly kind: "burst"; readonly acts: readonly ConcreteAct[] };

/** A call a task may block in, resolved: values and deadlines chosen. */
export type ConcreteBlocking =
  | {
    readonly kind: "send";
    readonly ch: number;
    readonly value: number;
    readonly deadline: number;
    readonly cancel: CancelKind;
  }
  | {
    readonly kind: "recv";
    readonly ch: number;
    readonly deadline: number;
    readonly cancel: CancelKind;
  }
  | {
    readonly kind: "choose";
    readonly clauses: readonly {
      readonly op: "send" | "recv";
      readonly ch: number;
      readonly value: number;
    }[];
    readonly deadline: number;
    readonly cancel: CancelKind;
  }
  | { readonly kind: "sleep"; readonly deadline: number; readonly cancel: CancelKind };

export type ConcreteOp =
  | ConcreteBlocking
  | { readonly kind: "leave"; readonly op: ConcreteBlocking; readonly throws: boolean }
  | { readonly kind: "throw"; readonly canceled: boolean }
  | { readonly kind: "return" };

export type ConcreteAct =
  | { readonly kind: "trySend"; readonly key: string; readonly ch: number; readonly value: number }
  | { readonly kind: "tryRecv"; readonly key: string; readonly ch: number }
  | { readonly kind: "closeCh"; readonly ch: number }
  | { readonly kind: "cancel"; readonly task: number }
  | {
    readonly kind: "close";
    readonly key: string;
    readonly scope: number;
    readonly deadline: number;
  };

/** What the model expects to see after a step. */
export interface Snapshot {
  outcomes: Record<string, string>;
  reports: string[];
  channels: string[];
  scopes: string[];
  tasks: string[];
  timers: number;
}

export class Model {
  /** Virtual ms since the run began. */
  now = 0;
  private readonly base: number;
  private readonly chans: MChan[];
  private readonly scopes: MScope[] = [];
  private readonly tasks: MTask[] = [];
  private timers: MTimer[] = [];
  private timerSeq = 0;
  private nextValue = 1;
  private nextKey = 0;
  readonly outcomes: Record<string, string> = {};
  readonly reports: string[] = [];

  /** `base` is the clock's reading at the start: slot deadlines are boundaries of the clock itself. */
  constructor(caps: readonly number[], base: number) {
    this.base = base;
    this.chans = caps.map((cap) => ({ cap, buf: [], closed: false, senders: [], receivers: [] }));
    this.scopes.push(this.newScope(null, true));
  }

  get channelCount(): number {
    return this.chans.length;
  }

  private newScope(parent: MScope | null, handler: boolean): MScope {
    return {
      id: this.scopes.length,
      parent,
      handler,
      state: "open",
      members: [],
      taskCount: 0,
      idle: [],
      drain: [],
    };
  }

  private key(prefix: string): string {
    return `${prefix}${this.nextKey++}`;
  }

  private record(key: string, what: string): void {
    this.outcomes[key] = `${what}@${this.now}`;
  }

  /** An absolute deadline on the real clock (`base + now` is the clock's reading). */
  private deadline(spec: DeadlineSpec): number {
    switch (spec.kind) {
      case "inf":
        return Infinity;
      case "poll":
        return 0;
      case "short":
        return this.base + this.now + spec.ms;
      case "slot":
        return (Math.floor((this.base + this.now) / SLOT_MS) + 1 + spec.n) * SLOT_MS;
      case "odd":
        return this.base + this.now + spec.ms;
    }
  }

  private local(deadline: number): number {
    return deadline - this.base;
  }

  // ---- timers ----

  private addTimer(deadline: number, fire: () => void): MTimer {
    const timer: MTimer = {
      deadline: this.local(deadline),
      at: this.local(wheelInstant(deadline, this.base + this.now)),
      seq: this.timerSeq++,
      live: true,
      fire,
    };
    this.timers.push(timer);
    return timer;
  }

  /** Its deadline has passed, whether or not the wheel has fired it yet. */
  private expired(timer: MTimer | null): boolean {
    return timer !== null && timer.deadline <= this.now;
  }

  /** Those at the head of `queue` whose deadline has passed are over: they take part in nothing. */
  private dropExpired(queue: MWaiter[]): void {
    while (queue.length > 0 && this.expired(queue[0].op.timer)) this.failOp(queue[0].op, "Timeout");
  }

  private static cancelTimer(timer: MTimer | null): void {
    if (timer !== null) timer.live = false;
  }

  /** Moves the clock `ms` on, firing each instant's timers and letting the tasks react. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => t.live);
      let next = Infinity;
      for (const t of this.timers) next = Math.min(next, t.at);
      if (next > target) break;
      this.now = Math.max(this.now, next);
      const due = this.timers.filter((t) => t.at === next).sort((a, b) => a.seq - b.seq);
      for (const t of due) {
        if (!t.live) continue;
        t.live = false;
        t.fire();
      }
      this.react();
    }
    this.now = target;
  }

  // ---- channels ----

  private finishOp(op: MOp): void {
    op.pending = false;
    for (const w of op.waiters) {
      for (const ch of this.chans) {
        // In place: a caller may be walking the queue.
        for (const queue of [ch.senders, ch.receivers]) {
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
        }
      }
    }
    Model.cancelTimer(op.timer);
    // A call its task left pending as it ended does not bring the task back.
    if (op.task !== null && op.task.op === op) {
      op.task.state = "idle";
      op.task.op = null;
    }
  }

  private won(w: MWaiter, received: number | null): void {
    const op = w.op;
    this.finishOp(op);
    const value = received === null ? "" : ` ${received}`;
    this.record(op.key, op.choose ? `ok #${w.index}${value}` : `ok${value}`);
  }

  private failOp(op: MOp, err: Err): void {
    if (!op.pending) return;
    this.finishOp(op);
    this.record(op.key, err);
    if (err === "Canceled" && op.task !== null && op.task.policy !== "continue") {
      op.task.leaving = true;
    }
  }

  private sleepEnds(op: MOp): void {
    this.finishOp(op);
    this.record(op.key, "ok");
  }

  private static closedAt(index: number): Err {
    return index >= 0 ? `Closed #${index}` : "Closed";
  }

  /** Returns whether the value went out; throws "Closed" on a closed channel. */
  private trySend(ch: MChan, value: number): boolean {
    if (ch.closed) throw new Error("Closed");
    this.dropExpired(ch.receivers);
    const receiver = ch.receivers.shift();
    if (receiver !== undefined) {
      this.won(receiver, value);
      return true;
    }
    if (ch.buf.length < ch.cap) {
      ch.buf.push(value);
      return true;
    }
    return false;
  }

  /** A value, or null for none now; throws "Closed" once closed and drained. */
  private tryRecv(ch: MChan): number | null {
    this.dropExpired(ch.senders);
    if (ch.buf.length > 0) {
      const value = ch.buf.shift() as number;
      const sender = ch.senders.shift();
      if (sender !== undefined) {
        ch.buf.push(sender.value);
        this.won(sender, null);
      }
      return value;
    }
    const sender = ch.senders.shift();
    if (sender !== undefined) {
      this.won(sender, null);
      return sender.value;
    }
    if (ch.closed) throw new Error("Closed");
    return null;
  }

  private closeChannel(ch: MChan): void {
    if (ch.closed) return;
    ch.closed = true;
    for (const queue of [ch.senders, ch.receivers]) {
      while (queue.length > 0) {
        const w = queue[0];
        this.failOp(w.op, this.expired(w.op.timer) ? "Timeout" : Model.closedAt(w.index));
      }
    }
  }

  private ready(ch: MChan): boolean {
    this.dropExpired(ch.senders);
    return ch.buf.length > 0 || ch.senders.length > 0;
  }

  // ---- tasks' operations ----

  /** Blocks `op` with its waiters queued, its deadline armed, listening for its cancellation. */
  private block(op: MOp, deadline: number): void {
    const task = op.task as MTask;
    task.state = "blocked";
    task.op = op;
    if (deadline !== Infinity) op.timer = this.addTimer(deadline, () => this.failOp(op, "Timeout"));
  }

  private runOp(task: MTask, key: string, op: ConcreteOp): void {
    if (op.kind === "leave") {
      this.runOp(task, key, op.op);
      if (op.throws) {
        this.endTask(task, "threw Error");
        this.report(task.scope, `Error t${task.id}`);
      } else {
        this.endTask(task, "returned");
      }
      return;
    }
    const canceled = op.kind !== "throw" && op.kind !== "return" && op.cancel !== "none" &&
      task.canceled;
    const local = (d: number) => d !== Infinity && d !== 0 ? this.local(d) : d;
    const m: MOp = {
      key,
      task,
      choose: op.kind === "choose",
      sleep: op.kind === "sleep",
      cancel: op.kind === "throw" || op.kind === "return" ? "none" : op.cancel,
      waiters: [],
      timer: null,
      pending: true,
    };
    const fail = (err: Err) => {
      this.record(key, err);
      if (err === "Canceled" && task.policy !== "continue") task.leaving = true;
    };
    switch (op.kind) {
      case "return":
        this.endTask(task, "returned");
        return;
      case "throw": {
        const name = op.canceled ? "Canceled" : "Error";
        this.endTask(task, `threw ${name}`);
        if (!op.canceled || !task.canceled) this.report(task.scope, `${name} t${task.id}`);
        return;
      }
      case "sleep": {
        if (canceled) return fail("Canceled");
        if (op.deadline !== Infinity && local(op.deadline) <= this.now) {
          return this.record(key, "ok");
        }
        task.state = "blocked";
        task.op = m;
        if (op.deadline !== Infinity) {
          m.timer = this.addTimer(op.deadline, () => this.sleepEnds(m));
        }
        return;
      }
      case "send": {
        const ch = this.chans[op.ch];
        if (canceled) return fail("Canceled");
        if (ch.closed) return fail("Closed");
        if (this.trySend(ch, op.value)) return this.record(key, "ok");
        if (local(op.deadline) <= this.now) return fail("Timeout");
        const w: MWaiter = { op: m, index: -1, value: op.value };
        m.waiters.push(w);
        ch.senders.push(w);
        return this.block(m, op.deadline);
      }
      case "recv": {
        const ch = this.chans[op.ch];
        if (canceled) return fail("Canceled");
        if (this.ready(ch)) return this.record(key, `ok ${this.tryRecv(ch)}`);
        if (ch.closed) return fail("Closed");
        if (local(op.deadline) <= this.now) return fail("Timeout");
        const w: MWaiter = { op: m, index: -1, value: 0 };
        m.waiters.push(w);
        ch.receivers.push(w);
        return this.block(m, op.deadline);
      }
      case "choose": {
        if (canceled) return fail("Canceled");
        for (let i = 0; i < op.clauses.length; i++) {
          const c = op.clauses[i];
          const ch = this.chans[c.ch];
          if (c.op === "send") {
            if (ch.closed) return fail(Model.closedAt(i));
            if (this.trySend(ch, c.value)) return this.record(key, `ok #${i}`);
          } else {
            if (this.ready(ch)) return this.record(key, `ok #${i} ${this.tryRecv(ch)}`);
            if (ch.closed) return fail(Model.closedAt(i));
          }
        }
        if (local(op.deadline) <= this.now) return fail("Timeout");
        for (let i = 0; i < op.clauses.length; i++) {
          const c = op.clauses[i];
          const w: MWaiter = { op: m, index: i, value: c.value };
          m.waiters.push(w);
          (c.op === "send" ? this.chans[c.ch].senders : this.chans[c.ch].receivers).push(w);
        }
        return this.block(m, op.deadline);
      }
    }
  }

  private report(scope: MScope, what: string): void {
    let s: MScope | null = scope;
    while (s !== null && !s.handler) s = s.parent;
    // The root always has a handler.
    this.reports.push(`${(s as MScope).id}:${what}`);
  }

  // ---- tasks and scopes ----

  private cancelTask(task: MTask): void {
    if (task.canceled || task.state === "done") return;
    task.canceled = true;
    this.endContext(task);
  }

  /** What a cancel, or the task's end, sets off: its hook, then the call it is in ends. */
  private endContext(task: MTask): void {
    // The hook was registered first, so it runs before the calls' own cancellation.
    this.runHook(task);
    const op = task.op;
    if (op === null || !op.pending || op.cancel === "none") return;
    // A deadline that passed came first: a sleep is over, a call timed out.
    if (!this.expired(op.timer)) this.failOp(op, "Canceled");
    else if (op.sleep) this.sleepEnds(op);
    else this.failOp(op, "Timeout");
  }

  private runHook(task: MTask): void {
    if (task.hook.kind === "close") this.closeChannel(this.chans[task.hook.ch]);
    if (task.hook.kind === "throw") this.report(task.scope, `Error c${task.id}`);
  }

  private endTask(task: MTask, how: string): void {
    // Its context ends with it (before its scope hears of its end); a cancelled task's ended
    // at the cancel. A call left pending on no context stays, its task gone.
    if (!task.canceled) this.endContext(task);
    task.state = "done";
    task.op = null;
    this.outcomes[`task${task.id}`] = `${how}@${this.now}`;
    const scope = task.scope;
    scope.members = scope.members.filter((m) => m !== task);
    if (--scope.taskCount === 0) this.release(scope.idle);
    this.finishIfDrained(scope);
  }

  private release(list: MDeadlineWaiter[]): void {
    for (const w of list.splice(0)) {
      Model.cancelTimer(w.timer);
      this.record(w.key, this.expired(w.timer) ? "Timeout" : "ok");
    }
  }

  private finishIfDrained(scope: MScope): void {
    if (scope.state !== "closing" || scope.members.length > 0) return;
    scope.state = "closed";
    this.release(scope.drain);
    const parent = scope.parent;
    if (parent === null) return;
    parent.members = parent.members.filter((m) => m !== scope);
    this.finishIfDrained(parent);
  }

  private beginClose(scope: MScope): void {
    if (scope.state !== "open") return;
    scope.state = "closing";
    for (const m of [...scope.members]) {
      if ("policy" in m) this.cancelTask(m);
      else this.beginClose(m);
    }
    this.finishIfDrained(scope);
  }

  private waitOn(list: MDeadlineWaiter[], key: string, deadline: number): void {
    if (deadline !== Infinity && this.local(deadline) <= this.now) {
      this.record(key, "Timeout");
      return;
    }
    const w: MDeadlineWaiter = { key, timer: null };
    list.push(w);
    if (deadline === Infinity) return;
    w.timer = this.addTimer(deadline, () => {
      const i = list.indexOf(w);
      if (i >= 0) list.splice(i, 1);
      this.record(key, "Timeout");
    });
  }

  /**
   * What the tasks do once the calls they were in have ended: those that leave on `Canceled`
   * (or are cancelled at their gate and do not carry on) finish, the others wait at their gate.
   */
  react(): void {
    for (const task of this.tasks) {
      if (task.state !== "idle") continue;
      const leaves = task.leaving || (task.canceled && task.policy !== "continue");
      if (!leaves) continue;
      this.endTask(task, task.policy === "rethrow" ? "threw Canceled" : "returned");
    }
  }

  // ---- steps ----

  private idleTasks(): MTask[] {
    return this.tasks.filter((t) => t.state === "idle" && !(t.canceled && t.policy !== "continue"));
  }

  private concreteOp(spec: OpSpec): ConcreteOp {
    switch (spec.kind) {
      case "leave":
        return { kind: "leave", op: this.concreteBlocking(spec.op), throws: spec.throws };
      case "throw":
      case "return":
        return spec;
      default:
        return this.concreteBlocking(spec);
    }
  }

  private concreteBlocking(spec: BlockingSpec): ConcreteBlocking {
    const ch = (n: number) => n % this.chans.length;
    switch (spec.kind) {
      case "send":
        return {
          kind: "send",
          ch: ch(spec.ch),
          value: this.nextValue++,
          deadline: this.deadline(spec.deadline),
          cancel: spec.cancel,
        };
      case "recv":
        return {
          kind: "recv",
          ch: ch(spec.ch),
          deadline: this.deadline(spec.deadline),
          cancel: spec.cancel,
        };
      case "choose":
        return {
          kind: "choose",
          clauses: spec.clauses.map((c: ClauseSpec) => ({
            op: c.op,
            ch: ch(c.ch),
            value: c.op === "send" ? this.nextValue++ : 0,
          })),
          deadline: this.deadline(spec.deadline),
          cancel: spec.cancel,
        };
      case "sleep":
        return { kind: "sleep", deadline: this.deadline(spec.deadline), cancel: spec.cancel };
    }
  }

  private concreteHook(hook: CancelHook): CancelHook {
    return hook.kind === "close" ? { kind: "close", ch: hook.ch % this.chans.length } : hook;
  }

  private concreteAct(act: SyncAct): ConcreteAct | null {
    const ch = (n: number) => n % this.chans.length;
    switch (act.kind) {
      case "trySend":
        return { kind: "trySend", key: this.key("try"), ch: ch(act.ch), value: this.nextValue++ };
      case "tryRecv":
        return { kind: "tryRecv", key: this.key("try"), ch: ch(act.ch) };
      case "closeCh":
        return { kind: "closeCh", ch: ch(act.ch) };
      case "cancel":
        return this.tasks.length === 0
          ? null
          : { kind: "cancel", task: act.task % this.tasks.length };
      case "close": {
        const scope = this.closeTarget(act.scope);
        if (scope === null) return null;
        return {
          kind: "close",
          key: this.key("close"),
          scope,
          deadline: this.deadline(act.deadline),
        };
      }
    }
  }

  /** Mostly a child scope: the root closes with the run, and closing it early leaves little to see. */
  private closeTarget(n: number): number | null {
    if (n % ROOT_CLOSE_ODDS === 0) return 0;
    const children = this.scopes.length - 1;
    return children === 0 ? null : 1 + n % children;
  }

  /** Mostly an open scope (any scope, closed ones too, one time in CLOSED_TARGET_ODDS). */
  private liveTarget(n: number): number {
    const open = this.scopes.filter((s) => s.state === "open");
    if (open.length === 0 || n % CLOSED_TARGET_ODDS === 0) return n % this.scopes.length;
    return open[n % open.length].id;
  }

  /** Resolves `step` against the current state; null when it has nothing to act on. */
  concrete(step: Step): Concrete | null {
    switch (step.kind) {
      case "spawn":
        return {
          kind: "spawn",
          key: this.key("spawn"),
          scope: this.liveTarget(step.scope),
          task: this.tasks.length,
          policy: step.policy,
          hook: this.concreteHook(step.hook),
        };
      case "op": {
        const idle = this.idleTasks();
        if (idle.length === 0) return null;
        const task = idle[step.task % idle.length];
        return { kind: "op", task: task.id, key: this.key("op"), op: this.concreteOp(step.op) };
      }
      case "open":
        return {
          kind: "open",
          key: this.key("open"),
          parent: this.liveTarget(step.parent),
          scope: this.scopes.length,
          handler: step.handler,
        };
      case "wait":
        return {
          kind: "wait",
          key: this.key("wait"),
          scope: step.scope % this.scopes.length,
          deadline: this.deadline(step.deadline),
        };
      case "advance":
        return step;
      case "advancePast": {
        // Where a late deadline has passed and its timer not fired: what comes then must find
        // the call over.
        const late = this.timers.filter((t) =>
          t.live && t.deadline + 1 < t.at && t.deadline >= this.now
        );
        if (late.length === 0) return null;
        return { kind: "advance", ms: late[step.timer % late.length].deadline + 1 - this.now };
      }
      case "burst": {
        const acts = step.acts.map((a) => this.concreteAct(a)).filter((a): a is ConcreteAct =>
          a !== null
        );
        return acts.length === 0 ? null : { kind: "burst", acts };
      }
    }
  }

  /** Applies a resolved step, and what the tasks do about it before the next one. */
  apply(step: Concrete): void {
    switch (step.kind) {
      case "spawn": {
        const scope = this.scopes[step.scope];
        if (scope.state !== "open") return this.record(step.key, "Closed");
        const task: MTask = {
          id: step.task,
          scope,
          policy: step.policy,
          hook: step.hook,
          canceled: false,
          state: "idle",
          op: null,
          leaving: false,
        };
        this.tasks.push(task);
        scope.members.push(task);
        scope.taskCount++;
        this.record(step.key, "ok");
        break;
      }
      case "op":
        this.runOp(this.tasks[step.task], step.key, step.op);
        break;
      case "open": {
        const parent = this.scopes[step.parent];
        if (parent.state !== "open") return this.record(step.key, "Closed");
        const scope = this.newScope(parent, step.handler);
        this.scopes.push(scope);
        parent.members.push(scope);
        this.record(step.key, "ok");
        break;
      }
      case "wait": {
        const scope = this.scopes[step.scope];
        if (scope.taskCount === 0) this.record(step.key, "ok");
        else this.waitOn(scope.idle, step.key, step.deadline);
        break;
      }
      case "advance":
        this.advance(step.ms);
        return;
      case "burst":
        for (const act of step.acts) this.act(act);
        break;
    }
    this.react();
  }

  private act(act: ConcreteAct): void {
    switch (act.kind) {
      case "trySend": {
        let out: string;
        try {
          out = String(this.trySend(this.chans[act.ch], act.value));
        } catch {
          out = "Closed";
        }
        this.record(act.key, out);
        return;
      }
      case "tryRecv": {
        let out: string;
        try {
          const v = this.tryRecv(this.chans[act.ch]);
          out = v === null ? "EMPTY" : String(v);
        } catch {
          out = "Closed";
        }
        this.record(act.key, out);
        return;
      }
      case "closeCh":
        this.closeChannel(this.chans[act.ch]);
        return;
      case "cancel":
        this.cancelTask(this.tasks[act.task]);
        return;
      case "close": {
        const scope = this.scopes[act.scope];
        this.beginClose(scope);
        if (scope.state === "closed") this.record(act.key, "ok");
        else this.waitOn(scope.drain, act.key, act.deadline);
        return;
      }
    }
  }

  /** Tasks at their gate that will not leave on their own: told to return at the end. */
  lingering(): number[] {
    return this.tasks.filter((t) => t.state === "idle").map((t) => t.id);
  }

  snapshot(): Snapshot {
    return {
      outcomes: { ...this.outcomes },
      reports: [...this.reports],
      channels: this.chans.map((c) =>
        `${c.buf.length}/${c.senders.length}/${c.receivers.length}/${c.closed}`
      ),
      scopes: this.scopes.map((s) => `${s.members.length}/${s.taskCount}/${s.state !== "open"}`),
      tasks: this.tasks.map((t) => `${t.state === "done"}/${t.canceled}`),
      timers: this.timers.filter((t) => t.live).length,
    };
  }
}
