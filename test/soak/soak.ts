/**
 * `npm run soak`: binks under sustained mixed traffic, watched from /proc.
 *
 *   npm run soak -- [--minutes 1] [--connections 10000] [--server node|deno|bun]
 *                   [--workers 32] [--sample 2] [--max-rise 10]
 *
 * 1. Connections: opens --connections idle connections at once (the server is
 *    started through `bash -c 'ulimit -n 20000; exec …'`, and this script
 *    re-executes itself the same way if its own limit is too low), reports
 *    the server's RSS per idle connection, gets an answer on every one, closes
 *    them and checks every descriptor comes back.
 * 2. Traffic: --workers loops for --minutes of GET /, /echo with random bodies
 *    (checked), pipelined batches, refused requests, HTTP/1.0, and resets
 *    mid-request and mid-response, while RSS and open descriptors of the
 *    server are sampled every --sample seconds.
 *
 * Fails (exit 1) on any unexpected answer, on a steady rise (the least-squares
 * line through the second half of the RSS samples rising more than --max-rise
 * percent over that half), or on descriptors not returning after the traffic.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { fdCount, hasProc, rssKiB, settle, slope, softFdLimit } from "./proc.ts";
import { LoadSocket, sleep, taggedBody, tagOf } from "./load.ts";
import { Rng } from "../difftest/cases.ts";
import { FlagError, flagsOrExit, readFlags } from "../flags.ts";

interface Options {
  minutes: number;
  connections: number;
  server: "node" | "deno" | "bun";
  workers: number;
  sample: number;
  maxRise: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    minutes: 1,
    connections: 10_000,
    server: "node",
    workers: 32,
    sample: 2,
    maxRise: 10,
    seed: 1,
  };
  readFlags(argv, (flag, value) => {
    const num = (): number => {
      const n = Number(value());
      if (!(n >= 0)) throw new FlagError(`${flag} takes a number`);
      return n;
    };
    if (flag === "--minutes") o.minutes = num();
    else if (flag === "--connections") o.connections = Math.floor(num());
    else if (flag === "--workers") o.workers = Math.max(1, Math.floor(num()));
    else if (flag === "--sample") o.sample = num();
    else if (flag === "--max-rise") o.maxRise = num();
    else if (flag === "--seed") o.seed = Math.floor(num());
    else if (flag === "--server") {
      const v = value();
      if (v !== "node" && v !== "deno" && v !== "bun") {
        throw new FlagError("--server: node, deno or bun");
      }
      o.server = v;
    } else throw new FlagError(`unknown flag ${flag}`);
  });
  return o;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

const FD_LIMIT = 20_000;

/** Re-run this script under `ulimit -n 20000` when the limit is too low for the connections. */
function ensureFdLimit(o: Options): boolean {
  const soft = softFdLimit() ?? 0;
  if (soft >= o.connections + 1000 || process.env.BINKS_SOAK_RAISED === "1") return false;
  console.log(`soft fd limit ${soft}: re-running under ulimit -n ${FD_LIMIT}`);
  const child = spawn(
    "bash",
    [
      "-c",
      `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$@"`,
      "bash",
      process.execPath,
      ...process.argv.slice(1),
    ],
    { stdio: "inherit", env: { ...process.env, BINKS_SOAK_RAISED: "1" } },
  );
  child.on("exit", (code) => process.exit(code ?? 1));
  return true;
}

interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** Start binks through bash with a raised descriptor limit; `exec` keeps the pid. */
function startServer(o: Options): Promise<Server> {
  const root = repoRoot();
  const command = o.server === "node"
    ? [process.execPath, join(root, "dist", "main.js")]
    : o.server === "deno"
    ? [join(root, "node_modules", ".bin", "deno"), "run", "-A", join(root, "main.ts")]
    : [join(root, "node_modules", ".bin", "bun"), "run", join(root, "main.ts")];
  const args = [
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--max-connections",
    String(o.connections + 1000),
    "--keep-alive-timeout",
    "120000",
    "--max-body",
    String(4 * 1024 * 1024),
  ];
  const child = spawn(
    "bash",
    [
      "-c",
      `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$@"`,
      "bash",
      ...command,
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
  );
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 20_000);
    const onData = (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /listening on http:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.removeListener("data", onData);
        resolve({
          child,
          pid: child.pid!,
          port: Number(m[1]),
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${out}`));
    });
  });
}

const MiB = 1024;

function mib(kib: number): string {
  return (kib / MiB).toFixed(1);
}

/** Phase 1: many idle connections. */
async function connectionsPhase(o: Options, s: Server): Promise<string[]> {
  const failures: string[] = [];
  const n = o.connections;
  if (n === 0) return failures;
  console.log(`\n== ${n} concurrent connections`);
  await sleep(300);
  const fd0 = fdCount(s.pid)!;
  const rss0 = rssKiB(s.pid)!;
  const started = Date.now();
  const sockets: LoadSocket[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = Math.min(200, n - i);
    sockets.push(
      ...await Promise.all(Array.from({ length: batch }, () => LoadSocket.connect(s.port))),
    );
  }
  const fds = await settle(() => fdCount(s.pid)!, (f) => f >= fd0 + n, 20_000);
  await sleep(500);
  const rss1 = rssKiB(s.pid)!;
  console.log(
    `opened ${n} in ${Date.now() - started} ms; server holds ${fds - fd0}; RSS ${mib(rss0)} → ` +
      `${mib(rss1)} MiB = ${((rss1 - rss0) / n).toFixed(1)} KiB per idle connection`,
  );
  if (fds < fd0 + n) failures.push(`server holds only ${fds - fd0} of ${n} connections`);
  const t = Date.now();
  for (const c of sockets) c.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const ok = await Promise.all(
    sockets.map((c) => c.until(() => c.reader.seen.length >= 1, 30_000)),
  );
  const answered = ok.filter(Boolean).length;
  const rss2 = rssKiB(s.pid)!;
  console.log(`answered ${answered} of ${n} in ${Date.now() - t} ms; RSS ${mib(rss2)} MiB`);
  if (answered < n) failures.push(`${n - answered} of ${n} connections got no answer`);
  for (const c of sockets) c.close();
  const left = await settle(() => fdCount(s.pid)!, (f) => f <= fd0 + 5, 10_000);
  console.log(`closed all: server descriptors ${left} (before: ${fd0})`);
  if (left > fd0 + 5) failures.push(`${left - fd0} descriptors still open after closing all`);
  return failures;
}

interface Tally {
  ok: number;
  failed: number;
  /** Milliseconds spent on the operations that succeeded, and the longest one. */
  ms: number;
  maxMs: number;
}

/** Requests binks refuses, with the status it must answer. */
const REFUSED: [string, number][] = [
  [
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  ["GET / HTTP/1.1\nHost: x\n\n", 400],
  [
    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
    400,
  ],
  // No chunked last: no length can be read (RFC 9112 §6.3); chunked last after a coding binks
  // does not implement: 501 (§6.1).
  ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400],
  ["POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
  ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
  ["GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417],
  [`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
  [`GET / HTTP/1.1\r\nHost: x\r\nX: ${"v".repeat(20000)}\r\n\r\n`, 431],
  ["POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n", 413],
  ["GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400],
];

class Traffic {
  readonly tallies = new Map<string, Tally>();
  readonly errors: string[] = [];
  completed = 0;
  /** HTTP requests answered as expected (a pipelined batch counts each of its requests). */
  requests = 0;

  note(kind: string, ok: boolean, why: string | undefined, requests: number, ms: number): void {
    let t = this.tallies.get(kind);
    if (t === undefined) this.tallies.set(kind, t = { ok: 0, failed: 0, ms: 0, maxMs: 0 });
    if (ok) {
      t.ok++;
      t.ms += ms;
      t.maxMs = Math.max(t.maxMs, ms);
      this.completed++;
      this.requests += requests;
    } else {
      t.failed++;
      if (this.errors.length < 20) this.errors.push(`${kind}: ${why}`);
    }
  }
}

/** One worker: a keep-alive connection for normal traffic, fresh ones for refusals and resets. */
async function worker(port: number, deadline: number, rng: Rng, t: Traffic): Promise<void> {
  let c: LoadSocket | null = null;
  let tag = 0;
  const keep = async (): Promise<LoadSocket> => {
    if (c === null || c.closed || c.ended || c.error !== null) {
      c?.close();
      c = await LoadSocket.connect(port);
    }
    return c;
  };
  /** Send on the kept connection and wait for `n` more answers. */
  const exchange = async (bytes: (string | Uint8Array)[], n: number) => {
    const k = await keep();
    // Answers already checked are dropped, so a long-lived connection keeps nothing.
    k.reader.seen.length = 0;
    const before = 0;
    for (const b of bytes) {
      if (!(await k.write(b, 10_000))) throw new Error("write stalled");
    }
    if (!(await k.until(() => k.reader.seen.length >= before + n || k.closed, 20_000))) {
      throw new Error(`timed out waiting for ${n} answers`);
    }
    if (k.reader.seen.length < before + n) throw new Error("closed early");
    return k.reader.seen.slice(before, before + n);
  };
  while (Date.now() < deadline) {
    const roll = rng.int(100);
    const kind = roll < 30
      ? "get"
      : roll < 55
      ? "echo"
      : roll < 72
      ? "pipeline"
      : roll < 82
      ? "refused"
      : roll < 87
      ? "http/1.0"
      : "reset";
    let requests = kind === "reset" ? 0 : 1;
    const began = Date.now();
    try {
      if (kind === "get") {
        const [r] = await exchange(["GET / HTTP/1.1\r\nHost: x\r\n\r\n"], 1);
        if (r!.status !== 200 || r!.length !== 17) throw new Error(`got ${r!.status}`);
      } else if (kind === "echo") {
        const size = rng.chance(0.05) ? 1024 * 1024 : rng.int(256 * 1024);
        const body = taggedBody(Math.max(4, size), ++tag);
        const head = `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`;
        const [r] = await exchange([head, body], 1);
        if (r!.status !== 200 || r!.length !== body.length || tagOf(r!.prefix) !== tag) {
          throw new Error(`echo ${body.length} came back as ${r!.status}, ${r!.length} bytes`);
        }
      } else if (kind === "pipeline") {
        const n = 10 + rng.int(41);
        let batch = "";
        for (let i = 0; i < n; i++) {
          batch += i % 5 === 4
            ? `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n${
              String(i).padStart(4, "0")
            }`
            : "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        }
        const rs = await exchange([batch], n);
        requests = n;
        rs.forEach((r, i) => {
          const want = i % 5 === 4 ? 4 : 17;
          if (r.status !== 200 || r.length !== want) throw new Error(`answer ${i}: ${r.status}`);
        });
      } else if (kind === "refused") {
        const [wire, status] = rng.pick(REFUSED);
        const f = await LoadSocket.connect(port);
        f.socket.write(wire);
        const done = await f.until(() => f.reader.seen.length > 0 && (f.ended || f.closed), 10_000);
        f.close();
        const r = f.reader.seen[0];
        if (!done || r === undefined || r.status !== status || !r.close) {
          throw new Error(`expected ${status} and close, got ${r?.status ?? "nothing"}`);
        }
      } else if (kind === "http/1.0") {
        const f = await LoadSocket.connect(port);
        f.socket.write("GET / HTTP/1.0\r\n\r\n");
        const done = await f.until(() => f.reader.seen.length > 0 && (f.ended || f.closed), 10_000);
        f.close();
        if (!done || f.reader.seen[0]?.status !== 200) throw new Error("HTTP/1.0 request failed");
      } else {
        const f = await LoadSocket.connect(port);
        const how = rng.int(3);
        if (how === 0) {
          f.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\nabc");
        } else if (how === 1) f.socket.write("GET /sleep?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n");
        else {
          f.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
          f.socket.write(taggedBody(1024 * 1024, 0));
          await f.until(() => f.reader.bytes > 0, 5000);
        }
        await sleep(rng.int(20));
        f.reset();
      }
      t.note(kind, true, undefined, requests, Date.now() - began);
    } catch (err) {
      t.note(kind, false, err instanceof Error ? err.message : String(err), 0, 0);
      (c as LoadSocket | null)?.close();
      c = null;
    }
  }
  (c as LoadSocket | null)?.close();
}

interface Sample {
  at: number;
  rss: number;
  fds: number;
  completed: number;
}

async function trafficPhase(o: Options, s: Server): Promise<string[]> {
  const failures: string[] = [];
  const ms = o.minutes * 60_000;
  console.log(`\n== mixed traffic for ${o.minutes} min, ${o.workers} workers`);
  await sleep(500);
  const fd0 = fdCount(s.pid)!;
  const t = new Traffic();
  const samples: Sample[] = [];
  const started = Date.now();
  const take = () => {
    const sample = {
      at: (Date.now() - started) / 1000,
      rss: rssKiB(s.pid) ?? 0,
      fds: fdCount(s.pid) ?? 0,
      completed: t.completed,
    };
    const prev = samples[samples.length - 1];
    samples.push(sample);
    const rate = prev ? (sample.completed - prev.completed) / (sample.at - prev.at) : 0;
    console.log(
      `${sample.at.toFixed(0).padStart(5)} s  RSS ${mib(sample.rss).padStart(7)} MiB  ` +
        `fds ${String(sample.fds).padStart(5)}  ${String(Math.round(rate)).padStart(6)} ops/s  ` +
        `(client RSS ${mib(rssKiB("self") ?? 0)} MiB)`,
    );
  };
  take();
  const timer = setInterval(take, o.sample * 1000);
  const rng = new Rng(o.seed);
  await Promise.all(
    Array.from(
      { length: o.workers },
      (_, i) => worker(s.port, started + ms, new Rng(rng.next() + i), t),
    ),
  );
  clearInterval(timer);
  take();
  const fdAfter = await settle(() => fdCount(s.pid)!, (f) => f <= fd0 + 5, 10_000);

  console.log("\nkind            ok  failed  mean ms   max ms");
  for (const [kind, x] of t.tallies) {
    const mean = x.ok > 0 ? (x.ms / x.ok).toFixed(1) : "-";
    console.log(
      `${kind.padEnd(10)} ${String(x.ok).padStart(7)} ${String(x.failed).padStart(7)} ` +
        `${mean.padStart(8)} ${String(x.maxMs).padStart(8)}`,
    );
  }
  for (const e of t.errors) console.log(`  ${e}`);
  const failed = [...t.tallies.values()].reduce((n, x) => n + x.failed, 0);
  if (failed > 0) failures.push(`${failed} operations failed`);

  const half = samples.slice(Math.floor(samples.length / 2));
  const rssSlope = slope(half.map((x) => x.at), half.map((x) => x.rss));
  const span = half.length > 1 ? half[half.length - 1]!.at - half[0]!.at : 0;
  const mean = half.reduce((n, x) => n + x.rss, 0) / Math.max(1, half.length);
  const rise = mean > 0 ? (rssSlope * span / mean) * 100 : 0;
  const fdSlope = slope(half.map((x) => x.at), half.map((x) => x.fds));
  const rssAll = samples.map((x) => x.rss);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `\n${t.completed} operations (${t.requests} requests) in ${seconds.toFixed(0)} s ` +
      `(${Math.round(t.requests / seconds)} requests/s); ` +
      `RSS min ${mib(Math.min(...rssAll))}, max ${mib(Math.max(...rssAll))}, last ${
        mib(rssAll[rssAll.length - 1]!)
      } MiB; ` +
      `second half: RSS ${rssSlope >= 0 ? "+" : ""}${rssSlope.toFixed(1)} KiB/s ` +
      `(${rise >= 0 ? "+" : ""}${rise.toFixed(1)}% over ${span.toFixed(0)} s), fds ${
        fdSlope >= 0 ? "+" : ""
      }${fdSlope.toFixed(2)}/s; ` +
      `descriptors after: ${fdAfter} (before: ${fd0})`,
  );
  if (half.length >= 4 && rise > o.maxRise) {
    failures.push(`RSS rose ${rise.toFixed(1)}% over the second half (limit ${o.maxRise}%)`);
  }
  if (fdAfter > fd0 + 5) failures.push(`${fdAfter - fd0} descriptors left open after the traffic`);
  return failures;
}

async function main(): Promise<void> {
  const o = flagsOrExit("soak", parseArgs);
  if (!hasProc) {
    console.error("soak: needs /proc (Linux) to watch the server");
    process.exitCode = 2;
    return;
  }
  if (ensureFdLimit(o)) return;
  const soft = softFdLimit() ?? 0;
  if (soft < o.connections + 500) {
    console.log(
      `soft fd limit ${soft}: opening ${soft - 500} connections instead of ${o.connections}`,
    );
    o.connections = Math.max(0, soft - 500);
  }
  const s = await startServer(o);
  console.log(`soak: binks on ${o.server} (pid ${s.pid}, port ${s.port}), seed ${o.seed}`);
  let failures: string[] = [];
  try {
    failures = failures.concat(await connectionsPhase(o, s));
    if (o.minutes > 0) failures = failures.concat(await trafficPhase(o, s));
  } finally {
    await s.stop();
  }
  console.log(failures.length === 0 ? "\nPASS" : `\nFAIL\n  ${failures.join("\n  ")}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

await main();
