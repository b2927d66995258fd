/**
 * Hono on `node:http`, through a deliberately small adapter written here
 * (not `@hono/node-server`): each request becomes a WHATWG `Request`, and the
 * `Response` is read whole and written back with a Content-Length.
 *
 *   node dist/bench/shootout/servers/hono-node.js --port P --host 127.0.0.1
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

import { announce, listenArgs } from "./common.ts";
import { honoFetch } from "./hono-app.ts";
import type { FetchHandler } from "./types.ts";

/** Read a request body whole (only for methods that may have one). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (req.method === "GET" || req.method === "HEAD") return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Turn a fetch handler into a `node:http` request listener. */
export function nodeAdapter(
  fetch: FetchHandler,
  origin: string,
): (req: IncomingMessage, res: ServerResponse) => void {
  const serveOne = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    const body = await readBody(req);
    const request = new Request(origin + (req.url ?? "/"), {
      method: req.method ?? "GET",
      headers,
      body,
    });
    const response = await fetch(request);
    const bytes = Buffer.from(await response.arrayBuffer());
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      out[name] = value;
    });
    out["content-length"] = String(bytes.length);
    res.writeHead(response.status, out);
    res.end(bytes);
  };
  return (req, res) => {
    serveOne(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Length": 0 });
      res.end();
      console.error(err);
    });
  };
}

const { port, host } = listenArgs();
const server = createServer(nodeAdapter(honoFetch(), `http://${host}:${port}`));
server.listen(port, host, () => announce("Hono on node:http", port));
