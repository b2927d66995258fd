/**
 * The trivial responder for every route on `Bun.listen` (see `RouteResponder` in
 * raw-common.ts): one write per read.
 *
 *   bun run bench/shootout/servers/raw-routes-bun.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { Gather, RouteResponder } from "./raw-common.ts";
import { bunGlobal, type BunSocket } from "./types.ts";

interface State {
  responder: RouteResponder;
  gather: Gather;
  /** Copies of what the kernel did not take yet, in order. */
  pending: Uint8Array[] | null;
  closing: boolean;
}

const states = new WeakMap<BunSocket, State>();

function send(socket: BunSocket, state: State, bytes: Uint8Array): void {
  if (state.pending !== null) {
    state.pending.push(bytes.slice());
    return;
  }
  const wrote = socket.write(bytes);
  if (wrote >= 0 && wrote < bytes.length) state.pending = [bytes.slice(wrote)];
}

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
      states.set(socket, {
        responder: new RouteResponder(),
        gather: new Gather(),
        pending: null,
        closing: false,
      });
    },
    data(socket, chunk) {
      const state = states.get(socket)!;
      if (state.closing) return;
      state.responder.feed(chunk, state.gather.add);
      const bytes = state.gather.take();
      if (bytes !== null) send(socket, state, bytes);
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
