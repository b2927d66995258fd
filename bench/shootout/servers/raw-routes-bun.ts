/**
 * The trivial responder for every route on `Bun.listen` (see `RouteResponder` in raw-common.ts).
 *
 *   bun run bench/shootout/servers/raw-routes-bun.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { RouteResponder } from "./raw-common.ts";
import { bunGlobal, type BunSocket } from "./types.ts";

interface State {
  responder: RouteResponder;
  /** What the kernel did not take yet, in order (nothing written into later, so no copies). */
  pending: Uint8Array[] | null;
  send: (bytes: Uint8Array) => void;
  closing: boolean;
}

const states = new WeakMap<BunSocket, State>();

function flush(socket: BunSocket, state: State): void {
  const pending = state.pending!;
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
  state.pending = null;
}

const { port, host } = listenArgs();
const server = bunGlobal().listen({
  hostname: host,
  port,
  socket: {
    open(socket) {
      socket.setNoDelay(true);
      const state: State = {
        responder: new RouteResponder(),
        pending: null,
        closing: false,
        send: (bytes) => {
          if (state.pending !== null) {
            state.pending.push(bytes);
            return;
          }
          const wrote = socket.write(bytes);
          if (wrote >= 0 && wrote < bytes.length) state.pending = [bytes.subarray(wrote)];
        },
      };
      states.set(socket, state);
    },
    data(socket, chunk) {
      const state = states.get(socket)!;
      if (state.closing) return;
      state.responder.feed(chunk, state.send);
      if (state.responder.closeAfter) {
        state.closing = true;
        if (state.pending === null) socket.end();
      }
    },
    drain(socket) {
      const state = states.get(socket)!;
      if (state.pending !== null) flush(socket, state);
      if (state.pending === null && state.closing) socket.end();
    },
  },
});
announce("raw Bun.listen (all routes)", server.port);
