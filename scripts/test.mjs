#!/usr/bin/env node
// The test command: build, lint, then the one suite on Node (this machine's, and
// the Node 22 and 24 LTS lines users run), Deno and Bun. Prints a count per runtime
// and one closing line `N passed, N failed`; exits non-zero if anything failed.
//
//   npm test                      everything
//   npm test -- --only node,deno  a subset of runtimes (node, node22, node24, deno, bun; net:
//                                 the transport tests on Deno and Bun over Node's net adapter)
//   npm test -- --no-lint         skip formatter and linter
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installCommand, nodeBin, nodeDir, OTHER_NODES } from "./node-releases.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const only = (() => {
  const i = args.indexOf("--only");
  return i >= 0 ? new Set(args[i + 1].split(",")) : null;
})();
const wanted = (name) => only === null || only.has(name);

/**
 * Test files run side by side, this many at once on each runtime: most of a file's time is spent
 * waiting on sockets, timers and child servers, so two files at once take 50–60% of the time
 * of one after the other even on two cores. At most 4, so that load tests do not all meet.
 */
const JOBS = Math.min(4, Math.max(2, availableParallelism()));

function step(title) {
  console.log(`\n== ${title}`);
}

/** Run a command, echoing its output; resolves to { code, output }. */
function run(cmd, argv, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const echo = (d) => {
      const s = d.toString();
      output += s;
      process.stdout.write(s);
    };
    child.stdout.on("data", echo);
    child.stderr.on("data", echo);
    // Runners colour their output even when told not to; counts are read without it.
    child.on("close", (code) => resolve({ code: code ?? 1, output: output.replace(ANSI, "") }));
  });
}

function last(re, text) {
  let m = null;
  for (const x of text.matchAll(re)) m = x;
  return m;
}

const results = [];
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

function record(name, passed, failed, code) {
  // A runner that died without counting still counts as a failure.
  if (code !== 0 && failed === 0) failed = 1;
  results.push({ name, passed, failed });
  console.log(`-- ${name}: ${passed} passed, ${failed} failed`);
}

async function nodeSuite(name, binary) {
  step(`tests on ${name} (${spawnSync(binary, ["--version"]).stdout.toString().trim()})`);
  const files = readdirSync(join(root, "dist", "test"))
    .filter((f) => f.endsWith(".test.js"))
    .map((f) => join("dist", "test", f));
  const { code, output } = await run(binary, [
    "--test",
    `--test-concurrency=${JOBS}`,
    "--test-reporter=spec",
    ...files,
  ]);
  const pass = Number(last(/^ℹ pass (\d+)/gm, output)?.[1] ?? 0);
  const fail = Number(last(/^ℹ fail (\d+)/gm, output)?.[1] ?? 0);
  record(name, pass, fail, code);
}

async function denoSuite() {
  step("tests on Deno");
  const { code, output } = await run(bin("deno"), [
    "test",
    "--no-check",
    "-A",
    "--parallel",
    "test/",
  ], {
    DENO_JOBS: String(JOBS),
  });
  // With describe/it, Deno counts each describe as a test and each it as a step.
  const m = last(
    /(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/g,
    output,
  );
  let pass = 0;
  let fail = 0;
  if (m) {
    pass = Number(m[2] ?? m[1]);
    fail = m[4] !== undefined ? Number(m[4]) : Number(m[3]);
    if (fail === 0 && Number(m[3]) > 0) fail = Number(m[3]);
  }
  record("deno", pass, fail, code);
}

async function bunSuite() {
  step("tests on Bun");
  const { code, output } = await run(bin("bun"), ["test", `--parallel=${JOBS}`, "./test/"]);
  const pass = Number(last(/^\s*(\d+) pass/gm, output)?.[1] ?? 0);
  const fail = Number(last(/^\s*(\d+) fail/gm, output)?.[1] ?? 0);
  record("bun", pass, fail, code);
}

/**
 * The transport tests again under Deno and Bun with Node's `net` adapter (`--runtime node`),
 * which the README says works there too: the suites above test each runtime's own adapter.
 */
async function nodeNetSuites() {
  const env = { BINKS_TEST_ADAPTER: "node" };
  step("transport tests on Deno with the node adapter");
  const deno = await run(bin("deno"), ["test", "--no-check", "-A", "test/transport.test.ts"], env);
  const d = last(
    /(?:ok|FAILED) \| \d+ passed \((\d+) steps?\) \| \d+ failed(?: \((\d+) steps?\))?/g,
    deno.output,
  );
  record("deno+net", Number(d?.[1] ?? 0), Number(d?.[2] ?? 0), deno.code);
  step("transport tests on Bun with the node adapter");
  const bun = await run(bin("bun"), ["test", "./test/transport.test.ts"], env);
  const pass = Number(last(/^\s*(\d+) pass/gm, bun.output)?.[1] ?? 0);
  const fail = Number(last(/^\s*(\d+) fail/gm, bun.output)?.[1] ?? 0);
  record("bun+net", pass, fail, bun.code);
}

async function ensureNode(version) {
  const binary = nodeBin(root, version);
  if (existsSync(binary)) return true;
  step(`installing Node ${version} into ${nodeDir(root, version)}`);
  const { code } = await run(...installCommand(root, version));
  return code === 0 && existsSync(binary);
}

/** The proxy test wants Debian's nginx; install it when missing (the test skips if this fails). */
async function ensureNginx() {
  if (["/usr/sbin/nginx", "/usr/bin/nginx"].some((p) => existsSync(p))) return;
  if (process.getuid?.() !== 0) {
    console.log("nginx missing and not root: the nginx test will be skipped");
    return;
  }
  step("installing nginx (apt-get) for the reverse-proxy test");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], env);
  const { code } = await run("apt-get", [
    "install",
    "-y",
    "-qq",
    "--no-install-recommends",
    "nginx-light",
  ], env);
  if (code !== 0) {
    await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "nginx"], env);
  }
  // Debian starts the packaged service; the test runs its own instance.
  await run("sh", ["-c", "service nginx stop >/dev/null 2>&1 || true; pkill -x nginx || true"]);
}

async function main() {
  const started = Date.now();
  step("build (tsc: typecheck and emit dist/)");
  const build = await run(bin("tsc"), ["-p", "tsconfig.json"]);
  record("build", build.code === 0 ? 1 : 0, build.code === 0 ? 0 : 1, build.code);
  if (build.code !== 0) return finish(started);

  if (!args.includes("--no-lint")) {
    step("format and lint (deno fmt --check, deno lint, deno doc --lint mod.ts)");
    const fmt = await run(bin("deno"), ["fmt", "--check"]);
    const lint = await run(bin("deno"), ["lint"]);
    // Every exported member of the public API carries its documentation.
    const doc = await run(bin("deno"), ["doc", "--lint", "mod.ts"]);
    const failed = [fmt, lint, doc].filter((r) => r.code !== 0).length;
    record("format+lint", 3 - failed, failed, 0);
  }

  if (!args.includes("--no-lint")) {
    step("JSR package (deno publish --dry-run: slow types, module graph)");
    const jsr = await run(bin("deno"), ["publish", "--dry-run", "--allow-dirty"]);
    record("jsr", jsr.code === 0 ? 1 : 0, jsr.code === 0 ? 0 : 1, 0);
  }

  await ensureNginx();
  if (wanted("node")) await nodeSuite("node", process.execPath);
  for (const { name, version } of OTHER_NODES) {
    if (!wanted(name)) continue;
    if (await ensureNode(version)) await nodeSuite(name, nodeBin(root, version));
    else record(name, 0, 1, 1);
  }
  if (wanted("deno")) await denoSuite();
  if (wanted("bun")) await bunSuite();
  if (wanted("net")) await nodeNetSuites();
  finish(started);
}

function finish(started) {
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  console.log("\n== summary");
  for (const r of results) {
    console.log(`${r.name.padEnd(12)} ${r.passed} passed, ${r.failed} failed`);
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

await main();
