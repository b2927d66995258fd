/**
 * Starting worker processes and talking to them, on each runtime.
 *
 * Workers share the port with SO_REUSEPORT where the runtime can (Deno with
 * `--unstable-net`, Bun, Node 22.12+), and through `node:cluster` (the primary
 * accepts and hands connections round-robin) on older Node. Primary and
 * workers talk over the child-process IPC pipe, which all three runtimes
 * implement, wrapped as a {@link PortChannel}.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import cluster from "node:cluster";
import * as net from "node:net";
import { type Endpoint, PortChannel } from "../src/port.ts";
import type { ControlMessage, WorkerProcess } from "../src/supervisor.ts";
import { ListenError, type RuntimeName } from "../src/transport.ts";
import { nodeHasReusePort } from "./node.ts";

import { type Sharing, WORKER_ENV } from "./worker-role.ts";

/** How the running runtime's workers can share a port. */
export function sharing(runtime: RuntimeName): Sharing {
  return runtime === "node" && !nodeHasReusePort() ? "cluster" : "reuseport";
}

/**
 * Why workers cannot be started here, or null. Deno fails a spawn without
 * `--allow-run` in a way no try/catch sees, so ask first.
 */
export function cannotSpawn(runtime: RuntimeName): string | null {
  if (runtime !== "deno") return null;
  const deno = (globalThis as unknown as {
    Deno?: { permissions: { querySync(d: { name: string }): { state: string } } };
  }).Deno;
  for (const name of ["run", "read"]) {
    if (deno?.permissions.querySync({ name }).state !== "granted") {
      return `--workers on Deno needs --allow-run and --allow-read (missing --allow-${name})`;
    }
  }
  return null;
}

/**
 * Bind `host`:`port` alone (no SO_REUSEPORT) and let it go: the port workers will all bind, and
 * a check that nothing holds it yet, another server sharing it through SO_REUSEPORT included
 * (the workers' own binds would join that one silently). Port 0 picks a free one. Rejects with
 * a {@link ListenError}.
 */
export function freePort(host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (error) => reject(new ListenError({ hostname: host, port }, error)));
    probe.listen({ port, host }, () => {
      const bound = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(bound));
    });
  });
}

interface IpcProcess {
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  connected?: boolean;
  on(event: "message", fn: (message: unknown) => void): unknown;
  on(event: "disconnect", fn: () => void): unknown;
  off?(event: string, fn: (...args: never[]) => void): unknown;
  disconnect?(): void;
}

function ignoreSendError(): void {}

function ipcEndpoint(proc: IpcProcess): Endpoint<ControlMessage> {
  return {
    post: (message) => {
      // A peer already gone (a process-group SIGTERM reaches the workers first) is told
      // nothing: its disconnect is how the supervisor hears of it. A send that fails later
      // (EPIPE) would otherwise be an uncaught error that ends the primary.
      if (proc.connected === false) return;
      try {
        proc.send?.(message, ignoreSendError);
      } catch {
        // Gone between the check and the send: as above.
      }
    },
    listen: (onMessage, onClose) => {
      proc.on("message", (m) => onMessage(m as ControlMessage));
      proc.on("disconnect", onClose);
    },
    close: () => {
      try {
        proc.disconnect?.();
      } catch {
        // Already gone.
      }
    },
  };
}

/** The command line that runs `main` under this runtime, as a worker. */
function workerCommand(runtime: RuntimeName, main: string, args: string[]): [string, string[]] {
  const exec = process.execPath;
  if (runtime === "deno") {
    return [exec, [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--unstable-net",
      main,
      ...args,
    ]];
  }
  if (runtime === "bun") return [exec, ["run", main, ...args]];
  return [exec, [main, ...args]];
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

/** Start one worker running `main` with `args` (the primary's own flags). */
export function spawnWorker(runtime: RuntimeName, main: string, args: string[]): WorkerProcess {
  if (sharing(runtime) === "cluster") {
    cluster.setupPrimary({ exec: main, args, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const worker = cluster.fork({ [WORKER_ENV]: "cluster" });
    const child = worker.process;
    return {
      pid: child.pid ?? 0,
      control: new PortChannel(ipcEndpoint(worker as unknown as IpcProcess)),
      exited: exitOf(child),
      kill: (signal) => child.kill(signal),
    };
  }
  const [cmd, argv] = workerCommand(runtime, main, args);
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv, {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, [WORKER_ENV]: "reuseport" },
    });
  } catch (err) {
    const hint = runtime === "deno"
      ? " (Deno needs --allow-run and --allow-read for --workers)"
      : "";
    throw new Error(
      `cannot start a worker: ${err instanceof Error ? err.message : String(err)}${hint}`,
    );
  }
  return {
    pid: child.pid ?? 0,
    control: new PortChannel(ipcEndpoint(child as unknown as IpcProcess)),
    exited: exitOf(child),
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    },
  };
}

/** In a worker: the control channel to the primary. */
export function primaryControl(): PortChannel<ControlMessage> {
  // node:cluster ends a worker at once when its primary is gone (its own `disconnect` listener
  // exits unless the worker asked for the disconnect), cutting the requests it is answering.
  // The worker object hears of the disconnect just before: marked as asked for, the worker
  // drains and exits as on the other runtimes (the channel's close tells main to stop).
  const worker = cluster.isWorker ? cluster.worker : undefined;
  worker?.on("disconnect", () => {
    worker.exitedAfterDisconnect = true;
  });
  return new PortChannel(ipcEndpoint(process as unknown as IpcProcess));
}
