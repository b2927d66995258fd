// Debian packages the shoot-out needs (load tools, native peers): which are
// missing, and installing them with apt-get (root only; `--no-install` says no).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

import { runToEnd, which } from "./proc.mjs";

/** The last line of a command's output, for one-line reasons. */
export function lastLine(text) {
  return String(text).trim().split("\n").slice(-1)[0] ?? "";
}

/** Whether dpkg has `pkg` installed (not merely known or removed). */
export function debInstalled(pkg) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && /\binstall ok installed\b/.test(r.stdout ?? "");
}

/** The packages of `pkgs` that are not installed, in order, without repeats. */
export function debMissing(pkgs) {
  return [...new Set(pkgs)].filter((p) => !debInstalled(p));
}

let updated = false;

/**
 * Install `pkgs` with `apt-get install -y --no-install-recommends` (one
 * `apt-get update` per run first). Resolves to null, or why they are still
 * missing ("not installed …", to follow "Debian PKG is"). `allowed` false (`--no-install`) installs nothing.
 */
export async function aptInstall(pkgs, { allowed, log }) {
  const list = Array.isArray(pkgs) ? pkgs : [pkgs];
  if (list.length === 0) return null;
  if (!allowed) return "not installed (--no-install)";
  if (process.getuid?.() !== 0) return "not installed, and apt-get needs root";
  if (which("apt-get") === null) return "not installed, and there is no apt-get";
  log(`· installing ${list.join(" ")} with apt-get …`);
  if (!updated) {
    const u = await runToEnd("apt-get", ["update"], { timeoutMs: 300_000 });
    updated = true;
    if (u.code !== 0) return `not installed: apt-get update failed: ${lastLine(u.err || u.out)}`;
  }
  const r = await runToEnd("apt-get", ["install", "-y", "--no-install-recommends", ...list], {
    timeoutMs: 900_000,
    env: { DEBIAN_FRONTEND: "noninteractive" },
  });
  return r.code === 0 ? null : `not installed: apt-get install failed: ${lastLine(r.err || r.out)}`;
}

/**
 * A package's install may start its system service (nginx, h2o); that one is
 * not ours to leave running, nor to compete for the CPUs. Stop the one whose
 * pid file is `pidFile` with `stopCmd` (or SIGTERM when none is given).
 */
export async function stopPackagedService(name, pidFile, stopCmd, log) {
  let pid = 0;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return; // No service running.
  }
  if (!(pid > 0) || !existsSync(`/proc/${pid}`)) return;
  if (stopCmd) await runToEnd(stopCmd[0], stopCmd.slice(1), { timeoutMs: 10_000 });
  else {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // Gone already.
    }
  }
  log(`· stopped the ${name} service that its package install started`);
}
