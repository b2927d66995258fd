/**
 * Channels (libdill's chmake / chsend / chrecv / choose) for async code.
 *
 * A channel hands values from senders to receivers in FIFO order. Capacity 0
 * is a rendezvous: a send completes only when a receiver takes the value.
 * Every blocking call takes an absolute deadline (see `now()` in clock.ts) and
 * an optional cancellation, and rejects with `Timeout`, `Canceled` or `Closed`.
 *
 * Blocked callers wait in intrusive FIFO queues. A caller that gives up (time
 * out, cancellation, another choose() clause won) leaves every queue at once,
 * so it can never swallow a value meant for someone else.
 *
 * A task's context is cancelled when the task settles too (see scope.ts): a
 * call it left pending then ends with `Canceled`. A call its cancellation ends
 * is never reported as an unhandled rejection, since whoever started it may be
 * gone; awaiting it still sees the `Canceled`.
 *
 * @module
 */

import { deadlineError, now, type Timer, timers } from "./clock.ts";
import {
  Canceled,
  canceledError,
  type Cancellation,
  type CancelSource,
  Closed,
  isCanceled,
  Timeout,
  whenCanceled,
} from "./errors.ts";

export type { Cancellation, CancelSource } from "./errors.ts";

/** What `tryRecv()` returns when no value is available right now. */
export const EMPTY: unique symbol = Symbol("binks.channel.empty");
/** The type of {@link EMPTY}. */
export type Empty = typeof EMPTY;

/** One alternative of {@link choose}: receive from `ch`, or send `value` to it. */
export type ChooseClause<T> =
  | { readonly op: "recv"; readonly ch: Channel<T> }
  | { readonly op: "send"; readonly ch: Channel<T>; readonly value: T };

/** The shape every clause has; {@link choose} checks each against its own channel's type. */
export interface ClauseShape {
  /** Receive from `ch`, or send `value` to it. */
  readonly op: "recv" | "send";
  /** The channel. */
  readonly ch: object;
  /** For a send: the value. */
  readonly value?: unknown;
}

/**
 * A clause as its channel allows it: a send's value of the channel's own type (a
 * `Channel<number>` is no `Channel<number | string>`, so one union cannot stand for both).
 */
export type CheckedClause<E> = E extends { readonly op: "send"; readonly ch: Channel<infer V> }
  ? { readonly op: "send"; readonly ch: Channel<V>; readonly value: V }
  : E extends { readonly op: "recv"; readonly ch: Channel<infer V> }
    ? { readonly op: "recv"; readonly ch: Channel<V> }
  : never;

/** Each clause of `C` as its channel allows it. */
export type CheckedClauses<C extends readonly ClauseShape[]> = {
  readonly [K in keyof C]: CheckedClause<C[K]>;
};

/** What a receive among the clauses `C` may give: the union of their channels' types. */
export type Received<C extends readonly ClauseShape[]> = ReceivedBy<C[number]>;

/** The value type of a receiving clause; never for a send. */
export type ReceivedBy<E> = E extends { readonly op: "recv"; readonly ch: Channel<infer V> } ? V
  : never;

/** Which clause of {@link choose} completed, and for a receive, the value received. */
export interface ChooseResult<T> {
  /** The position of the completed clause in the list given to `choose()`. */
  readonly index: number;
  /** The value received; `undefined` for a send clause. */
  readonly value: T | undefined;
}

/** The smallest ring a buffered channel starts with; it doubles up to the capacity. */
const INITIAL_RING_SLOTS = 8;

/** Finished operations kept for reuse, so a steady stream of blocking calls allocates little. */
const OPERATION_POOL_LIMIT = 256;
/** A choose() wider than this is not pooled: it would pin its waiters forever. */
const POOLED_CLAUSES_LIMIT = 8;

const SETTLED: Promise<void> = Promise.resolve();

const IGNORE = (): void => {};

/** One party waiting in a channel's queue: one clause of one blocked operation. */
class Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  /** The queue it is in, or null once it left. */
  queue: WaitQueue | null = null;
  /** For a sender: the value it offers. */
  value: unknown = undefined;
  readonly op: Operation;
  /** Its clause index within the operation (0 for a plain send or recv). */
  readonly index: number;

  constructor(op: Operation, index: number) {
    this.op = op;
    this.index = index;
  }
}

/** FIFO of waiters; removal from the middle is O(1). */
class WaitQueue {
  head: Waiter | null = null;
  tail: Waiter | null = null;
  length = 0;

  push(w: Waiter): void {
    w.queue = this;
    w.prev = this.tail;
    if (this.tail === null) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.length++;
  }

  shift(): Waiter | null {
    const w = this.head;
    if (w !== null) this.remove(w);
    return w;
  }

  remove(w: Waiter): void {
    if (w.prev === null) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = w.queue = null;
    this.length--;
  }
}

const pool: Operation[] = [];

function acquire(clauses: number, isChoose: boolean): Operation {
  const op = pool.pop() ?? new Operation();
  op.prepare(clauses, isChoose);
  return op;
}

/**
 * One blocked call (send, recv or a whole choose) and how it can end: a peer
 * completes one of its waiters, its deadline passes, it is cancelled, or a
 * channel it waits on closes. Whichever comes first settles it exactly once.
 */
class Operation {
  readonly waiters: Waiter[] = [];
  count = 0;
  isChoose = false;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((err: unknown) => void) | null = null;
  /** What the caller was handed, to mark handled when its cancellation ends it. */
  promise: Promise<unknown> | null = null;
  timer: Timer | null = null;
  /** Kept for the error it rejects with; one of the next two undoes the subscription. */
  cancelSource: CancelSource | null = null;
  signal: AbortSignal | null = null;
  unsubscribe: (() => void) | null = null;

  // Bound once per object; pooling then makes them free for every later use.
  readonly capture = (resolve: (value: unknown) => void, reject: (err: unknown) => void): void => {
    this.resolve = resolve;
    this.reject = reject;
  };
  readonly onDeadline = (): void => this.fail(new Timeout());
  readonly onCancel = (): void => {
    // Its task may have left it pending and returned, with nobody to hear the rejection.
    void this.promise?.catch(IGNORE);
    this.fail(this.expired() ? new Timeout() : canceledError(this.cancelSource));
  };

  /** As the AbortSignal listener: no closure needed. */
  handleEvent(): void {
    this.onCancel();
  }

  prepare(clauses: number, isChoose: boolean): void {
    for (let i = this.waiters.length; i < clauses; i++) this.waiters.push(new Waiter(this, i));
    this.count = clauses;
    this.isChoose = isChoose;
  }

  block<R>(deadline: number, cancel: CancelSource | undefined): Promise<R> {
    const promise = new Promise<unknown>(this.capture) as Promise<R>;
    this.promise = promise;
    if (deadline !== Infinity) this.timer = timers.add(deadline, this.onDeadline, true);
    if (cancel !== undefined) this.subscribe(cancel);
    return promise;
  }

  subscribe(cancel: CancelSource): void {
    this.cancelSource = cancel;
    if (typeof (cancel as { onCancel?: unknown }).onCancel !== "function") {
      this.signal = cancel as AbortSignal;
      this.signal.addEventListener("abort", this);
      return;
    }
    const unsubscribe = (cancel as { onCancel(cb: () => void): () => void }).onCancel(
      this.onCancel,
    );
    // A source that calls back synchronously has already settled (and recycled) us.
    if (this.reject === null) unsubscribe();
    else this.unsubscribe = unsubscribe;
  }

  /** `w` was taken by a peer (already out of its queue); `received` is the value for a recv. */
  won(w: Waiter, received: unknown): void {
    const resolve = this.resolve as (value: unknown) => void;
    const result = this.isChoose ? { index: w.index, value: received } : received;
    this.finish();
    resolve(result);
  }

  /**
   * Its deadline has passed, though the wheel, which may fire late, has not told it yet: what
   * ends it now (a peer, a close, a cancel) comes after the deadline, which wins.
   */
  expired(): boolean {
    return this.timer !== null && this.timer.deadline <= now();
  }

  closedAt(w: Waiter): void {
    this.fail(this.expired() ? new Timeout() : closedError(this.isChoose ? w.index : -1));
  }

  fail(err: unknown): void {
    const reject = this.reject;
    if (reject === null) return;
    this.finish();
    reject(err);
  }

  /** Leaves every queue, drops the timer and the subscription, and returns to the pool. */
  finish(): void {
    for (let i = 0; i < this.count; i++) {
      const w = this.waiters[i];
      w.queue?.remove(w);
      w.value = undefined;
    }
    this.timer?.cancel();
    this.timer = null;
    if (this.signal !== null) {
      this.signal.removeEventListener("abort", this);
      this.signal = null;
    }
    if (this.unsubscribe !== null) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
    this.cancelSource = null;
    this.promise = null;
    this.resolve = this.reject = null;
    if (pool.length < OPERATION_POOL_LIMIT && this.waiters.length <= POOLED_CLAUSES_LIMIT) {
      pool.push(this);
    }
  }
}

/**
 * Fails the waiters at the head of `queue` whose deadline has passed: the wheel fires up to 1/16
 * of a delay late, and a peer that comes in between must not hand them a value or take theirs.
 */
function dropExpired(queue: WaitQueue): void {
  for (let w = queue.head; w !== null && w.op.expired(); w = queue.head) w.op.fail(new Timeout());
}

function closedError(index: number): Closed {
  const err = new Closed("channel is closed");
  err.index = index;
  return err;
}

let chooseImpl: <T>(
  clauses: readonly ChooseClause<T>[],
  deadline: number,
  cancel: CancelSource | undefined,
) => Promise<ChooseResult<T>>;

/**
 * A FIFO channel of values of type `T`.
 *
 * @example
 * const ch = new Channel<number>();         // rendezvous
 * scope.go(async () => { await ch.send(1); ch.close(); });
 * for await (const v of ch) console.log(v); // 1, then the loop ends
 */
// Invariant: a channel both takes and gives values, so a `Channel<number>` may stand neither
// for a `Channel<number | string>` (it would be sent a string) nor the other way round.
export class Channel<in out T> implements AsyncIterable<T> {
  static {
    chooseImpl = <T>(
      clauses: readonly ChooseClause<T>[],
      deadline: number,
      cancel: CancelSource | undefined,
    ): Promise<ChooseResult<T>> => {
      if (isCanceled(cancel)) return Promise.reject(canceledError(cancel));
      // Clauses ready at once are taken in array order, like libdill.
      for (let i = 0; i < clauses.length; i++) {
        const clause = clauses[i];
        const ch = clause.ch;
        if (clause.op === "send") {
          if (ch.isClosed) return Promise.reject(closedError(i));
          if (ch.trySend(clause.value)) return Promise.resolve({ index: i, value: undefined });
        } else if (clause.op === "recv") {
          if (ch.readyToRecv()) return Promise.resolve({ index: i, value: ch.tryRecv() as T });
          if (ch.isClosed) return Promise.reject(closedError(i));
        } else {
          return Promise.reject(new TypeError(`choose: clause ${i} has no valid op`));
        }
      }
      const late = deadlineError(deadline);
      if (late !== null) return Promise.reject(late);
      const op = acquire(clauses.length, true);
      for (let i = 0; i < clauses.length; i++) {
        const clause = clauses[i];
        const w = op.waiters[i];
        if (clause.op === "send") {
          w.value = clause.value;
          clause.ch.senders.push(w);
        } else {
          clause.ch.receivers.push(w);
        }
      }
      return op.block<ChooseResult<T>>(deadline, cancel);
    };
  }

  /** How many values it buffers; 0 = rendezvous. */
  readonly capacity: number;
  /** Ring buffer storage; grows up to `capacity`. */
  private ring: (T | undefined)[] = [];
  private first = 0;
  private count = 0;
  private readonly senders: WaitQueue = new WaitQueue();
  private readonly receivers: WaitQueue = new WaitQueue();
  private isClosed = false;

  /** Makes a channel that buffers up to `capacity` values (0, the default: rendezvous). */
  constructor(capacity: number = 0) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`channel capacity must be an integer >= 0, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Values buffered and not yet received. */
  get length(): number {
    return this.count;
  }

  /** Senders blocked in `send()` or `choose()`. */
  get pendingSenders(): number {
    return this.senders.length;
  }

  /** Receivers blocked in `recv()` or `choose()`. */
  get pendingReceivers(): number {
    return this.receivers.length;
  }

  /** True after `close()`. Buffered values may still be received. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Sends without blocking: hands `value` to a waiting receiver or buffers it.
   * Returns false if neither is possible. Throws `Closed` after `close()`.
   */
  trySend(value: T): boolean {
    if (this.isClosed) throw closedError(-1);
    dropExpired(this.receivers);
    const receiver = this.receivers.shift();
    if (receiver !== null) {
      receiver.op.won(receiver, value);
      return true;
    }
    if (this.count < this.capacity) {
      this.pushItem(value);
      return true;
    }
    return false;
  }

  /**
   * Receives without blocking: a buffered value, else one from a waiting
   * sender, else {@link EMPTY}. Throws `Closed` once closed and drained.
   */
  tryRecv(): T | Empty {
    dropExpired(this.senders);
    if (this.count > 0) {
      const value = this.shiftItem();
      // A slot just freed up: the longest-waiting sender's value moves in.
      const sender = this.senders.shift();
      if (sender !== null) {
        this.pushItem(sender.value as T);
        sender.op.won(sender, undefined);
      }
      return value;
    }
    const sender = this.senders.shift();
    if (sender !== null) {
      const value = sender.value as T;
      sender.op.won(sender, undefined);
      return value;
    }
    if (this.isClosed) throw closedError(-1);
    return EMPTY;
  }

  /**
   * Sends `value`, waiting until a receiver takes it (capacity 0) or there is
   * room in the buffer. Rejects with `Timeout` at `deadline` (`0` = don't
   * wait), `Canceled` if `cancel` fires, `Closed` if the channel is or gets closed.
   */
  send(value: T, deadline: number = Infinity, cancel?: CancelSource): Promise<void> {
    if (isCanceled(cancel)) return Promise.reject(canceledError(cancel));
    if (this.isClosed) return Promise.reject(closedError(-1));
    if (this.trySend(value)) return SETTLED;
    const late = deadlineError(deadline);
    if (late !== null) return Promise.reject(late);
    const op = acquire(1, false);
    op.waiters[0].value = value;
    this.senders.push(op.waiters[0]);
    return op.block<void>(deadline, cancel);
  }

  /**
   * Receives a value, waiting for one if needed. After `close()` the buffered
   * values are still delivered; then it rejects with `Closed`. Rejects with
   * `Timeout` at `deadline` (`0` = don't wait) and `Canceled` if `cancel` fires.
   */
  recv(deadline: number = Infinity, cancel?: CancelSource): Promise<T> {
    if (isCanceled(cancel)) return Promise.reject(canceledError(cancel));
    if (this.readyToRecv()) return Promise.resolve(this.tryRecv() as T);
    if (this.isClosed) return Promise.reject(closedError(-1));
    const late = deadlineError(deadline);
    if (late !== null) return Promise.reject(late);
    const op = acquire(1, false);
    this.receivers.push(op.waiters[0]);
    return op.block<T>(deadline, cancel);
  }

  /**
   * Ends the channel for both sides: blocked and later senders get `Closed`;
   * receivers get the buffered values, then `Closed`. Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (let w = this.senders.shift(); w !== null; w = this.senders.shift()) w.op.closedAt(w);
    // Receivers only wait on an empty buffer, so nothing is left for them.
    for (let w = this.receivers.shift(); w !== null; w = this.receivers.shift()) w.op.closedAt(w);
  }

  /** Iterates received values until the channel is closed and drained; `cancel` ends it with `Canceled`. */
  values(cancel?: CancelSource): AsyncIterableIterator<T> {
    return new ChannelIterator(this, cancel);
  }

  /** `for await` receives until the channel is closed and drained, as `values()` does. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return new ChannelIterator(this, undefined);
  }

  /** A value can be had without waiting: buffered, or from a blocked sender still in time. */
  private readyToRecv(): boolean {
    dropExpired(this.senders);
    return this.count > 0 || this.senders.length > 0;
  }

  /** Appends to the ring, growing it when full. */
  private pushItem(value: T): void {
    if (this.count === this.ring.length) this.grow();
    let i = this.first + this.count;
    if (i >= this.ring.length) i -= this.ring.length;
    this.ring[i] = value;
    this.count++;
  }

  /** Takes the oldest buffered value out of the ring. */
  private shiftItem(): T {
    const value = this.ring[this.first] as T;
    this.ring[this.first] = undefined;
    if (++this.first === this.ring.length) this.first = 0;
    this.count--;
    return value;
  }

  /** Doubles the ring (at least `INITIAL_RING_SLOTS`, at most `capacity`), oldest value first. */
  private grow(): void {
    const size = Math.min(this.capacity, Math.max(INITIAL_RING_SLOTS, this.ring.length * 2));
    const ring: (T | undefined)[] = new Array(size);
    for (let i = 0; i < this.count; i++) {
      ring[i] = this.ring[(this.first + i) % this.ring.length];
    }
    this.ring = ring;
    this.first = 0;
  }
}

const ITERATION_DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/**
 * Its own cancellation for each receive it waits on: `return()` ends a `next()` still waiting, so
 * that no value sent later goes into a promise nobody reads.
 */
class ChannelIterator<T> implements AsyncIterableIterator<T>, Cancellation {
  private readonly ch: Channel<T>;
  private readonly cancel: CancelSource | undefined;
  private finished = false;
  /** The waiting receives' cancel hooks, for return(). */
  private readonly stops: (() => void)[] = [];

  constructor(ch: Channel<T>, cancel: CancelSource | undefined) {
    this.ch = ch;
    this.cancel = cancel;
  }

  get canceled(): boolean {
    return this.finished || isCanceled(this.cancel);
  }

  onCancel(cb: () => void): () => void {
    if (this.finished) {
      cb();
      return NO_HOOK;
    }
    const fromCaller = whenCanceled(this.cancel, cb);
    this.stops.push(cb);
    return () => {
      fromCaller();
      const at = this.stops.indexOf(cb);
      if (at >= 0) this.stops.splice(at, 1);
    };
  }

  next(): Promise<IteratorResult<T>> {
    if (this.finished) return Promise.resolve(ITERATION_DONE);
    const next = this.ch.recv(Infinity, this).then(
      (value): IteratorResult<T> => ({ done: false, value }),
      (err: unknown): IteratorResult<T> => {
        if (err instanceof Canceled) {
          // Ended by return() while it waited: nothing was taken.
          if (this.finished) return ITERATION_DONE;
          // As for any call its cancellation ends: its task may be gone.
          void next.catch(IGNORE);
          throw canceledError(this.cancel);
        }
        if (!(err instanceof Closed)) throw err;
        this.finished = true;
        return ITERATION_DONE;
      },
    );
    return next;
  }

  return(): Promise<IteratorResult<T>> {
    this.finished = true;
    for (const stop of this.stops.splice(0)) stop();
    return Promise.resolve(ITERATION_DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

const NO_HOOK = (): void => {};

/**
 * Waits on several channel operations at once and performs exactly one: the
 * first clause that can complete. Clauses ready at the same time are taken in
 * array order. Resolves with the clause's index (and the value, for a recv).
 * Rejects with `Timeout` at `deadline`, `Canceled` if `cancel` fires, and
 * `Closed` (its `index` naming the clause) if a clause's channel is closed.
 *
 * Channels of different types mix: a receive's value is typed as the union of the receiving
 * channels' types, and each send clause's value is checked against its own channel.
 */
export function choose<const C extends readonly ClauseShape[]>(
  clauses: C & CheckedClauses<C>,
  deadline: number = Infinity,
  cancel?: CancelSource,
): Promise<ChooseResult<Received<C>>> {
  return chooseImpl(
    clauses as unknown as readonly ChooseClause<Received<C>>[],
    deadline,
    cancel,
  );
}
