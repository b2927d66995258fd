// Running h2load over HTTP/1.1 (`h2load --h1`, Debian nghttp2-client) and
// reading its report: a second opinion on keep-alive requests/s, with mean
// and standard deviation of the request time.
import { toMs } from "./wrk.mjs";
import { runLoad, runToEnd } from "./proc.mjs";

/** h2load's durations: "512us", "1.23ms", "2.00s". */
function duration(text) {
  return text === undefined ? null : toMs(text);
}

/** Parse h2load's text report into the shape the runner records. */
export function parseH2load(text) {
  const done = /^finished in ([\d.]+)s, ([\d.]+) req\/s/m.exec(text);
  const req =
    /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m
      .exec(text);
  const codes = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(text);
  const time = /^time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(text);
  if (done === null || req === null) {
    throw new Error(
      `could not read h2load's report: ${text.trim().split("\n").slice(-1)[0] ?? ""}`,
    );
  }
  const [failed, errored, timeout] = [Number(req[5]), Number(req[6]), Number(req[7])];
  return {
    requests: Number(req[3]),
    seconds: Number(done[1]),
    rps: Number(done[2]),
    latency: { avg: duration(time?.[3]), stdev: duration(time?.[4]), p50: null, p99: null },
    errors: {
      connect: 0,
      read: errored,
      write: 0,
      timeout,
      non2xx: codes === null ? 0 : Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
      other: Math.max(0, failed - errored - timeout),
    },
  };
}

/**
 * Run `h2load --h1` once: `connections` connections, one request in flight on
 * each (no pipelining), one thread pinned to `cpu`, for `seconds`. Bounded:
 * killed 20 s after its duration. `ticks` is h2load's CPU time (see runLoad).
 */
export async function h2load(ctx, { url, seconds, connections, cpu }) {
  const args = [
    "--h1",
    "-t",
    "1",
    "-c",
    String(connections),
    "-m",
    "1",
    "-D",
    String(seconds),
    "-N", // Give up on a connection silent this long.
    "5",
    url,
  ];
  const { out, ticks } = await runLoad("h2load", ctx.h2load, args, { cpu, seconds });
  return { ...parseH2load(out), ticks };
}

/** `h2load --version`: e.g. "h2load nghttp2/1.52.0". */
export async function h2loadVersion(path) {
  const r = await runToEnd(path, ["--version"], { timeoutMs: 5000 });
  const m = /nghttp2\/(\S+)/.exec(`${r.out}\n${r.err}`);
  return m === null ? "h2load" : `h2load (nghttp2 ${m[1]})`;
}
