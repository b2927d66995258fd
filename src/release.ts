/**
 * Bytes the server alone holds, given back to the allocator as soon as a transport has written
 * them.
 *
 * A large body taken out of a runtime's `Response` whole (Bun's `bytes()`, see
 * `web-response.ts`) is a copy no one else can reach: once written, nothing reads it again. Left
 * to the collector, such buffers pile up outside the heap between collections (64 KiB for each
 * answer of Hono's `GET /64k`, some 1.3 GB a second under load), and the collector is driven by
 * them. Detaching a buffer (`ArrayBuffer.prototype.transfer(0)`) frees its memory at once.
 *
 * Only the exact array marked is released, and only when it spans its whole buffer: a view into
 * a larger one would take the rest with it.
 *
 * @module
 */

/** The least a body must weigh to be marked: smaller ones are copied into the output anyway. */
export const RELEASE_MIN_BYTES: number = 16 * 1024;

type Transferable = ArrayBuffer & { transfer(length: number): ArrayBuffer };

/** Where `ArrayBuffer.prototype.transfer` is missing (Node 20), nothing is marked. */
const canRelease = typeof (ArrayBuffer.prototype as Partial<Transferable>).transfer === "function";

const releasable = new WeakSet<Uint8Array>();

/** `bytes` are the server's alone, to be released once written whole. */
export function releaseWhenWritten(bytes: Uint8Array): void {
  if (!canRelease || bytes.length < RELEASE_MIN_BYTES || bytes.byteOffset !== 0) return;
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== bytes.byteLength) return;
  releasable.add(bytes);
}

/** `bytes` are to be written again, or were handed to someone: they stay. */
export function keepAfterWrite(bytes: Uint8Array): void {
  releasable.delete(bytes);
}

/**
 * All of `bytes`, the very array given, went out: a transport wrote them and keeps no reference
 * to them, or the core copied them next to their head. If they were marked, their memory goes
 * back now.
 */
export function writtenWhole(bytes: Uint8Array): void {
  if (bytes.length < RELEASE_MIN_BYTES || !releasable.delete(bytes)) return;
  (bytes.buffer as Transferable).transfer(0);
}
