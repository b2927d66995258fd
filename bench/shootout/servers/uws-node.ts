/**
 * uWebSockets.js (native C++, through Node's addon API) on Node, serving the
 * shoot-out's three routes. It is CommonJS, loaded with `createRequire`.
 *
 *   node dist/bench/shootout/servers/uws-node.js --port P --host 127.0.0.1
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";

import { announce, bigBody, HELLO_BODY, listenArgs, OCTETS } from "./common.ts";

/** The parts of uWS's response object used here. */
interface UwsResponse {
  writeStatus(status: string): UwsResponse;
  writeHeader(name: string, value: string): UwsResponse;
  end(body?: string | Uint8Array): UwsResponse;
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): void;
  onAborted(handler: () => void): void;
  cork(fn: () => void): void;
}
interface UwsRequest {
  getHeader(lowerCaseName: string): string;
}
type UwsHandler = (res: UwsResponse, req: UwsRequest) => void;
interface UwsApp {
  get(pattern: string, handler: UwsHandler): UwsApp;
  post(pattern: string, handler: UwsHandler): UwsApp;
  any(pattern: string, handler: UwsHandler): UwsApp;
  listen(host: string, port: number, done: (token: unknown) => void): UwsApp;
}

const uws = createRequire(import.meta.url)("@trufflesuite/uws-js-unofficial") as {
  App(): UwsApp;
};
const big = bigBody();

function echo(res: UwsResponse, req: UwsRequest): void {
  // The request object is only valid during this call.
  const type = req.getHeader("content-type") || OCTETS;
  const chunks: Buffer[] = [];
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((chunk, isLast) => {
    // uWS reuses the chunk's memory after the callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (!isLast || aborted) return;
    res.cork(() => {
      res.writeStatus("200 OK").writeHeader("Content-Type", type).end(Buffer.concat(chunks));
    });
  });
}

const { port, host } = listenArgs();
uws.App()
  .get("/", (res) => {
    res.writeStatus("200 OK").writeHeader("Content-Type", "application/json").end(HELLO_BODY);
  })
  .get("/64k", (res) => {
    res.writeStatus("200 OK").writeHeader("Content-Type", OCTETS).end(big);
  })
  .post("/echo", echo)
  .any("/*", (res) => {
    res.writeStatus("404 Not Found").end();
  })
  .listen(host, port, (token) => {
    if (!token) {
      console.error(`uWS could not listen on ${host}:${port}`);
      process.exit(1);
    }
    announce("uWebSockets.js", port);
  });
