/**
 * Hono on `Deno.serve`.
 *
 *   deno run --allow-net bench/shootout/servers/hono-deno.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { honoFetch } from "./hono-app.ts";
import { denoGlobal } from "./types.ts";

const { port, host } = listenArgs();
denoGlobal().serve({
  port,
  hostname: host,
  onListen: (addr) => announce("Hono on Deno.serve", addr.port),
}, honoFetch());
