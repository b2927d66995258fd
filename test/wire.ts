/**
 * An in-process transport for tests of the core: it keeps what the core writes, and tells what a
 * socket would refuse (a write after the close; writes after our FIN).
 */
import assert from "node:assert/strict";
import type { ConnectionEvents, Transport } from "../src/transport.ts";
import { parseResponses } from "./client.ts";

const dec = new TextDecoder();

export class Wire implements Transport {
  readonly chunks: Uint8Array[] = [];
  closed = false;
  wasReset = false;
  /** Our side was half-closed (a FIN sent). */
  ended = false;
  /** Writes after that, which a socket refuses (Node: ERR_STREAM_WRITE_AFTER_END). */
  writesAfterEnd = 0;
  /** How long after close() it is reported, in ms: 0 for a microtask (Node's socket takes a turn). */
  lag = 0;
  readonly pending = 0;
  readonly remoteAddress = "192.0.2.7";
  readonly remotePort = 4711;
  events!: ConnectionEvents;

  write(bytes: Uint8Array, owned: boolean): boolean {
    if (this.closed) throw new Error("write after close");
    if (this.ended) this.writesAfterEnd++;
    this.chunks.push(owned ? bytes : bytes.slice());
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {
    this.ended = true;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.lag === 0) queueMicrotask(() => this.events.onClose());
    else setTimeout(() => this.events.onClose(), this.lag);
  }
  reset(): void {
    this.wasReset = true;
    this.close();
  }
  /** The client resets the connection. */
  leave(): void {
    this.closed = true;
    this.events.onClose();
  }
  /** Everything written, in one piece. */
  bytes(): Uint8Array {
    const all = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    return all;
  }
  text(): string {
    return dec.decode(this.bytes());
  }
  /** The statuses of the whole responses written, in order. */
  statuses(headOnly: boolean[] = []): number[] {
    return parseResponses(this.bytes(), headOnly).responses.map((r) => r.status);
  }
  /** Each response as `status body`, in order; nothing may follow the last whole one. */
  answers(headOnly: boolean[] = []): string[] {
    const all = this.bytes();
    const { responses, rest } = parseResponses(all, headOnly);
    assert.equal(rest, all.length, `bytes after the last whole answer: ${dec.decode(all)}`);
    return responses.map((r) => `${r.status} ${dec.decode(r.body)}`);
  }
}
