/**
 * Node's own HTTP server (`node:http`), serving the shoot-out's three routes.
 *
 *   node dist/bench/shootout/servers/node-http.js --port P --host 127.0.0.1
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

import { announce, bigBody, HELLO_BODY, listenArgs, OCTETS } from "./common.ts";

const hello = Buffer.from(HELLO_BODY);
const big = Buffer.from(bigBody());

function send(res: ServerResponse, type: string, body: Buffer): void {
  res.writeHead(200, { "Content-Type": type, "Content-Length": body.length });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const { method, url } = req;
  if (url === "/" && method === "GET") {
    send(res, "application/json", hello);
  } else if (url === "/64k" && method === "GET") {
    send(res, OCTETS, big);
  } else if (url === "/echo" && method === "POST") {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => send(res, req.headers["content-type"] ?? OCTETS, Buffer.concat(chunks)));
  } else {
    res.writeHead(404, { "Content-Length": 0 });
    res.end();
  }
}

const { port, host } = listenArgs();
const server = createServer(handle);
server.listen(port, host, () => announce("node:http", port));
