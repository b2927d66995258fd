/**
 * binks through its public API, serving the shoot-out's three routes. Runs on
 * every runtime:
 *
 *   node dist/bench/shootout/servers/binks-bench.js --port P --host 127.0.0.1
 *   deno run --allow-net --allow-env bench/shootout/servers/binks-bench.ts --port P --host 127.0.0.1
 *   bun run bench/shootout/servers/binks-bench.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { type IncomingRequest, type Reply, Router, serve, StaticReply } from "../../../mod.ts";
import { announce, bigBody, HELLO_BODY, listenArgs, OCTETS } from "./common.ts";

const hello = new StaticReply(200, { "Content-Type": "application/json" }, HELLO_BODY);
const big = new StaticReply(200, { "Content-Type": OCTETS }, bigBody());

async function echo(req: IncomingRequest): Promise<Reply> {
  const type = req.header("content-type") ?? OCTETS;
  return { status: 200, headers: { "Content-Type": type }, body: await req.bytes() };
}

const app = new Router()
  .get("/", () => hello)
  .post("/echo", echo)
  .get("/64k", () => big);

const { port, host } = listenArgs();
const server = await serve({ port, hostname: host, handler: app.handler });
announce(`binks (${server.runtime})`, server.port);
