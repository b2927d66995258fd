/**
 * Bytes waiting for the socket, in order. Taking merges a run of small
 * neighbours into one write (one syscall instead of many).
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

const allocate = (length: number): Uint8Array => new Uint8Array(length);

/** A FIFO of chunks with an O(1) head index (no `shift`). */
export class ChunkQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;

  /** Nothing is queued. */
  get empty(): boolean {
    return this.head === this.chunks.length;
  }

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
  }

  /** The chunk queued last, if any: an adapter may grow it in place. */
  last(): Uint8Array | undefined {
    const chunks = this.chunks;
    return this.head < chunks.length ? chunks[chunks.length - 1] : undefined;
  }

  /** Replace the chunk queued last (see {@link last}). */
  replaceLast(chunk: Uint8Array): void {
    this.chunks[this.chunks.length - 1] = chunk;
  }

  /** Put the unsent rest of the chunk just taken back at the front. */
  putBack(rest: Uint8Array): void {
    this.chunks[--this.head] = rest;
  }

  /**
   * The next chunk to write: the first one, merged with those after it while
   * the total stays within `limit` (merged memory comes from `alloc`).
   */
  take(limit: number, alloc: (length: number) => Uint8Array = allocate): Uint8Array | null {
    const chunks = this.chunks;
    const head = this.head;
    const count = chunks.length;
    if (head === count) {
      chunks.length = 0;
      this.head = 0;
      return null;
    }
    const first = chunks[head]!;
    let total = first.length;
    let end = head + 1;
    while (end < count && total + chunks[end]!.length <= limit) total += chunks[end++]!.length;
    if (end === head + 1) {
      chunks[head] = EMPTY;
      this.head = head + 1;
      return first;
    }
    const merged = alloc(total);
    let offset = 0;
    for (let i = head; i < end; i++) {
      merged.set(chunks[i]!, offset);
      offset += chunks[i]!.length;
      chunks[i] = EMPTY;
    }
    this.head = end;
    return merged;
  }

  /** Drop everything. */
  clear(): void {
    this.chunks = [];
    this.head = 0;
  }
}
