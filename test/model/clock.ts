/**
 * A virtual clock for the connection's deadlines: `performance.now()` (what src/clock.ts reads)
 * answers a number the test sets, and the shared timer wheel is fired by hand when that number
 * passes a slot. The wheel still arms a runtime timer for its earliest slot; should that fire, it
 * finds nothing due that the test has not fired already, so where the runtime's timers fall has
 * no effect on a run.
 */
import { timers } from "../../src/clock.ts";

interface WheelCore {
  heap: { fireAt: number; head: unknown }[];
  fireDue(): void;
}

const core = (timers as unknown as { core: WheelCore }).core;

/** Where the virtual clock starts each run: any value does, one value makes runs repeat. */
const START = 1_000_000;

export class VirtualClock {
  private t = START;
  private readonly real: () => number;

  constructor() {
    this.real = performance.now;
  }

  /** From now on `performance.now()` is this clock. */
  install(): void {
    this.t = START;
    performance.now = () => this.t;
  }

  /** Give `performance.now()` back (assigned, not deleted: on Bun `now` is the object's own). */
  uninstall(): void {
    performance.now = this.real;
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
   * (microtasks) run after each: what a timer sets off happens before the next one fires.
   */
  async advance(ms: number, settle: () => Promise<void>): Promise<void> {
    const target = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.nextDue();
      if (due > target) break;
      if (due > this.t) this.t = due;
      core.fireDue();
      await settle();
    }
    this.t = target;
  }
}
