/**
 * Hono on binks, through binks's fetch-handler API (`serve({ fetch })`), on
 * every runtime:
 *
 *   node dist/bench/shootout/servers/hono-binks.js --port P --host 127.0.0.1
 *   deno run --allow-net --allow-env bench/shootout/servers/hono-binks.ts --port P --host 127.0.0.1
 *   bun run bench/shootout/servers/hono-binks.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { serve } from "../../../mod.ts";
import { announce, listenArgs } from "./common.ts";
import { honoFetch } from "./hono-app.ts";

const { port, host } = listenArgs();
const server = await serve({ port, hostname: host, fetch: honoFetch() });
announce(`Hono on binks (${server.runtime})`, server.port);
