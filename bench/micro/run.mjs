#!/usr/bin/env node
// Runs every micro-benchmark (bench/micro/*.bench.ts) on Node, Deno and Bun and
// prints one table per runtime, then how binks's parser compares with
// http-parser-js on each case. `npm run bench:micro` builds first (Node runs
// the compiled dist/bench/micro/*.bench.js).
//
//   node bench/micro/run.mjs [--only node,deno,bun] [--filter parser,router] [--time MS]
//
// Results are also written to bench/results/<date>-<host>-micro.json (-micro-partial.json when
// --only or --filter leaves something out).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { compactJson, unusedBase } from "../shootout/report.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MARKER = "##binks-bench## ";
const RUNTIMES = ["node", "deno", "bun"];
const CHILD_TIMEOUT_MS = 10 * 60_000;

const USAGE = `Usage: node bench/micro/run.mjs [options]
  --only LIST      runtimes to run, comma-separated: node,deno,bun (default: all)
  --filter LIST    bench files to run by name, e.g. parser,router (default: all)
  --time MS        time budget per case in ms (default 300)
  --help           show this text`;

function fail(message) {
  console.error(`bench:micro: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { runtimes: RUNTIMES, filter: null, timeMs: 300 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") fail(`${flag} needs a value`);
      return v;
    };
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === "--only") {
      const list = value().split(",").filter((s) => s !== "");
      const bad = list.find((r) => !RUNTIMES.includes(r));
      if (bad !== undefined) fail(`unknown runtime "${bad}" (expected node, deno or bun)`);
      opts.runtimes = RUNTIMES.filter((r) => list.includes(r));
    } else if (flag === "--filter") {
      opts.filter = value().split(",").filter((s) => s !== "");
    } else if (flag === "--time") {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 10 || n > 60_000) {
        fail(`--time must be a whole number of ms from 10 to 60000, got "${v}"`);
      }
      opts.timeMs = n;
    } else {
      fail(`unknown option "${arg}" (try --help)`);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

const benches = readdirSync(join(root, "bench", "micro"))
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.slice(0, -".bench.ts".length))
  .filter((name) => opts.filter === null || opts.filter.includes(name))
  .sort();
if (benches.length === 0) fail(`no bench matches --filter ${opts.filter?.join(",")}`);

function command(runtime, name) {
  const bin = (b) => join(root, "node_modules", ".bin", b);
  if (runtime === "node") {
    return [process.execPath, [join(root, "dist", "bench", "micro", `${name}.bench.js`)]];
  }
  const ts = join("bench", "micro", `${name}.bench.ts`);
  if (runtime === "deno") return [bin("deno"), ["run", "-A", ts]];
  return [bin("bun"), ["run", ts]];
}

let current = null;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (current !== null) current.kill("SIGKILL");
    console.error(`\nbench:micro: stopped by ${signal}`);
    process.exit(130);
  });
}

/** Run one bench file; resolves to its SuiteResult or { error }. */
function runOne(runtime, name) {
  const [cmd, args] = command(runtime, name);
  if (runtime === "node" && !existsSync(args[0])) {
    return Promise.resolve({ error: `${args[0]} is missing: run npm run build first` });
  }
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: {
        ...process.env,
        NO_COLOR: "1",
        BINKS_BENCH_JSON: "1",
        BINKS_BENCH_TIME_MS: String(opts.timeMs),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    current = child;
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => out += d);
    child.stderr.on("data", (d) => err += d);
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      current = null;
      resolve({ error: e.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = null;
      const line = out.split("\n").find((l) => l.startsWith(MARKER));
      if (code === 0 && line !== undefined) {
        resolve(JSON.parse(line.slice(MARKER.length)));
        return;
      }
      const why = err.trim().split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ??
        `exit ${code ?? signal}`;
      resolve({ error: why });
    });
  });
}

const fmtInt = (n) => Math.round(n).toLocaleString("en-US");

/** "binks: small GET" and "http-parser-js: small GET" → ratio per case. */
function parserRatios(suite) {
  const byName = new Map(suite.cases.map((c) => [c.name, c]));
  const parts = [];
  for (const c of suite.cases) {
    if (!c.name.startsWith("binks: ")) continue;
    const label = c.name.slice("binks: ".length);
    const peer = byName.get(`http-parser-js: ${label}`);
    if (peer === undefined) {
      const skipped = suite.skipped.find((s) => s.name === `http-parser-js: ${label}`);
      parts.push(`${label} n/a${skipped ? ` (${skipped.reason})` : ""}`);
    } else {
      parts.push(`${label} ${(c.opsPerSec / peer.opsPerSec).toFixed(2)}×`);
    }
  }
  return parts;
}

const results = {};
const started = Date.now();
const total = opts.runtimes.length * benches.length;
let step = 0;
for (const runtime of opts.runtimes) {
  results[runtime] = {};
  for (const name of benches) {
    step++;
    process.stderr.write(`[${step}/${total}] ${runtime}: ${name} … `);
    const t0 = Date.now();
    const r = await runOne(runtime, name);
    results[runtime][name] = r;
    process.stderr.write(
      `${r.error ? `failed: ${r.error}` : "ok"} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
    );
  }
}

for (const runtime of opts.runtimes) {
  const suites = Object.entries(results[runtime]);
  const label = suites.map(([, s]) => s.runtime).find((x) => x !== undefined) ?? runtime;
  console.log(`\n=== ${label}`);
  const rows = [];
  const notes = [];
  const units = [];
  for (const [name, s] of suites) {
    if (s.error) {
      notes.push(`${name}: failed: ${s.error}`);
      continue;
    }
    units.push(`${name}: ${s.unit}`);
    for (const c of s.cases) {
      rows.push({
        bench: name,
        case: c.name,
        "ops/s": fmtInt(c.opsPerSec),
        "ns/op": c.nsPerOp.toFixed(1),
        "±%": c.rme.toFixed(2),
      });
    }
    for (const k of s.skipped) notes.push(`${name}: ${k.name}: skipped: ${k.reason}`);
  }
  if (units.length > 0) console.log(`one op = ${units.join("; ")}`);
  if (rows.length > 0) console.table(rows);
  for (const n of notes) console.log(n);
  const parser = results[runtime].parser;
  if (parser && !parser.error) {
    console.log(`parser, binks ÷ http-parser-js (req/s): ${parserRatios(parser).join("; ")}`);
  }
}

const date = new Date().toISOString().slice(0, 10);
const host = hostname().replace(/[^A-Za-z0-9_.-]/g, "_") || "host";
const outDir = join(root, "bench", "results");
mkdirSync(outDir, { recursive: true });
// A run of some runtimes or benches must not overwrite the full results of the day.
const partial = opts.filter !== null || opts.runtimes.length < RUNTIMES.length ? "-partial" : "";
const file = `${unusedBase(join(outDir, `${date}-${host}-micro${partial}`))}.json`;
// Only what the tables show (no raw samples), so the file stays small.
const record = {
  kind: "binks micro-benchmarks",
  date: new Date().toISOString(),
  host,
  timePerCaseMs: opts.timeMs,
  fields: ["case", "ops/s", "ns/op", "rme %", "samples", "ops per call"],
  results: Object.fromEntries(
    Object.entries(results).map(([runtime, suites]) => [
      runtime,
      Object.fromEntries(
        Object.entries(suites).map(([name, s]) => [
          name,
          s.error ? { error: s.error } : {
            runtime: s.runtime,
            unit: s.unit,
            cases: s.cases.map((c) => [
              c.name,
              Math.round(c.opsPerSec),
              Number(c.nsPerOp.toFixed(1)),
              Number(c.rme.toFixed(2)),
              c.samples,
              c.opsPerCall,
            ]),
            skipped: s.skipped.length > 0 ? s.skipped : undefined,
          },
        ]),
      ),
    ]),
  ),
};
writeFileSync(file, compactJson(record) + "\n");
// The repository's formatter checks this file too: leave it as it would.
spawnSync(join(root, "node_modules", ".bin", "deno"), ["fmt", "--quiet", file], { cwd: root });
console.log(
  `\nwrote ${file.slice(root.length + 1)} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
);
