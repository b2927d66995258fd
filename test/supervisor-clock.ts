/**
 * A virtual clock for the supervisor's model test (after test/model/clock.ts, which other model
 * tests share): `performance.now()` answers a number the test sets, and the shared timer wheel is
 * fired by hand as that number passes its slots; a run may stop the clock as soon as what it
 * waits for has happened, so that it can see what timers are left at that instant.
 */
import { timers } from "../src/clock.ts";

interface WheelCore {
  heap: { fireAt: number; head: unknown }[];
  disarm(): void;
  fireDue(): void;
}

const core = (timers as unknown as { core: WheelCore }).core;

/** A run that records what it found wrong. */
export interface Violated {
  readonly violations: readonly string[];
  violation(what: string): void;
  go(): Promise<void>;
  settle(): Promise<void>;
}

export class SupClock {
  /** Where each run starts: one value makes runs repeat. */
  static readonly START = 1_000_000;
  private t = SupClock.START;
  private readonly real: () => number = performance.now;

  get now(): number {
    return this.t;
  }

  private nextDue(): number {
    let next = Infinity;
    for (const slot of core.heap) if (slot.head !== null && slot.fireAt < next) next = slot.fireAt;
    return next;
  }

  /**
   * Move `ms` on, firing each timer due on the way at its own time with `settle` run after it;
   * stop at once (the clock left at that timer's time) when `stop` says so.
   */
  async advance(ms: number, settle: () => Promise<void>, stop: () => boolean): Promise<void> {
    const target = this.t + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.nextDue();
      if (due > target) break;
      if (due > this.t) this.t = due;
      // The runtime timer armed for this slot goes first: fired by hand, it would stay armed
      // (for up to a virtual grace, in real time) and hold the test's process open.
      core.disarm();
      core.fireDue();
      await settle();
      if (stop()) return;
    }
    this.t = target;
  }

  /**
   * Play out the run `start` makes with `performance.now()` on this clock; a rejection no one
   * handled is a violation. Every run has its leftover timers run out, so that they cannot
   * fire in the next one.
   */
  async running<R extends Violated>(start: () => R): Promise<R> {
    this.t = SupClock.START;
    performance.now = () => this.t;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const run = start();
      await run.go();
      await new Promise((resolve) => setImmediate(resolve));
      for (const reason of unhandled) run.violation(`unhandled rejection: ${reason}`);
      // What a run may leave (a collect() still waiting) must not fire in the next one.
      await this.advance(10_000_000, () => run.settle(), () => false);
      return run;
    } finally {
      process.off("unhandledRejection", onUnhandled);
      performance.now = this.real;
    }
  }
}
