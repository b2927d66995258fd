/**
 * A virtual clock for the connection's deadlines: `performance.now()` (what src/clock.ts reads)
 * answers a number the test sets, and the shared timer wheel is fired by hand when that number
 * passes a slot. The wheel still arms a runtime timer for its earliest slot; should that fire, it
 * finds nothing due that the test has not fired already, so where the runtime's timers fall has
 * no effect on a run.
 */
import { timers } from "../../src/clock.ts";

interface Slot {
  fireAt: number;
  head: unknown;
}

interface WheelCore {
  heap: Slot[];
  slots: Map<number, Slot>;
  count: number;
  keepAliveCount: number;
  arm(): void;
  disarm(): void;
  fireDue(): void;
  reset(): void;
}

/** Timers other suites left on the shared wheel (bun test runs every file in one process). */
interface Aside {
  heap: Slot[];
  slots: Map<number, Slot>;
  count: number;
  keepAliveCount: number;
}

const core = (timers as unknown as { core: WheelCore }).core;

/** Where the virtual clock starts each run: any value does, one value makes runs repeat. */
export const START = 1_000_000;

export class VirtualClock {
  private readonly start: number;
  private t: number;
  private readonly real: () => number;
  private readonly setsAside: boolean;
  private aside: Aside | null = null;

  /**
   * With `setAside`, a run has the wheel to itself: the timers already on it are set aside, so
   * that it neither fires other suites' timers early (their deadlines are on the real clock) nor
   * counts the timers their callbacks would set; what the run leaves is dropped.
   */
  constructor(start: number = START, setAside = false) {
    this.start = this.t = start;
    this.setsAside = setAside;
    this.real = performance.now;
  }

  /** From now on `performance.now()` is this clock. */
  install(): void {
    this.t = this.start;
    performance.now = () => this.t;
    if (!this.setsAside) return;
    core.disarm();
    this.aside = {
      heap: core.heap.splice(0),
      slots: new Map(core.slots),
      count: core.count,
      keepAliveCount: core.keepAliveCount,
    };
    core.slots.clear();
    core.count = core.keepAliveCount = 0;
  }

  /** Give `performance.now()` back (assigned, not deleted: on Bun `now` is the object's own). */
  uninstall(): void {
    performance.now = this.real;
    const aside = this.aside;
    if (aside === null) return;
    this.aside = null;
    core.reset();
    core.heap.push(...aside.heap);
    for (const [fireAt, slot] of aside.slots) core.slots.set(fireAt, slot);
    core.count = aside.count;
    core.keepAliveCount = aside.keepAliveCount;
    core.arm();
  }

  get now(): number {
    return this.t;
  }

  /** The earliest slot of the wheel that holds a timer, or Infinity. */
  private nextDue(): number {
    let next = Infinity;
    for (const slot of core.heap) if (slot.head !== null && slot.fireAt < next) next = slot.fireAt;
    return next;
  }

  /**
   * Move `ms` on, firing every timer that comes due on the way at its own time, with `settle`
   * (microtasks) run after each: what a timer sets off happens before the next one fires. When
   * `stop` says so after a timer, the clock stays at that timer's time.
   */
  async advance(ms: number, settle: () => Promise<void>, stop?: () => boolean): Promise<void> {
    const target = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.nextDue();
      if (due > target) break;
      if (due > this.t) this.t = due;
      // The runtime timer armed for this slot goes first: fired by hand, it would stay armed
      // (for as long as the virtual delay, in real time) and hold the test's process open.
      core.disarm();
      core.fireDue();
      await settle();
      if (stop?.() === true) return;
    }
    this.t = target;
  }
}

/** A model run, as {@link onClock} carries it out. */
export interface ClockedRun {
  readonly violations: readonly string[];
  /** Play the scenario out. */
  go(): Promise<void>;
  /** Record what the run found wrong. */
  violation(what: string): void;
  /** Let what is pending run (microtasks) between two timers. */
  settle(): Promise<void>;
}

/**
 * Make a run with `start` and play it out with `performance.now()` on `clock`; a rejection no
 * one handled is a violation. A run that failed has the timers it left behind run out, so that
 * they cannot fail the next run; with `always`, any run (one may leave timers by design).
 */
export async function onClock<R extends ClockedRun>(
  clock: VirtualClock,
  start: () => R,
  always = false,
): Promise<R> {
  clock.install();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const run = start();
    await run.go();
    // Promises rejected with no handler are reported after a turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    for (const reason of unhandled) run.violation(`unhandled rejection: ${reason}`);
    if (always || run.violations.length > 0) await clock.advance(10_000_000, () => run.settle());
    return run;
  } finally {
    process.off("unhandledRejection", onUnhandled);
    clock.uninstall();
  }
}
