// Processes: starting them pinned to a CPU, finding their children, reading
// their CPU time and peak memory from /proc, and stopping every one of them
// (also on Ctrl-C and on errors). Only processes started here are ever killed,
// by pid.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";

/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
export const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** The path of an executable on PATH, or null. */
export function which(name) {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  for (const dir of ["/usr/sbin", "/sbin", "/usr/local/sbin"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

const live = new Set();

/**
 * Start a process, pinned with `taskset -c CPU` when `cpu` is given and
 * taskset exists (taskset execs the command, so the pid is the command's).
 * Output is kept (the last 64 KiB) for error messages.
 */
export function start(cmd, args, { cpu = null, cwd, env, stdin = "ignore" } = {}) {
  const taskset = cpu === null ? null : which("taskset");
  const [file, argv] = taskset === null
    ? [cmd, args]
    : [taskset, ["-c", String(cpu), cmd, ...args]];
  const child = spawn(file, argv, {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: [stdin, "pipe", "pipe"],
  });
  const proc = { child, out: "", err: "", exited: null, pinned: taskset !== null };
  const keep = (field) => (d) => {
    proc[field] = (proc[field] + d).slice(-65536);
  };
  child.stdout.on("data", keep("out"));
  child.stderr.on("data", keep("err"));
  proc.done = new Promise((resolve) => {
    child.on("error", (e) => {
      proc.err += `\n${e.message}`;
      proc.exited ??= { code: null, signal: null, error: e.message };
      live.delete(proc);
      resolve(proc.exited);
    });
    child.on("exit", (code, signal) => {
      proc.exited ??= { code, signal };
      live.delete(proc);
      resolve(proc.exited);
    });
  });
  live.add(proc);
  return proc;
}

/** The last non-empty line of a process's stderr (or stdout), for messages. */
export function lastWords(proc) {
  const lines = `${proc.out}\n${proc.err}`.split("\n").map((l) => l.trim()).filter((l) => l);
  return lines.slice(-1)[0] ?? "";
}

function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[1]);
  } catch {
    return -1;
  }
}

/** `pid` and all its descendants that are alive. */
export function tree(pid) {
  if (pid === undefined || pid === null) return [];
  const parents = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    parents.set(Number(name), parentOf(name));
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const [child, parent] of parents) if (parent === out[i]) out.push(child);
  }
  return out.filter((p) => parents.has(p));
}

/** utime + stime of the processes, in clock ticks (threads included). */
export function cpuTicks(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14 and 15 of stat; index 11 and 12 once pid and comm are cut.
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone.
    }
  }
  return total;
}

function statusKiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    );
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/**
 * Reset the peak-RSS mark (VmHWM) of the processes to their current RSS
 * (`5` into /proc/<pid>/clear_refs). Returns false if the kernel refused.
 */
export function resetPeak(pids) {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Sum of VmHWM (peak resident set) over the processes, in KiB. */
export function peakKiB(pids) {
  return pids.reduce((sum, pid) => sum + statusKiB(pid, "VmHWM"), 0);
}

function signalAll(pids, signal) {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stop a process and its children: `signal` (SIGTERM by default), then
 * SIGKILL to whatever is left after `graceMs`.
 */
export async function stop(proc, { signal = "SIGTERM", graceMs = 2000 } = {}) {
  if (proc.exited !== null) return;
  const pids = tree(proc.child.pid);
  signalAll(pids, signal);
  const timer = new Promise((resolve) => setTimeout(resolve, graceMs));
  await Promise.race([proc.done, timer]);
  // Children may outlive a parent that ignored or forwarded the signal.
  signalAll(tree(proc.child.pid).concat(pids).filter(alive), "SIGKILL");
  await Promise.race([proc.done, new Promise((resolve) => setTimeout(resolve, 1000))]);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL every process started here that is still running (and its children). */
export function killAll() {
  for (const proc of live) {
    if (proc.exited !== null) continue;
    signalAll(tree(proc.child.pid), "SIGKILL");
  }
}

/** A port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Run a command to completion; resolves to { code, out, err }. */
export function runToEnd(cmd, args, { timeoutMs = 60_000, env, cwd } = {}) {
  return new Promise((resolve) => {
    const proc = start(cmd, args, { env, cwd });
    const timer = setTimeout(() => stop(proc, { signal: "SIGKILL" }), timeoutMs);
    proc.done.then((exit) => {
      clearTimeout(timer);
      resolve({ code: exit.code, signal: exit.signal, out: proc.out, err: proc.err });
    });
  });
}

/**
 * Run a load generator to its end, pinned to `cpu`, killed `graceS` seconds
 * after the `seconds` it was asked to run. Resolves to { out, ticks }: its
 * standard output, and its own CPU time in clock ticks, sampled every 50 ms
 * while it runs (so the last few ms may be missing). Rejects, naming it `name`
 * with the end of its output, when it exits with a failure.
 */
export async function runLoad(name, cmd, args, { cpu, seconds, graceS = 20 }) {
  const proc = start(cmd, args, { cpu });
  const timer = setTimeout(() => stop(proc, { signal: "SIGKILL" }), (seconds + graceS) * 1000);
  let ticks = 0;
  const sampler = setInterval(() => {
    ticks = Math.max(ticks, cpuTicks([proc.child.pid]));
  }, 50);
  const exit = await proc.done;
  clearTimeout(timer);
  clearInterval(sampler);
  if (exit.code !== 0) {
    const last = `${proc.err}\n${proc.out}`.trim().slice(-200);
    throw new Error(`${name} exited with ${exit.code ?? exit.signal}: ${last}`);
  }
  return { out: proc.out, ticks };
}

/**
 * Per-CPU tick counters from /proc/stat: for each CPU, `task` (user + nice +
 * system: time spent running processes), `busy` (also irq, softirq, steal)
 * and `total` (also idle and iowait).
 */
export function cpuStat() {
  const out = {};
  let text = "";
  try {
    text = readFileSync("/proc/stat", "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number);
    const task = user + nice + system;
    const busy = task + irq + softirq + (steal || 0);
    out[m[1] === "" ? "all" : m[1]] = { task, busy, total: busy + idle + iowait };
  }
  return out;
}

/** Percent of `cpu` (an index or "all", counted in CPUs) busy between two samples. */
export function busyPct(before, after, cpu, field = "busy") {
  const a = after[cpu];
  const b = before[cpu];
  if (a === undefined || b === undefined || a.total === b.total) return null;
  return ((a[field] - b[field]) / (a.total - b.total)) * 100;
}

/**
 * Wait until the machine is quiet (less than `maxPct` of one CPU busy over
 * half a second), at most `maxWaitMs`. Resolves to the last busy figure (in % of one
 * CPU) and how long it waited.
 */
export async function waitQuiet(maxPct, maxWaitMs, onWait) {
  const startedAt = Date.now();
  let pct = 0;
  for (;;) {
    const a = cpuStat();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = cpuStat();
    const cpus = Object.keys(b).filter((k) => k !== "all").length || 1;
    pct = (busyPct(a, b, "all", "task") ?? 0) * cpus;
    const waited = Date.now() - startedAt;
    if (pct < maxPct || waited >= maxWaitMs) return { pct, waitedMs: waited };
    onWait?.(pct);
  }
}
