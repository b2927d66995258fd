/**
 * The trivial responder for every route on `Bun.listen` (see `RouteResponder` in
 * raw-common.ts): one write per read.
 *
 *   bun run bench/shootout/servers/raw-routes-bun.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { type Backlog, flush, send } from "./bun-backlog.ts";
import { Gather, RouteResponder } from "./raw-common.ts";
import { bunGlobal, type BunSocket } from "./types.ts";

interface State extends Backlog {
  responder: RouteResponder;
  gather: Gather;
  closing: boolean;
}

const states = new WeakMap<BunSocket, State>();

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
