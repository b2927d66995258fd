#!/usr/bin/env node
// The runtime shoot-out: binks on Node, Deno and Bun against each runtime's
// own server, Hono, uWebSockets.js, nginx, the seed's peers (h2o, fasthttp,
// uvloop + httptools) and trivial responders, under wrk (and ab and h2load for
// the original table), on 127.0.0.1 only. `npm run bench` builds first, then
// runs this; `npm run bench:original` runs it with `--table original`.
//
//   node bench/shootout/run.mjs [--table original] [--quick] [--only IDS] [--scenarios IDS]
//                               [--duration S] [--rounds N] [--warmup S] [--no-install] [--list]
//
// Writes bench/results/<date>-<host>.{json,md} and one <…>-<scenario>.svg per
// scenario (with -original for --table original, and -quick or -partial for
// --quick and filtered runs).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { hostname, release, totalmem } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { ab, abVersion } from "./ab.mjs";
import { aptInstall, debInstalled, lastLine, stopPackagedService } from "./apt.mjs";
import {
  ALL_SCENARIOS,
  CONNECTIONS,
  ORIGINAL_QUICK_SCENARIOS,
  ORIGINAL_QUICK_SERVERS,
  ORIGINAL_SCENARIOS,
  ORIGINAL_SERVERS,
  QUICK_SCENARIOS,
  QUICK_SERVERS,
  SCENARIOS,
  servers as allServers,
  TOOLS,
} from "./catalog.mjs";
import { smoke, waitReady } from "./client.mjs";
import { h2load, h2loadVersion } from "./h2load.mjs";
import { nginxSetup } from "./nginx.mjs";
import { h2oSetup } from "./peers/h2o.mjs";
import {
  busyPct,
  CLK_TCK,
  cpuStat,
  cpuTicks,
  freePort,
  killAll,
  lastWords,
  peakKiB,
  resetPeak,
  runToEnd,
  start,
  stop,
  tree,
  waitQuiet,
  which,
} from "./proc.mjs";
import {
  compactJson,
  CONTENDED_PCT,
  fmt,
  markdown,
  originalMarkdown,
  summarise,
  summaryTable,
  svgChart,
  unusedBase,
} from "./report.mjs";
import { errorCount, wrk, wrkVersion } from "./wrk.mjs";
import { installCommand, nodeBin, nodeDir, OTHER_NODES } from "../../scripts/node-releases.mjs";

// Compiled with the rest: `npm run bench` builds first (the Node servers run from dist/ too).
const targets = await import("../../dist/bench/shootout/targets.js").catch(() => null);

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const HOST = "127.0.0.1";
/** Before each server starts, wait for other load to drop below this (% of one CPU). */
const QUIET_PCT = 20;

const USAGE = `Usage: npm run bench -- [options]   (or: node bench/shootout/run.mjs [options])
  --table original   the seed README's table: ${ORIGINAL_SERVERS.join(", ")};
                     ${ORIGINAL_SCENARIOS.join(", ")} (npm run bench:original)
  --quick            a ~1 minute subset: ${QUICK_SERVERS.join(", ")};
                     ${QUICK_SCENARIOS.join(", ")}; 3 s runs, 1 round, 1 s warm-up
                     (with --table original: ${ORIGINAL_QUICK_SERVERS.join(", ")};
                     ${ORIGINAL_QUICK_SCENARIOS.join(", ")})
  --only IDS         servers to run, comma-separated (see --list)
  --scenarios IDS    scenarios to run, comma-separated (see --list)
  --duration S       seconds per measured run (default 5; quick 3)
  --rounds N         rounds, servers interleaved; medians are reported (default 3; quick 1)
  --warmup S         warm-up seconds per server and round (default 2; quick 1)
  --no-install       do not apt-get install missing tools and peers (wrk, ab, h2load, nginx,
                     h2o, Go and fasthttp, uvloop and httptools); their rows are skipped
  --list             list server and scenario ids, then exit
  --render FILE      rewrite the Markdown and SVG files of a results JSON (no measuring)
  --help             show this text`;

// ---- command line

function usageError(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    quick: false,
    only: null,
    scenarios: null,
    duration: null,
    rounds: null,
    warmup: null,
    install: true,
    list: false,
    render: null,
    table: null,
  };
  const ints = { "--duration": [1, 600], "--rounds": [1, 20], "--warmup": [0, 60] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === "" || (eq < 0 && v.startsWith("--"))) {
        usageError(`${flag} needs a value`);
      }
      return v;
    };
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === "--quick") opts.quick = true;
    else if (flag === "--no-install") opts.install = false;
    else if (flag === "--list") opts.list = true;
    else if (flag === "--render") opts.render = value();
    else if (flag === "--table") {
      opts.table = value();
      if (opts.table !== "original") usageError(`--table must be "original", got "${opts.table}"`);
    } else if (flag === "--only") opts.only = value().split(",").filter((s) => s !== "");
    else if (flag === "--scenarios") opts.scenarios = value().split(",").filter((s) => s !== "");
    else if (flag in ints) {
      const v = value();
      const [lo, hi] = ints[flag];
      if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) {
        usageError(`${flag} must be a whole number from ${lo} to ${hi}, got "${v}"`);
      }
      opts[flag.slice(2)] = Number(v);
    } else usageError(`unknown option "${arg}" (try --help)`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const catalog = allServers();

if (opts.list) {
  console.log("servers:");
  for (const s of catalog) {
    console.log(`  ${s.id.padEnd(16)} ${s.label}${s.optional ? " (only when asked for)" : ""}`);
  }
  console.log("scenarios:");
  for (const s of ALL_SCENARIOS) {
    const extra = SCENARIOS.includes(s) ? "" : " (only when asked for)";
    console.log(`  ${s.id.padEnd(16)} ${s.title}: ${s.description}${extra}`);
  }
  process.exit(0);
}

const unknown = (list, known, what) => {
  const bad = (list ?? []).find((id) => !known.includes(id));
  if (bad !== undefined) usageError(`unknown ${what} "${bad}" (see --list)`);
};
unknown(opts.only, catalog.map((s) => s.id), "server");
unknown(opts.scenarios, ALL_SCENARIOS.map((s) => s.id), "scenario");

const settings = {
  durationS: opts.duration ?? (opts.quick ? 3 : 5),
  rounds: opts.rounds ?? (opts.quick ? 1 : 3),
  warmupS: opts.warmup ?? (opts.quick ? 1 : 2),
  connections: CONNECTIONS,
  serverCpu: null,
  clientCpu: null,
  /** Each runtime's binks, demo app, own server and floor run back to back in a round. */
  order: "grouped",
};
const original = opts.table === "original";
const defaultServers = original
  ? (opts.quick ? ORIGINAL_QUICK_SERVERS : ORIGINAL_SERVERS)
  : (opts.quick ? QUICK_SERVERS : catalog.filter((s) => !s.optional).map((s) => s.id));
const defaultScenarios = original
  ? (opts.quick ? ORIGINAL_QUICK_SCENARIOS : ORIGINAL_SCENARIOS)
  : (opts.quick ? QUICK_SCENARIOS : SCENARIOS.map((s) => s.id));
const serverIds = opts.only ?? defaultServers;
const scenarioIds = opts.scenarios ?? defaultScenarios;
const chosenServers = catalog.filter((s) => serverIds.includes(s.id));
const chosenScenarios = ALL_SCENARIOS.filter((s) => scenarioIds.includes(s.id));

// ---- cleanup, whatever happens

let nginx = null;
let h2o = null;
function cleanup() {
  killAll();
  nginx?.cleanup();
  nginx = null;
  h2o?.cleanup();
  h2o = null;
}
process.on("exit", cleanup);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`\nbench: stopped by ${signal}; servers stopped`);
    cleanup();
    process.exit(130);
  });
}
process.on("uncaughtException", (err) => {
  console.error(`bench: ${err?.stack ?? err}`);
  cleanup();
  process.exit(1);
});
process.on("unhandledRejection", (err) => {
  console.error(`bench: ${err?.stack ?? err}`);
  cleanup();
  process.exit(1);
});

// ---- tools

const log = (line) => console.log(line);

/**
 * The Debian packages this run needs, each with how to tell it is there: the
 * load generators of the chosen scenarios (found on PATH), nginx, and the
 * chosen servers' packages (asked of dpkg).
 */
function requirements() {
  const reqs = new Map();
  const onPath = (binary) => () => which(binary) !== null;
  reqs.set("wrk", onPath("wrk"));
  for (const scenario of chosenScenarios) {
    const tool = TOOLS[scenario.tool ?? "wrk"];
    reqs.set(tool.package, onPath(tool.binary));
  }
  if (chosenServers.some((s) => s.id === "nginx")) reqs.set("nginx", onPath("nginx"));
  for (const server of chosenServers) {
    for (const pkg of server.packages ?? []) reqs.set(pkg, () => debInstalled(pkg));
  }
  return reqs;
}

/**
 * Install what is missing: all in one apt-get call, then, if that failed,
 * one at a time so that one bad package does not keep out the rest. Resolves
 * to a Map from each package still missing to why.
 */
async function installMissing(reqs) {
  const missing = () => [...reqs].filter(([, present]) => !present()).map(([pkg]) => pkg);
  const why = new Map();
  const first = missing();
  if (first.length === 0) return why;
  const all = await aptInstall(first, { allowed: opts.install, log });
  if (all !== null && opts.install) {
    for (const pkg of missing()) why.set(pkg, await aptInstall([pkg], { allowed: true, log }));
  }
  for (const pkg of missing()) {
    why.set(pkg, why.get(pkg) ?? all ?? "not installed (still missing after apt-get)");
  }
  // A package's install may start its service: stop what this run's installs started.
  if (first.includes("nginx")) {
    const binary = which("nginx");
    if (binary !== null) {
      await stopPackagedService("nginx", "/run/nginx.pid", [binary, "-s", "quit"], log);
    }
  }
  if (first.includes("h2o")) await stopPackagedService("h2o", "/run/h2o.pid", null, log);
  return why;
}

function version(cmd, args, re) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  const m = re.exec(`${r.stdout ?? ""}\n${r.stderr ?? ""}`);
  return m === null ? "?" : m[1];
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8"))
      .version;
  } catch {
    return "?";
  }
}

function machine() {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const nproc = Number(spawnSync("nproc", [], { encoding: "utf8" }).stdout?.trim()) || 1;
  return {
    nproc,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU",
    kernel: release(),
    memGiB: Math.round(totalmem() / 2 ** 30),
  };
}

// ---- the run

const rootBin = (name) => {
  const p = join(root, "node_modules", ".bin", name);
  return existsSync(p) ? realpathSync(p) : null;
};

/**
 * The binaries of the other Node releases the chosen servers run on (`runtime: "node24"`),
 * installed as `npm test` installs them when missing (a folder of their own under .cache).
 */
async function otherNodes() {
  const out = {};
  for (const { name, version: release } of OTHER_NODES) {
    const binary = nodeBin(root, release);
    out[name] = binary;
    if (existsSync(binary) || !opts.install) continue;
    if (!chosenServers.some((s) => s.runtime === name)) continue;
    log(`installing Node ${release} into ${nodeDir(root, release)}`);
    const [cmd, args] = installCommand(root, release);
    const r = await runToEnd(cmd, args, { cwd: root, timeoutMs: 300_000 });
    if (r.code !== 0) log(`  failed: ${lastLine(r.err || r.out)}`);
  }
  return out;
}

async function main() {
  if (targets === null) {
    console.error("bench: dist/bench/shootout/targets.js is missing: run `npm run build` first");
    process.exit(1);
  }
  const started = Date.now();
  const missing = await installMissing(requirements());
  const ctx = {
    root,
    node: process.execPath,
    /** Other Node releases by name ("node24"): their binary, or why there is none. */
    nodes: await otherNodes(),
    deno: rootBin("deno"),
    bun: rootBin("bun"),
    wrk: which("wrk"),
    ab: which("ab"),
    h2load: which("h2load"),
    /** Debian package → why it is still not installed. */
    missing,
    nginx: null,
    nginxMissing: null,
    nginxCommand: null,
    h2o: null,
    h2oMruby: false,
    h2oCommand: null,
  };

  if (ctx.wrk === null) {
    console.error(`bench: skipped everything: wrk is ${missing.get("wrk") ?? "still missing"}`);
    process.exit(1);
  }
  if (chosenServers.some((s) => s.id === "nginx")) {
    const binary = which("nginx");
    if (binary === null) ctx.nginxMissing = `nginx is ${missing.get("nginx") ?? "still missing"}`;
    else {
      nginx = nginxSetup(binary);
      ctx.nginx = binary;
      ctx.nginxCommand = nginx.command;
    }
  }
  if (chosenServers.some((s) => s.packages?.includes("h2o"))) {
    const binary = which("h2o");
    if (binary !== null) {
      h2o = h2oSetup(binary);
      ctx.h2o = binary;
      ctx.h2oMruby = /^mruby: YES/m.test(version(binary, ["--version"], /([\s\S]*)/));
      ctx.h2oCommand = h2o.command;
    }
  }

  const m = machine();
  if (m.nproc >= 2 && which("taskset") !== null) {
    settings.serverCpu = 0;
    settings.clientCpu = 1;
  }
  const meta = {
    date: localDate(),
    host: hostname().replace(/[^A-Za-z0-9_.-]/g, "_") || "host",
    machine: m,
    versions: {
      node: process.versions.node,
      deno: ctx.deno ? version(ctx.deno, ["--version"], /deno (\S+)/) : "missing",
      bun: ctx.bun ? version(ctx.bun, ["--version"], /^(\S+)/) : "missing",
      wrk: await wrkVersion(ctx.wrk),
      ab: ctx.ab && chosenScenarios.some((s) => s.tool === "ab") ? await abVersion(ctx.ab) : null,
      h2load: ctx.h2load && chosenScenarios.some((s) => s.tool === "h2load")
        ? await h2loadVersion(ctx.h2load)
        : null,
      nginx: ctx.nginx ? version(ctx.nginx, ["-v"], /nginx\/(\S+)/) : null,
      ...Object.fromEntries(
        Object.entries(ctx.nodes).filter(([, bin]) => existsSync(bin)).map(([name, bin]) => [
          name,
          version(bin, ["--version"], /v(\S+)/),
        ]),
      ),
      ...peerVersions(ctx),
      hono: packageVersion("hono"),
      uws: packageVersion("@trufflesuite/uws-js-unofficial"),
    },
    command: commandLine(),
    table: opts.table ?? undefined,
    settings,
    clkTck: CLK_TCK,
  };

  // Which servers can run here at all.
  const runnable = [];
  const serverRecords = [];
  for (const server of chosenServers) {
    const why = await unavailable(server, ctx);
    serverRecords.push({
      id: server.id,
      label: server.label,
      family: server.family,
      runtime: server.runtime,
      status: why === null ? "ok" : "skipped",
      reason: why ?? undefined,
    });
    if (why === null) runnable.push(server);
    else log(`· ${server.id}: skipped: ${why}`);
  }
  const byId = new Map(runnable.map((server) => [server.id, server]));
  if (runnable.length === 0 || chosenScenarios.length === 0) {
    console.error("bench: nothing to run");
    process.exit(1);
  }

  // Cells: scenario × server. n/a is decided now (routes) and after the first
  // checks (problems found, Connection: close ignored).
  const cells = {};
  for (const scenario of chosenScenarios) {
    cells[scenario.id] = {};
    for (const server of runnable) {
      const na = notApplicable(server, scenario, ctx);
      cells[scenario.id][server.id] = na === null
        ? { status: "ok", rounds: [] }
        : { status: "n/a", reason: na, rounds: [] };
    }
  }

  const plan = (server) => chosenScenarios.filter((s) => cells[s.id][server.id].status === "ok");
  let totalSteps = settings.rounds * runnable.reduce((n, s) => n + plan(s).length, 0);
  const perServer = settings.warmupS + 1.5;
  const perStep = settings.durationS + 0.5;
  let step = 0;
  let serverRounds = 0;
  const eta = () => {
    const left = Math.max(
      0,
      (totalSteps - step) * perStep +
        Math.max(0, settings.rounds * runnable.length - serverRounds) * perServer,
    );
    return `${Math.floor(left / 60)}m${String(Math.round(left % 60)).padStart(2, "0")}s`;
  };
  log(
    `· ${runnable.length} servers × ${chosenScenarios.length} scenarios, ${settings.rounds} round(s) of ${settings.durationS} s; about ${eta()}`,
  );

  const checked = new Map();
  // Time this run may spend, in all, waiting for other load to settle.
  let quietBudgetMs = opts.quick ? 10_000 : 180_000;

  /** Start `server`, check it, warm it up, run `steps`, stop it. */
  const serverPass = async (server, steps, round) => {
    serverRounds++;
    if (steps.length === 0) return;
    if (quietBudgetMs > 0) {
      let told = false;
      const q = await waitQuiet(QUIET_PCT, Math.min(90_000, quietBudgetMs), (pct) => {
        if (!told) {
          log(`· waiting for other processes to settle (${pct.toFixed(0)}% of a CPU busy) …`);
        }
        told = true;
      });
      quietBudgetMs -= q.waitedMs;
      if (quietBudgetMs <= 0) log("· no more waiting for a quiet machine in this run");
    }
    const port = await freePort();
    const [cmd, args] = server.cmd(ctx, port);
    const proc = start(cmd, args, { cpu: settings.serverCpu, cwd: root, env: server.env });
    try {
      await waitReady(port, proc);
    } catch (e) {
      const why = `${e.message}${lastWords(proc) ? `: ${lastWords(proc).slice(0, 160)}` : ""}`;
      log(`[${round}] ${server.id}: failed to start: ${why}`);
      for (const s of steps) {
        cells[s.id][server.id].rounds.push(failedRound(`did not start: ${why}`));
      }
      step += steps.length;
      await stop(proc);
      return;
    }
    if (!checked.has(server.id)) {
      const result = await smoke(port, server.routes);
      checked.set(server.id, result);
      for (const why of Object.values(result.problems)) {
        log(`· ${server.id}: wrong answer, not timed: ${why}`);
      }
      for (const s of chosenScenarios) {
        const cell = cells[s.id][server.id];
        if (cell.status !== "ok") continue;
        if (result.problems[s.route]) failCell(cell, `wrong answer: ${result.problems[s.route]}`);
        else if (s.id === "close" && !result.honoursClose) {
          Object.assign(cell, {
            status: "n/a",
            reason: "keeps the connection open after Connection: close",
          });
        }
      }
    }
    const problems = checked.get(server.id).problems;
    const goodRoutes = server.routes.filter((route) => !problems[route]);
    if (settings.warmupS > 0 && goodRoutes.length > 0) {
      process.stdout.write(`[${round}] ${server.id}: warm-up ${settings.warmupS} s … `);
      try {
        const w = await wrk(ctx, {
          url: `http://${HOST}:${port}/`,
          seconds: settings.warmupS,
          connections: CONNECTIONS,
          script: "warm.lua",
          scriptArgs: goodRoutes,
          cpu: settings.clientCpu,
        });
        log(`${fmt.int(w.rps)} req/s`);
      } catch (e) {
        log(`failed: ${e.message}`);
      }
    }
    for (const scenario of steps) {
      step++;
      const cell = cells[scenario.id][server.id];
      const label = `[${String(step).padStart(3)}/${totalSteps}] ${round} ${server.id.padEnd(16)} ${
        scenario.id.padEnd(scenario.tool ? 16 : 10)
      }`;
      if (cell.status !== "ok") {
        log(`${label} skipped: ${cell.reason}`);
        continue;
      }
      if (proc.exited !== null) {
        const why = `server exited (${proc.exited.code ?? proc.exited.signal}): ${
          lastWords(proc).slice(0, 160)
        }`;
        cell.rounds.push(failedRound(why));
        log(`${label} ${why}`);
        continue;
      }
      try {
        const m = await measure(ctx, proc, port, scenario);
        cell.rounds.push(m);
        log(
          `${label} ${fmt.int(m.rps).padStart(9)} req/s  ${
            m.p50 === null ? "" : `p50 ${fmt.ms(m.p50)} ms  p99 ${fmt.ms(m.p99)} ms  `
          }CPU ${fmt.pct(m.cpuPct)} ${fmt.us(m.cpuUsPerReq)} µs/req  ${fmt.mib(m.rssMiB)} MiB${
            m.errorTotal > 0 ? `  errors ${m.errorTotal}` : ""
          }${
            m.contended ? "  (other load: left out if a clean round exists)" : ""
          }  (eta ${eta()})`,
        );
      } catch (e) {
        cell.rounds.push(failedRound(e.message));
        log(`${label} failed: ${e.message}`);
      }
    }
    await stop(proc);
  };

  for (let r = 0; r < settings.rounds; r++) {
    // Rotated each round, so drift over time hits every server alike; servers compared with
    // each other run back to back (see bench/shootout/targets.ts).
    const order = targets.passOrder(runnable.map((server) => server.id), r).map((id) =>
      byId.get(id)
    );
    for (const server of order) await serverPass(server, plan(server), `r${r + 1}`);
  }

  // One more pass for cells that have no clean round (all failed or all
  // disturbed by other processes), so one burst of other load does not decide.
  if (!opts.quick) {
    const clean = (x) => !x.failed && !x.contended;
    const again = runnable.map((server) => [
      server,
      plan(server).filter((s) => !cells[s.id][server.id].rounds.some(clean)),
    ]).filter(([, steps]) => steps.length > 0);
    if (again.length > 0) {
      const n = again.reduce((sum, [, steps]) => sum + steps.length, 0);
      log(`· one extra round for ${n} cell(s) without a clean round`);
      totalSteps += n;
      for (const [server, steps] of again) await serverPass(server, steps, "r+");
    }
  }

  // Medians; a cell whose every round failed is failed.
  for (const scenario of chosenScenarios) {
    for (const server of runnable) {
      const cell = cells[scenario.id][server.id];
      if (cell.status !== "ok") continue;
      const good = cell.rounds.filter((x) => !x.failed);
      if (good.length === 0) {
        failCell(cell, cell.rounds.find((x) => x.failed)?.failed ?? "no measurement");
        continue;
      }
      cell.summary = summarise(good);
      const failedRounds = cell.rounds.length - good.length;
      if (failedRounds > 0) {
        cell.summary.errors += failedRounds;
        cell.summary.roundsWithErrors += failedRounds;
      }
    }
  }

  const run = { meta, servers: serverRecords, scenarios: chosenScenarios, cells };
  const files = writeResults(run);
  log("");
  log(summaryTable(run));
  log("");
  for (const f of files) log(`wrote ${f}`);
  log(`done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

/** Why `server` does not run `scenario`, or null when it does (ctx: load tools at hand). */
function notApplicable(server, scenario, ctx = null) {
  const tool = scenario.tool ? TOOLS[scenario.tool] : null;
  if (tool !== null && ctx !== null && ctx[scenario.tool] === null) {
    return `${tool.binary} is ${ctx.missing.get(tool.package) ?? "not installed"}`;
  }
  if (server.scenarios && !server.scenarios.includes(scenario.id)) {
    return server.scenariosWhy ?? "not in this server's scenarios";
  }
  if (!server.routes.includes(scenario.route)) {
    return server.notes?.[scenario.route] ?? `does not serve ${scenario.path}`;
  }
  return null;
}

function failCell(cell, reason) {
  cell.status = "failed";
  cell.reason = reason;
}

function failedRound(reason) {
  return { failed: reason, errorTotal: 1, errors: {} };
}

async function unavailable(server, ctx) {
  if (server.runtime === "deno" && ctx.deno === null) {
    return "node_modules/.bin/deno missing (npm install)";
  }
  if (server.runtime === "bun" && ctx.bun === null) {
    return "node_modules/.bin/bun missing (npm install)";
  }
  const otherNode = ctx.nodes[server.runtime];
  if (otherNode !== undefined && !existsSync(otherNode)) {
    return `${otherNode} missing (${opts.install ? "its install failed" : "--no-install"})`;
  }
  for (const pkg of server.packages ?? []) {
    if (ctx.missing.has(pkg)) return `Debian ${pkg} is ${ctx.missing.get(pkg)}`;
  }
  const why = server.check?.(ctx) ?? null;
  if (why !== null) return why;
  if (server.prepare) {
    const failed = await server.prepare(ctx);
    if (failed !== null) return failed;
  }
  if (server.id === "uws-node") {
    const r = await runToEnd(ctx.node, ["-e", 'require("@trufflesuite/uws-js-unofficial")'], {
      cwd: root,
      timeoutMs: 20_000,
    });
    if (r.code !== 0) return `uWebSockets.js does not load: ${lastLine(r.err || r.out)}`;
  }
  return null;
}

/** The load generators, by a scenario's `tool`; each takes the same options (ab and h2load need fewer). */
const LOADS = { wrk, ab, h2load };

/** One measured run of one scenario against a running server. */
async function measure(ctx, proc, port, scenario) {
  let idle = null;
  if (scenario.idle) {
    idle = start(ctx.node, [
      join(root, "bench", "shootout", "idle.mjs"),
      String(port),
      String(scenario.idle),
    ], {
      cpu: settings.clientCpu,
      stdin: "pipe",
    });
    try {
      await waitLine(idle, "ready", 30_000);
    } catch (e) {
      const got = lastWords(idle);
      await stop(idle);
      throw new Error(`idle connections did not come up: ${e.message} (${got.slice(0, 120)})`);
    }
  }
  try {
    const pids = tree(proc.child.pid);
    resetPeak(pids);
    const idleBefore = idle ? await idleMark(idle) : null;
    const cpu0 = cpuTicks(pids);
    const idle0 = idle ? cpuTicks([idle.child.pid]) : 0;
    const stat0 = cpuStat();
    const t0 = performance.now();
    const w = await LOADS[scenario.tool ?? "wrk"](ctx, {
      url: `http://${HOST}:${port}${scenario.path}`,
      seconds: settings.durationS,
      connections: CONNECTIONS,
      script: scenario.script,
      scriptArgs: scenario.scriptArgs,
      headers: scenario.headers,
      cpu: settings.clientCpu,
    });
    const wall = (performance.now() - t0) / 1000;
    const all = [...new Set([...pids, ...tree(proc.child.pid)])];
    const serverTicks = cpuTicks(all) - cpu0;
    const idleTicks = idle ? cpuTicks([idle.child.pid]) - idle0 : 0;
    const stat1 = cpuStat();
    const cpuS = serverTicks / CLK_TCK;
    const cores = coreLoad(stat0, stat1, serverTicks, w.ticks + idleTicks);
    const rssKiB = peakKiB(all);
    let idleStats = null;
    let extra = 0;
    if (idle) {
      const after = await idleMark(idle);
      extra = after.responses - idleBefore.responses;
      idle.child.stdin.end("stop\n");
      idleStats = { ...(await waitLine(idle, "stats", 5000)), during: extra };
      if (after.open < scenario.idle) idleStats.openAtEnd = after.open;
    }
    const errorTotal = errorCount(w.errors);
    const latency = scenario.latency !== false;
    return {
      rps: w.rps,
      p50: latency ? w.latency.p50 : null,
      p99: latency ? w.latency.p99 : null,
      avg: latency ? w.latency.avg : null,
      stdev: latency ? w.latency.stdev : null,
      // ab only: the share of requests it sent on a reused connection.
      keptAlive: typeof w.keepAliveRequests === "number" && w.requests > 0
        ? w.keepAliveRequests / w.requests
        : null,
      cpuUsPerReq: w.requests + extra > 0 ? (cpuS * 1e6) / (w.requests + extra) : null,
      cpuPct: (cpuS / wall) * 100,
      rssMiB: rssKiB / 1024,
      requests: w.requests,
      errors: w.errors,
      errorTotal,
      clientCorePct: cores.client,
      foreignPct: cores.foreign,
      clientForeignPct: cores.clientForeign,
      contended: (cores.foreign ?? 0) > CONTENDED_PCT || (cores.clientForeign ?? 0) > CONTENDED_PCT,
      idle: idleStats ?? undefined,
    };
  } finally {
    if (idle) await stop(idle);
  }
}

/**
 * How busy the load generator's CPU was (near 100%: wrk may be the limit),
 * and how much of each of the two CPUs other processes took: a CPU's process
 * time less what the server (on the server's CPU) or wrk and the idle-
 * connection client (on the client's CPU) used.
 */
function coreLoad(before, after, serverTicks, clientTicks) {
  if (settings.serverCpu === null) return { client: null, foreign: null, clientForeign: null };
  const others = (cpu, ours) => {
    const c = String(cpu);
    const window = after[c].total - before[c].total;
    const rest = after[c].task - before[c].task - ours;
    return window > 0 ? Math.max(0, (rest / window) * 100) : null;
  };
  return {
    client: busyPct(before, after, String(settings.clientCpu)),
    foreign: others(settings.serverCpu, serverTicks),
    clientForeign: others(settings.clientCpu, clientTicks),
  };
}

async function idleMark(idle) {
  const seen = (idle.out.match(/^mark /gm) ?? []).length;
  idle.child.stdin.write("mark\n");
  return await waitLine(idle, "mark", 5000, seen);
}

/** Wait for the `n`-th (0-based) stdout line starting with `word `; returns its JSON. */
async function waitLine(proc, word, timeoutMs, n = 0) {
  const until = Date.now() + timeoutMs;
  const re = new RegExp(`^${word} (.*)$`, "gm");
  for (;;) {
    const found = [...proc.out.matchAll(re)];
    if (found.length > n) return JSON.parse(found[n][1]);
    if (proc.exited !== null) throw new Error(`exited before "${word}"`);
    if (Date.now() > until) throw new Error(`no "${word}" within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function localDate() {
  const d = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

function commandLine() {
  const argv = process.argv.slice(2);
  const event = process.env.npm_lifecycle_event;
  if (event === "bench:original" && argv[0] === "--table" && argv[1] === "original") {
    // The npm script's own flag comes first; what follows is the user's.
    const rest = argv.slice(2).join(" ");
    return `npm run bench:original${rest ? ` -- ${rest}` : ""}`;
  }
  const args = argv.join(" ");
  if (event === "bench") return `npm run bench${args ? ` -- ${args}` : ""}`;
  return `node bench/shootout/run.mjs${args ? ` ${args}` : ""}`;
}

/** Versions of the seed's peers that this run uses. */
function peerVersions(ctx) {
  const used = (id) => chosenServers.some((s) => s.id === id);
  const out = {};
  if (ctx.h2o && (used("h2o-file") || used("h2o-mruby"))) {
    out.h2o = version(ctx.h2o, ["--version"], /h2o version (\S+)/);
  }
  if (used("fasthttp")) {
    out.go = which("go") ? version(which("go"), ["version"], /go version go(\S+)/) : null;
    out.fasthttp = debVersion("golang-github-valyala-fasthttp-dev");
  }
  if (used("uvloop-httptools")) {
    out.python = version("/usr/bin/python3", ["--version"], /Python (\S+)/);
    out.uvloop = debVersion("python3-uvloop");
    out.httptools = debVersion("python3-httptools");
  }
  return out;
}

/** A Debian package's version without the epoch and Debian revision ("1:1.31.0-4" → "1.31.0"). */
function debVersion(pkg) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout) return null;
  return r.stdout.replace(/^\d+:/, "").replace(/[-+~][^-]*$/, "").replace(/\+ds\d*$/, "");
}

function writeResults(run, named = null) {
  const dir = join(root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const table = run.meta.table === "original" ? "-original" : "";
  const suffix = table + (opts.quick ? "-quick" : (opts.only || opts.scenarios) ? "-partial" : "");
  const base = named ??
    basename(unusedBase(join(dir, `${run.meta.date}-${run.meta.host}${suffix}`)));
  const written = [];
  const svgs = {};
  for (const scenario of run.scenarios) {
    const name = `${base}-${scenario.id}.svg`;
    writeFileSync(join(dir, name), svgChart(run, scenario));
    svgs[scenario.id] = name;
    written.push(join(dir, name));
  }
  const md = join(dir, `${base}.md`);
  const report = run.meta.table === "original" ? originalMarkdown : markdown;
  writeFileSync(md, report(run, svgs) + "\n");
  const json = join(dir, `${base}.json`);
  writeFileSync(json, compactJson(jsonRecord(run)) + "\n");
  written.unshift(md, json);
  // The repository's formatter checks these too: leave them as it would.
  const deno = rootBin("deno");
  if (deno !== null) spawnSync(deno, ["fmt", "--quiet", ...written], { cwd: root });
  return written.map((f) => relative(root, f));
}

/** Rebuild a run from its JSON record (the inverse of jsonRecord), for --render. */
function runFromJson(record) {
  const { kind: _k, tools: _t, units: _u, roundFields: _f, servers, scenarios, results, ...meta } =
    record;
  const catalogById = new Map(catalog.map((s) => [s.id, s]));
  const fullScenarios = scenarios.map((s) => ALL_SCENARIOS.find((x) => x.id === s.id) ?? s);
  const cells = {};
  for (const scenario of fullScenarios) {
    cells[scenario.id] = {};
    for (const [serverId, c] of Object.entries(results[scenario.id] ?? {})) {
      const server = catalogById.get(serverId);
      if (c.status !== "ok") {
        const reason = c.status === "n/a" && server ? notApplicable(server, scenario) : null;
        cells[scenario.id][serverId] = { status: c.status, reason: reason ?? c.reason, rounds: [] };
        continue;
      }
      const { status: _s, rounds, ...summary } = c;
      cells[scenario.id][serverId] = {
        status: "ok",
        summary,
        rounds: rounds.map((r) => {
          if (!Array.isArray(r)) return { failed: r.failed, errorTotal: 1, errors: {} };
          const errors = r[10] || { connect: 0, read: 0, write: 0, timeout: 0, non2xx: 0 };
          return {
            rps: r[0],
            p50: r[1],
            p99: r[2],
            cpuUsPerReq: r[3],
            cpuPct: r[4],
            rssMiB: r[5],
            requests: r[6],
            clientCorePct: r[7],
            foreignPct: r[8],
            clientForeignPct: r[9],
            errors,
            errorTotal: errorCount(errors),
            contended: (r[8] ?? 0) > CONTENDED_PCT || (r[9] ?? 0) > CONTENDED_PCT,
            idle: r[11] ?? undefined,
            avg: r[12] ?? null,
            stdev: r[13] ?? null,
            keptAlive: r[14] ?? null,
          };
        }),
      };
    }
  }
  return { meta, servers, scenarios: fullScenarios, cells };
}

/**
 * A round's fields after the errors, when it has any: idle-connection figures
 * (or null), the mean and standard deviation of latency, and (ab) the share of
 * requests sent on a kept-alive connection. Trailing nulls
 * are left off, so records without them look as they always did.
 */
function optionalFields(x) {
  const round3 = (n) => typeof n === "number" ? Number(n.toFixed(3)) : null;
  const tail = [x.idle ?? null, round3(x.avg), round3(x.stdev), round3(x.keptAlive)];
  while (tail.length > 0 && tail[tail.length - 1] === null) tail.pop();
  return tail;
}

/** What the JSON file keeps: settings, medians, and each round's figures. */
function jsonRecord(run) {
  const cells = {};
  for (const [scenario, byServer] of Object.entries(run.cells)) {
    cells[scenario] = {};
    for (const [server, cell] of Object.entries(byServer)) {
      if (cell.status !== "ok") {
        cells[scenario][server] = { status: cell.status, reason: cell.reason };
        continue;
      }
      cells[scenario][server] = {
        status: "ok",
        ...cell.summary,
        rounds: cell.rounds.map((x) =>
          x.failed ? { failed: x.failed } : [
            Math.round(x.rps),
            x.p50,
            x.p99,
            x.cpuUsPerReq === null ? null : Number(x.cpuUsPerReq.toFixed(2)),
            Number(x.cpuPct.toFixed(1)),
            Number(x.rssMiB.toFixed(1)),
            x.requests,
            x.clientCorePct === null ? null : Number(x.clientCorePct.toFixed(0)),
            x.foreignPct === null ? null : Number(x.foreignPct.toFixed(1)),
            x.clientForeignPct === null ? null : Number(x.clientForeignPct.toFixed(1)),
            x.errorTotal > 0 ? x.errors : 0,
            ...optionalFields(x),
          ]
        ),
      };
    }
  }
  return {
    kind: "binks shoot-out",
    ...run.meta,
    tools: {
      load: "wrk (req/s, latency); ab -k and h2load --h1 for their scenarios",
      cpu: "/proc/<pid>/stat utime+stime",
      rss: "/proc/<pid>/status VmHWM",
    },
    units: {
      rps: "requests/s",
      p50: "ms",
      p99: "ms",
      avg: "ms, mean latency",
      stdev: "ms, latency standard deviation",
      keptAlive: "share of ab's requests sent on a reused connection",
      cpuUsPerReq: "µs of server CPU per request",
      cpuPct: "server CPU, % of one core",
      rssMiB: "MiB",
      clientCorePct: "% busy of the CPU wrk ran on",
      foreignPct: "% of the server's CPU taken by other processes",
      clientForeignPct: "% of the client's CPU taken by other processes",
    },
    roundFields: [
      "rps",
      "p50",
      "p99",
      "cpuUsPerReq",
      "cpuPct",
      "rssMiB",
      "requests",
      "clientCorePct",
      "foreignPct",
      "clientForeignPct",
      "errors",
      "idle (idle scenario only, else null)",
      "avg",
      "stdev",
      "keptAlive (ab only)",
    ],
    servers: run.servers.map(({ runtime: _, ...rest }) => rest),
    scenarios: run.scenarios.map(({ id, title, description }) => ({ id, title, description })),
    results: cells,
  };
}

/** --render: rewrite the report files of a results JSON. */
function render() {
  let record;
  try {
    record = JSON.parse(readFileSync(opts.render, "utf8"));
  } catch (e) {
    usageError(`--render: cannot read ${opts.render}: ${e.message}`);
  }
  if (record?.kind !== "binks shoot-out") {
    usageError(`--render: ${opts.render} is not shoot-out results`);
  }
  const base = opts.render.replace(/\.json$/, "").split("/").slice(-1)[0];
  for (const f of writeResults(runFromJson(record), base)) console.log(`wrote ${f}`);
}

if (opts.render !== null) render();
else await main();
