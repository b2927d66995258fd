/**
 * A typed channel between processes or threads: the role nanomsg/zmq played
 * in the original binks. It has the {@link Channel} interface (`send`,
 * `recv` with deadlines, `close`, async iteration) over anything that can post
 * a structured-clone message and report incoming ones: a `MessagePort`, a
 * Worker, or a child process's IPC pipe (see `adapters/cluster.ts`).
 *
 * @module
 */
import { Channel } from "./channel.ts";
import { Closed } from "./errors.ts";
import type { CancelSource } from "./errors.ts";

/** One end of a message pipe. */
export interface Endpoint<T> {
  /** Send a message to the other end. Must not block. */
  post(message: T): void;
  /** Start delivering incoming messages, and tell when the pipe is gone. Called once. */
  listen(onMessage: (message: T) => void, onClose: () => void): void;
  /** Let go of the pipe. */
  close(): void;
}

/** How many incoming messages may wait unread before the oldest is dropped. */
const INBOX = 1024;

/** A {@link Channel}-like pipe to another process or thread. */
export class PortChannel<T> implements AsyncIterable<T> {
  private readonly endpoint: Endpoint<T>;
  private readonly inbox: Channel<T>;
  private open = true;

  /** Listen on `endpoint`; past `capacity` unread messages, the oldest are dropped. */
  constructor(endpoint: Endpoint<T>, capacity: number = INBOX) {
    this.endpoint = endpoint;
    this.inbox = new Channel<T>(capacity);
    endpoint.listen(
      (message) => {
        // A peer that floods us loses its oldest messages, never our memory.
        while (!this.inbox.closed && !this.inbox.trySend(message)) this.inbox.tryRecv();
      },
      () => this.shut(),
    );
  }

  /** Still connected. */
  get connected(): boolean {
    return this.open;
  }

  /**
   * Post a message. Posting never waits (the pipe buffers), so the deadline
   * and cancellation only matter once the pipe is closed: then it rejects
   * with `Closed`.
   */
  send(message: T, _deadline: number = Infinity, _cancel?: CancelSource): Promise<void> {
    if (!this.open) return Promise.reject(new Closed("port closed"));
    try {
      this.endpoint.post(message);
    } catch (err) {
      this.shut();
      return Promise.reject(new Closed("port closed", { cause: err }));
    }
    return Promise.resolve();
  }

  /** The next incoming message; `Closed` once the pipe is gone and the inbox empty. */
  recv(deadline: number = Infinity, cancel?: CancelSource): Promise<T> {
    return this.inbox.recv(deadline, cancel);
  }

  /** Close our end. */
  close(): void {
    if (!this.open) return;
    this.shut();
    this.endpoint.close();
  }

  /** Incoming messages, until the pipe is gone and the inbox empty. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.inbox[Symbol.asyncIterator]();
  }

  /** The pipe is gone: sends reject; receivers get what the inbox holds, then `Closed`. */
  private shut(): void {
    this.open = false;
    this.inbox.close();
  }
}

/** An {@link Endpoint} over a standard `MessagePort` (or a Worker: same surface). */
export function messagePortEndpoint<T>(port: {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
  close?: () => void;
}): Endpoint<T> {
  let onClose: (() => void) | null = null;
  return {
    post: (message) => port.postMessage(message),
    listen: (onMessage, closed) => {
      onClose = closed;
      port.onmessage = (event) => onMessage(event.data as T);
    },
    close: () => {
      port.onmessage = null;
      port.close?.();
      onClose?.();
    },
  };
}
