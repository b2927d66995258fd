/**
 * Multi-core: a primary that keeps N worker processes serving one port, as a
 * scope of tasks (one per worker slot). A worker that dies is replaced; on
 * shutdown every worker is told to drain, and the scope waits for them all.
 *
 * How a worker is started (and how they share the port) is the adapter's
 * business: `adapters/cluster.ts`.
 *
 * @module
 */
import { now, sleep, timers } from "./clock.ts";
import { Canceled, Closed, Timeout } from "./errors.ts";
import type { PortChannel } from "./port.ts";
import { Scope, type TaskContext } from "./scope.ts";

/** What the primary and its workers say to each other. */
export type ControlMessage =
  | { type: "ready"; pid: number; port: number }
  | { type: "stats"; pid: number; connections: number; requests: number }
  | { type: "stats?" }
  | { type: "shutdown"; graceMs: number };

/** A running worker, as the primary sees it. */
export interface WorkerProcess {
  /** The worker's process id. */
  readonly pid: number;
  /** The pipe its {@link ControlMessage}s go both ways on. */
  readonly control: PortChannel<ControlMessage>;
  /** Settles with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Send the worker a signal (stragglers on shutdown get SIGKILL). */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

/** How to run the workers. */
export interface SupervisorOptions {
  /** How many worker processes to keep running. */
  workers: number;
  /** Start worker number `index` (0-based). */
  spawn(index: number): WorkerProcess;
  /** How long a worker may take to drain on shutdown before it is killed. */
  graceMs: number;
  /**
   * How long a worker may take to exit once its grace period is over (to write out its last
   * output) before it is killed. Default 1 s.
   */
  exitMs?: number;
  /** How long a new worker may take to say it is ready. Default 15 s. */
  readyMs?: number;
  /** One line per event (ready, died, restarted). */
  log(line: string): void;
}

/** More restarts than this within {@link RESTART_WINDOW_MS} and the primary gives up. */
const MAX_RESTARTS = 10;
const RESTART_WINDOW_MS = 10_000;
/** Pause before replacing a dead worker, so a crash loop does not spin. */
const RESTART_DELAY_MS = 100;

/** Aggregated counts from the workers' last reports. */
export interface ClusterStats {
  /** Workers running now. */
  workers: number;
  /** Open connections, summed over the workers. */
  connections: number;
  /** Requests received, summed over the workers, those that have exited included. */
  requests: number;
}

/** Keeps `workers` processes alive until shut down. */
export class Supervisor {
  private readonly options: SupervisorOptions;
  private readonly scope: Scope;
  private readonly current = new Map<number, WorkerProcess>();
  /** Workers told to drain: one that reports ready after that is told again (see drain()). */
  private readonly draining = new Set<WorkerProcess>();
  /**
   * Each worker's last report, by pid, kept after it exits (its requests still count; its last
   * report may even come after its exit is seen).
   */
  private readonly stats = new Map<number, { connections: number; requests: number }>();
  private readonly restarts: number[] = [];
  private failure: unknown = null;
  /** No worker that exits is replaced any more. */
  private replacing = true;
  private failed: (() => void) | null = null;
  /** start() runs once: a second call would start a second set of workers in the same slots. */
  private startCalled = false;
  private shutDown = false;
  /** Rejects what start() returned, unless it has settled. */
  private abandonStart: (reason: Canceled) => void = () => {};
  /** Resolves when the supervisor gave up (too many restarts). */
  readonly gaveUp: Promise<void>;

  /** Nothing runs until {@link Supervisor.start}. */
  constructor(options: SupervisorOptions) {
    this.options = options;
    this.scope = new Scope({ onError: (err) => this.fail(err) });
    this.gaveUp = new Promise<void>((resolve) => {
      this.failed = resolve;
    });
  }

  /** Why the supervisor gave up, once it has. */
  get failureReason(): string {
    const f = this.failure;
    return f instanceof Error ? f.message : String(f);
  }

  /** The workers' process ids, by slot. */
  get pids(): number[] {
    return [...this.current.values()].map((w) => w.pid);
  }

  /**
   * Start every worker; resolves once all have said they are ready, with the first one's port.
   * Rejects with the reason when the supervisor gives up first, and with a {@link Canceled} when
   * {@link shutdown} is called first: those that are not ready then never will be. Called after
   * shutdown it starts nothing and rejects with a {@link Canceled}; called twice, the second
   * call rejects.
   */
  start(): Promise<number> {
    if (this.startCalled) return Promise.reject(new Error("start() was called already"));
    this.startCalled = true;
    if (this.shutDown) return Promise.reject(new Canceled("shut down before start()"));
    return new Promise<number>((resolve, reject) => {
      this.abandonStart = reject;
      void this.gaveUp.then(() => reject(this.failure));
      const ports: number[] = [];
      const ready = new Set<number>();
      for (let i = 0; i < this.options.workers; i++) {
        this.scope.go((cx) =>
          this.keep(i, cx, (port) => {
            // A replacement says ready too: a slot counts once.
            if (ready.has(i)) return;
            ready.add(i);
            ports[i] = port;
            if (ready.size === this.options.workers) resolve(ports[0]!);
          })
        );
      }
    });
  }

  /** Ask every worker for its counts and add them up. */
  async collect(waitMs = 500): Promise<ClusterStats> {
    for (const w of this.current.values()) await w.control.send({ type: "stats?" }).catch(() => {});
    await sleep(now() + waitMs);
    let connections = 0;
    let requests = 0;
    for (const s of this.stats.values()) {
      connections += s.connections;
      requests += s.requests;
    }
    return { workers: this.current.size, connections, requests };
  }

  /**
   * Replace no worker that exits from now on: the primary is stopping, and a signal to the
   * whole process group may stop the workers before {@link shutdown} tells them to.
   */
  stopReplacing(): void {
    this.replacing = false;
  }

  /** Tell every worker to drain, wait for them (killing stragglers after the grace period). */
  async shutdown(): Promise<void> {
    this.shutDown = true;
    this.replacing = false;
    // Once every worker was ready, start() has resolved and this changes nothing.
    this.abandonStart(new Canceled("shut down before every worker was ready"));
    try {
      await this.scope.close(now() + this.options.graceMs + (this.options.exitMs ?? 1_000) + 1_000);
    } catch (err) {
      if (!(err instanceof Timeout)) throw err;
      for (const w of this.current.values()) w.kill("SIGKILL");
    }
  }

  /** A worker exited: its requests stay in the totals, its connections are gone. */
  private retire(pid: number): void {
    const last = this.stats.get(pid);
    if (last !== undefined) last.connections = 0;
  }

  /** A worker slot failed for good: keep the first reason and give up. */
  private fail(err: unknown): void {
    this.failure ??= err;
    this.failed?.();
  }

  /** One worker slot: run a worker, replace it when it dies, drain it when cancelled. */
  private async keep(
    index: number,
    cx: TaskContext,
    signalReady: (port: number) => void,
  ): Promise<void> {
    const { options } = this;
    // Until this slot has had a worker ready, a worker that dies is a server that cannot start
    // (its port taken, say): give up at once, as a single process would, rather than retry.
    let started = false;
    const ready = (port: number): void => {
      started = true;
      signalReady(port);
    };
    while (!cx.canceled) {
      const worker = options.spawn(index);
      this.current.set(index, worker);
      void this.listen(worker, ready);
      let unregister = (): void => {};
      const stop = new Promise<"stop">((resolve) => {
        unregister = cx.onCancel(() => resolve("stop"));
      });
      const exitCode = await Promise.race([worker.exited, stop]);
      unregister();
      if (exitCode === "stop") {
        await this.drain(worker);
        this.current.delete(index);
        this.retire(worker.pid);
        return;
      }
      this.current.delete(index);
      this.retire(worker.pid);
      if (cx.canceled || !this.replacing) return;
      if (!started) {
        throw new Error(
          `worker ${worker.pid} exited (${exitCode ?? "killed"}) before it was ready`,
        );
      }
      const t = now();
      this.restarts.push(t);
      while (this.restarts.length > 0 && this.restarts[0]! < t - RESTART_WINDOW_MS) {
        this.restarts.shift();
      }
      if (this.restarts.length > MAX_RESTARTS) {
        throw new Error(
          `workers keep dying (${this.restarts.length} restarts in ${RESTART_WINDOW_MS / 1000} s)`,
        );
      }
      await sleep(now() + RESTART_DELAY_MS, cx).catch(() => {});
      // A signal to the whole process group reaches the workers and the primary in no set order:
      // a worker that stopped just before the primary heard of it is not replaced either.
      if (cx.canceled || !this.replacing) return;
      options.log(`worker ${worker.pid} exited (${exitCode ?? "killed"}); starting another`);
    }
  }

  /** Read a worker's control messages until its pipe closes. */
  private async listen(worker: WorkerProcess, signalReady: (port: number) => void): Promise<void> {
    const readyBy = now() + (this.options.readyMs ?? 15_000);
    let ready = false;
    for (;;) {
      let message: ControlMessage;
      try {
        message = await worker.control.recv(ready ? Infinity : readyBy);
      } catch (err) {
        // A pipe closed before the worker said ready (its exit, or the worker let go of it) means
        // it never will: unless it exits meanwhile, it is killed when readyMs is over, as one that
        // is slow to start is.
        if (err instanceof Closed && !ready && await exitsBy(worker, readyBy)) return;
        if (err instanceof Timeout || (err instanceof Closed && !ready)) {
          this.options.log(`worker ${worker.pid} did not get ready in time; killing it`);
          worker.kill("SIGKILL");
        } else if (!(err instanceof Closed)) {
          this.options.log(`worker ${worker.pid} control error: ${String(err)}`);
        }
        return;
      }
      // The pipe carries whatever the worker's process sends (a handler may call process.send):
      // a message that is no object is no ControlMessage, and reading its type would throw.
      if (typeof message !== "object" || message === null) continue;
      if (message.type === "ready") {
        // A handler may send { type: "ready" } too: only a port it can have bound is the
        // worker's own word, and the pid is the pipe's.
        if (!isPort(message.port)) continue;
        ready = true;
        // Told to drain while it was starting, maybe before it listened: tell it again.
        if (this.draining.has(worker)) {
          void worker.control.send(this.shutdownMessage()).catch(() => {});
        }
        this.options.log(`worker ${worker.pid} ready`);
        signalReady(message.port);
      } else if (message.type === "stats") {
        // Under the pid of the pipe it came on: a pid the worker got wrong would add a report
        // that no exit retires.
        const counts = reportedCounts(message);
        if (counts !== null) this.stats.set(worker.pid, counts);
      }
    }
  }

  /** Tell `worker` to drain; kill it if it has not exited `exitMs` after the grace period. */
  private async drain(worker: WorkerProcess): Promise<void> {
    // A worker still starting may not listen to its control pipe yet (node:cluster on Node 20
    // drops what comes before): `listen` says it again once the worker reports ready.
    this.draining.add(worker);
    try {
      await worker.control.send(this.shutdownMessage()).catch(() => {});
      const lateAt = now() + this.options.graceMs + (this.options.exitMs ?? 1_000);
      if (!(await exitsBy(worker, lateAt))) {
        worker.kill("SIGKILL");
        await worker.exited;
      }
    } finally {
      this.draining.delete(worker);
    }
  }

  /** What tells a worker to drain, within the grace period. */
  private shutdownMessage(): ControlMessage {
    return { type: "shutdown", graceMs: this.options.graceMs };
  }
}

/**
 * The counts of a stats message, or null when they are no counts: one NaN, string or missing
 * field, summed, would make the cluster's totals NaN or text.
 */
function reportedCounts(message: object): { connections: number; requests: number } | null {
  const { connections, requests } = message as Record<string, unknown>;
  return isCount(connections) && isCount(requests) ? { connections, requests } : null;
}

function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65_535;
}

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/**
 * Whether `worker` exits by `deadline`. The timer goes once it has: a keep-alive timer left to
 * run out would hold the primary's event loop open that long after its shutdown resolved.
 */
async function exitsBy(worker: WorkerProcess, deadline: number): Promise<boolean> {
  let late = (): void => {};
  const timer = timers.add(deadline, () => late(), true);
  try {
    return await Promise.race([
      worker.exited.then(() => true),
      new Promise<boolean>((resolve) => (late = () => resolve(false))),
    ]);
  } finally {
    timer.cancel();
  }
}
