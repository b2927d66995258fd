/**
 * The trivial responder on Bun's `Bun.listen` (see raw-common.ts).
 *
 *   bun run bench/shootout/servers/raw-bun.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { CANNED_CLOSE, cannedTimes, HeadCounter } from "./raw-common.ts";
import { bunGlobal, type BunSocket } from "./types.ts";

interface State {
  counter: HeadCounter;
  /** Bytes the kernel did not take yet. */
  pending: Uint8Array | null;
  closing: boolean;
}

const states = new WeakMap<BunSocket, State>();

function send(socket: BunSocket, state: State, bytes: Uint8Array): void {
  if (state.pending !== null) {
    const joined = new Uint8Array(state.pending.length + bytes.length);
    joined.set(state.pending);
    joined.set(bytes, state.pending.length);
    state.pending = joined;
    return;
  }
  const wrote = socket.write(bytes);
  if (wrote >= 0 && wrote < bytes.length) state.pending = bytes.subarray(wrote);
}

const { port, host } = listenArgs();
const server = bunGlobal().listen({
  hostname: host,
  port,
  socket: {
    open(socket) {
      socket.setNoDelay(true);
      states.set(socket, { counter: new HeadCounter(), pending: null, closing: false });
    },
    data(socket, chunk) {
      const state = states.get(socket)!;
      if (state.closing) return;
      const n = state.counter.feed(chunk);
      if (state.counter.closeAfter) {
        if (n > 1) send(socket, state, cannedTimes(n - 1));
        send(socket, state, CANNED_CLOSE);
        state.closing = true;
        if (state.pending === null) socket.end();
      } else if (n > 0) {
        send(socket, state, cannedTimes(n));
      }
    },
    drain(socket) {
      const state = states.get(socket)!;
      const bytes = state.pending;
      if (bytes === null) return;
      state.pending = null;
      send(socket, state, bytes);
      if (state.pending === null && state.closing) socket.end();
    },
  },
});
announce("raw Bun.listen", server.port);
