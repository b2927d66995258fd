/**
 * Multi-core: `--workers 2` under the runtime running the test. Workers share
 * the port (SO_REUSEPORT, or node:cluster on Node before 22.12), a killed
 * worker is replaced, and SIGTERM drains them all.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { exitOf, header, RawClient, request, runMain, startMain, text } from "./client.ts";
import { fdCount, hasProc } from "./soak/proc.ts";

const proc =
  (globalThis as unknown as { process: { kill(pid: number, sig: string | number): void } }).process;

function readyPids(output: string): number[] {
  return [...output.matchAll(/worker (\d+) ready/g)].map((m) => Number(m[1]));
}

function alive(pid: number): boolean {
  try {
    proc.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function hello(port: number): Promise<boolean> {
  try {
    const r = await request(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    return r.status === 200 && text(r.body) === '{"hello":"world"}';
  } catch {
    return false;
  }
}

/**
 * Both `workers` answer: 20 connections, each with an answered request, held open at once; the
 * port shares them out (by a hash of the addresses, or one worker after the other), and each
 * worker holds a descriptor for each of its own.
 */
async function bothServe(port: number, workers: number[]): Promise<void> {
  const before = workers.map((p) => fdCount(p)!);
  const held: RawClient[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(port);
      held.push(c);
      await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      const [r] = await c.responses(1);
      assert.equal(r!.status, 200);
    }
    const gained = workers.map((p, i) => fdCount(p)! - before[i]!);
    assert.ok(gained.every((n) => n > 0), `connections held by each worker: ${gained.join(", ")}`);
  } finally {
    for (const c of held) c.close();
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("workers", () => {
  // Bun stops a test after 5 s unless told otherwise; on a busy machine this one may take that.
  it(
    "serves from 2 workers, replaces a killed one, and drains all on SIGTERM",
    { timeout: 30_000 },
    async () => {
      const s = await startMain(["--workers", "2", "--grace", "2000"]);
      const first = readyPids(s.output());
      let pids = first;
      try {
        assert.equal(first.length, 2);
        assert.match(s.output(), /; 2 workers, (SO_REUSEPORT|node:cluster)\)/);
        for (let i = 0; i < 10; i++) assert.ok(await hello(s.port), "request before the kill");
        if (hasProc) await bothServe(s.port, first);

        const killed = first[0]!;
        proc.kill(killed, "SIGKILL");
        await until(() => readyPids(s.output()).length === 3, 10_000, "a replacement worker");
        assert.match(
          s.output(),
          new RegExp(`worker ${killed} exited \\(killed\\); starting another`),
        );
        assert.equal(alive(killed), false, "the killed worker is still there");
        pids = readyPids(s.output()).filter((p) => p !== killed);
        assert.equal(pids.length, 2);
        assert.equal(pids[0], first[1], "the worker not killed is gone too");
        assert.ok(!first.includes(pids[1]!), "no new worker");
        assert.ok(pids.every(alive));
        for (let i = 0; i < 20; i++) {
          assert.ok(
            await hello(s.port),
            "request after the replacement",
          );
        }
        if (hasProc) await bothServe(s.port, pids);

        // A request in flight when the signal comes is answered, the connection then closed. It
        // is sent behind one answered at once, in the same write: once that answer is here, the
        // worker has read it too.
        const c = await RawClient.connect(s.port);
        await c.send(
          "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /sleep?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        await c.responses(1);
        const exited = s.stop();
        const [, r] = await c.responses(2, [], 5000);
        c.close();
        assert.equal(r!.status, 200);
        assert.deepEqual(JSON.parse(text(r!.body)), { slept: 1000 });
        assert.equal(header(r!, "connection"), "close");
        assert.equal(await exited, 0);
      } finally {
        assert.equal(await s.stop(), 0);
      }
      await until(() => pids.every((p) => !alive(p)), 5_000, "the workers to exit");
      assert.match(s.output(), /served \d+ requests on 2 workers/);
    },
  );

  it("replaces no worker once a SIGTERM reached the primary and its workers together", async () => {
    const s = await startMain(["--workers", "2", "--grace", "2000"]);
    const pids = readyPids(s.output());
    assert.equal(pids.length, 2);
    for (let i = 0; i < 3; i++) assert.ok(await hello(s.port));
    // As systemd stops a service: the whole group, the workers a little before the primary
    // here (it hears of their exits first).
    for (const p of pids) proc.kill(p, "SIGTERM");
    await new Promise((r) => setTimeout(r, 30));
    proc.kill(s.child.pid!, "SIGTERM");
    const code = await exitOf(s.child);
    assert.equal(code, 0);
    assert.doesNotMatch(s.output(), /starting another/);
    assert.equal(readyPids(s.output()).length, 2);
    // The workers, stopped before the primary could ask, told it their counts as they left.
    assert.match(s.output(), /binks: served 3 requests on 2 workers\n/);
    await until(() => pids.every((p) => !alive(p)), 5_000, "the workers to exit");
  });

  // Found by an audit: under node:cluster (Node before 22.12) a worker whose primary was killed
  // exited at once, cutting the requests it was answering; on the other runtimes they were
  // answered.
  it(
    "a primary killed with SIGKILL: its workers answer what they have read, then exit",
    { timeout: 30_000 },
    async () => {
      const s = await startMain(["--workers", "2", "--grace", "5000"]);
      const pids = readyPids(s.output());
      const clients: RawClient[] = [];
      try {
        assert.equal(pids.length, 2);
        // Several connections, which the port shares out between the workers. Each sleeper is
        // sent behind a request answered at once: once that answer is here, it was read too.
        for (let i = 0; i < 6; i++) clients.push(await RawClient.connect(s.port));
        await Promise.all(clients.map((c) =>
          c.send(
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /sleep?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n",
          )
        ));
        await Promise.all(clients.map((c) => c.responses(1)));
        proc.kill(s.child.pid!, "SIGKILL");
        assert.equal(await exitOf(s.child), null);
        for (const c of clients) {
          const [, r] = await c.responses(2, [], 5000);
          assert.equal(r!.status, 200);
          assert.deepEqual(JSON.parse(text(r!.body)), { slept: 1000 });
          assert.equal(header(r!, "connection"), "close");
        }
        await until(() => pids.every((p) => !alive(p)), 10_000, "the workers to exit");
      } finally {
        for (const c of clients) c.close();
        for (const p of pids) if (alive(p)) proc.kill(p, "SIGKILL");
      }
    },
  );

  it("refuses a port taken, one line and exit 1, before any worker starts", async () => {
    // Held by a plain server, and by another binks whose workers share it (SO_REUSEPORT):
    // the workers' own binds would have joined that one without a word.
    for (const holder of [[], ["--workers", "2"]]) {
      const taken = await startMain(holder);
      try {
        const r = await runMain([
          "--port",
          String(taken.port),
          "--host",
          "127.0.0.1",
          "--workers",
          "2",
        ]);
        assert.equal(r.code, 1, holder.join(" "));
        assert.equal(
          r.stderr,
          `binks: cannot listen on 127.0.0.1:${taken.port}: address already in use\n`,
        );
        assert.equal(r.stdout, "");
      } finally {
        assert.equal(await taken.stop(), 0);
      }
    }
  });
});
