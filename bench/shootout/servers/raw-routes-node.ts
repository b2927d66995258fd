/**
 * The trivial responder for every route on `node:net` (see `RouteResponder` in raw-common.ts).
 * Each read is a new Buffer, so what `net` keeps of a write is never written over; a read's
 * answers go out corked, as one writev.
 *
 *   node dist/bench/shootout/servers/raw-routes-node.js --port P --host 127.0.0.1
 *
 * @module
 */
import { createServer } from "node:net";

import { announce, listenArgs } from "./common.ts";
import { RouteResponder } from "./raw-common.ts";

const { port, host } = listenArgs();
const server = createServer({ noDelay: true }, (socket) => {
  const responder = new RouteResponder();
  const send = (bytes: Uint8Array): void => {
    socket.write(bytes);
  };
  socket.on("data", (chunk: Uint8Array) => {
    // One writev for everything a read answers.
    socket.cork();
    responder.feed(chunk, send);
    socket.uncork();
    if (responder.closeAfter) {
      socket.end();
      socket.removeAllListeners("data");
    }
  });
  socket.on("error", () => socket.destroy());
});
server.listen({ port, host, backlog: 511 }, () => announce("raw node:net (all routes)", port));
