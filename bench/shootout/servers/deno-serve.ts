/**
 * Deno's own HTTP server (`Deno.serve`) with a plain fetch handler.
 *
 *   deno run --allow-net bench/shootout/servers/deno-serve.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { plainFetch } from "./fetch-app.ts";
import { denoGlobal } from "./types.ts";

const { port, host } = listenArgs();
denoGlobal().serve({
  port,
  hostname: host,
  onListen: (addr) => announce("Deno.serve", addr.port),
}, plainFetch());
