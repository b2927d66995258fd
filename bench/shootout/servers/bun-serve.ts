/**
 * Bun's own HTTP server (`Bun.serve`) with a plain fetch handler.
 *
 *   bun run bench/shootout/servers/bun-serve.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { plainFetch } from "./fetch-app.ts";
import { bunGlobal } from "./types.ts";

const { port, host } = listenArgs();
const server = bunGlobal().serve({ port, hostname: host, fetch: plainFetch() });
announce("Bun.serve", server.port);
