/**
 * Writing on a `Bun.listen` socket from a plain server: what the kernel does not take at once is
 * copied and kept in order, and sent again on `drain`.
 *
 * @module
 */
import type { BunSocket } from "./types.ts";

/** A socket's unsent bytes: null while everything written so far went out. */
export interface Backlog {
  pending: Uint8Array[] | null;
}

/** Write `bytes`, or queue a copy of what is left behind the backlog. */
export function send(socket: BunSocket, backlog: Backlog, bytes: Uint8Array): void {
  if (backlog.pending !== null) {
    backlog.pending.push(bytes.slice());
    return;
  }
  const wrote = socket.write(bytes);
  if (wrote >= 0 && wrote < bytes.length) backlog.pending = [bytes.slice(wrote)];
}

/** On `drain`: write what waits, as far as the kernel takes it. */
export function flush(socket: BunSocket, backlog: Backlog): void {
  const pending = backlog.pending!;
  while (pending.length > 0) {
    const bytes = pending[0]!;
    const wrote = socket.write(bytes);
    if (wrote < 0) return;
    if (wrote < bytes.length) {
      pending[0] = bytes.subarray(wrote);
      return;
    }
    pending.shift();
  }
  backlog.pending = null;
}
