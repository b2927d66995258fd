#!/usr/bin/env node
// Memory per idle keep-alive connection: binks on each runtime beside each
// runtime's own server and the floor of a bare socket server.
//
//   npm run bench:memory -- [--connections N] [--rounds N] [--upload BYTES] [--only IDS] [--list]
//
// For each server and round: start it, warm it up as a server that has been
// serving for a while (2,000 requests on fresh connections, then 1,000 kept-alive
// connections opened and closed: without that, the first burst's one-time costs,
// JIT code and the heap's first growth, would be charged to the connections),
// read its resident set (VmRSS), open N connections that each make one request
// and then stay open and idle, wait for the memory to settle, read VmRSS again,
// and check that every connection is still open (a server whose idle timeout
// closed some would look cheaper than it is). The figure is (after - before) / N,
// in KiB; the median over the rounds is reported. Servers run on CPU 0 when
// taskset is present. With --upload every request, warm-up included, is a
// `POST /echo` of BYTES instead: what a connection keeps once a large body has
// passed (binks only; the other servers answer `GET /`). Writes
// bench/results/<date>-<host>-memory.{md,json} (-memory-partial.{md,json} with
// --only or --upload).
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { killAll, start, stop, tree } from "../shootout/proc.mjs";
import { unusedBase } from "../shootout/report.mjs";
import { nodeBinNamed } from "../../scripts/node-releases.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const NODE22 = nodeBinNamed(root, "node22");
const NODE24 = nodeBinNamed(root, "node24");
const HOST = "127.0.0.1";
/** Idle timeouts off for binks; the connection cap above the count. */
const BINKS_FLAGS = ["--keep-alive-timeout", "3600000", "--max-connections", "100000"];
const WARM_CLOSED = 2000;
const WARM_KEPT = 1000;
const OPEN_BATCH = 100;
const SETTLE_MS = 3000;
/** Every wait is bounded. */
const READY_MS = 20_000;
const OPEN_MS = 120_000;

const USAGE = `Usage: npm run bench:memory -- [options]
  --connections N   idle connections per measurement (default 10000)
  --rounds N        rounds; the median is reported (default 3)
  --upload BYTES    each request a POST /echo of BYTES rather than GET / (binks only)
  --only IDS        servers to run, comma-separated (see --list)
  --list            list the servers, then exit
  --help            show this text`;

function usageError(message) {
  console.error(`bench:memory: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { connections: 10_000, rounds: 3, upload: 0, only: null, list: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) usageError(`${flag} needs a value`);
      return v;
    };
    const int = (lo, hi) => {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < lo || n > hi) usageError(`${flag} takes ${lo}..${hi}, got ${v}`);
      return n;
    };
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === "--connections") opts.connections = int(100, 15_000);
    else if (flag === "--rounds") opts.rounds = int(1, 9);
    else if (flag === "--upload") opts.upload = int(1, 16 * 1024 * 1024);
    else if (flag === "--only") opts.only = value().split(",").filter((s) => s !== "");
    else if (flag === "--list") opts.list = true;
    else usageError(`unknown option "${flag}" (try --help)`);
  }
  return opts;
}

/** [id, label, command, args given the port, why it cannot run or null]. */
function servers() {
  const dist = (file) => join(root, "dist", file);
  const peers = dist("bench/memory/peers.js");
  const peersTs = join(root, "bench", "memory", "peers.ts");
  const main = (port) => ["--port", String(port), "--host", HOST, ...BINKS_FLAGS];
  const node22 = existsSync(NODE22) ? null : "Node 22 not installed (npm test installs it)";
  const node24 = existsSync(NODE24) ? null : "Node 24 not installed (npm test installs it)";
  const built = existsSync(dist("main.js")) ? null : "dist missing (npm run build)";
  const denoRun = ["run", "--allow-net", "--allow-env", "--allow-read"];
  return [
    [
      "binks-node",
      "binks (Node 20)",
      process.execPath,
      (p) => [dist("main.js"), ...main(p)],
      built,
    ],
    ["binks-node22", "binks (Node 22)", NODE22, (p) => [dist("main.js"), ...main(p)], node22],
    ["binks-node24", "binks (Node 24)", NODE24, (p) => [dist("main.js"), ...main(p)], node24],
    ["binks-deno", "binks (Deno)", bin("deno"), (p) => [...denoRun, "main.ts", ...main(p)], null],
    [
      "binks-deno-net",
      "binks (Deno, node:net transport)",
      bin("deno"),
      (p) => [...denoRun, "main.ts", "--runtime", "node", ...main(p)],
      null,
    ],
    ["binks-bun", "binks (Bun)", bin("bun"), (p) => ["run", "main.ts", ...main(p)], null],
    ["node-http", "node:http (Node 20)", process.execPath, (p) => [peers, "node-http", p], built],
    ["node-http22", "node:http (Node 22)", NODE22, (p) => [peers, "node-http", p], node22],
    ["node-http24", "node:http (Node 24)", NODE24, (p) => [peers, "node-http", p], node24],
    ["deno-serve", "Deno.serve", bin("deno"), (p) => [...denoRun, peersTs, "deno-serve", p], null],
    ["bun-serve", "Bun.serve", bin("bun"), (p) => ["run", peersTs, "bun-serve", p], null],
    [
      "node-net",
      "floor: node:net (Node 20)",
      process.execPath,
      (p) => [peers, "node-net", p],
      built,
    ],
    ["node-net22", "floor: node:net (Node 22)", NODE22, (p) => [peers, "node-net", p], node22],
    ["node-net24", "floor: node:net (Node 24)", NODE24, (p) => [peers, "node-net", p], node24],
    [
      "deno-read",
      "floor: Deno.listen, 1 KiB pending read",
      bin("deno"),
      (p) => [...denoRun, peersTs, "deno-read", p],
      null,
    ],
    ["bun-listen", "floor: Bun.listen", bin("bun"), (p) => ["run", peersTs, "bun-listen", p], null],
  ].map(([id, label, cmd, args, why]) => ({ id, label, cmd, args, why }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function rssKiB(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      total += m === null ? 0 : Number(m[1]);
    } catch {
      // Gone.
    }
  }
  return total;
}

/** The body of each request with --upload, or null. */
let uploadBody = null;

/**
 * One connection that sends `GET /` (with --upload, `POST /echo` and its body)
 * and resolves once the whole response is in (head and Content-Length body).
 * With `keep`, the socket stays open and is handed back; otherwise the request
 * asks to close.
 */
function request(port, keep) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, HOST);
    let text = "";
    let done = false;
    socket.setEncoding("latin1");
    socket.on("error", (err) => {
      if (!done) reject(err);
    });
    socket.on("connect", () => {
      const close = keep ? "" : "Connection: close\r\n";
      if (uploadBody === null) {
        socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n${close}\r\n`);
        return;
      }
      socket.write(
        `POST /echo HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${uploadBody.length}\r\n${close}\r\n`,
      );
      socket.write(uploadBody);
    });
    socket.on("data", (chunk) => {
      text += chunk;
      const end = text.indexOf("\r\n\r\n");
      if (end < 0 || done) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (length === null || text.length < end + 4 + Number(length[1])) return;
      done = true;
      if (!/^HTTP\/1\.1 200 /.test(text)) reject(new Error(`answered ${text.split("\r\n")[0]}`));
      else if (keep) resolve(socket);
      else resolve(null);
      if (!keep) socket.destroy();
    });
    socket.on("close", () => {
      if (!done) reject(new Error("closed before the response"));
    });
  });
}

async function waitReady(port) {
  const until = Date.now() + READY_MS;
  for (;;) {
    try {
      await request(port, false);
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`no answer on port ${port}: ${err.message}`);
      await sleep(100);
    }
  }
}

async function inBatches(count, fn) {
  const out = [];
  for (let i = 0; i < count; i += OPEN_BATCH) {
    const n = Math.min(OPEN_BATCH, count - i);
    out.push(...await Promise.all(Array.from({ length: n }, fn)));
  }
  return out;
}

let nextPort = 19_400;

/** One measurement: KiB per idle connection, and the RSS before. */
async function measure(server, connections) {
  const port = nextPort++;
  const proc = start(server.cmd, server.args(port), { cpu: 0, cwd: root });
  const held = [];
  try {
    await waitReady(port);
    await inBatches(WARM_CLOSED, () => request(port, true).then((s) => s.destroy()));
    const warm = await inBatches(WARM_KEPT, () => request(port, true));
    for (const s of warm) s.destroy();
    await sleep(SETTLE_MS);
    const pids = tree(proc.child.pid);
    const before = rssKiB(pids);
    const deadline = Date.now() + OPEN_MS;
    let closed = 0;
    for (let i = 0; i < connections; i += OPEN_BATCH) {
      if (Date.now() > deadline) throw new Error("opening the connections took too long");
      const n = Math.min(OPEN_BATCH, connections - i);
      const sockets = await Promise.all(Array.from({ length: n }, () => request(port, true)));
      for (const s of sockets) {
        s.on("close", () => closed++);
        held.push(s);
      }
    }
    await sleep(SETTLE_MS);
    const after = rssKiB(tree(proc.child.pid));
    if (closed > 0) throw new Error(`${closed} of the idle connections were closed by the server`);
    if (proc.exited !== null) throw new Error(`the server exited: ${proc.err.trim().slice(-200)}`);
    return { perConnKiB: (after - before) / connections, beforeKiB: before, afterKiB: after };
  } finally {
    for (const s of held) s.destroy();
    await stop(proc, { signal: "SIGKILL" });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

function table(rows, opts) {
  const lines = [
    `| server | KiB per idle connection (median of ${opts.rounds}) | each round | RSS before, MiB |`,
    "|---|---|---|---|",
  ];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.label} | skipped: ${r.skipped} | | |`);
      continue;
    }
    const each = r.rounds.map((x) => x.perConnKiB.toFixed(2)).join(", ");
    const before = (median(r.rounds.map((x) => x.beforeKiB)) / 1024).toFixed(1);
    lines.push(`| ${r.label} | **${r.median.toFixed(2)}** | ${each} | ${before} |`);
  }
  return lines.join("\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let list = servers();
  if (opts.list) {
    for (const s of list) console.log(`${s.id.padEnd(16)} ${s.label}${s.why ? ` (${s.why})` : ""}`);
    return;
  }
  if (opts.only !== null) {
    const bad = opts.only.find((id) => !list.some((s) => s.id === id));
    if (bad !== undefined) usageError(`unknown server "${bad}" (see --list)`);
    list = list.filter((s) => opts.only.includes(s.id));
  }
  if (opts.upload > 0) {
    uploadBody = Buffer.alloc(opts.upload, "binks ");
    for (const s of list) s.why ??= s.id.startsWith("binks-") ? null : "answers GET / only";
  }
  const started = Date.now();
  const rows = list.map((s) => ({ id: s.id, label: s.label, skipped: s.why, rounds: [] }));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const [i, server] of list.entries()) {
      const row = rows[i];
      if (row.skipped) continue;
      try {
        const m = await measure(server, opts.connections);
        row.rounds.push(m);
        console.log(
          `round ${round}: ${server.label.padEnd(40)} ${m.perConnKiB.toFixed(2)} KiB/connection`,
        );
      } catch (err) {
        row.skipped = `failed: ${err.message}`;
        console.log(`round ${round}: ${server.label.padEnd(40)} ${row.skipped}`);
      }
    }
  }
  for (const r of rows) if (!r.skipped) r.median = median(r.rounds.map((x) => x.perConnKiB));
  const md = table(rows, opts);
  console.log(`\n${md}`);
  const date = new Date().toISOString().slice(0, 10);
  // A run of some servers only writes a file of its own: it must not replace the day's full table.
  const partial = opts.only !== null || opts.upload > 0 ? "-partial" : "";
  const base = unusedBase(join(root, "bench", "results", `${date}-${hostname()}-memory${partial}`));
  mkdirSync(dirname(base), { recursive: true });
  const command = `npm run bench:memory${
    process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""
  }`;
  const header = `# Memory per idle keep-alive connection\n\n${opts.connections} connections, ` +
    `each after one ${
      opts.upload > 0 ? `\`POST /echo\` of ${opts.upload} bytes` : "`GET /`"
    }; VmRSS of the server before and after; ${date}, ` +
    `${((Date.now() - started) / 60_000).toFixed(1)} min.\n\n\`${command}\`\n\n`;
  writeFileSync(`${base}.md`, `${header}${md}\n`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ date, command, opts, rows }, null, 2)}\n`);
  // The repository's formatter, so the files are committed as the test command checks them.
  spawnSync(bin("deno"), ["fmt", "--quiet", `${base}.md`, `${base}.json`], { cwd: root });
  console.log(`\nwrote ${base}.md and .json`);
}

process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});
main().catch((err) => {
  killAll();
  console.error(`bench:memory: ${err.message}`);
  process.exit(1);
});
