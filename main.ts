#!/usr/bin/env node
/**
 * The `binks` executable: serves the demo app.
 *
 *   node dist/main.js [PORT] [options]
 *   deno run --allow-net --allow-env main.ts [PORT] [options]
 *   bun run main.ts [PORT] [options]
 *
 * @module
 */
import { CliError, parseCli, usage, workerArgs } from "./src/cli.ts";
import { demoApp } from "./src/demo.ts";
import { Router } from "./src/router.ts";
import { serve, type ServeOptions } from "./serve.ts";
import { StaticReply } from "./src/response.ts";
import { VERSION } from "./src/version.ts";
import { serveStatic } from "./src/static.ts";
import { nodeFileSystem } from "./adapters/fs.ts";
import type { Handler } from "./src/connection.ts";
import { Supervisor } from "./src/supervisor.ts";
import { type Sharing, WORKER_ENV, workerSharing } from "./adapters/worker-role.ts";
import { canRunAs, detectRuntime } from "./adapters/detect.ts";
import { EXIT_DRAIN_MS, Output } from "./src/output.ts";
import { connectionsWithin } from "./src/limits.ts";
import { Canceled } from "./src/errors.ts";

/**
 * Worker plumbing, loaded only by workers and their primary: its `node:`
 * modules cost a single process on Deno about 12 MiB and on Bun about 4.
 */
function loadCluster(): Promise<typeof import("./adapters/cluster.ts")> {
  return import("./adapters/cluster.ts");
}

interface Host {
  args: string[];
  env: Record<string, string | undefined>;
  exit(code: number): never;
  onSignal(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  /**
   * Write text to stdout as it is, with one write call; resolves once it is written, so a
   * reader that lags holds up this write, not the server.
   */
  stdout(text: string): Promise<void>;
  /** The runtime and its version, for the banner. */
  runtime: string;
  /** Why `path` cannot be read, or null when it may be (Deno's permissions). */
  cannotRead(path: string): string | null;
  /** The file at `path` as text, or null when it cannot be read. */
  readText(path: string): Promise<string | null>;
}

/** The environment variables binks reads. */
const ENV_NAMES = ["PORT", "HOST", WORKER_ENV];

type DenoPermission = { name: "env"; variable: string } | { name: "read"; path: string };

/** The only place outside adapters/ that touches runtime globals. */
function host(): Host {
  const g = globalThis as unknown as {
    Deno?: {
      args: string[];
      exit(code: number): never;
      env: { get(name: string): string | undefined };
      permissions: { querySync(p: DenoPermission): { state: string } };
      addSignalListener(signal: string, handler: () => void): void;
      stdout: { write(bytes: Uint8Array): Promise<number> };
      version: { deno: string };
      readTextFile(path: string): Promise<string>;
    };
    process?: {
      argv: string[];
      env: Record<string, string | undefined>;
      exit(code: number): never;
      on(signal: string, handler: () => void): void;
      stdout: {
        write(text: string, done: (err?: Error | null) => void): boolean;
        on(event: "error", handler: () => void): void;
      };
      versions: { node: string; bun?: string };
    };
  };
  if (g.Deno !== undefined) {
    const deno = g.Deno;
    const utf8 = new TextEncoder();
    // Each variable on its own (`--allow-env=PORT,HOST` allows no more), and only when allowed:
    // asking for one that is not would prompt on a terminal.
    const env: Record<string, string | undefined> = {};
    const unread: string[] = [];
    for (const name of ENV_NAMES) {
      if (deno.permissions.querySync({ name: "env", variable: name }).state === "granted") {
        env[name] = deno.env.get(name);
      } else unread.push(name);
    }
    if (unread.includes("PORT") || unread.includes("HOST")) {
      console.error("binks: without --allow-env, $PORT and $HOST are not read (defaults apply)");
    }
    return {
      args: deno.args,
      env,
      exit: (code) => deno.exit(code),
      onSignal: (signal, handler) => deno.addSignalListener(signal, handler),
      stdout: async (text) => {
        // Not writeSync: that blocks the whole process while the reader is behind.
        const bytes = utf8.encode(text);
        for (let at = 0; at < bytes.length;) at += await deno.stdout.write(bytes.subarray(at));
      },
      runtime: `deno ${deno.version.deno}`,
      cannotRead: (path) =>
        deno.permissions.querySync({ name: "read", path }).state === "granted"
          ? null
          : "cannot be read without --allow-read",
      // Asking to read without the permission would prompt on a terminal.
      readText: (path) =>
        deno.permissions.querySync({ name: "read", path }).state === "granted"
          ? deno.readTextFile(path).catch(() => null)
          : Promise.resolve(null),
    };
  }
  const p = g.process!;
  // A write that fails (EPIPE: the reader is gone) is reported through its callback; the
  // stream's error event, unheard, would end the process.
  p.stdout.on("error", () => {});
  return {
    args: p.argv.slice(2),
    env: p.env,
    exit: (code) => p.exit(code),
    onSignal: (signal, handler) => p.on(signal, handler),
    stdout: (text) =>
      new Promise((resolve, reject) => {
        p.stdout.write(text, (err) => err ? reject(err) : resolve());
      }),
    runtime: p.versions.bun !== undefined ? `bun ${p.versions.bun}` : `node ${p.versions.node}`,
    cannotRead: () => null,
    readText: async (path) => {
      const { readFile } = await import("node:fs/promises");
      return readFile(path, "utf8").catch(() => null);
    },
  };
}

async function main(): Promise<void> {
  const h = host();
  let options;
  try {
    options = parseCli(h.args, h.env);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`binks: ${err.message}`);
      h.exit(2);
    }
    throw err;
  }
  if (options.version) {
    console.log(`binks ${VERSION}`);
    h.exit(0);
  }
  if (options.help) {
    console.log(usage());
    h.exit(0);
  }
  // A runtime that cannot be had here is a bad flag, found before anything starts (workers too).
  const running = detectRuntime();
  if (options.runtime !== undefined && !canRunAs(options.runtime, running)) {
    console.error(
      `binks: --runtime ${options.runtime} cannot run on ${running} (only node can be forced)`,
    );
    h.exit(2);
  }
  // Files instead of the demo: its /inspect would echo a visitor's cookies to any page of the
  // site, and its / and /echo would stand in front of the files.
  const app = options.staticDir === undefined ? demoApp() : new Router();
  if (options.staticDir !== undefined) {
    // A directory that is not there would make every file request a 500: refuse it up front.
    const unreadable = h.cannotRead(options.staticDir);
    const info = unreadable === null ? await nodeFileSystem.stat(options.staticDir) : null;
    if (info === null || !info.isDirectory) {
      console.error(`binks: --static: ${options.staticDir} ${unreadable ?? "is not a directory"}`);
      h.exit(2);
    }
    const files = serveStatic(options.staticDir, nodeFileSystem, {
      dotfiles: options.staticDotfiles,
    });
    // Every method reaches the files, which answer 405 with their Allow: a method no route
    // takes would get 501 from the router, as one the server does not implement. The GET route
    // is what `OPTIONS *` lists (an all() route adds no method to it).
    app.get("/*", files);
    app.all("/*", files);
  }
  const workers = options.workers === "auto" ? await availableCores() : options.workers;
  const role = workerSharing(h.env);
  await fitConnections(h, options, role === null);
  const state: RunState = { draining: false, signalled: false };
  if (options.health !== undefined) {
    // A path the demo app routes already (`--health /`), for any method: a bad flag too. The
    // router refuses only a second GET; `/echo` takes every method, and would lose GET.
    try {
      if (app.routesPath(options.health)) throw new Error("the app routes that path already");
      app.get(options.health, () => state.draining ? HEALTH_DRAINING : HEALTH_OK);
    } catch (err) {
      console.error(`binks: --health "${options.health}": ${(err as Error).message}`);
      h.exit(2);
    }
  }
  // Listening on a signal turns its default exit off: one that comes while the server is still
  // starting is remembered, and the server stops as soon as it is up.
  h.onSignal("SIGTERM", () => {
    state.draining = true;
    state.signalled = true;
  });
  const out = new Output(h.stdout, (line) => console.error(line));
  try {
    if (role !== null) await runWorker(h, out, options, app.handler, role, state);
    else if (workers > 1) await runPrimary(h, out, options, workers, state);
    else await runSingle(h, out, options, app.handler, state);
  } catch (err) {
    console.error(`binks: ${err instanceof Error ? err.message : String(err)}`);
    await exitWhenWritten(h, out, 1);
  }
}

/**
 * Lowers the connection limit to what the process's descriptor limit (`ulimit -n`, read from
 * Linux's /proc) leaves room for: past it accept() fails, and clients wait unanswered (Bun
 * spins at full CPU meanwhile) instead of getting the limit's 503. Each worker lowers its own;
 * the process the user started says so, once.
 */
async function fitConnections(h: Host, options: Options, say: boolean): Promise<void> {
  const openFiles = maxOpenFiles(await h.readText("/proc/self/limits"));
  if (openFiles === null) return;
  // Serving files, a connection may hold the file it sends open too.
  const most = connectionsWithin(openFiles, options.staticDir === undefined ? 1 : 2);
  const asked = options.limits.maxConnections;
  if (asked <= most) return;
  if (say) {
    console.error(
      `binks: at most ${most} connections, not ${asked}: this process may have ${openFiles} files open (ulimit -n)`,
    );
  }
  options.limits.maxConnections = most;
}

/** The soft limit on open files in the text of /proc/self/limits; null if none is given. */
function maxOpenFiles(text: string | null): number | null {
  const found = text === null ? null : /^Max open files\s+(\d+)/m.exec(text);
  return found === null ? null : Number(found[1]);
}

/**
 * Exit once stdout has taken everything queued for it, the access log's last lines and the
 * summary; a reader that has not taken it all within {@link EXIT_DRAIN_MS} holds it up no longer.
 */
async function exitWhenWritten(h: Host, out: Output, code: number): Promise<never> {
  await out.finish(EXIT_DRAIN_MS);
  return h.exit(code);
}

type Options = ReturnType<typeof parseCli>;

/** What the signal handlers and the health route share. */
interface RunState {
  /** Shutting down: the health route answers 503. */
  draining: boolean;
  /** A SIGTERM came (maybe before the server was up). */
  signalled: boolean;
}

/** `http://host:port`, an IPv6 address in brackets (RFC 3986 §3.2.2). */
function origin(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

function serveOptions(
  out: Output,
  options: Options,
  handler: Handler,
  reusePort: boolean,
): ServeOptions {
  return {
    accessLog: options.accessLog ? (text) => out.log(text) : undefined,
    trustProxy: options.trustProxy,
    proxyHeader: options.proxyHeader,
    port: options.port,
    hostname: options.hostname,
    runtime: options.runtime,
    limits: options.limits,
    timeouts: options.timeouts,
    handler,
    reusePort,
  };
}

/** One process serves. */
async function runSingle(
  h: Host,
  out: Output,
  options: Options,
  handler: Handler,
  state: RunState,
): Promise<void> {
  const server = await serve(serveOptions(out, options, handler, false));
  out.line(
    `binks ${VERSION} listening on ${
      origin(server.hostname, server.port)
    } (${server.runtime}; ${h.runtime}; 1 worker)`,
  );
  let stopping = false;
  const stop = (): void => {
    // A second signal means "now".
    if (stopping) h.exit(1);
    stopping = true;
    state.draining = true;
    server.shutdown(options.graceMs)
      .then(() => 0, () => 1)
      .then((code) => exitWhenWritten(h, out, code));
  };
  h.onSignal("SIGTERM", stop);
  h.onSignal("SIGINT", stop);
  if (state.signalled) stop();
}

/** A worker: serve the shared port, report to the primary, drain when told. */
async function runWorker(
  h: Host,
  out: Output,
  options: Options,
  handler: Handler,
  role: Sharing,
  state: RunState,
): Promise<void> {
  const control = (await loadCluster()).primaryControl();
  // Ctrl-C reaches the whole process group; only the primary decides.
  h.onSignal("SIGINT", () => {});
  const server = await serve(serveOptions(out, options, handler, role === "reuseport"));
  const report = (): Promise<void> =>
    control.send({
      type: "stats",
      pid: pid(),
      connections: server.http.connections,
      requests: server.http.requests,
    });
  let stopping = false;
  const stop = (graceMs: number): void => {
    if (stopping) return;
    stopping = true;
    state.draining = true;
    // The last counts go to the primary before exiting: a signal to the whole process group
    // stops the workers before the primary can ask.
    server.shutdown(graceMs)
      .then(() => report().catch(() => {}))
      .then(() => 0, () => 1)
      .then((code) => exitWhenWritten(h, out, code));
  };
  h.onSignal("SIGTERM", () => stop(options.graceMs));
  if (state.signalled) stop(options.graceMs);
  await control.send({ type: "ready", pid: pid(), port: server.port });
  for await (const message of control) {
    if (message.type === "shutdown") stop(message.graceMs);
    else if (message.type === "stats?") await report();
  }
  // The primary is gone: nobody will restart us or route to us.
  stop(options.graceMs);
}

/** The primary: start the workers, keep them alive, stop them on a signal. */
async function runPrimary(
  h: Host,
  out: Output,
  options: Options,
  workers: number,
  state: RunState,
): Promise<void> {
  const { cannotSpawn, freePort, sharing, spawnWorker } = await loadCluster();
  const runtime = options.runtime ?? detectRuntime();
  const refusal = cannotSpawn(runtime);
  if (refusal !== null) {
    console.error(`binks: ${refusal}`);
    h.exit(2);
  }
  // Bound once here, alone: a port taken is one line and exit 1 before any worker starts.
  const port = await freePort(options.hostname, options.port);
  const main = (await import("node:url")).fileURLToPath(import.meta.url);
  const args = workerArgs(h.args, port);
  const supervisor = new Supervisor({
    workers,
    graceMs: options.graceMs,
    spawn: () => spawnWorker(runtime, main, args),
    log: (line) => out.line(`binks: ${line}`),
    // A worker's stdout gets as long as the primary's to take its last lines.
    exitMs: EXIT_DRAIN_MS + 1_000,
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) h.exit(1);
    stopping = true;
    // The signal may have reached the workers too (a process group's): none is replaced now.
    supervisor.stopReplacing();
    // The drain starts at once (asking for counts first held it back 200 ms, while the workers
    // took new connections); each worker reports its last counts as it stops, and the counts
    // asked for here stand in for one killed after the grace.
    void supervisor.collect(0);
    supervisor.shutdown()
      .then(() => 0, () => 1)
      .then(async (code) => {
        const stats = await supervisor.collect(0);
        out.line(`binks: served ${stats.requests} requests on ${workers} workers`);
        return code;
      })
      .then((code) => exitWhenWritten(h, out, code));
  };
  h.onSignal("SIGTERM", stop);
  h.onSignal("SIGINT", stop);
  if (state.signalled) {
    stop();
    return;
  }
  const gaveUp = supervisor.gaveUp.then(() => {
    console.error(`binks: giving up: ${supervisor.failureReason}`);
    return exitWhenWritten(h, out, 1);
  });
  try {
    await supervisor.start();
  } catch (err) {
    // A signal before every worker was ready: stop() exits, with no banner. Giving up is said
    // once, above, before the exit.
    if (!(err instanceof Canceled)) await gaveUp;
    return;
  }
  const how = sharing(runtime) === "cluster" ? "node:cluster" : "SO_REUSEPORT";
  out.line(
    `binks ${VERSION} listening on ${
      origin(options.hostname, port)
    } (${runtime}; ${h.runtime}; ${workers} workers, ${how})`,
  );
}

const HEALTH_OK = new StaticReply(200, { "Content-Type": "application/json" }, '{"status":"ok"}');
const HEALTH_DRAINING = new StaticReply(
  503,
  { "Content-Type": "application/json" },
  '{"status":"draining"}',
);

async function availableCores(): Promise<number> {
  const nav = (globalThis as unknown as { navigator?: { hardwareConcurrency?: number } }).navigator;
  // Node 20 has no navigator; node:os is cheap there.
  const cores = nav?.hardwareConcurrency ?? (await import("node:os")).availableParallelism();
  return Math.max(1, cores);
}

function pid(): number {
  return (globalThis as unknown as { process: { pid: number } }).process.pid;
}

await main();
