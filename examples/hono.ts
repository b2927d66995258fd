/**
 * A Hono app, unchanged, on binks's sockets and parser.
 *
 *   deno run --allow-net examples/hono.ts
 *   bun run examples/hono.ts
 *   node dist/examples/hono.js      (after npm run build)
 */
import { Hono } from "hono";
import { serve } from "../mod.ts";

const app = new Hono();
app.get("/", (c) => c.json({ hello: "world" }));
app.get("/hello/:name", (c) => c.text(`hello ${c.req.param("name")}`));

const server = await serve({ port: 3002, hostname: "127.0.0.1", fetch: app.fetch });
console.log(`Hono on binks at http://127.0.0.1:${server.port} (${server.runtime})`);
