/**
 * Reading a process's resident memory and open descriptors from /proc
 * (Linux), and this process's descriptor limit. Shared by the fault tests and
 * the soak run. Everything returns null where /proc is not there.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** Whether /proc can be read here (Linux). */
export const hasProc: boolean = existsSync("/proc/self/status") && existsSync("/proc/self/fd");

/** Resident set size of `pid` in KiB (VmRSS), or null. */
export function rssKiB(pid: number | "self"): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of `pid`, or null. */
export function fdCount(pid: number | "self"): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** This process's soft limit on open files, or null. */
export function softFdLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (!m) return null;
    return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return null;
  }
}

/** Poll `read` until `ok` holds of its value or `ms` pass; returns the last value read. */
export async function settle<T>(
  read: () => T,
  ok: (value: T) => boolean,
  ms: number,
  every = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  let value = read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, every));
    value = read();
  }
  return value;
}

/** Least-squares slope of `ys` over `xs`. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
