/**
 * Hono on `Bun.serve`.
 *
 *   bun run bench/shootout/servers/hono-bun.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { honoFetch } from "./hono-app.ts";
import { bunGlobal } from "./types.ts";

const { port, host } = listenArgs();
const server = bunGlobal().serve({ port, hostname: host, fetch: honoFetch() });
announce("Hono on Bun.serve", server.port);
