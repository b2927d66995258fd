// Running ApacheBench (`ab -k`, Debian apache2-utils) and reading its report:
// a second opinion on keep-alive requests/s. ab speaks HTTP/1.0 and asks for
// keep-alive with `Connection: Keep-Alive`, so a server must say keep-alive in
// its answers for ab to reuse the connection.
import { runLoad, runToEnd } from "./proc.mjs";

/**
 * ab allocates a record per request up front (`-n`), and stops at whichever
 * comes first, `-n` or `-t`: room for this many requests per second.
 */
const MAX_RPS = 400_000;

/** Parse ab's text report into the shape the runner records. */
export function parseAb(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m === null ? null : Number(m[1]);
  };
  const failed =
    /Failed requests:\s+(\d+)(?:\s*\n\s*\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\))?/
      .exec(text);
  const requests = num(/^Complete requests:\s+(\d+)/m);
  const rps = num(/^Requests per second:\s+([\d.]+)/m);
  if (requests === null || rps === null) {
    throw new Error(`could not read ab's report: ${text.trim().split("\n").slice(-1)[0] ?? ""}`);
  }
  const part = (i) => failed?.[i] === undefined ? 0 : Number(failed[i]);
  return {
    requests,
    seconds: num(/^Time taken for tests:\s+([\d.]+) seconds/m),
    rps,
    keepAliveRequests: num(/^Keep-Alive requests:\s+(\d+)/m),
    // "Time per request (mean)" is the mean latency; ab's other latency figures are whole ms.
    latency: {
      avg: num(/^Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m),
      stdev: null,
      p50: null,
      p99: null,
    },
    errors: {
      connect: part(2),
      read: part(3) + part(5) + (num(/^Write errors:\s+(\d+)/m) ?? 0),
      write: 0,
      timeout: 0,
      non2xx: num(/^Non-2xx responses:\s+(\d+)/m) ?? 0,
      // Answers whose body length differs from the first one's.
      other: part(4),
    },
  };
}

/**
 * Run `ab -k` once: `connections` at a time for `seconds`, pinned to `cpu`.
 * Bounded: killed 20 s after its duration. `ticks` is ab's CPU time (see runLoad).
 */
export async function ab(ctx, { url, seconds, connections, cpu }) {
  const args = [
    "-k",
    "-q",
    "-r", // Count socket receive errors instead of giving up on the first one.
    "-c",
    String(connections),
    "-t",
    String(seconds),
    // After -t, which would otherwise set it to 50,000.
    "-n",
    String(seconds * MAX_RPS),
    "-s",
    "5",
    url,
  ];
  const { out, ticks } = await runLoad("ab", ctx.ab, args, { cpu, seconds });
  return { ...parseAb(out), ticks };
}

/** `ab -V`: e.g. "ab 2.3 (Revision 1913912)". */
export async function abVersion(path) {
  const r = await runToEnd(path, ["-V"], { timeoutMs: 5000 });
  const m = /This is ApacheBench, Version (\S+)/.exec(`${r.out}\n${r.err}`);
  return m === null ? "ab" : `ab ${m[1]}`;
}
