/**
 * How a process learns that it is a worker, and how it shares the port. Kept
 * apart from `cluster.ts`, whose `node:` imports cost Deno and Bun megabytes
 * of memory, so a single process never loads them.
 *
 * @module
 */

/** How workers share the port: each binds it (reuseport) or the primary hands them connections. */
export type Sharing = "reuseport" | "cluster";

/** Environment variable that tells a process it is a worker, and how it shares the port. */
export const WORKER_ENV = "BINKS_WORKER";

/** In a worker: how it shares the port, or null when this process is not a worker. */
export function workerSharing(env: Record<string, string | undefined>): Sharing | null {
  const value = env[WORKER_ENV];
  return value === "cluster" || value === "reuseport" ? value : null;
}
