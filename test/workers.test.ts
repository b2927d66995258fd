/**
 * Multi-core: `--workers 2` under the runtime running the test. Workers share
 * the port (SO_REUSEPORT, or node:cluster on Node before 22.12), a killed
 * worker is replaced, and SIGTERM drains them all.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { request, runMain, startMain, text } from "./client.ts";

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

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("workers", () => {
  it("serves from 2 workers, replaces a killed one, and drains all on SIGTERM", async () => {
    const s = await startMain(["--workers", "2", "--grace", "2000"]);
    let pids = readyPids(s.output());
    try {
      assert.equal(pids.length, 2);
      assert.match(s.output(), /; 2 workers, (SO_REUSEPORT|node:cluster)\)/);
      for (let i = 0; i < 10; i++) assert.ok(await hello(s.port), "request before the kill");

      proc.kill(pids[0]!, "SIGKILL");
      await until(() => readyPids(s.output()).length === 3, 10_000, "a replacement worker");
      pids = readyPids(s.output()).slice(1);
      assert.ok(!pids.includes(readyPids(s.output())[0]!));
      assert.match(s.output(), /exited \(killed\); starting another/);
      for (let i = 0; i < 20; i++) assert.ok(await hello(s.port), "request after the replacement");
    } finally {
      assert.equal(await s.stop(), 0);
    }
    await until(() => pids.every((p) => !alive(p)), 5_000, "the workers to exit");
    assert.match(s.output(), /served \d+ requests on 2 workers/);
  });

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
    const code = await new Promise<number | null>((resolve) => s.child.once("exit", resolve));
    assert.equal(code, 0);
    assert.doesNotMatch(s.output(), /starting another/);
    assert.equal(readyPids(s.output()).length, 2);
    // The workers, stopped before the primary could ask, told it their counts as they left.
    assert.match(s.output(), /binks: served 3 requests on 2 workers\n/);
    await until(() => pids.every((p) => !alive(p)), 5_000, "the workers to exit");
  });

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
