/**
 * The trivial responder on Node's `node:net` (see raw-common.ts).
 *
 *   node dist/bench/shootout/servers/raw-node.js --port P --host 127.0.0.1
 *
 * @module
 */
import { createServer } from "node:net";

import { announce, listenArgs } from "./common.ts";
import { CANNED, CANNED_CLOSE, cannedTimes, HeadCounter } from "./raw-common.ts";

const { port, host } = listenArgs();
const server = createServer({ noDelay: true }, (socket) => {
  const counter = new HeadCounter();
  socket.on("data", (chunk: Uint8Array) => {
    const n = counter.feed(chunk);
    if (counter.closeAfter) {
      if (n > 1) socket.write(cannedTimes(n - 1));
      socket.end(CANNED_CLOSE);
      socket.removeAllListeners("data");
    } else if (n > 0) {
      socket.write(n === 1 ? CANNED : cannedTimes(n));
    }
  });
  socket.on("error", () => socket.destroy());
});
server.listen({ port, host, backlog: 511 }, () => announce("raw node:net", port));
