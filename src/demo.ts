/**
 * The demo application: the original binks benchmark response plus the
 * endpoints the tests and benchmarks drive.
 *
 * - `GET /` → `{"hello":"world"}` as application/json
 * - `/echo` (any method) → the request body, with its Content-Type and
 *   `X-Content-Type-Options: nosniff`
 * - `/inspect` (any method) → what the server parsed, as JSON (plus the client `ip`)
 * - `/sleep?ms=N` → answers after N ms (at most 10 s)
 *
 * @module
 */
import { Router } from "./router.ts";
import { json, type Reply, StaticReply } from "./response.ts";
import type { IncomingRequest } from "./request.ts";

/** The longest `/sleep` the demo honours, in ms. */
export const MAX_SLEEP_MS = 10_000;

const HELLO = new StaticReply(200, { "Content-Type": "application/json" }, '{"hello":"world"}');

async function echo(req: IncomingRequest): Promise<Reply> {
  const type = req.header("content-type") ?? "application/octet-stream";
  const body = await req.bytes();
  // Type and body are both the client's: nosniff keeps a browser to the type as given, so a
  // reflected body is never sniffed into HTML or a script on this origin.
  const headers = { "Content-Type": type, "X-Content-Type-Options": "nosniff" };
  return { status: 200, headers, body };
}

async function inspect(req: IncomingRequest): Promise<Reply> {
  const method = req.method;
  const url = req.url;
  const version = req.version;
  const headers = req.headerList();
  const ip = req.ip;
  const body = await req.text();
  return json({ method, url, version, headers, body, ip });
}

async function sleep(req: IncomingRequest): Promise<Reply> {
  const asked = Number(req.query.get("ms") ?? "0");
  const ms = Number.isFinite(asked) ? Math.min(Math.max(asked, 0), MAX_SLEEP_MS) : 0;
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
  return json({ slept: ms });
}

/** Build the demo app's router. */
export function demoApp(): Router {
  return new Router()
    .get("/", () => HELLO)
    .all("/echo", echo)
    .all("/inspect", inspect)
    .get("/sleep", sleep);
}
