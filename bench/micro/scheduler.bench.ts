/**
 * Micro-benchmarks of the scheduler's hot paths: channel hand-offs, choose,
 * task spawn and timer churn. Runs unchanged on Node (compiled), Deno and Bun:
 *
 *   node dist/bench/micro/scheduler.bench.js
 *   deno run -A bench/micro/scheduler.bench.ts
 *   bun run bench/micro/scheduler.bench.ts
 */

import { Channel, choose } from "../../src/channel.ts";
import { deadlineIn, timers, TimerWheel } from "../../src/clock.ts";
import { Scope, type TaskContext } from "../../src/scope.ts";
import { Suite } from "./suite.ts";

const BUFFERED_CAPACITY = 64;

const scope = new Scope();

/** A task that sends back everything it receives, until its scope closes. */
function startEcho(capacity: number): { ping: Channel<number>; pong: Channel<number> } {
  const ping = new Channel<number>(capacity);
  const pong = new Channel<number>(capacity);
  scope.go(async (cx: TaskContext) => {
    for (;;) await pong.send(await ping.recv(Infinity, cx), Infinity, cx);
  });
  return { ping, pong };
}

const unbuffered = startEcho(0);
const buffered = startEcho(BUFFERED_CAPACITY);
const sync = new Channel<number>(BUFFERED_CAPACITY);
const left = new Channel<number>();
const right = new Channel<number>(1);
const clauses = [{ op: "recv", ch: left }, { op: "recv", ch: right }] as const;
const idleWheel = new TimerWheel();
const busyWheel = new TimerWheel();
const noop = (): void => {};
// A server always has some timer pending (idle timeouts), so the wheel's runtime
// timer stays armed and add/cancel is pure bookkeeping. The idle case, where
// each add arms a runtime timer and each cancel clears it, is measured apart.
const HOUR_MS = 3_600_000;
const busyTimer = busyWheel.add(deadlineIn(HOUR_MS), noop);
const sharedBusyTimer = timers.add(deadlineIn(HOUR_MS), noop);

// Time per case: BINKS_BENCH_TIME_MS (see suite.ts).
const suite = new Suite("scheduler", "one operation (round trip where named)");

suite
  .add("unbuffered ping-pong (round trip)", async () => {
    await unbuffered.ping.send(1);
    await unbuffered.pong.recv();
  })
  .add(`buffered(${BUFFERED_CAPACITY}) ping-pong (round trip)`, async () => {
    await buffered.ping.send(1);
    await buffered.pong.recv();
  })
  .add("unbuffered send+recv with deadline", async () => {
    const received = left.recv(deadlineIn(10_000));
    await left.send(1, deadlineIn(10_000));
    await received;
  })
  .add("trySend + tryRecv", () => {
    sync.trySend(1);
    sync.tryRecv();
  })
  .add("choose over 2 channels (ready)", async () => {
    right.trySend(1);
    await choose(clauses);
  })
  .add("choose over 2 channels (blocks, then woken)", async () => {
    const chosen = choose(clauses);
    left.trySend(1);
    await chosen;
  })
  .add("scope spawn + finish (sync task)", () => {
    scope.go(noop);
  })
  .add("scope spawn + finish (async task, awaited)", async () => {
    // deno-lint-ignore require-await -- the cost of an async task function is the point
    await scope.go(async () => 1);
  })
  .add("timer add + cancel (busy wheel)", () => {
    busyWheel.add(deadlineIn(5_000), noop).cancel();
  })
  .add("timer add + cancel (idle wheel: arms + clears a runtime timer)", () => {
    idleWheel.add(deadlineIn(5_000), noop).cancel();
  });

await suite.run();
busyTimer.cancel();
sharedBusyTimer.cancel();
await scope.close();
