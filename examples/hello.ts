/**
 * The smallest binks server.
 *
 *   deno run --allow-net examples/hello.ts
 *   bun run examples/hello.ts
 *   node dist/examples/hello.js      (after npm run build)
 */
import { Router, serve, StaticReply } from "../mod.ts";

const hello = new StaticReply(200, { "Content-Type": "application/json" }, '{"hello":"world"}');
const app = new Router().get("/", () => hello);

const server = await serve({ port: 3000, hostname: "127.0.0.1", handler: app.handler });
console.log(`hello on http://127.0.0.1:${server.port} (${server.runtime})`);
