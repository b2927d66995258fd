import { describe, it } from "node:test";
import assert from "node:assert/strict";

import {
  deadlineError,
  deadlineIn,
  now,
  type SetTimeoutFn,
  sleep,
  type Timer,
  timers,
  TimerWheel,
} from "../src/clock.ts";
import { Canceled, Timeout } from "../src/errors.ts";
import { Scope } from "../src/scope.ts";

/** Generous allowance for event-loop lag on a busy CI machine; never a tight bound. */
const LAG_MS = 500;

/** A wheel whose runtime timers are real ones, counted so tests can see how many were armed. */
function countingWheel(resolution: number, onError?: (err: unknown) => void) {
  const stats = { armedNow: 0, maxArmed: 0, setCalls: 0, clearCalls: 0 };
  const live = new Set<unknown>();
  const set: SetTimeoutFn = (callback, ms) => {
    stats.setCalls++;
    const handle = setTimeout(() => {
      live.delete(handle);
      stats.armedNow = live.size;
      callback();
    }, ms);
    live.add(handle);
    stats.armedNow = live.size;
    stats.maxArmed = Math.max(stats.maxArmed, live.size);
    return handle;
  };
  const clear = (handle: unknown) => {
    stats.clearCalls++;
    clearTimeout(handle as ReturnType<typeof setTimeout>);
    live.delete(handle);
    stats.armedNow = live.size;
  };
  return { wheel: new TimerWheel(resolution, set, clear, onError), stats };
}

/** Resolves when `wheel` has fired or dropped everything. */
async function drained(wheel: TimerWheel): Promise<void> {
  while (wheel.size > 0) await sleep(deadlineIn(5));
}

describe("clock", () => {
  it("now() is monotonic and deadlineIn() is absolute", () => {
    const a = now();
    const b = now();
    assert.ok(b >= a);
    const d = deadlineIn(1000);
    assert.ok(d >= b + 1000);
    assert.equal(deadlineIn(Infinity), Infinity);
  });

  it("deadlineError() tells a blocking call whether it may wait", () => {
    assert.equal(deadlineError(Infinity), null);
    assert.equal(deadlineError(deadlineIn(1000)), null);
    assert.ok(deadlineError(0) instanceof Timeout);
    assert.ok(deadlineError(now() - 1) instanceof Timeout);
    assert.ok(deadlineError(NaN) instanceof RangeError);
  });

  it("sleep() resolves no earlier than its deadline", async () => {
    const deadline = deadlineIn(30);
    await sleep(deadline);
    assert.ok(now() >= deadline);
  });

  it("sleep() with a past deadline resolves at once", async () => {
    const start = now();
    await sleep(0);
    assert.ok(now() - start < LAG_MS);
  });

  it("sleep() rejects with Canceled when its AbortSignal aborts", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    const controller = new AbortController();
    const pending = sleep(deadlineIn(10_000), controller.signal);
    controller.abort();
    await assert.rejects(pending, Canceled);
    assert.equal(timers.size - base, 0);
    if (base === 0) assert.equal(timers.armed, false);
  });

  it("sleep() rejects at once on an already-aborted signal", async () => {
    await assert.rejects(sleep(deadlineIn(10_000), AbortSignal.abort()), Canceled);
  });

  it("sleep() whose deadline has passed resolves when cancelled before the wheel fires it", async () => {
    // The wheel fires a deadline up to 1/16 of its delay late (here 1 s: in the slot 23 ms
    // after it). A cancel that came in between rejected the sleep, though its deadline had
    // passed first.
    const real = performance.now;
    let t = 1_000_001;
    performance.now = () => t;
    const controller = new AbortController();
    try {
      const deadline = now() + 1000;
      const slept = sleep(deadline, controller.signal);
      t = deadline + 10;
      controller.abort();
      await slept;
    } finally {
      performance.now = real; // assigned back, not deleted: on Bun `now` is the object's own
      controller.abort();
    }
  });

  it("sleep() left pending by a task that returned is cancelled, and its timer is gone", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    const scope = new Scope();
    const left: Promise<void>[] = [];
    await scope.go((cx) => {
      left.push(sleep(deadlineIn(2000), cx));
    });
    assert.equal(timers.size - base, 0);
    await assert.rejects(left[0], Canceled);
    await scope.close();
  });

  it("sleep() rejects with Canceled when its task is cancelled", async () => {
    const scope = new Scope();
    const task = scope.go((cx) => sleep(Infinity, cx));
    task.cancel();
    await assert.rejects(task.result, Canceled);
    await scope.close();
  });
});

describe("TimerWheel", () => {
  it("arms nothing until a timer is added, and nothing after it is cancelled", () => {
    const wheel = new TimerWheel(10);
    assert.equal(wheel.armed, false);
    const timer = wheel.add(deadlineIn(1000), () => assert.fail("cancelled timer fired"));
    assert.equal(wheel.armed, true);
    assert.equal(wheel.size, 1);
    assert.equal(timer.pending, true);
    timer.cancel();
    assert.equal(timer.pending, false);
    assert.equal(wheel.size, 0);
    assert.equal(wheel.armed, false);
    timer.cancel(); // harmless twice
  });

  it("calls a TimerTarget's onTimer(), with no closure needed", async () => {
    const wheel = new TimerWheel(5);
    const target = {
      fired: 0,
      at: 0,
      onTimer(): void {
        this.fired++;
        this.at = now();
      },
    };
    const deadline = deadlineIn(15);
    const timer = wheel.add(deadline, target);
    const cancelled = wheel.add(deadlineIn(10), {
      onTimer: () => assert.fail("cancelled target fired"),
    });
    cancelled.cancel();
    await drained(wheel);
    assert.equal(target.fired, 1);
    assert.ok(target.at >= deadline);
    assert.equal(timer.pending, false);
  });

  it("a deadline of Infinity costs no runtime timer", () => {
    const wheel = new TimerWheel(10);
    const timer = wheel.add(Infinity, () => assert.fail("fired"));
    assert.equal(wheel.armed, false);
    assert.equal(wheel.size, 0);
    assert.equal(timer.pending, false);
    timer.cancel();
  });

  it("fires in deadline order and never early", async () => {
    const wheel = new TimerWheel(5);
    const fired: number[] = [];
    const base = now();
    for (const offset of [40, 10, 30, 20, 0]) {
      const deadline = base + offset;
      wheel.add(deadline, () => {
        assert.ok(now() >= deadline, `fired ${deadline - now()} ms early`);
        fired.push(offset);
      });
    }
    await drained(wheel);
    assert.deepEqual(fired, [0, 10, 20, 30, 40]);
    assert.equal(wheel.armed, false);
  });

  it("fires timers with equal deadlines in insertion order", async () => {
    const wheel = new TimerWheel(5);
    const fired: number[] = [];
    const deadline = deadlineIn(10);
    for (let i = 0; i < 5; i++) wheel.add(deadline, () => fired.push(i));
    await drained(wheel);
    assert.deepEqual(fired, [0, 1, 2, 3, 4]);
  });

  it("fires within deadline + resolution (plus generous lag)", async () => {
    const wheel = new TimerWheel(50);
    const deadline = deadlineIn(20);
    let firedAt = 0;
    wheel.add(deadline, () => firedAt = now());
    await drained(wheel);
    assert.ok(firedAt >= deadline);
    assert.ok(firedAt <= deadline + 50 + LAG_MS);
  });

  it("a cancelled timer never fires while its neighbours do", async () => {
    const wheel = new TimerWheel(5);
    const fired: string[] = [];
    const deadline = deadlineIn(15);
    wheel.add(deadline, () => fired.push("a"));
    const b = wheel.add(deadline, () => fired.push("b"));
    wheel.add(deadline, () => fired.push("c"));
    b.cancel();
    await drained(wheel);
    assert.deepEqual(fired, ["a", "c"]);
  });

  it("a callback may cancel a later timer of the same slot", async () => {
    const wheel = new TimerWheel(5);
    const fired: string[] = [];
    const deadline = deadlineIn(10);
    let second: Timer | null = null;
    wheel.add(deadline, () => {
      fired.push("first");
      second?.cancel();
    });
    second = wheel.add(deadline, () => fired.push("second"));
    await drained(wheel);
    assert.deepEqual(fired, ["first"]);
    assert.equal(wheel.armed, false);
  });

  it("a callback may add timers, even already expired ones", async () => {
    const wheel = new TimerWheel(5);
    const fired: string[] = [];
    wheel.add(deadlineIn(5), () => {
      fired.push("outer");
      wheel.add(0, () => fired.push("expired"));
      wheel.add(deadlineIn(10), () => fired.push("later"));
    });
    await drained(wheel);
    assert.deepEqual(fired, ["outer", "expired", "later"]);
  });

  it("keeps at most one runtime timer armed for thousands of timers", async () => {
    const { wheel, stats } = countingWheel(20);
    const base = now();
    const handles: Timer[] = [];
    let fired = 0;
    for (let i = 0; i < 5_000; i++) {
      // Added in increasing deadline order, as idle timeouts are: no re-arming needed.
      handles.push(wheel.add(base + 30 + (i % 50), () => fired++));
    }
    assert.equal(stats.setCalls, 1);
    assert.equal(stats.maxArmed, 1);
    for (let i = 0; i < handles.length; i += 2) handles[i].cancel();
    assert.equal(wheel.size, 2_500);
    await drained(wheel);
    assert.equal(fired, 2_500);
    assert.equal(stats.maxArmed, 1);
    assert.equal(stats.armedNow, 0);
    assert.equal(wheel.armed, false);
    // Coarse slots: far fewer wake-ups than distinct deadlines.
    assert.ok(stats.setCalls < 50, `armed ${stats.setCalls} runtime timers`);
  });

  it("re-arms earlier when an earlier timer arrives", async () => {
    const { wheel, stats } = countingWheel(5);
    const fired: string[] = [];
    const late = wheel.add(deadlineIn(1000), () => fired.push("late"));
    wheel.add(deadlineIn(10), () => fired.push("early"));
    assert.equal(stats.setCalls, 2);
    assert.equal(stats.armedNow, 1);
    while (fired.length === 0) await sleep(deadlineIn(5));
    assert.deepEqual(fired, ["early"]);
    assert.equal(wheel.size, 1);
    assert.equal(wheel.armed, true);
    assert.equal(stats.maxArmed, 1);
    late.cancel();
    assert.equal(wheel.armed, false);
    assert.equal(stats.armedNow, 0);
  });

  it("clears its runtime timer as soon as the last timer is cancelled", () => {
    const { wheel, stats } = countingWheel(5);
    const a = wheel.add(deadlineIn(100), () => {});
    const b = wheel.add(deadlineIn(200), () => {});
    a.cancel();
    assert.equal(wheel.armed, true);
    b.cancel();
    assert.equal(wheel.armed, false);
    assert.equal(stats.armedNow, 0);
  });

  it("a throwing callback is reported and does not break the wheel", async () => {
    const errors: unknown[] = [];
    const wheel = new TimerWheel(5, undefined, undefined, (err) => errors.push(err));
    const fired: string[] = [];
    const deadline = deadlineIn(10);
    wheel.add(deadline, () => {
      throw new Error("boom");
    });
    wheel.add(deadline, () => fired.push("same slot"));
    wheel.add(deadlineIn(20), () => fired.push("later slot"));
    await drained(wheel);
    assert.deepEqual(fired, ["same slot", "later slot"]);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, "boom");
    assert.equal(wheel.armed, false);
  });

  it("unrefs its runtime timer unless a keep-alive timer is scheduled", () => {
    const calls: string[] = [];
    let armed: { ref(): void; unref(): void } | null = null;
    const set: SetTimeoutFn = () => {
      armed = { ref: () => calls.push("ref"), unref: () => calls.push("unref") };
      return armed;
    };
    const wheel = new TimerWheel(10, set, () => {});
    const idle = wheel.add(deadlineIn(1000), () => {});
    assert.ok(armed !== null);
    assert.deepEqual(calls, ["unref"]);
    const blocking = wheel.add(deadlineIn(2000), () => {}, true);
    assert.deepEqual(calls, ["unref", "ref"]);
    blocking.cancel();
    assert.deepEqual(calls, ["unref", "ref", "unref"]);
    idle.cancel();
    assert.equal(wheel.armed, false);
  });

  it("rejects a nonsensical resolution or deadline", () => {
    assert.throws(() => new TimerWheel(0), RangeError);
    assert.throws(() => new TimerWheel(Infinity), RangeError);
    assert.throws(() => new TimerWheel(10).add(NaN, () => {}), RangeError);
  });

  it("the shared wheel has the default resolution", () => {
    // Whether it is idle depends on what else runs in this process (bun test
    // runs every file in one); each test above checks its own timers instead.
    assert.equal(timers.resolution, 250);
  });
});
