/**
 * Time for the scheduler: one monotonic clock, absolute deadlines, and a timer
 * wheel that multiplexes any number of timers onto a single runtime timer.
 *
 * Deadlines are absolute milliseconds on {@link now}'s clock, as in libdill:
 * `Infinity` waits forever and any value `<= now()` (conventionally `0`) means
 * "poll": try without blocking and fail with `Timeout` if that is not enough.
 *
 * @module
 */

import { canceledError, type CancelSource, isCanceled, Timeout, whenCanceled } from "./errors.ts";

/** Monotonic milliseconds; unaffected by wall-clock changes. */
export function now(): number {
  return performance.now();
}

/** The absolute deadline `ms` milliseconds from now (`Infinity` stays `Infinity`). */
export function deadlineIn(ms: number): number {
  return ms === Infinity ? Infinity : now() + ms;
}

/**
 * Why a blocking call must not wait for `deadline`: a `Timeout` once it has
 * passed (the poll case), a `RangeError` for NaN. Null when waiting is fine.
 */
export function deadlineError(deadline: number): Error | null {
  if (deadline === Infinity) return null;
  if (deadline <= now()) return new Timeout();
  if (Number.isNaN(deadline)) return new RangeError("deadline is NaN");
  return null;
}

/** A scheduled callback, as returned by {@link TimerWheel.add}. */
export interface Timer {
  /** The absolute deadline it was added with. */
  readonly deadline: number;
  /** True until it fired or was cancelled; never for a deadline of `Infinity`, which never fires. */
  readonly pending: boolean;
  /** Prevents the callback from running. O(1); harmless after it fired. */
  cancel(): void;
}

/**
 * An object a timer calls back instead of a function: an object with many
 * timers over its life (a connection) then needs no closure kept for them.
 */
export interface TimerTarget {
  /** Called when the timer fires. */
  onTimer(): void;
}

/** What a timer runs when it fires. */
export type TimerCallback = (() => void) | TimerTarget;

/** Arms a one-shot runtime timer; returns whatever `ClearTimeoutFn` takes back. */
export type SetTimeoutFn = (callback: () => void, ms: number) => unknown;
/** Disarms a timer armed by the matching {@link SetTimeoutFn}. */
export type ClearTimeoutFn = (handle: unknown) => void;

/** The wheel's resolution unless told otherwise: coarse, because idle timeouts are coarse. */
export const DEFAULT_RESOLUTION_MS = 250;

/**
 * A timer may fire up to 1/SLACK_DIVISOR of its delay late (never more than the
 * resolution). Short waits stay precise, long ones share slots: 10,000 idle
 * timeouts of 5 s land in about 20 slots of one resolution each.
 */
const SLACK_DIVISOR = 16;

/** Runtimes clamp longer delays (Node turns them into 1 ms); we re-arm instead. */
const MAX_RUNTIME_DELAY_MS = 2 ** 31 - 1;

/** Emptied slot objects kept for reuse, so steady churn allocates none. */
const SPARE_SLOTS_LIMIT = 64;

class TimerNode implements Timer {
  prev: TimerNode | null = null;
  next: TimerNode | null = null;
  /** The slot holding it; null once fired, cancelled, or never scheduled (Infinity). */
  slot: Slot | null = null;
  readonly deadline: number;
  callback: TimerCallback | null;
  readonly keepAlive: boolean;
  readonly core: WheelCore;

  constructor(core: WheelCore, deadline: number, callback: TimerCallback, keepAlive: boolean) {
    this.core = core;
    this.deadline = deadline;
    this.callback = callback;
    this.keepAlive = keepAlive;
  }

  get pending(): boolean {
    return this.slot !== null;
  }

  cancel(): void {
    if (this.slot === null) return;
    this.core.unlink(this);
    this.callback = null;
    this.core.afterRemoval();
  }
}

/** Every timer due at one instant (`fireAt`), in insertion order. */
class Slot {
  fireAt = 0;
  head: TimerNode | null = null;
  tail: TimerNode | null = null;
}

type TimerHandle = { ref?: unknown; unref?: unknown };

function setKeepAlive(handle: unknown, keepAlive: boolean): void {
  // Node and Bun hand back objects with ref()/unref(); Deno hands back a number
  // (its timers always keep the process alive, hence clearing when empty).
  if (typeof handle !== "object" || handle === null) return;
  const h = handle as TimerHandle;
  const method = keepAlive ? h.ref : h.unref;
  if (typeof method === "function") method.call(handle);
}

function reportAsync(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

/** All the wheel's state; the exported class is a thin facade over it. */
class WheelCore {
  readonly resolution: number;
  readonly setTimer: SetTimeoutFn;
  readonly clearTimer: ClearTimeoutFn;
  readonly onError: ((err: unknown) => void) | undefined;
  /** Slots by fireAt, to find the one a new timer joins. */
  readonly slots: Map<number, Slot> = new Map();
  /** Min-heap of slots by fireAt; may hold slots emptied by cancel until they surface. */
  readonly heap: Slot[] = [];
  readonly spare: Slot[] = [];
  /** Reused by each tick for the slots it fires. */
  readonly due: Slot[] = [];
  /** Timers scheduled and not yet fired or cancelled. */
  count = 0;
  /** Of those, how many must keep the process alive. */
  keepAliveCount = 0;
  armed = false;
  armedAt = Infinity;
  handle: unknown = undefined;
  readonly tick: () => void = () => this.fireDue();

  constructor(
    resolution: number,
    setTimer: SetTimeoutFn,
    clearTimer: ClearTimeoutFn,
    onError: ((err: unknown) => void) | undefined,
  ) {
    this.resolution = resolution;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.onError = onError;
  }

  add(deadline: number, callback: TimerCallback, keepAlive: boolean): TimerNode {
    const node = new TimerNode(this, deadline, callback, keepAlive);
    if (deadline === Infinity) return node;
    const fireAt = this.fireTimeFor(deadline);
    this.append(this.slots.get(fireAt) ?? this.openSlot(fireAt), node);
    if (keepAlive && ++this.keepAliveCount === 1 && this.armed) setKeepAlive(this.handle, true);
    if (fireAt < this.armedAt) this.arm();
    return node;
  }

  /** The slot instant for `deadline`: at or after it, late by at most the slack. */
  fireTimeFor(deadline: number): number {
    const delay = deadline - now();
    let slack = 1;
    while (slack * 2 * SLACK_DIVISOR <= delay && slack * 2 <= this.resolution) slack *= 2;
    if (delay >= this.resolution * SLACK_DIVISOR) slack = this.resolution;
    return Math.ceil(deadline / slack) * slack;
  }

  openSlot(fireAt: number): Slot {
    const slot = this.spare.pop() ?? new Slot();
    slot.fireAt = fireAt;
    this.slots.set(fireAt, slot);
    this.heapPush(slot);
    return slot;
  }

  append(slot: Slot, node: TimerNode): void {
    node.slot = slot;
    node.prev = slot.tail;
    if (slot.tail === null) slot.head = node;
    else slot.tail.next = node;
    slot.tail = node;
    this.count++;
  }

  unlink(node: TimerNode): void {
    const slot = node.slot as Slot;
    if (node.prev === null) slot.head = node.next;
    else node.prev.next = node.next;
    if (node.next === null) slot.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = node.slot = null;
    this.count--;
    if (node.keepAlive && --this.keepAliveCount === 0 && this.armed) {
      setKeepAlive(this.handle, false);
    }
  }

  /** Nothing left means no runtime timer at all: the wheel must never hold a process open. */
  afterRemoval(): void {
    if (this.count === 0) this.reset();
  }

  reset(): void {
    this.disarm();
    for (const slot of this.heap) this.recycle(slot);
    this.heap.length = 0;
    this.slots.clear();
  }

  recycle(slot: Slot): void {
    slot.head = slot.tail = null;
    if (this.spare.length < SPARE_SLOTS_LIMIT) this.spare.push(slot);
  }

  /** Arms the runtime timer for the earliest non-empty slot, unless one is armed earlier. */
  arm(): void {
    while (this.heap.length > 0 && this.heap[0].head === null) {
      const empty = this.heapPop();
      this.slots.delete(empty.fireAt);
      this.recycle(empty);
    }
    if (this.heap.length === 0) {
      this.disarm();
      return;
    }
    const fireAt = this.heap[0].fireAt;
    // An earlier armed timer is kept: one spurious wake-up is cheaper than re-arming.
    if (this.armed && this.armedAt <= fireAt) return;
    this.disarm();
    const delay = Math.min(Math.max(Math.ceil(fireAt - now()), 0), MAX_RUNTIME_DELAY_MS);
    this.handle = this.setTimer(this.tick, delay);
    this.armed = true;
    this.armedAt = fireAt;
    if (this.keepAliveCount === 0) setKeepAlive(this.handle, false);
  }

  disarm(): void {
    if (!this.armed) return;
    this.clearTimer(this.handle);
    this.handle = undefined;
    this.armed = false;
    this.armedAt = Infinity;
  }

  fireDue(): void {
    this.armed = false;
    this.armedAt = Infinity;
    this.handle = undefined;
    const t = now();
    // Collect before firing: a callback that schedules an already-expired timer
    // waits for the next tick instead of looping here forever.
    while (this.heap.length > 0 && this.heap[0].fireAt <= t) {
      const slot = this.heapPop();
      this.slots.delete(slot.fireAt);
      this.due.push(slot);
    }
    for (let i = 0; i < this.due.length; i++) this.fireSlot(this.due[i]);
    this.due.length = 0;
    if (this.count > 0) this.arm();
    else this.reset();
  }

  fireSlot(slot: Slot): void {
    for (let node = slot.head; node !== null; node = slot.head) {
      const callback = node.callback!;
      node.callback = null;
      this.unlink(node);
      try {
        if (typeof callback === "function") callback();
        else callback.onTimer();
      } catch (err) {
        this.report(err);
      }
    }
    this.recycle(slot);
  }

  report(err: unknown): void {
    if (this.onError === undefined) {
      reportAsync(err);
      return;
    }
    try {
      this.onError(err);
    } catch (handlerErr) {
      reportAsync(handlerErr);
    }
  }

  heapPush(slot: Slot): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(slot);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].fireAt <= slot.fireAt) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = slot;
  }

  heapPop(): Slot {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop() as Slot;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right].fireAt < heap[left].fireAt ? right : left;
      if (heap[child].fireAt >= last.fireAt) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

/**
 * Coarse timers for many waiters at the cost of one runtime timer.
 *
 * Timers due at the same instant share a slot (an intrusive list, so cancel is
 * O(1)); slots sit in a min-heap, and a single runtime timer is armed for the
 * earliest one. A callback runs no earlier than its deadline and no later than
 * `deadline + resolution` plus event-loop lag.
 */
export class TimerWheel {
  private readonly core: WheelCore;

  /**
   * A wheel of its own; most code shares {@link timers}.
   *
   * @param resolutionMs the most a timer may fire late (short delays get less slack).
   * @param setTimeoutFn arms the one runtime timer (defaults to the global `setTimeout`).
   * @param clearTimeoutFn disarms it (defaults to the global `clearTimeout`).
   * @param onError receives errors thrown by callbacks; without it they are re-thrown
   *   from a microtask so the runtime reports them.
   */
  constructor(
    resolutionMs: number = DEFAULT_RESOLUTION_MS,
    setTimeoutFn?: SetTimeoutFn,
    clearTimeoutFn?: ClearTimeoutFn,
    onError?: (err: unknown) => void,
  ) {
    if (!(resolutionMs >= 1 && resolutionMs < Infinity)) {
      throw new RangeError(`timer resolution must be a finite number >= 1 ms, got ${resolutionMs}`);
    }
    this.core = new WheelCore(
      resolutionMs,
      setTimeoutFn ?? ((callback, ms) => setTimeout(callback, ms)),
      clearTimeoutFn ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)),
      onError,
    );
  }

  /**
   * Runs `callback` (or its `onTimer()`) once `deadline` (absolute, see
   * {@link now}) has passed. A deadline of `Infinity` never fires and costs nothing.
   *
   * @param keepAlive whether this timer should keep the process alive. Off by
   *   default: idle timeouts must not stop a server from exiting. Turn it on
   *   for waits a program is actually blocked on (sleeps, operation deadlines).
   */
  add(deadline: number, callback: TimerCallback, keepAlive: boolean = false): Timer {
    if (Number.isNaN(deadline)) throw new RangeError("timer deadline is NaN");
    return this.core.add(deadline, callback, keepAlive);
  }

  /** Whether a runtime timer is currently armed. False whenever nothing is scheduled. */
  get armed(): boolean {
    return this.core.armed;
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get size(): number {
    return this.core.count;
  }

  /** The most a timer may fire late, in ms. */
  get resolution(): number {
    return this.core.resolution;
  }
}

/** The process-wide wheel the scheduler and the HTTP core share. */
export const timers: TimerWheel = new TimerWheel();

const IGNORE = (): void => {};

/**
 * Resolves once `deadline` has passed; rejects with `Canceled` if `cancel`
 * fires first (a task's context also does when the task settles). A deadline
 * already past resolves at once. Keeps the process alive while waiting (except
 * `Infinity`, which only cancellation ends). A sleep its cancellation ends is
 * never reported as an unhandled rejection: whoever started it may be gone.
 */
export function sleep(deadline: number, cancel?: CancelSource): Promise<void> {
  if (isCanceled(cancel)) return Promise.reject(canceledError(cancel));
  if (deadline <= now()) return Promise.resolve();
  let wake!: () => void;
  let fail!: (err: unknown) => void;
  const slept = new Promise<void>((resolve, reject) => {
    wake = resolve;
    fail = reject;
  });
  // The timer cannot fire before `unsubscribe` exists: timers never fire synchronously.
  const timer = timers.add(deadline, () => {
    unsubscribe();
    wake();
  }, true);
  const unsubscribe = whenCanceled(cancel, () => {
    timer.cancel();
    // The wheel fires up to 1/16 of a delay late: a deadline passed in between came first.
    if (deadline <= now()) return wake();
    void slept.catch(IGNORE);
    fail(canceledError(cancel));
  });
  return slept;
}
