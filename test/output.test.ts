/**
 * The executable's stdout, and its queue: one write at a time and in order, a bound on what waits
 * (access-log text past it dropped, counted and said), and a wait for it all before exit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { MAX_QUEUED_CHARS, Output } from "../src/output.ts";
import { mainCommand, RawClient } from "./client.ts";

const proc = (globalThis as unknown as { process: { kill(pid: number, sig: string): void } })
  .process;

/** A sink whose writes finish when the test says so. */
class FakeStdout {
  written: string[] = [];
  inFlight = 0;
  mostInFlight = 0;
  private pending: (() => void)[] = [];
  private flowing = false;
  failWith: Error | null = null;

  readonly sink = (text: string): Promise<void> => {
    if (this.failWith !== null) return Promise.reject(this.failWith);
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    return new Promise((resolve) => {
      const done = (): void => {
        this.inFlight--;
        this.written.push(text);
        resolve();
      };
      if (this.flowing) queueMicrotask(done);
      else this.pending.push(done);
    });
  };

  /** From now on every write finishes at once, the one waiting too. */
  flow(): void {
    this.flowing = true;
    for (const done of this.pending.splice(0)) done();
  }
}

function setup(): { stdout: FakeStdout; out: Output; warnings: string[] } {
  const stdout = new FakeStdout();
  const warnings: string[] = [];
  return { stdout, out: new Output(stdout.sink, (line) => warnings.push(line)), warnings };
}

describe("stdout queue", () => {
  it("writes in order, one write at a time, and finishes once all is written", async () => {
    const { stdout, out, warnings } = setup();
    out.line("banner");
    out.log("a\nb\n");
    out.log("c\n");
    out.line("summary");
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(stdout.written, []);
    stdout.flow();
    await out.finish(5_000);
    assert.deepEqual(stdout.written, ["banner\n", "a\nb\n", "c\n", "summary\n"]);
    assert.equal(stdout.mostInFlight, 1);
    assert.deepEqual(warnings, []);
  });

  it("drops access-log text past its bound, says so, and counts it once caught up", async () => {
    const { stdout, out, warnings } = setup();
    const piece = "x".repeat(1023) + "\n";
    const fits = MAX_QUEUED_CHARS / piece.length;
    for (let i = 0; i < fits; i++) out.log(piece);
    assert.deepEqual(warnings, []);
    out.log(piece + piece);
    out.log(piece);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /stdout is 8 MiB behind: access-log lines are dropped/);
    // The server's own lines are never dropped.
    out.line("summary");
    stdout.flow();
    await out.finish(5_000);
    assert.equal(stdout.written.length, fits + 1);
    assert.equal(stdout.written.at(-1), "summary\n");
    assert.deepEqual(warnings.slice(1), [
      "binks: stdout caught up; 3 lines were dropped while it was behind",
    ]);
    // Room again: written, and nothing more to report.
    out.log(piece);
    await out.finish(5_000);
    assert.equal(stdout.written.at(-1), piece);
    assert.equal(warnings.length, 2);
  });

  // Found by a review: stderr then said "stdout caught up" for a reader that was gone.
  it("says what was dropped while behind when the reader goes away, and never that it caught up", async () => {
    const { stdout, out, warnings } = setup();
    const piece = "x".repeat(1023) + "\n";
    const fits = MAX_QUEUED_CHARS / piece.length;
    for (let i = 0; i < fits; i++) out.log(piece);
    out.log(piece + piece + piece);
    stdout.failWith = new Error("write EPIPE");
    // The write in flight goes through; the next one fails.
    stdout.flow();
    await new Promise((r) => setTimeout(r, 0));
    out.line("summary");
    await out.finish(5_000);
    assert.equal(stdout.written.length, 1);
    assert.deepEqual(warnings, [
      "binks: stdout is 8 MiB behind: access-log lines are dropped until it catches up",
      "binks: cannot write to stdout (write EPIPE); its lines are dropped from now on " +
      "(3 were dropped before, while it was behind)",
      `binks: ${fits} lines were dropped, not written to stdout`,
    ]);
  });

  it("exits without what stdout would not take in time, saying how much", async () => {
    const { out, warnings } = setup();
    out.log("a\nb\n");
    out.log("c\n");
    const started = Date.now();
    await out.finish(100);
    assert.ok(Date.now() - started < 2_000);
    assert.deepEqual(warnings, [
      "binks: stdout did not take the last 3 lines in 0.1 s; exiting without them",
    ]);
  });

  it("drops everything once a write fails (its reader gone), and counts it", async () => {
    const { stdout, out, warnings } = setup();
    stdout.failWith = new Error("write EPIPE");
    out.log("a\nb\n");
    out.log("c\n");
    await new Promise((r) => setTimeout(r, 0));
    out.log("d\n");
    out.line("summary");
    await out.finish(5_000);
    assert.deepEqual(warnings, [
      "binks: cannot write to stdout (write EPIPE); its lines are dropped from now on",
      "binks: 5 lines were dropped, not written to stdout",
    ]);
  });
});

/** `main` serving with its stdout a pipe to a reader that reads nothing until released. */
interface BehindPipe {
  port: number;
  /** binks's own process id (the primary's, with workers). */
  pid: number;
  /** What the reader passed on so far: the lines up to the banner, then after release all. */
  stdout(): string;
  /** binks's stderr, and the wrapper's `pid N` and `exit N` lines. */
  stderr(): string;
  /** Let the reader read on. */
  release(): void;
  /** Resolves once the reader has passed everything on and binks has exited. */
  done: Promise<void>;
}

/**
 * A shell runs binks (saying its pid and, later, its exit status on stderr) into a pipe whose
 * reader passes lines on up to the banner, then waits for a line on the test's stdin before it
 * reads the rest: a log shipper that fell behind, as long as the test likes.
 */
const BEHIND_PIPE = `exec 3<&0 </dev/null
{ sh -c 'echo "pid $$" >&2; exec "$@"' binks "$@"; echo "exit $?" >&2; } 3<&- | {
  while IFS= read -r line; do
    printf '%s\\n' "$line"
    case $line in *"listening on"*) break ;; esac
  done
  read -r go <&3
  exec cat
}`;

function startBehindPipe(extra: string[]): Promise<BehindPipe> {
  const { cmd, args } = mainCommand();
  const argv = [cmd, ...args, "--port", "0", "--host", "127.0.0.1", ...extra];
  const child = spawn("sh", ["-c", BEHIND_PIPE, "sh", ...argv], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const decoder = new TextDecoder();
  child.stdout!.on("data", (d: Uint8Array) => (out += decoder.decode(d, { stream: true })));
  child.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  const done = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 15_000;
    const poll = (): void => {
      const port = /listening on http:\/\/[^\s]+:(\d+)/.exec(out)?.[1];
      const pid = /^pid (\d+)$/m.exec(err)?.[1];
      if (port !== undefined && pid !== undefined) {
        resolve({
          port: Number(port),
          pid: Number(pid),
          stdout: () => out,
          stderr: () => err,
          release: () => child.stdin!.end("go\n"),
          done,
        });
      } else if (child.exitCode !== null || Date.now() > deadline) {
        reject(new Error(`binks did not start: ${out}${err}`));
      } else setTimeout(poll, 20);
    };
    poll();
  });
}

describe("the executable's stdout", () => {
  for (const workers of [1, 2]) {
    const how = workers === 1 ? "one process" : `${workers} workers`;
    it(
      `answers while the reader of stdout is behind, and loses no log line at exit (${how})`,
      async () => {
        const run = await startBehindPipe(["--access-log", "--workers", String(workers)]);
        let stopped = false;
        try {
          // Long targets: their log, about 450 KiB, is many times what a pipe holds (64 KiB).
          const request = `GET /?pad=${"x".repeat(1000)} HTTP/1.1\r\nHost: x\r\n\r\n`;
          const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(run.port)));
          await Promise.all(clients.map((c) => c.send(request.repeat(100))));
          // All answered while nothing reads stdout: writing the log holds no request up.
          for (const c of clients) {
            const responses = await c.responses(100, [], 5_000);
            assert.ok(responses.every((r) => r.status === 200));
            c.close();
          }
          proc.kill(run.pid, "SIGTERM");
          stopped = true;
          // The reader still behind when binks would exit.
          await new Promise((r) => setTimeout(r, 500));
        } finally {
          if (!stopped) proc.kill(run.pid, "SIGTERM");
          run.release();
        }
        await run.done;
        assert.match(run.stderr(), /^exit 0$/m);
        assert.doesNotMatch(run.stderr(), /dropped|did not take/);
        const lines = run.stdout().split("\n");
        assert.equal(lines.pop(), "", "the last line is whole");
        const entries = lines.filter((l) => !l.startsWith("binks"))
          .map((l) => JSON.parse(l) as { path: string; status: number });
        assert.equal(entries.length, 400);
        assert.ok(entries.every((e) => e.status === 200 && e.path.length === 1006));
        if (workers > 1) assert.ok(lines.includes("binks: served 400 requests on 2 workers"));
      },
    );
  }
});
