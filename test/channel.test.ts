import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { Channel, choose, EMPTY } from "../src/channel.ts";
import { deadlineIn, now, sleep, timers } from "../src/clock.ts";
import { Canceled, Closed, Timeout } from "../src/errors.ts";
import { Scope } from "../src/scope.ts";

/** Lets every queued microtask and promise job run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: boolean; promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(() => state.settled = true, () => state.settled = true);
  return state;
}

describe("Channel: unbuffered rendezvous", () => {
  it("send completes only once a receiver takes the value", async () => {
    const ch = new Channel<string>();
    const sent = track(ch.send("hello"));
    await settle();
    assert.equal(sent.settled, false);
    assert.equal(ch.pendingSenders, 1);
    assert.equal(await ch.recv(), "hello");
    await sent.promise;
    assert.equal(ch.pendingSenders, 0);
  });

  it("recv waits for a sender", async () => {
    const ch = new Channel<number>();
    const received = track(ch.recv());
    await settle();
    assert.equal(received.settled, false);
    assert.equal(ch.pendingReceivers, 1);
    await ch.send(7);
    assert.equal(await received.promise, 7);
  });

  it("trySend succeeds only with a receiver waiting", async () => {
    const ch = new Channel<number>();
    assert.equal(ch.trySend(1), false);
    const received = ch.recv();
    assert.equal(ch.trySend(2), true);
    assert.equal(await received, 2);
    assert.equal(ch.length, 0);
  });

  it("tryRecv takes from a waiting sender, else returns EMPTY", async () => {
    const ch = new Channel<number>();
    assert.equal(ch.tryRecv(), EMPTY);
    const sent = ch.send(3);
    assert.equal(ch.tryRecv(), 3);
    await sent;
    assert.equal(ch.tryRecv(), EMPTY);
  });

  it("waiting senders are served in FIFO order", async () => {
    const ch = new Channel<number>();
    const sends = [ch.send(1), ch.send(2), ch.send(3)];
    assert.deepEqual([await ch.recv(), await ch.recv(), await ch.recv()], [1, 2, 3]);
    await Promise.all(sends);
  });

  it("waiting receivers are served in FIFO order", async () => {
    const ch = new Channel<number>();
    const receives = [ch.recv(), ch.recv(), ch.recv()];
    for (const v of [1, 2, 3]) assert.equal(ch.trySend(v), true);
    assert.deepEqual(await Promise.all(receives), [1, 2, 3]);
  });
});

describe("Channel: buffered", () => {
  it("buffers up to its capacity, then blocks the sender", async () => {
    const ch = new Channel<number>(2);
    assert.equal(ch.capacity, 2);
    assert.equal(ch.trySend(1), true);
    await ch.send(2);
    assert.equal(ch.length, 2);
    assert.equal(ch.trySend(3), false);
    const third = track(ch.send(3));
    await settle();
    assert.equal(third.settled, false);
    assert.equal(await ch.recv(), 1);
    await third.promise; // the freed slot took the blocked sender's value
    assert.equal(ch.length, 2);
    assert.deepEqual([ch.tryRecv(), ch.tryRecv(), ch.tryRecv()], [2, 3, EMPTY]);
  });

  it("keeps FIFO order across ring growth and wrap-around", () => {
    const ch = new Channel<number>(100);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 10; round++) {
      while (ch.trySend(next)) next++;
      for (let i = 0; i < 37; i++) out.push(ch.tryRecv() as number);
    }
    for (let v = ch.tryRecv(); v !== EMPTY; v = ch.tryRecv()) out.push(v);
    assert.deepEqual(out, Array.from({ length: next }, (_, i) => i));
  });

  it("moves 10,000 values from a producer task to a consumer task intact", async () => {
    const scope = new Scope();
    const ch = new Channel<number>(16);
    scope.go(async () => {
      for (let i = 1; i <= 10_000; i++) await ch.send(i);
      ch.close();
    });
    const total = await scope.go(async () => {
      let sum = 0;
      for await (const v of ch) sum += v;
      return sum;
    });
    assert.equal(total, (10_000 * 10_001) / 2);
    await scope.close();
  });

  it("rejects a capacity that is not a whole number", () => {
    assert.throws(() => new Channel(-1), RangeError);
    assert.throws(() => new Channel(1.5), RangeError);
  });
});

/** `performance.now()` (what the scheduler reads) held at a time the test sets. */
function frozenClock(start: number): { set(t: number): void; restore(): void } {
  const real = performance.now;
  let t = start;
  performance.now = () => t;
  // Assigned back, not deleted: on Bun `now` is the object's own.
  return { set: (next) => t = next, restore: () => performance.now = real };
}

describe("Channel: deadlines", () => {
  it("a poll deadline (0) fails at once with Timeout when it cannot proceed", async () => {
    const ch = new Channel<number>(1);
    await assert.rejects(ch.recv(0), Timeout);
    await ch.send(1, 0);
    await assert.rejects(ch.send(2, 0), Timeout);
    assert.equal(await ch.recv(0), 1);
    assert.equal(ch.pendingSenders + ch.pendingReceivers, 0);
  });

  it("recv rejects with Timeout no earlier than its deadline", async () => {
    const ch = new Channel<number>();
    const deadline = deadlineIn(30);
    await assert.rejects(ch.recv(deadline), Timeout);
    assert.ok(now() >= deadline);
    assert.equal(ch.pendingReceivers, 0);
  });

  it("send rejects with Timeout and its value is never delivered", async () => {
    const ch = new Channel<string>();
    await assert.rejects(ch.send("stale", deadlineIn(20)), Timeout);
    assert.equal(ch.pendingSenders, 0);
    assert.equal(ch.tryRecv(), EMPTY);
    const fresh = ch.send("fresh");
    assert.equal(await ch.recv(), "fresh");
    await fresh;
  });

  it("a timed-out receiver cannot swallow a later value", async () => {
    const ch = new Channel<number>();
    await assert.rejects(ch.recv(deadlineIn(20)), Timeout);
    assert.equal(ch.trySend(1), false); // nobody waits any more
    const next = ch.recv();
    assert.equal(ch.trySend(2), true);
    assert.equal(await next, 2);
  });

  it("a call whose deadline has passed takes no value and gives none, though the wheel fires it later", async () => {
    // The wheel fires a deadline up to 1/16 of its delay late (here 1 s: in the slot 23 ms
    // after it). A peer that comes in between found the call still queued: a receiver was
    // handed a value and a sender had its value taken 10 ms after their deadlines.
    const clock = frozenClock(1_000_001);
    const [receiving, sending, polled, choosing] = [0, 1, 2, 3].map(() => new Channel<number>());
    try {
      const deadline = now() + 1000;
      const received = receiving.recv(deadline);
      const sent = sending.send(1, deadline);
      const polledSent = polled.send(2, deadline);
      const chosen = choose(
        [{ op: "recv", ch: choosing }, { op: "send", ch: sending, value: 3 }],
        deadline,
      );
      // Heard, so that a failed assertion leaves no rejection unhandled.
      for (const p of [received, sent, polledSent, chosen]) p.catch(() => {});
      clock.set(deadline + 10);
      assert.equal(receiving.trySend(4), false);
      assert.equal(choosing.trySend(5), false);
      assert.equal(sending.tryRecv(), EMPTY);
      const poll = polled.recv(0);
      await assert.rejects(received, Timeout);
      await assert.rejects(sent, Timeout);
      await assert.rejects(polledSent, Timeout);
      await assert.rejects(chosen, Timeout);
      await assert.rejects(poll, Timeout);
      for (const ch of [receiving, sending, polled, choosing]) {
        assert.equal(ch.pendingSenders + ch.pendingReceivers, 0);
      }
    } finally {
      clock.restore();
      // Calls left by a failed assertion would keep their timers, far off on the real clock.
      for (const ch of [receiving, sending, polled, choosing]) ch.close();
    }
  });

  it("a call whose deadline has passed times out, though a close or a cancel comes before the wheel fires it", async () => {
    // The wheel fires a deadline up to 1/16 of its delay late (here 1 s: in the slot 23 ms
    // after it). A close or a cancel that came in between failed the call with Closed or
    // Canceled, though its deadline had passed first.
    const clock = frozenClock(1_000_001);
    const [closing, canceling, aborting] = [0, 1, 2].map(() => new Channel<number>());
    const scope = new Scope();
    const controller = new AbortController();
    try {
      const deadline = now() + 1000;
      const closed = closing.recv(deadline);
      const task = scope.go(async (cx) => {
        try {
          await canceling.recv(deadline, cx);
          return "received";
        } catch (err) {
          return (err as Error).name;
        }
      });
      const aborted = aborting.send(1, deadline, controller.signal);
      for (const p of [closed, aborted]) p.catch(() => {});
      clock.set(deadline + 10);
      closing.close();
      task.cancel();
      controller.abort();
      await assert.rejects(closed, Timeout);
      assert.equal(await task, "Timeout");
      await assert.rejects(aborted, Timeout);
    } finally {
      clock.restore();
      controller.abort();
      for (const ch of [closing, canceling, aborting]) ch.close();
      await scope.close();
    }
  });

  it("a NaN deadline is a RangeError, not a wait", async () => {
    const ch = new Channel<number>();
    await assert.rejects(ch.recv(NaN), RangeError);
    await assert.rejects(ch.send(1, NaN), RangeError);
    await assert.rejects(choose([{ op: "recv", ch }], NaN), RangeError);
    assert.equal(ch.pendingSenders + ch.pendingReceivers, 0);
  });

  it("an operation that completes in time leaves no timer behind", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    const ch = new Channel<number>();
    const received = ch.recv(deadlineIn(10_000));
    assert.equal(timers.size - base, 1);
    ch.trySend(5);
    assert.equal(await received, 5);
    assert.equal(timers.size - base, 0);
    if (base === 0) assert.equal(timers.armed, false);
  });
});

describe("Channel: cancellation", () => {
  it("recv rejects with Canceled when its task is cancelled", async () => {
    const scope = new Scope();
    const ch = new Channel<number>();
    const task = scope.go((cx) => ch.recv(Infinity, cx));
    assert.equal(ch.pendingReceivers, 1);
    task.cancel();
    await assert.rejects(task.result, Canceled);
    assert.equal(ch.pendingReceivers, 0);
    assert.equal(ch.trySend(1), false);
    await scope.close();
  });

  it("send rejects with Canceled when its task's scope closes", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    const scope = new Scope();
    const ch = new Channel<number>();
    const task = scope.go((cx) => ch.send(1, deadlineIn(10_000), cx));
    await scope.close();
    await assert.rejects(task.result, Canceled);
    assert.equal(ch.pendingSenders, 0);
    assert.equal(ch.tryRecv(), EMPTY);
    assert.equal(timers.size - base, 0);
  });

  it("a cancelled task fails even when the operation could proceed", async () => {
    const scope = new Scope();
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const task = scope.go(async (cx) => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return ch.recv(0, cx);
    });
    task.cancel();
    await assert.rejects(task.result, Canceled);
    assert.equal(ch.length, 1);
    await scope.close();
  });

  it("rejects with Canceled when an AbortSignal aborts", async () => {
    const ch = new Channel<number>();
    const controller = new AbortController();
    const received = ch.recv(Infinity, controller.signal);
    const sent = ch.send(1, Infinity, new AbortController().signal);
    assert.equal(await received, 1); // the sender's signal never aborted
    await sent;
    const blocked = ch.recv(Infinity, controller.signal);
    controller.abort(new Error("shutting down"));
    const err = await blocked.catch((e: unknown) => e);
    assert.ok(err instanceof Canceled);
    assert.equal(((err as Canceled).cause as Error).message, "shutting down");
    assert.equal(ch.pendingReceivers, 0);
  });

  it("accepts any object with canceled and onCancel", async () => {
    const callbacks = new Set<() => void>();
    const source = {
      canceled: false,
      onCancel(cb: () => void): () => void {
        callbacks.add(cb);
        return () => callbacks.delete(cb);
      },
    };
    const ch = new Channel<number>();
    const sent = ch.send(1, Infinity, source);
    assert.equal(await ch.recv(Infinity, source), 1);
    await sent;
    assert.equal(callbacks.size, 0); // completed operations unsubscribed
    const blocked = ch.recv(Infinity, source);
    assert.equal(callbacks.size, 1);
    source.canceled = true;
    for (const cb of [...callbacks]) cb();
    await assert.rejects(blocked, Canceled);
    assert.equal(callbacks.size, 0);
    assert.equal(ch.pendingReceivers, 0);
  });

  it("copes with a source that calls back from inside onCancel", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    let unsubscribed = 0;
    const eager = {
      canceled: false,
      onCancel(cb: () => void): () => void {
        cb();
        return () => unsubscribed++;
      },
    };
    const ch = new Channel<number>();
    await assert.rejects(ch.recv(deadlineIn(10_000), eager), Canceled);
    assert.equal(unsubscribed, 1);
    assert.equal(ch.pendingReceivers, 0);
    assert.equal(timers.size - base, 0);
    const next = ch.recv(); // the recycled operation works normally
    ch.trySend(2);
    assert.equal(await next, 2);
  });

  it("an already-aborted signal fails at once, even with a value ready", async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    await assert.rejects(ch.recv(Infinity, AbortSignal.abort()), Canceled);
    await assert.rejects(ch.send(2, Infinity, AbortSignal.abort()), Canceled);
    assert.equal(ch.length, 1);
  });
});

describe("Channel: calls a task left pending when it ended", () => {
  it("a receive left pending takes no value: the live receivers get theirs, in order", async () => {
    const errors: unknown[] = [];
    const scope = new Scope({ onError: (err) => errors.push(err) });
    const ch = new Channel<number>();
    const left: Promise<number>[] = [];
    const first = ch.recv(deadlineIn(1000));
    // A task ends in each way: at once, after an await, by throwing.
    scope.go((cx) => {
      left.push(ch.recv(Infinity, cx));
    });
    await scope.go(async (cx) => {
      await settle();
      left.push(ch.recv(Infinity, cx));
    });
    await scope.go(async (cx) => {
      await settle();
      left.push(ch.recv(Infinity, cx));
      throw new Error("gave up");
    }).result.catch(() => {});
    const second = ch.recv(deadlineIn(1000));
    assert.equal(ch.pendingReceivers, 2);
    for (const recv of left) await assert.rejects(recv, Canceled);
    assert.equal(ch.trySend(1), true);
    assert.equal(ch.trySend(2), true);
    assert.equal(ch.trySend(3), false);
    assert.equal(await first, 1);
    assert.equal(await second, 2);
    assert.deepEqual(errors.map((e) => (e as Error).message), ["gave up"]);
    await scope.close();
  });

  it("a send left pending is never delivered, on a rendezvous or a full buffer", async () => {
    for (const capacity of [0, 1]) {
      const scope = new Scope();
      const ch = new Channel<number>(capacity);
      if (capacity === 1) ch.trySend(1);
      const left: Promise<void>[] = [];
      await scope.go(async (cx) => {
        await settle();
        left.push(ch.send(2, Infinity, cx));
      });
      const live = ch.send(3, deadlineIn(1000));
      assert.equal(ch.pendingSenders, 1, `capacity ${capacity}`);
      await assert.rejects(left[0], Canceled);
      const got: (number | typeof EMPTY)[] = [];
      for (let i = 0; i < 3; i++) got.push(ch.tryRecv());
      assert.deepEqual(got, capacity === 1 ? [1, 3, EMPTY] : [3, EMPTY, EMPTY]);
      await live;
      await scope.close();
    }
  });

  it("a choose, a receive on the task's signal and an iterator's next() left pending leave every queue", async () => {
    const scope = new Scope();
    const a = new Channel<number>();
    const b = new Channel<number>();
    const c = new Channel<number>();
    const left: Promise<unknown>[] = [];
    await scope.go((cx) => {
      left.push(choose([{ op: "recv", ch: a }, { op: "send", ch: b, value: 5 }], Infinity, cx));
      left.push(a.recv(Infinity, cx.signal));
      left.push(c.values(cx).next());
    });
    assert.deepEqual([a.pendingReceivers, b.pendingSenders, c.pendingReceivers], [0, 0, 0]);
    for (const call of left) await assert.rejects(call, Canceled);
    assert.equal(a.trySend(1), false);
    assert.equal(b.tryRecv(), EMPTY);
    assert.equal(c.trySend(2), false);
    await scope.close();
  });

  it("what a task left pending is never an unhandled rejection, and leaves no timer", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      const scope = new Scope();
      const chans = [0, 1, 2, 3, 4].map(() => new Channel<number>());
      await scope.go(async (cx) => {
        await settle();
        void chans[0].recv(deadlineIn(10_000), cx);
        void chans[1].send(1, deadlineIn(10_000), cx);
        void choose([{ op: "recv", ch: chans[2] }], deadlineIn(10_000), cx);
        void chans[3].recv(deadlineIn(10_000), cx.signal);
        void chans[4].values(cx).next();
        void sleep(deadlineIn(10_000), cx);
      });
      await scope.close();
      // Runtimes report a rejection nobody handled once the microtasks have run out.
      await settle();
      await settle();
      assert.deepEqual(chans.map((ch) => ch.pendingSenders + ch.pendingReceivers), [0, 0, 0, 0, 0]);
      assert.equal(timers.size - base, 0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });
});

describe("Channel: close", () => {
  it("fails pending senders and receivers with Closed", async () => {
    const senders = new Channel<number>();
    const sends = [senders.send(1), senders.send(2)];
    const receivers = new Channel<number>();
    const receives = [receivers.recv(), receivers.recv()];
    senders.close();
    receivers.close();
    for (const p of [...sends, ...receives]) await assert.rejects(p, Closed);
    assert.equal(senders.pendingSenders, 0);
    assert.equal(receivers.pendingReceivers, 0);
  });

  it("receivers drain the buffer first, then get Closed", async () => {
    const ch = new Channel<number>(3);
    ch.trySend(1);
    ch.trySend(2);
    ch.close();
    assert.equal(ch.closed, true);
    assert.equal(await ch.recv(), 1);
    assert.equal(ch.tryRecv(), 2);
    await assert.rejects(ch.recv(), Closed);
    assert.throws(() => ch.tryRecv(), Closed);
  });

  it("sending after close fails with Closed; close is idempotent", async () => {
    const ch = new Channel<number>(1);
    ch.close();
    ch.close();
    await assert.rejects(ch.send(1), Closed);
    assert.throws(() => ch.trySend(1), Closed);
  });

  it("for await ends cleanly at close", async () => {
    const ch = new Channel<number>(2);
    const scope = new Scope();
    scope.go(async () => {
      for (const v of [1, 2, 3, 4]) await ch.send(v);
      ch.close();
    });
    const seen: number[] = [];
    for await (const v of ch) seen.push(v);
    assert.deepEqual(seen, [1, 2, 3, 4]);
    await scope.close();
  });

  it("breaking out of for await leaves the rest in the channel", async () => {
    const ch = new Channel<number>(3);
    for (const v of [1, 2, 3]) ch.trySend(v);
    for await (const v of ch) {
      assert.equal(v, 1);
      break;
    }
    assert.equal(ch.length, 2);
  });

  it("values(signal) ends with Canceled when the signal aborts", async () => {
    const ch = new Channel<number>();
    const controller = new AbortController();
    const seen: number[] = [];
    const loop = (async () => {
      for await (const v of ch.values(controller.signal)) seen.push(v);
    })();
    await ch.send(1);
    controller.abort();
    await assert.rejects(loop, Canceled);
    assert.deepEqual(seen, [1]);
  });

  it("values(signal) keeps the signal's reason", async () => {
    const ch = new Channel<number>();
    const controller = new AbortController();
    const pending = ch.values(controller.signal).next();
    const why = new Error("stop");
    controller.abort(why);
    await assert.rejects(pending, (err: unknown) => err instanceof Canceled && err.cause === why);
  });

  // Seen by the scheduler model's helper: a next() still waiting when return() came went on
  // waiting, and took the next value sent, into a promise no one read.
  it("return() ends a next() still waiting: the value sent later stays for another receiver", async () => {
    const ch = new Channel<number>();
    const it = ch.values();
    const waiting = it.next();
    assert.deepEqual(await it.return!(), { done: true, value: undefined });
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.equal(ch.trySend(7), false, "no receiver waits any more");
    const later = ch.recv();
    assert.equal(ch.trySend(8), true);
    assert.equal(await later, 8);
  });
});

describe("choose", () => {
  it("types a receive as the union of its channels, and each send by its own channel", async () => {
    const nums = new Channel<number>(1);
    const strs = new Channel<string>(1);
    strs.trySend("s");
    const got = await choose([{ op: "recv", ch: nums }, { op: "recv", ch: strs }]);
    const value: number | string | undefined = got.value;
    assert.deepEqual([got.index, value], [1, "s"]);
    const sent = await choose([{ op: "send", ch: nums, value: 1 }, { op: "recv", ch: strs }]);
    // A send gives no value: the result's type has only the receiving channels'.
    const none: string | undefined = sent.value;
    assert.deepEqual([sent.index, none], [0, undefined]);
    assert.equal(nums.tryRecv(), 1);
    // Compile-time only, checked by tsc and deno check (never run): the two lines below fail
    // to type-check, which is what the directives assert.
    const refused = () => {
      // @ts-expect-error a Channel<number> is sent no string
      void choose([{ op: "send", ch: nums, value: "not a number" }, { op: "recv", ch: strs }]);
      // @ts-expect-error a Channel<number> is no Channel<number | string>
      const mixed: Channel<number | string> = nums;
      return mixed;
    };
    assert.equal(typeof refused, "function");
  });

  it("takes ready clauses in array order", async () => {
    const a = new Channel<string>(1);
    const b = new Channel<string>(1);
    a.trySend("a");
    b.trySend("b");
    assert.deepEqual(await choose([{ op: "recv", ch: a }, { op: "recv", ch: b }]), {
      index: 0,
      value: "a",
    });
    a.trySend("a");
    assert.deepEqual(await choose([{ op: "recv", ch: b }, { op: "recv", ch: a }]), {
      index: 0,
      value: "b",
    });
    assert.deepEqual(await choose([{ op: "recv", ch: b }, { op: "recv", ch: a }]), {
      index: 1,
      value: "a",
    });
  });

  it("performs a send clause when it can", async () => {
    const full = new Channel<number>(1);
    full.trySend(0);
    const free = new Channel<number>(1);
    const result = await choose([
      { op: "send", ch: full, value: 1 },
      { op: "send", ch: free, value: 2 },
    ]);
    assert.deepEqual(result, { index: 1, value: undefined });
    assert.equal(free.tryRecv(), 2);
    assert.equal(full.tryRecv(), 0);
    assert.equal(full.tryRecv(), EMPTY);
  });

  it("blocks until one clause completes, then leaves every other queue", async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const out = new Channel<number>();
    const pending = choose([
      { op: "recv", ch: a },
      { op: "recv", ch: b },
      { op: "send", ch: out, value: 99 },
    ]);
    assert.equal(a.pendingReceivers + b.pendingReceivers + out.pendingSenders, 3);
    assert.equal(b.trySend(2), true);
    // Exactly one clause fired: the others can no longer take or give a value.
    assert.equal(a.trySend(1), false);
    assert.equal(out.tryRecv(), EMPTY);
    assert.equal(a.pendingReceivers + b.pendingReceivers + out.pendingSenders, 0);
    assert.deepEqual(await pending, { index: 1, value: 2 });
  });

  it("a blocked send clause completes when a receiver arrives", async () => {
    const out = new Channel<string>();
    const never = new Channel<string>();
    const pending = choose([{ op: "recv", ch: never }, { op: "send", ch: out, value: "x" }]);
    assert.equal(await out.recv(), "x");
    assert.deepEqual(await pending, { index: 1, value: undefined });
    assert.equal(never.pendingReceivers, 0);
  });

  it("may send and receive on the same channel without matching itself", async () => {
    const ch = new Channel<number>();
    const pending = choose([{ op: "send", ch, value: 1 }, { op: "recv", ch }]);
    assert.equal(ch.pendingSenders + ch.pendingReceivers, 2);
    assert.equal(await ch.recv(), 1);
    assert.deepEqual(await pending, { index: 0, value: undefined });
    assert.equal(ch.pendingSenders + ch.pendingReceivers, 0);
  });

  it("rejects with Timeout at its deadline and leaves no stale waiter", async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    await assert.rejects(choose([{ op: "recv", ch: a }, { op: "recv", ch: b }], 0), Timeout);
    const deadline = deadlineIn(30);
    await assert.rejects(
      choose([{ op: "recv", ch: a }, { op: "recv", ch: b }], deadline),
      Timeout,
    );
    assert.ok(now() >= deadline);
    assert.equal(a.pendingReceivers + b.pendingReceivers, 0);
    // A value sent after the timeout goes to the next receiver, not to the dead choose.
    const sent = a.send(5);
    assert.equal(await a.recv(), 5);
    await sent;
  });

  it("rejects with Canceled when cancelled", async () => {
    const a = new Channel<number>();
    const scope = new Scope();
    const task = scope.go((cx) => choose([{ op: "recv", ch: a }], Infinity, cx));
    await scope.close();
    await assert.rejects(task.result, Canceled);
    assert.equal(a.pendingReceivers, 0);
    await assert.rejects(choose([{ op: "recv", ch: a }], 0, AbortSignal.abort()), Canceled);
  });

  it("rejects with Closed naming the clause whose channel is closed", async () => {
    const open = new Channel<number>();
    const closed = new Channel<number>();
    closed.close();
    const err = await choose([{ op: "recv", ch: open }, { op: "recv", ch: closed }]).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof Closed);
    assert.equal((err as Closed).index, 1);

    const later = new Channel<number>();
    const pending = choose([{ op: "recv", ch: open }, { op: "send", ch: later, value: 1 }]);
    later.close();
    const err2 = await pending.catch((e: unknown) => e);
    assert.ok(err2 instanceof Closed);
    assert.equal((err2 as Closed).index, 1);
    assert.equal(open.pendingReceivers, 0);
  });

  it("a closed clause earlier in the array wins over a ready one later", async () => {
    const closed = new Channel<number>();
    closed.close();
    const ready = new Channel<number>(1);
    ready.trySend(1);
    await assert.rejects(choose([{ op: "recv", ch: closed }, { op: "recv", ch: ready }]), Closed);
    assert.equal(ready.length, 1);
  });

  it("survives many rounds of waiter reuse without crossing values", async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    for (let i = 0; i < 200; i++) {
      const pending = choose([{ op: "recv", ch: a }, { op: "recv", ch: b }]);
      const target = i % 2 === 0 ? a : b;
      assert.equal(target.trySend(i), true);
      assert.deepEqual(await pending, { index: i % 2, value: i });
      await assert.rejects(a.recv(0), Timeout);
    }
    assert.equal(a.pendingReceivers + b.pendingReceivers, 0);
  });
});
