import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { deadlineIn, now, sleep, timers } from "../src/clock.ts";
import { Channel } from "../src/channel.ts";
import { Canceled, Closed, Timeout } from "../src/errors.ts";
import { Owned, Scope, type TaskContext } from "../src/scope.ts";

/** Lets every queued microtask and promise job run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

describe("Scope: tasks", () => {
  it("go() runs a task and its handle resolves with the result", async () => {
    const scope = new Scope();
    const task = scope.go(async () => {
      await settle();
      return 42;
    });
    assert.equal(scope.taskCount, 1);
    assert.equal(task.done, false);
    assert.equal(await task, 42);
    assert.equal(await task.result, 42);
    assert.equal(task.done, true);
    assert.equal(scope.taskCount, 0);
    await scope.close();
  });

  it("runs the task function at once, up to its first await", () => {
    const scope = new Scope();
    const steps: string[] = [];
    scope.go(async () => {
      steps.push("started");
      await settle();
      steps.push("resumed");
    });
    steps.push("after go");
    assert.deepEqual(steps, ["started", "after go"]);
    return scope.close();
  });

  it("a synchronous task finishes inside go()", async () => {
    const scope = new Scope();
    const task = scope.go(() => "sync");
    assert.equal(task.done, true);
    assert.equal(scope.size, 0);
    assert.equal(await task, "sync");
    await scope.close();
  });

  it("task.cancel() cancels only that task", async () => {
    const scope = new Scope();
    const a = scope.go((cx) => sleep(Infinity, cx));
    const b = scope.go(async (cx) => {
      await sleep(deadlineIn(20), cx);
      return "b finished";
    });
    a.cancel();
    await assert.rejects(a.result, Canceled);
    assert.equal(a.canceled, true);
    assert.equal(await b, "b finished");
    assert.equal(b.canceled, false);
    await scope.close();
  });

  it("cancelling a finished task is a no-op", async () => {
    const scope = new Scope();
    const task = scope.go(() => 1);
    task.cancel();
    assert.equal(task.canceled, false);
    assert.equal(await task, 1);
    await scope.close();
  });

  it("the task sees cancellation through canceled, onCancel, throwIfCanceled and signal", async () => {
    const scope = new Scope();
    const seen: string[] = [];
    let context: TaskContext | null = null;
    const task = scope.go(async (cx) => {
      context = cx;
      assert.equal(cx.scope, scope);
      cx.onCancel(() => seen.push("callback"));
      const removed = cx.onCancel(() => seen.push("unregistered"));
      removed();
      removed(); // twice is harmless
      cx.signal.addEventListener("abort", () => seen.push("signal"));
      assert.equal(cx.canceled, false);
      cx.throwIfCanceled();
      await sleep(Infinity, cx);
    });
    task.cancel();
    assert.deepEqual(seen, ["callback", "signal"]);
    await assert.rejects(task.result, Canceled);
    const cx = context as unknown as TaskContext;
    assert.equal(cx.canceled, true);
    assert.ok(cx.signal.aborted);
    assert.ok(cx.signal.reason instanceof Canceled);
    assert.throws(() => cx.throwIfCanceled(), Canceled);
    // Registering after cancellation runs the callback at once.
    let late = false;
    cx.onCancel(() => late = true);
    assert.equal(late, true);
    await scope.close();
  });

  it("a signal first read after cancellation is already aborted", async () => {
    const scope = new Scope();
    let aborted = false;
    const task = scope.go(async (cx) => {
      await sleep(Infinity, cx).catch(() => {});
      aborted = cx.signal.aborted;
    });
    task.cancel();
    await task;
    assert.equal(aborted, true);
    await scope.close();
  });
});

describe("Scope: cancel listeners", () => {
  it("a listener unregistered by an earlier one during the cancel does not run", async () => {
    const scope = new Scope();
    const ran: string[] = [];
    const task = scope.go(async (cx) => {
      let second = (): void => {};
      cx.onCancel(() => {
        ran.push("first");
        second();
      });
      second = cx.onCancel(() => ran.push("second"));
      await sleep(Infinity, cx);
    });
    task.cancel();
    await assert.rejects(task.result, Canceled);
    assert.deepEqual(ran, ["first"]);
    await scope.close();
  });

  it("a send started while its task is cancelled waits for a receiver, however it was pooled", async () => {
    // The common shape: on cancel, close the input and report on another channel. The recv
    // that listened for the cancel is finished by the close, and its pooled operation may be
    // the one the send gets: that send must not hear the cancel meant for the recv.
    const scope = new Scope();
    const jobs = new Channel<string>();
    const log = new Channel<string>();
    let sent: Promise<void> | null = null;
    const worker = scope.go(async (cx) => {
      cx.onCancel(() => {
        jobs.close();
        sent = log.send("worker stopping", Infinity);
      });
      await jobs.recv(Infinity, cx).catch(() => {});
    });
    await settle();
    worker.cancel();
    await scope.close(deadlineIn(1000));
    assert.equal(log.pendingSenders, 1);
    assert.equal(await log.recv(deadlineIn(1000)), "worker stopping");
    await sent;
  });
});

describe("Scope: a task's context ends with the task", () => {
  it("once the task returns, its callbacks still registered run and its signal aborts; task.canceled stays false", async () => {
    const scope = new Scope();
    const seen: string[] = [];
    let context: TaskContext | null = null;
    const task = scope.go(async (cx) => {
      context = cx;
      cx.onCancel(() => seen.push("callback"));
      const removed = cx.onCancel(() => seen.push("unregistered"));
      removed();
      cx.signal.addEventListener("abort", () => seen.push("signal"));
      await settle();
      assert.equal(cx.canceled, false);
      return 1;
    });
    assert.equal(await task, 1);
    assert.deepEqual(seen, ["callback", "signal"]);
    assert.equal(task.canceled, false);
    const cx = context as unknown as TaskContext;
    assert.equal(cx.canceled, true);
    assert.ok(cx.signal.reason instanceof Canceled);
    assert.equal((cx.signal.reason as Canceled).message, "task ended");
    // What is started on it afterwards fails at once.
    let late = false;
    cx.onCancel(() => late = true);
    assert.equal(late, true);
    assert.throws(() => cx.throwIfCanceled(), Canceled);
    await assert.rejects(new Channel<number>().recv(Infinity, cx), Canceled);
    await scope.close();
  });

  it("a task that throws ends its context before its failure is reported", async () => {
    const order: string[] = [];
    const scope = new Scope({ onError: (err) => order.push((err as Error).message) });
    scope.go((cx) => {
      cx.onCancel(() => order.push("callback"));
      cx.onCancel(() => {
        throw new Error("callback failed");
      });
      throw new Error("task failed");
    });
    assert.deepEqual(order, ["callback", "callback failed", "task failed"]);
    await scope.close();
  });

  it("a cancelled task's callbacks run once, at the cancel, not again when it ends", async () => {
    const scope = new Scope();
    let runs = 0;
    const task = scope.go(async (cx) => {
      cx.onCancel(() => runs++);
      await sleep(Infinity, cx).catch(() => {});
      assert.equal(runs, 1);
    });
    task.cancel();
    await task;
    assert.equal(runs, 1);
    assert.equal(task.canceled, true);
    await scope.close();
  });

  it("the tasks and scopes it opened belong to its scope and outlive it", async () => {
    const scope = new Scope();
    const ch = new Channel<string>();
    let child: Scope | null = null;
    await scope.go((cx) => {
      child = cx.scope.scope();
      child.go((inner) => ch.send("from the child", Infinity, inner));
      cx.scope.go((sibling) => ch.send("from the sibling", Infinity, sibling));
    });
    const opened = child as unknown as Scope;
    assert.equal(opened.closed, false);
    assert.equal(ch.pendingSenders, 2);
    assert.equal(await ch.recv(deadlineIn(1000)), "from the child");
    assert.equal(await ch.recv(deadlineIn(1000)), "from the sibling");
    await scope.close();
  });

  it("a scope closed while tasks left calls pending closes with no waiter or timer left", async () => {
    // Other suites in the same process (bun test) may have timers of their own.
    const base = timers.size;
    const ch = new Channel<number>();
    const left: Promise<unknown>[] = [];
    const scope = new Scope();
    scope.go((cx) => {
      left.push(ch.recv(deadlineIn(10_000), cx), sleep(deadlineIn(10_000), cx));
    });
    const waiting = scope.go((cx) => ch.recv(Infinity, cx));
    assert.equal(ch.pendingReceivers, 1);
    await scope.close();
    await assert.rejects(waiting.result, Canceled);
    for (const call of left) await assert.rejects(call, Canceled);
    assert.equal(ch.pendingReceivers, 0);
    assert.equal(timers.size - base, 0);
  });
});

describe("Scope: close", () => {
  it("cancels every task and waits for them to finish", async () => {
    const scope = new Scope();
    const cleanedUp: number[] = [];
    for (let i = 0; i < 3; i++) {
      scope.go(async (cx) => {
        try {
          await sleep(Infinity, cx);
        } finally {
          await sleep(deadlineIn(10)); // cleanup takes a while after cancellation
          cleanedUp.push(i);
        }
      });
    }
    assert.equal(scope.taskCount, 3);
    await scope.close();
    assert.deepEqual(cleanedUp.sort(), [0, 1, 2]);
    assert.equal(scope.taskCount, 0);
    assert.equal(scope.size, 0);
    assert.equal(scope.closed, true);
  });

  it("rejects with Timeout when a task ignores cancellation past the deadline", async () => {
    const scope = new Scope();
    let finished = false;
    scope.go(async () => {
      await sleep(deadlineIn(80)); // ignores cancellation
      finished = true;
    });
    const start = now();
    await assert.rejects(scope.close(deadlineIn(20)), Timeout);
    assert.ok(now() - start >= 20 - 1);
    assert.equal(finished, false);
    assert.equal(scope.taskCount, 1);
    await scope.close(); // waits again, this time for good
    assert.equal(finished, true);
    assert.equal(scope.size, 0);
  });

  it("close with a poll deadline rejects at once while tasks run", async () => {
    const scope = new Scope();
    scope.go(async () => await sleep(deadlineIn(20)));
    await assert.rejects(scope.close(0), Timeout);
    await scope.close();
  });

  it("is idempotent, and go() afterwards throws Closed", async () => {
    const scope = new Scope();
    scope.go((cx) => sleep(Infinity, cx).catch(() => {}));
    await Promise.all([scope.close(), scope.close()]);
    await scope.close();
    assert.throws(() => scope.go(() => {}), Closed);
    assert.throws(() => scope.scope(), Closed);
  });

  it("an empty scope closes at once", async () => {
    const scope = new Scope();
    await scope.close(0);
    assert.equal(scope.closed, true);
  });

  it("Symbol.asyncDispose closes the scope", async () => {
    const dispose = (Symbol as { asyncDispose?: symbol }).asyncDispose;
    if (dispose === undefined) return; // runtime without explicit resource management
    const scope = new Scope();
    const task = scope.go((cx) => sleep(Infinity, cx));
    const method = (scope as unknown as Record<symbol, () => Promise<void>>)[dispose];
    await method.call(scope);
    assert.equal(task.canceled, true);
    assert.equal(scope.closed, true);
    await assert.rejects(task.result, Canceled);
  });

  it("a channel operation blocked in a task ends with Canceled on close", async () => {
    const scope = new Scope();
    const ch = new Channel<number>();
    const task = scope.go((cx) => ch.recv(Infinity, cx));
    assert.equal(ch.pendingReceivers, 1);
    await scope.close();
    await assert.rejects(task.result, Canceled);
    assert.equal(ch.pendingReceivers, 0);
  });

  it("close and wait reject with Timeout when the tasks end after their deadline, before the wheel fires it", async () => {
    // The wheel fires a deadline up to 1/16 of its delay late (here 1 s: in the slot 23 ms
    // after it). Tasks that ended in between resolved the close and the wait: their deadline
    // had passed first, which the docs say rejects.
    const real = performance.now;
    let t = 1_000_001;
    performance.now = () => t;
    try {
      const deadline = now() + 1000;
      const gate = new Channel<void>();
      const closing = new Scope();
      closing.go(async () => await gate.recv().catch(() => {})); // ignores cancellation
      const waiting = new Scope();
      waiting.go(async () => await gate.recv().catch(() => {}));
      const closed = closing.close(deadline);
      const waited = waiting.wait(deadline);
      t = deadline + 10;
      gate.close();
      await assert.rejects(closed, Timeout);
      await assert.rejects(waited, Timeout);
      assert.equal(closing.size + waiting.taskCount, 0);
      await closing.close(0);
      await waiting.close(0);
    } finally {
      performance.now = real; // assigned back, not deleted: on Bun `now` is the object's own
    }
  });
});

describe("Scope: wait", () => {
  it("waits for all tasks without cancelling them", async () => {
    const scope = new Scope();
    const a = scope.go(async () => await sleep(deadlineIn(10)));
    const b = scope.go(async () => await sleep(deadlineIn(20)));
    await scope.wait();
    assert.equal(a.done && b.done, true);
    assert.equal(a.canceled || b.canceled, false);
    assert.equal(scope.closed, false);
    scope.go(() => {}); // still open
    await scope.close();
  });

  it("resolves at once with no tasks", async () => {
    const scope = new Scope();
    await scope.wait(0);
    await scope.close();
  });

  it("rejects with Timeout at its deadline, leaving tasks running", async () => {
    // Other suites in the same process (bun test) may have timers of their own, which may fire
    // meanwhile: the count may drop below the base, never rise above it.
    const base = timers.size;
    const scope = new Scope();
    const task = scope.go((cx) => sleep(Infinity, cx));
    await assert.rejects(scope.wait(0), Timeout);
    await assert.rejects(scope.wait(deadlineIn(20)), Timeout);
    await assert.rejects(scope.wait(NaN), RangeError);
    assert.equal(task.done, false);
    assert.equal(task.canceled, false);
    await scope.close();
    assert.ok(timers.size <= base, `${timers.size - base} timers left`);
  });
});

/** A thing a scope owns: cancel() records the call and, if told to, releases at once. */
class Resource extends Owned {
  cancels = 0;
  readonly releaseOnCancel: boolean;
  constructor(releaseOnCancel: boolean) {
    super();
    this.releaseOnCancel = releaseOnCancel;
  }
  cancel(): void {
    this.cancels++;
    if (this.releaseOnCancel) this.release();
  }
}

describe("Scope: owned resources", () => {
  it("count as running tasks until released", async () => {
    const scope = new Scope();
    const r = new Resource(false);
    scope.own(r);
    assert.equal(scope.taskCount, 1);
    assert.equal(scope.size, 1);
    await assert.rejects(scope.wait(deadlineIn(10)), Timeout);
    const waited = scope.wait(deadlineIn(1000));
    r.release();
    await waited;
    assert.equal(scope.taskCount, 0);
    assert.equal(scope.size, 0);
    r.release(); // harmless twice
    assert.equal(scope.taskCount, 0);
    await scope.close();
    assert.equal(r.cancels, 0);
  });

  it("close() cancels each one once and waits for its release", async () => {
    const scope = new Scope();
    const now1 = new Resource(true);
    const later = new Resource(false);
    const task = scope.go((cx) => sleep(Infinity, cx));
    scope.own(now1);
    scope.own(later);
    const closing = scope.close(deadlineIn(1000));
    assert.equal(now1.cancels, 1);
    assert.equal(later.cancels, 1);
    assert.equal(task.canceled, true);
    await assert.rejects(scope.close(deadlineIn(10)), Timeout);
    assert.equal(scope.taskCount, 1); // the task ended; `later` is still out
    later.release();
    await closing;
    assert.equal(scope.size, 0);
    assert.equal(later.cancels, 1);
  });

  it("a closed scope refuses new ones, and one cannot have two owners", async () => {
    const a = new Scope();
    const b = new Scope();
    const r = new Resource(true);
    a.own(r);
    assert.throws(() => b.own(r), /already owned/);
    await a.close();
    assert.throws(() => a.own(new Resource(true)), Closed);
    b.own(r); // released by a's close: free to join another scope
    assert.equal(b.taskCount, 1);
    await b.close();
    assert.equal(r.cancels, 2);
  });

  it("one that fails to cancel is reported, and the others are still cancelled", async () => {
    class Failing extends Owned {
      cancel(): void {
        this.release();
        throw new Error("teardown failed");
      }
    }
    const errors: string[] = [];
    const parent = new Scope({ onError: (e) => errors.push((e as Error).message) });
    const scope = parent.scope();
    scope.own(new Failing());
    const good = new Resource(true);
    scope.own(good);
    const task = scope.go((cx) => sleep(Infinity, cx));
    const sibling = new Resource(true);
    parent.own(sibling);
    await parent.close(deadlineIn(1000));
    assert.deepEqual(errors, ["teardown failed"]);
    assert.equal(good.cancels, 1);
    assert.equal(sibling.cancels, 1);
    assert.equal(task.canceled, true);
    assert.equal(scope.closed, true);
  });

  it("closing a parent reaches resources owned by its children", async () => {
    const parent = new Scope();
    const child = parent.scope();
    const r = new Resource(true);
    child.own(r);
    await parent.close();
    assert.equal(r.cancels, 1);
    assert.equal(child.closed, true);
  });
});

describe("Scope: failures", () => {
  it("reports a failed task to onError", async () => {
    const errors: unknown[] = [];
    const scope = new Scope({ onError: (err) => errors.push(err) });
    const task = scope.go(async () => {
      await settle();
      throw new Error("async failure");
    });
    scope.go(() => {
      throw new Error("sync failure");
    });
    await assert.rejects(task.result, /async failure/);
    await scope.close();
    assert.deepEqual(errors.map((e) => (e as Error).message).sort(), [
      "async failure",
      "sync failure",
    ]);
  });

  it("does not report Canceled from a cancelled task, but does from a live one", async () => {
    const errors: unknown[] = [];
    const scope = new Scope({ onError: (err) => errors.push(err) });
    scope.go((cx) => sleep(Infinity, cx));
    scope.go(async () => {
      await settle();
      throw new Canceled("not from my own cancellation");
    });
    await scope.wait(deadlineIn(20)).catch(() => {});
    await scope.close();
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /not from my own/);
  });

  it("a child scope without a handler reports to its parent's", async () => {
    const errors: unknown[] = [];
    const parent = new Scope(null, { onError: (err) => errors.push(err) });
    const child = parent.scope();
    const grandchild = new Scope(child);
    grandchild.go(() => {
      throw new Error("deep failure");
    });
    await parent.close();
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, "deep failure");
  });

  it("a child's own handler takes precedence", async () => {
    const parentErrors: unknown[] = [];
    const childErrors: unknown[] = [];
    const parent = new Scope({ onError: (err) => parentErrors.push(err) });
    const child = parent.scope({ onError: (err) => childErrors.push(err) });
    child.go(() => {
      throw new Error("mine");
    });
    await parent.close();
    assert.equal(childErrors.length, 1);
    assert.equal(parentErrors.length, 0);
  });

  it("errors thrown by onCancel callbacks are reported too", async () => {
    const errors: unknown[] = [];
    const scope = new Scope({ onError: (err) => errors.push(err) });
    scope.go(async (cx) => {
      cx.onCancel(() => {
        throw new Error("callback failure");
      });
      await sleep(Infinity, cx);
    });
    await scope.close();
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, "callback failure");
  });
});

describe("Scope: nesting", () => {
  it("closing the parent cancels and waits for the child's tasks", async () => {
    const parent = new Scope();
    const child = parent.scope();
    let childCleanedUp = false;
    const task = child.go(async (cx) => {
      try {
        await sleep(Infinity, cx);
      } finally {
        await sleep(deadlineIn(10));
        childCleanedUp = true;
      }
    });
    assert.equal(parent.size, 1);
    assert.equal(parent.taskCount, 0);
    await parent.close();
    assert.equal(childCleanedUp, true);
    assert.equal(task.canceled, true);
    assert.equal(child.closed, true);
    assert.equal(parent.size, 0);
  });

  it("a task can open a child scope through its context", async () => {
    const root = new Scope();
    const inner: string[] = [];
    await root.go(async (cx) => {
      const child = cx.scope.scope();
      child.go(async () => {
        await settle();
        inner.push("child task");
      });
      await child.close(deadlineIn(1000)).catch(() => {});
      return child;
    });
    // The child task was cancelled before it resumed, but still ran to completion.
    assert.deepEqual(inner, ["child task"]);
    assert.equal(root.size, 0);
    await root.close();
  });

  it("a closed child unlinks from its parent", async () => {
    const parent = new Scope();
    for (let i = 0; i < 100; i++) {
      const child = parent.scope();
      child.go(() => {});
      await child.close();
    }
    assert.equal(parent.size, 0);
    await parent.close();
  });

  it("a child cannot be opened under a closed parent", async () => {
    const parent = new Scope();
    await parent.close();
    assert.throws(() => new Scope(parent), Closed);
  });

  it("10,000 finished tasks leave nothing linked in the parent", async () => {
    const scope = new Scope();
    const tasks = [];
    for (let i = 0; i < 10_000; i++) {
      tasks.push(scope.go(async (cx) => {
        await Promise.resolve();
        cx.onCancel(() => {}); // a listener left registered must not pin anything either
        return i;
      }));
    }
    assert.equal(scope.taskCount, 10_000);
    await scope.wait();
    assert.equal(scope.taskCount, 0);
    assert.equal(scope.size, 0);
    assert.equal(await tasks[9_999], 9_999);
    await scope.close();
  });
});
