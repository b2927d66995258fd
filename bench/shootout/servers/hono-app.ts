/**
 * The shoot-out's three routes as a Hono app, served by each runtime's own
 * server (and by binks's fetch API where it exists).
 *
 * @module
 */
import { Hono } from "hono";

import { bigBody, OCTETS } from "./common.ts";
import type { FetchHandler } from "./types.ts";

/** Build the app and hand back its fetch handler. */
export function honoFetch(): FetchHandler {
  const big = bigBody();
  const app = new Hono();
  app.get("/", (c) => c.json({ hello: "world" }));
  app.post("/echo", async (c) => {
    const type = c.req.header("content-type") ?? OCTETS;
    return c.body(await c.req.arrayBuffer(), 200, { "Content-Type": type });
  });
  app.get("/64k", (c) => c.body(big, 200, { "Content-Type": OCTETS }));
  return (req: Request) => app.fetch(req);
}
