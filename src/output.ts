/**
 * The executable's stdout: text queued in memory and written one piece at a
 * time, in order, so that a reader that falls behind (a pipe to a log shipper)
 * never holds up the server, and so that a process can wait, before it exits,
 * until what it has written is out.
 *
 * @module
 */
import { now, timers } from "./clock.ts";

/**
 * Most characters waiting to be written (8 MiB, some 30,000 access-log lines). Past it the
 * access log's text is dropped, counted and reported on stderr: a reader that stopped must not
 * grow the server's memory without bound.
 */
export const MAX_QUEUED_CHARS: number = 8 * 1024 * 1024;

/** At exit, how long stdout may take to take what is queued before the process exits anyway. */
export const EXIT_DRAIN_MS: number = 5_000;

/**
 * Writes `text` with one write call and resolves once it is written, or rejects when it cannot
 * be (the reader gone). Asynchronous: a reader that lags holds up the write, not the caller.
 */
export type Sink = (text: string) => Promise<void>;

/** Once this many written pieces sit at the front of the queue, they are cut off it. */
const COMPACT_AT = 1024;

/** Stdout, queued; see the module. */
export class Output {
  private readonly sink: Sink;
  private readonly warn: (line: string) => void;
  /** What waits to be written, from `head` on; the first of it is being written. */
  private readonly queue: string[] = [];
  private head = 0;
  private queuedChars = 0;
  private writing = false;
  /** A write failed: nothing more is written. */
  private broken = false;
  /** Access-log text is being dropped, the queue being full. */
  private dropping = false;
  /** Lines dropped and not yet reported. */
  private dropped = 0;
  /** Called once the queue is empty. */
  private readonly onEmpty: (() => void)[] = [];

  /** Writes with `sink`; says what it drops on `warn` (a line for stderr). */
  constructor(sink: Sink, warn: (line: string) => void) {
    this.sink = sink;
    this.warn = warn;
  }

  /** Queue access-log text (whole lines); dropped and counted when the queue is full. */
  log(text: string): void {
    if (this.broken) {
      this.dropped += countLines(text);
    } else if (this.queuedChars + text.length > MAX_QUEUED_CHARS) {
      if (!this.dropping) {
        this.dropping = true;
        this.warn(
          `binks: stdout is ${MAX_QUEUED_CHARS / MiB} MiB behind: ` +
            "access-log lines are dropped until it catches up",
        );
      }
      this.dropped += countLines(text);
    } else {
      this.enqueue(text);
    }
  }

  /** Queue one of the server's own lines (a banner, a summary): never dropped, they are few. */
  line(text: string): void {
    if (this.broken) this.dropped++;
    else this.enqueue(text + "\n");
  }

  /**
   * Wait until everything queued is written, at most `ms`; then say on stderr what was
   * dropped, or is left unwritten. The last thing a process does before it exits.
   */
  async finish(ms: number = EXIT_DRAIN_MS): Promise<void> {
    if (!await this.drained(ms)) {
      let left = 0;
      for (let i = this.head; i < this.queue.length; i++) left += countLines(this.queue[i]!);
      this.warn(
        `binks: stdout did not take the last ${left} lines in ${ms / 1000} s; exiting without them`,
      );
    }
    const dropped = this.takeDropped();
    if (dropped > 0) this.warn(`binks: ${dropped} lines were dropped, not written to stdout`);
  }

  /** True once the queue is empty, false if that takes more than `ms`. */
  private drained(ms: number): Promise<boolean> {
    if (!this.writing) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = timers.add(now() + ms, () => resolve(false), true);
      this.onEmpty.push(() => {
        timer.cancel();
        resolve(true);
      });
    });
  }

  private enqueue(text: string): void {
    this.queue.push(text);
    this.queuedChars += text.length;
    if (!this.writing) void this.pump();
  }

  /** Write the queue out, one piece after the other, until it is empty. */
  private async pump(): Promise<void> {
    this.writing = true;
    while (this.head < this.queue.length) {
      const text = this.queue[this.head]!;
      try {
        await this.sink(text);
      } catch (err) {
        this.fail(err);
        break;
      }
      this.queue[this.head++] = "";
      this.queuedChars -= text.length;
      if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
    }
    this.queue.length = 0;
    this.head = 0;
    this.queuedChars = 0;
    this.writing = false;
    if (this.dropping) {
      this.dropping = false;
      this.warn(
        `binks: stdout caught up; ${this.takeDropped()} lines were dropped while it was behind`,
      );
    }
    for (const wake of this.onEmpty.splice(0)) wake();
  }

  /** Stdout cannot be written (EPIPE: its reader is gone): drop what it would have shown. */
  private fail(err: unknown): void {
    this.broken = true;
    // It will not catch up: what was dropped while it was behind is said now, on its own.
    const behind = this.dropping ? this.takeDropped() : 0;
    this.dropping = false;
    for (let i = this.head; i < this.queue.length; i++) this.dropped += countLines(this.queue[i]!);
    const reason = err instanceof Error ? err.message : String(err);
    const before = behind > 0 ? ` (${behind} were dropped before, while it was behind)` : "";
    this.warn(
      `binks: cannot write to stdout (${reason}); its lines are dropped from now on${before}`,
    );
  }

  /** Lines dropped since the last time they were reported, to report now. */
  private takeDropped(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }
}

const MiB = 1024 * 1024;

function countLines(text: string): number {
  let n = 0;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) n++;
  return n;
}
