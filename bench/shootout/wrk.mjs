// Running wrk and reading its report.
import { join } from "node:path";

import { runLoad, runToEnd } from "./proc.mjs";

/** "1.23ms" → 1.23, "512.00us" → 0.512, "1.02s" → 1020, in ms. */
export function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) return null;
  const n = Number(m[1]);
  return { us: n / 1000, ms: n, s: n * 1000, m: n * 60_000 }[m[2]];
}

/** Parse wrk's text report (with --latency). */
export function parseWrk(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m === null ? null : Number(m[1]);
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(text);
    return m === null ? null : toMs(m[1]);
  };
  // The Thread Stats line: "Latency   1.23ms  456.78us  12.34ms  90.12%" (avg, stdev, max).
  const stats = /^\s+Latency\s+([\d.]+[a-z]+)\s+([\d.]+[a-z]+)\s/m.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const done = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)/m.exec(text);
  const result = {
    requests: done === null ? null : Number(done[1]),
    seconds: done === null ? null : toMs(`${done[2]}${done[3]}`) / 1000,
    rps: num(/^Requests\/sec:\s+([\d.]+)/m),
    latency: {
      avg: stats === null ? null : toMs(stats[1]),
      stdev: stats === null ? null : toMs(stats[2]),
      p50: pct(50),
      p75: pct(75),
      p90: pct(90),
      p99: pct(99),
    },
    errors: {
      connect: sock === null ? 0 : Number(sock[1]),
      read: sock === null ? 0 : Number(sock[2]),
      write: sock === null ? 0 : Number(sock[3]),
      timeout: sock === null ? 0 : Number(sock[4]),
      non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0,
    },
  };
  if (result.requests === null || result.rps === null) {
    throw new Error(`could not read wrk's report: ${text.trim().split("\n").slice(-1)[0] ?? ""}`);
  }
  return result;
}

/** Total of the error counters (`other`: ab's and h2load's kinds that wrk has not). */
export function errorCount(errors) {
  return errors.connect + errors.read + errors.write + errors.timeout + errors.non2xx +
    (errors.other ?? 0);
}

/**
 * Run wrk once: one thread on `cpu`, `connections` connections for `seconds`.
 * Bounded: killed 20 s after its duration if it has not finished. The result
 * also has `ticks`, wrk's own CPU time in clock ticks (see runLoad).
 */
export async function wrk(ctx, { url, seconds, connections, script, scriptArgs, headers, cpu }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s"];
  for (const h of headers ?? []) args.push("-H", h);
  if (script) args.push("-s", join(ctx.root, "bench", "shootout", "lua", script));
  args.push(url);
  if (scriptArgs && scriptArgs.length > 0) args.push("--", ...scriptArgs);
  const { out, ticks } = await runLoad("wrk", ctx.wrk, args, { cpu, seconds });
  return { ...parseWrk(out), ticks };
}

/** `wrk -v`'s first words, e.g. "wrk debian/4.1.0-3+b2". */
export async function wrkVersion(path) {
  const r = await runToEnd(path, ["-v"], { timeoutMs: 5000 });
  const line = `${r.out}\n${r.err}`.split("\n").find((l) => l.startsWith("wrk ")) ?? "wrk";
  return line.split(" [")[0].trim();
}
