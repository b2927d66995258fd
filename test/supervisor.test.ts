/**
 * The primary's supervisor, with a fake worker: what it says to a worker and when.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ControlMessage, Supervisor, type WorkerProcess } from "../src/supervisor.ts";
import { PortChannel } from "../src/port.ts";
import { timers } from "../src/clock.ts";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A worker whose control messages are recorded, and that exits when `exit` is called. */
function fakeWorker(pid: number) {
  const posted: ControlMessage[] = [];
  let deliver: (message: ControlMessage) => void = () => {};
  let pipeClosed: () => void = () => {};
  let exit: (code: number | null) => void = () => {};
  const exited = new Promise<number | null>((resolve) => (exit = resolve));
  const control = new PortChannel<ControlMessage>({
    post: (message) => posted.push(message),
    listen: (onMessage, onClose) => {
      deliver = onMessage;
      pipeClosed = onClose;
    },
    close: () => {},
  });
  const kills: string[] = [];
  const worker: WorkerProcess = {
    pid,
    control,
    exited,
    kill: (signal) => {
      kills.push(signal);
      exit(null);
    },
  };
  return {
    worker,
    posted,
    kills,
    say: (message: ControlMessage) => deliver(message),
    /** The worker lets go of its pipe, and lives on. */
    closePipe: () => pipeClosed(),
    exit: (code: number) => {
      exit(code);
      pipeClosed();
    },
  };
}

/** A supervisor of one worker slot, filled with `worker`, whose grace is 2 s. */
function supervising(worker: WorkerProcess, readyMs?: number): Supervisor {
  return new Supervisor({
    workers: 1,
    spawn: () => worker,
    graceMs: 2_000,
    readyMs,
    log: () => {},
  });
}

describe("supervisor", () => {
  // Found by an audit: on Node 20, node:cluster drops what reaches a worker before it listens,
  // so a SIGTERM to the primary while its workers started was lost, and they served on.
  it("tells a worker to drain again if it reports ready after it was told", async () => {
    const w = fakeWorker(4242);
    const supervisor = supervising(w.worker);
    void supervisor.start().catch(() => {});
    await tick();
    const stopped = supervisor.shutdown();
    await tick();
    const shutdown: ControlMessage = { type: "shutdown", graceMs: 2_000 };
    assert.deepEqual(w.posted, [shutdown]);
    w.say({ type: "ready", pid: 4242, port: 8080 });
    await tick();
    assert.deepEqual(w.posted, [shutdown, shutdown]);
    w.exit(0);
    await stopped;
  });

  it("tells a worker that was ready once, and nothing more when it says ready", async () => {
    const w = fakeWorker(4343);
    const supervisor = supervising(w.worker);
    const started = supervisor.start();
    w.say({ type: "ready", pid: 4343, port: 8080 });
    assert.equal(await started, 8080);
    const stopped = supervisor.shutdown();
    await tick();
    assert.deepEqual(w.posted, [{ type: "shutdown", graceMs: 2_000 }]);
    w.exit(0);
    await stopped;
    assert.deepEqual(w.posted, [{ type: "shutdown", graceMs: 2_000 }]);
  });

  // Found by the model test: the grace's timer outlived the worker, a keep-alive timer that held
  // a primary's event loop open for the grace and exitMs after every worker had exited.
  it("leaves no timer behind once its workers have exited", async () => {
    const before = timers.size;
    const w = fakeWorker(4444);
    const supervisor = supervising(w.worker);
    const started = supervisor.start();
    w.say({ type: "ready", pid: 4444, port: 8080 });
    await started;
    const stopped = supervisor.shutdown();
    await tick();
    w.exit(0);
    await stopped;
    assert.equal(timers.size, before);
  });

  // Found by the model test: a message that is no object (process.send(null) in a worker) threw
  // in the loop that reads them, an unhandled rejection that ended a Node primary, and nothing
  // the worker said after it was read.
  it("reads on past a control message that is no object", async () => {
    const w = fakeWorker(4545);
    const supervisor = supervising(w.worker);
    const started = supervisor.start();
    (w.say as (message: unknown) => void)(null);
    (w.say as (message: unknown) => void)(7);
    w.say({ type: "ready", pid: 4545, port: 8081 });
    assert.equal(await Promise.race([started, tick(50).then(() => "pending")]), 8081);
    const stopped = supervisor.shutdown();
    await tick();
    w.exit(0);
    await stopped;
  });

  // Found by the model test: a worker that exited while it drained kept its last open
  // connections in the totals, though ClusterStats counts those of the workers running.
  it("counts no connections of a worker that exited during the drain", async () => {
    const w = fakeWorker(4646);
    const supervisor = supervising(w.worker);
    const started = supervisor.start();
    w.say({ type: "ready", pid: 4646, port: 8080 });
    await started;
    w.say({ type: "stats", pid: 4646, connections: 3, requests: 5 });
    assert.deepEqual(await supervisor.collect(0), { workers: 1, connections: 3, requests: 5 });
    const stopped = supervisor.shutdown();
    await tick();
    w.exit(1);
    await stopped;
    assert.deepEqual(await supervisor.collect(0), { workers: 0, connections: 0, requests: 5 });
  });

  // start() stayed pending when shutdown() came before every worker was ready.
  it("rejects start() with Canceled when shut down before every worker was ready", async () => {
    const [a, b] = [fakeWorker(4848), fakeWorker(4849)];
    const workers = [a.worker, b.worker];
    const supervisor = new Supervisor({
      workers: 2,
      spawn: (index) => workers[index]!,
      graceMs: 2_000,
      log: () => {},
    });
    const started = supervisor.start().then(
      (port) => `port ${port}`,
      (err: Error) => `${err.name}: ${err.message}`,
    );
    a.say({ type: "ready", pid: 4848, port: 8080 });
    await tick();
    const stopped = supervisor.shutdown();
    assert.equal(
      await Promise.race([started, tick(50).then(() => "pending")]),
      "Canceled: shut down before every worker was ready",
    );
    // Ready after the drain was asked for: start() has settled already.
    b.say({ type: "ready", pid: 4849, port: 8080 });
    a.exit(0);
    b.exit(0);
    await stopped;
  });

  // start() after shutdown() spawned nothing but rejected with the closed scope's error.
  it("rejects start() after shutdown() with Canceled, and a second start(), spawning nothing", async () => {
    let spawned = 0;
    const w = fakeWorker(4950);
    const supervisor = new Supervisor({
      workers: 1,
      spawn: () => (spawned++, w.worker),
      graceMs: 2_000,
      log: () => {},
    });
    await supervisor.shutdown();
    const late = await supervisor.start().then(
      (port) => `port ${port}`,
      (err: Error) => `${err.name}: ${err.message}`,
    );
    assert.equal(late, "Canceled: shut down before start()");
    const again = await supervisor.start().then(
      (port) => `port ${port}`,
      (err: Error) => `${err.name}: ${err.message}`,
    );
    assert.equal(again, "Error: start() was called already");
    assert.equal(spawned, 0);

    const v = fakeWorker(4951);
    const running = supervising(v.worker);
    const first = running.start();
    const second = await running.start().then(
      (port) => `port ${port}`,
      (err: Error) => `${err.name}: ${err.message}`,
    );
    assert.equal(second, "Error: start() was called already");
    v.say({ type: "ready", pid: 4951, port: 8083 });
    assert.equal(await first, 8083);
    const stopped = running.shutdown();
    v.exit(0);
    await stopped;
  });

  it("resolves start() once every worker was ready, whatever comes after", async () => {
    const w = fakeWorker(4949);
    const supervisor = supervising(w.worker);
    const started = supervisor.start();
    w.say({ type: "ready", pid: 4949, port: 8082 });
    await tick();
    const stopped = supervisor.shutdown();
    assert.equal(await started, 8082);
    w.exit(0);
    await stopped;
  });

  // A handler's process.send({ type: "ready" }) resolved start() with undefined, before the
  // worker had listened.
  it("takes a ready message only with a port the worker can have bound", async () => {
    const w = fakeWorker(5151);
    const lines: string[] = [];
    const supervisor = new Supervisor({
      workers: 1,
      spawn: () => w.worker,
      graceMs: 2_000,
      log: (line) => lines.push(line),
    });
    let port: number | undefined;
    const started = supervisor.start().then((p) => (port = p));
    const junk: unknown[] = [
      { type: "ready", pid: 5151 },
      { type: "ready", pid: 5151, port: "8080" },
      { type: "ready", pid: 5151, port: 0 },
      { type: "ready", pid: 5151, port: 65536 },
      { type: "ready", pid: 5151, port: 80.5 },
    ];
    for (const message of junk) (w.say as (message: unknown) => void)(message);
    await tick();
    assert.equal(port, undefined);
    w.say({ type: "ready", pid: 1, port: 8083 });
    await started;
    assert.equal(port, 8083);
    assert.deepEqual(lines, ["worker 5151 ready"]);
    const stopped = supervisor.shutdown();
    await tick();
    w.exit(0);
    await stopped;
  });

  // A stats message with a field missing made the totals NaN; one with another pid added a report
  // that stayed in them after the worker exited.
  it("counts only a stats message's whole counts, under the pid of its pipe", async () => {
    const w = fakeWorker(5050);
    const supervisor = supervising(w.worker);
    const started = supervisor.start();
    w.say({ type: "ready", pid: 5050, port: 8080 });
    await started;
    w.say({ type: "stats", pid: 5050, connections: 3, requests: 5 });
    const junk: unknown[] = [
      { type: "stats", pid: 5050 },
      { type: "stats", pid: 5050, connections: 1 },
      { type: "stats", pid: 5050, connections: "2", requests: 9 },
      { type: "stats", pid: 5050, connections: -1, requests: 9 },
      { type: "stats", pid: 5050, connections: 1.5, requests: 9 },
      { type: "stats", pid: 5050, connections: 1, requests: NaN },
      { type: "stats", pid: 5050, connections: 1, requests: Infinity },
      { type: "stats", pid: 5050, connections: 1, requests: 2 ** 53 },
    ];
    for (const message of junk) (w.say as (message: unknown) => void)(message);
    await tick();
    assert.deepEqual(await supervisor.collect(0), { workers: 1, connections: 3, requests: 5 });
    w.say({ type: "stats", pid: 9999, connections: 4, requests: 6 });
    await tick();
    assert.deepEqual(await supervisor.collect(0), { workers: 1, connections: 4, requests: 6 });
    const stopped = supervisor.shutdown();
    await tick();
    w.exit(0);
    await stopped;
    assert.deepEqual(await supervisor.collect(0), { workers: 0, connections: 0, requests: 6 });
  });

  // Found by the model test: a worker whose pipe closed before it said ready (it let go of it)
  // was never killed: it could no longer say ready, and start() neither resolved nor gave up.
  it("kills a worker whose pipe closed before it was ready, once readyMs is over", async () => {
    const w = fakeWorker(4747);
    const supervisor = supervising(w.worker, 30);
    const started = supervisor.start().then(() => "started", (err: Error) => err.message);
    w.closePipe();
    await tick(10);
    assert.deepEqual(w.kills, []);
    assert.equal(
      await Promise.race([started, tick(300).then(() => "pending")]),
      "worker 4747 exited (killed) before it was ready",
    );
    assert.deepEqual(w.kills, ["SIGKILL"]);
    await supervisor.shutdown();
  });
});
