/**
 * Structured concurrency: a {@link Scope} owns the tasks it launches (libdill's
 * bundle). Closing a scope cancels everything it owns and waits for it, so no
 * task outlives the code that started it and no failure goes unreported.
 *
 * Cancellation is cooperative: a cancelled task is told (its `canceled` flag,
 * its `onCancel` callbacks, its lazily created `signal`), and the blocking
 * operations it is in reject with `Canceled`; it still has to return.
 *
 * A task's context ends with the task: once it settles (returns, throws, or
 * is cancelled and returns), the context counts as cancelled, so a call the
 * task started on it (or on its signal) and left pending rejects with
 * `Canceled` and leaves its queue, instead of taking a value meant for a live
 * receiver or delivering one long after its sender is gone. Tasks and scopes
 * it opened belong to its scope, not to it, and outlive it.
 *
 * @module
 */

import { deadlineError, now, type Timer, timers } from "./clock.ts";
import { Canceled, type Cancellation, Closed, Timeout } from "./errors.ts";

/** What a task knows about its own cancellation; passed to the function given to `go()`. */
export interface TaskContext extends Cancellation {
  /**
   * True once the task was cancelled (by `task.cancel()` or by closing its
   * scope), and once it has settled: its context ends with it.
   */
  readonly canceled: boolean;
  /**
   * An `AbortSignal` that aborts with a `Canceled` reason when the task is
   * cancelled or settles, for APIs that take one. Created on first access only.
   */
  readonly signal: AbortSignal;
  /**
   * Runs `cb` once on cancellation, or when the task settles uncancelled (at
   * once if either came already); returns the unregister function.
   */
  onCancel(cb: () => void): () => void;
  /** Throws the task's `Canceled` error if it was cancelled (or has settled). */
  throwIfCanceled(): void;
  /** The scope that owns the task, e.g. to open a child scope. */
  readonly scope: Scope;
}

/** Options for a new {@link Scope}. */
export interface ScopeOptions {
  /**
   * Receives every failure of the scope's tasks (and of child scopes without a
   * handler of their own). Without it failures go to the parent scope, and at
   * the root they are re-thrown from a microtask so the runtime reports them.
   */
  onError?: (err: unknown) => void;
}

/** Task states. */
const RUNNING = 0;
const FULFILLED = 1;
const REJECTED = 2;
type TaskState = typeof RUNNING | typeof FULFILLED | typeof REJECTED;

/** Scope states. CLOSED means closing finished: every member is gone. */
const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
type ScopeState = typeof OPEN | typeof CLOSING | typeof CLOSED;

const NOTHING_TO_UNREGISTER = (): void => {};

function reportAsync(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/**
 * A node of the cancellation tree: a task or a child scope, linked into its
 * parent scope's intrusive list while alive and unlinked as soon as it ends.
 */
export interface Member {
  prev: Member | null;
  next: Member | null;
  cancelMember(): void;
}

/** One `onCancel` registration, linked into its task's list. */
class Listener {
  prev: Listener | null = null;
  next: Listener | null = null;
  /** Null once unregistered, fired, or dropped with its finished task. */
  owner: TaskCore<unknown> | null;
  readonly callback: () => void;
  readonly unregister: () => void = () => this.owner?.removeListener(this);

  constructor(owner: TaskCore<unknown>, callback: () => void) {
    this.owner = owner;
    this.callback = callback;
  }
}

/**
 * Something a scope owns without running a task for it: a socket, a
 * connection. Owning one costs two links, where a task costs a record, a
 * promise and closures: it matters when a server holds 10,000 idle
 * connections. Closing the scope calls {@link Owned.cancel}; the owner calls
 * {@link Owned.release} once the thing is gone, which the scope counts like a
 * finished task (`wait()` and `close()` wait for it).
 */
export abstract class Owned {
  /** @internal Links in the owning scope's member list. */
  prev: Member | null = null;
  /** @internal */
  next: Member | null = null;
  /** @internal The owning scope while linked. */
  owner: ScopeCore | null = null;

  /** Tear the thing down; it calls `release()` when it is gone (now or later). */
  abstract cancel(): void;

  /** @internal */
  cancelMember(): void {
    this.cancel();
  }

  /** Tells the owning scope this is gone. Harmless when not owned, or called again. */
  release(): void {
    const owner = this.owner;
    if (owner === null) return;
    this.owner = null;
    owner.memberDone(this);
  }
}

/** A pending `wait()` or `close()`: resolved by the scope, or rejected by its deadline. */
class DeadlineWaiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  timer: Timer | null = null;

  constructor(resolve: () => void, reject: (err: unknown) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

function waitOn(list: DeadlineWaiter[], deadline: number): Promise<void> {
  const late = deadlineError(deadline);
  if (late !== null) return Promise.reject(late);
  return new Promise<void>((resolve, reject) => {
    const waiter = new DeadlineWaiter(resolve, reject);
    list.push(waiter);
    if (deadline === Infinity) return;
    waiter.timer = timers.add(deadline, () => {
      const index = list.indexOf(waiter);
      if (index >= 0) list.splice(index, 1);
      reject(new Timeout());
    }, true);
  });
}

function releaseAll(list: DeadlineWaiter[] | null): void {
  if (list === null || list.length === 0) return;
  for (const waiter of list.splice(0)) {
    const timer = waiter.timer;
    timer?.cancel();
    // The wheel fires up to 1/16 of a delay late: a deadline passed in between came first.
    if (timer !== null && timer.deadline <= now()) waiter.reject(new Timeout());
    else waiter.resolve();
  }
}

/** A task's state; it is also the `TaskContext` its function receives. */
class TaskCore<T> implements TaskContext, Member {
  prev: Member | null = null;
  next: Member | null = null;
  readonly owner: ScopeCore;
  /** The context's: set by a cancel, or when the task settles. */
  canceled = false;
  /** `task.canceled`: whether a cancel came while it ran. */
  cancelRequested = false;
  state: TaskState = RUNNING;
  /** The value or the error, once settled. */
  outcome: unknown = undefined;
  head: Listener | null = null;
  tail: Listener | null = null;
  controller: AbortController | null = null;
  reason: Canceled | null = null;
  /** `task.result`, created only when someone asks for it. */
  result: Promise<T> | null = null;
  resolveResult: ((value: T) => void) | null = null;
  rejectResult: ((err: unknown) => void) | null = null;

  constructor(owner: ScopeCore) {
    this.owner = owner;
  }

  get scope(): Scope {
    return this.owner.facade;
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.canceled) this.controller.abort(this.cancelReason());
    }
    return this.controller.signal;
  }

  cancelReason(): Canceled {
    return (this.reason ??= new Canceled(this.cancelRequested ? "task canceled" : "task ended"));
  }

  throwIfCanceled(): void {
    if (this.canceled) throw this.cancelReason();
  }

  onCancel(cb: () => void): () => void {
    if (this.canceled) {
      cb();
      return NOTHING_TO_UNREGISTER;
    }
    const listener = new Listener(this as TaskCore<unknown>, cb);
    listener.prev = this.tail;
    if (this.tail === null) this.head = listener;
    else this.tail.next = listener;
    this.tail = listener;
    return listener.unregister;
  }

  removeListener(listener: Listener): void {
    if (listener.prev === null) this.head = listener.next;
    else listener.prev.next = listener.next;
    if (listener.next === null) this.tail = listener.prev;
    else listener.next.prev = listener.prev;
    listener.prev = listener.next = listener.owner = null;
  }

  cancelMember(): void {
    this.cancel();
  }

  cancel(): void {
    if (this.canceled) return;
    this.cancelRequested = true;
    this.endContext();
  }

  /** Runs the listeners and aborts the signal: what is pending on the context ends. */
  endContext(): void {
    this.canceled = true;
    // One at a time from the head: a callback may unregister a later listener (e.g. finish an
    // operation that listened too), and that listener must then not run.
    for (let l = this.head; l !== null; l = this.head) {
      this.removeListener(l);
      try {
        l.callback();
      } catch (err) {
        this.owner.report(err);
      }
    }
    this.controller?.abort(this.cancelReason());
  }

  finish(state: typeof FULFILLED | typeof REJECTED, outcome: unknown): void {
    if (this.state !== RUNNING) return;
    this.state = state;
    this.outcome = outcome;
    // Before the scope hears of it: when wait() or close() resolves, nothing the task left
    // pending on its context is in a queue or on the wheel any more.
    if (!this.canceled) this.endContext();
    if (state === FULFILLED) this.resolveResult?.(outcome as T);
    else this.rejectResult?.(outcome);
    this.resolveResult = this.rejectResult = null;
    this.owner.taskDone(this as TaskCore<unknown>);
    // A Canceled from a cancelled task is the expected way out, not a failure.
    if (state === REJECTED && !(this.cancelRequested && outcome instanceof Canceled)) {
      this.owner.report(outcome);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

async function settleWhenDone<T>(task: TaskCore<T>, pending: PromiseLike<T>): Promise<void> {
  let value: T;
  try {
    value = await pending;
  } catch (err) {
    task.finish(REJECTED, err);
    return;
  }
  task.finish(FULFILLED, value);
}

/** Runs the task's function at once, up to its first `await`, like libdill's `go`. */
function start<T>(task: TaskCore<T>, fn: (cx: TaskContext) => PromiseLike<T> | T): void {
  let out: PromiseLike<T> | T;
  try {
    out = fn(task);
  } catch (err) {
    task.finish(REJECTED, err);
    return;
  }
  if (isThenable(out)) void settleWhenDone(task, out as PromiseLike<T>);
  else task.finish(FULFILLED, out);
}

function nearestHandler(scope: ScopeCore | null): ((err: unknown) => void) | undefined {
  while (scope !== null && scope.onError === undefined) scope = scope.parent;
  return scope?.onError;
}

/** @internal A scope's state; the exported class is a thin facade over it. */
export class ScopeCore implements Member {
  prev: Member | null = null;
  next: Member | null = null;
  readonly facade: Scope;
  /** Kept after unlinking too: failures still travel up to the parent's handler. */
  readonly parent: ScopeCore | null;
  readonly onError: ((err: unknown) => void) | undefined;
  state: ScopeState = OPEN;
  head: Member | null = null;
  tail: Member | null = null;
  /** Live members: unfinished tasks plus child scopes not yet closed. */
  size = 0;
  taskCount = 0;
  /** `wait()` callers, released when taskCount reaches 0. */
  idleWaiters: DeadlineWaiter[] | null = null;
  /** `close()` callers, released when the scope is CLOSED. */
  drainWaiters: DeadlineWaiter[] | null = null;

  constructor(
    facade: Scope,
    parent: ScopeCore | null,
    onError: ((err: unknown) => void) | undefined,
  ) {
    this.facade = facade;
    this.parent = parent;
    this.onError = onError;
    if (parent === null) return;
    if (parent.state !== OPEN) throw new Closed("parent scope is closed");
    parent.link(this);
  }

  link(member: Member): void {
    member.prev = this.tail;
    if (this.tail === null) this.head = member;
    else this.tail.next = member;
    this.tail = member;
    this.size++;
  }

  unlink(member: Member): void {
    if (member.prev === null) this.head = member.next;
    else member.prev.next = member.next;
    if (member.next === null) this.tail = member.prev;
    else member.next.prev = member.prev;
    member.prev = member.next = null;
    this.size--;
  }

  go<T>(fn: (cx: TaskContext) => PromiseLike<T> | T): TaskCore<T> {
    if (this.state !== OPEN) throw new Closed("scope is closed");
    const task = new TaskCore<T>(this);
    this.link(task);
    this.taskCount++;
    start(task, fn);
    return task;
  }

  own(member: Owned): void {
    if (this.state !== OPEN) throw new Closed("scope is closed");
    if (member.owner !== null) throw new Error("already owned by a scope");
    member.owner = this;
    this.link(member);
    this.taskCount++;
  }

  taskDone(task: TaskCore<unknown>): void {
    this.memberDone(task);
  }

  memberDone(member: Member): void {
    this.unlink(member);
    if (--this.taskCount === 0) releaseAll(this.idleWaiters);
    this.finishIfDrained();
  }

  cancelMember(): void {
    this.beginClose();
  }

  beginClose(): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    // Snapshot: cancelling may unlink members (an empty child scope closes at once).
    const members: Member[] = [];
    for (let m = this.head; m !== null; m = m.next) members.push(m);
    for (const member of members) {
      // One member failing to cancel must not keep the others from it.
      try {
        member.cancelMember();
      } catch (err) {
        this.report(err);
      }
    }
    this.finishIfDrained();
  }

  finishIfDrained(): void {
    if (this.state !== CLOSING || this.size !== 0) return;
    this.state = CLOSED;
    releaseAll(this.drainWaiters);
    this.parent?.childClosed(this);
  }

  childClosed(child: ScopeCore): void {
    this.unlink(child);
    this.finishIfDrained();
  }

  close(deadline: number): Promise<void> {
    this.beginClose();
    if (this.state === CLOSED) return Promise.resolve();
    return waitOn(this.drainWaiters ??= [], deadline);
  }

  wait(deadline: number): Promise<void> {
    if (this.taskCount === 0) return Promise.resolve();
    return waitOn(this.idleWaiters ??= [], deadline);
  }

  /** Hands a failure to the nearest handler up the tree, or to the runtime. */
  report(err: unknown): void {
    const handler = nearestHandler(this);
    if (handler === undefined) {
      reportAsync(err);
      return;
    }
    try {
      handler(err);
    } catch (handlerErr) {
      reportAsync(handlerErr);
    }
  }
}

let wrapTask: <T>(core: TaskCore<T>) => Task<T>;

/**
 * A handle on a launched task: await it for its result, or cancel it. A failure
 * goes to the scope's `onError` whether or not anyone awaits the task.
 */
export class Task<T> implements PromiseLike<T> {
  static {
    wrapTask = <T>(core: TaskCore<T>): Task<T> => new Task(core);
  }

  private readonly core: TaskCore<T>;

  private constructor(core: TaskCore<T>) {
    this.core = core;
  }

  /**
   * Settles with the task's outcome. Created on first access, so a task nobody
   * awaits leaves no rejected promise behind (its failure goes to `onError`).
   */
  get result(): Promise<T> {
    const core = this.core;
    if (core.result === null) {
      if (core.state === FULFILLED) core.result = Promise.resolve(core.outcome as T);
      else if (core.state === REJECTED) core.result = Promise.reject(core.outcome);
      else {
        core.result = new Promise<T>((resolve, reject) => {
          core.resolveResult = resolve;
          core.rejectResult = reject;
        });
      }
    }
    return core.result;
  }

  /** Awaiting the task awaits {@link Task.result}. */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.result.then(onfulfilled, onrejected);
  }

  /** Requests cancellation; the task still runs until it returns. No-op once finished. */
  cancel(): void {
    this.core.cancel();
  }

  /** Whether the task was cancelled while it ran (its context also ends when it settles). */
  get canceled(): boolean {
    return this.core.cancelRequested;
  }

  /** Whether the task has finished (returned or thrown). */
  get done(): boolean {
    return this.core.state !== RUNNING;
  }
}

/**
 * Owns tasks (libdill's bundle). `close()` cancels them all and waits for them;
 * child scopes are closed with their parent.
 */
export class Scope {
  private readonly core: ScopeCore;

  /**
   * A root scope, or a child of `parent`.
   *
   * @param parent the scope that closes this one when it closes (none for a root);
   *   options may be passed here directly for a root scope.
   */
  constructor(parent?: Scope | ScopeOptions | null, options?: ScopeOptions) {
    if (parent instanceof Scope) {
      this.core = new ScopeCore(this, parent.core, options?.onError);
    } else {
      this.core = new ScopeCore(this, null, (parent ?? options)?.onError);
    }
  }

  /** Launches `fn` as a task owned by this scope. Throws `Closed` once close() was called. */
  go<T>(fn: (cx: TaskContext) => PromiseLike<T> | T): Task<T> {
    return wrapTask(this.core.go(fn));
  }

  /**
   * Takes `member` into the scope without a task: closing the scope calls its
   * `cancel()`, and it counts as a running task until its `release()`. Throws
   * `Closed` once close() was called.
   */
  own(member: Owned): void {
    this.core.own(member);
  }

  /** Opens a child scope, closed (its tasks cancelled) when this one closes. */
  scope(options?: ScopeOptions): Scope {
    return new Scope(this, options);
  }

  /**
   * Cancels every task and child scope, then waits until all have finished.
   * Rejects with `Timeout` if `deadline` passes first (they stay cancelled; a
   * later close() waits again). Idempotent.
   */
  close(deadline: number = Infinity): Promise<void> {
    return this.core.close(deadline);
  }

  /**
   * Waits, without cancelling anything, until the scope owns no running task
   * (tasks launched meanwhile count too). Rejects with `Timeout` at `deadline`.
   */
  wait(deadline: number = Infinity): Promise<void> {
    return this.core.wait(deadline);
  }

  /** Live members: running tasks plus open child scopes. */
  get size(): number {
    return this.core.size;
  }

  /** Running tasks owned directly by this scope. */
  get taskCount(): number {
    return this.core.taskCount;
  }

  /** True once close() was called (or the parent closed): `go()` now throws `Closed`. */
  get closed(): boolean {
    return this.core.state !== OPEN;
  }
}

// `await using scope = new Scope()` closes it, where the runtime has the symbol.
const asyncDispose: unknown = (Symbol as { asyncDispose?: symbol }).asyncDispose;
if (typeof asyncDispose === "symbol") {
  Object.defineProperty(Scope.prototype, asyncDispose, {
    value: function disposeScope(this: Scope): Promise<void> {
      return this.close();
    },
    writable: true,
    configurable: true,
  });
}
