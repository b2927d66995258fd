/**
 * A static file server for a directory (default: the current one).
 *
 *   deno run --allow-net --allow-read examples/static.ts [DIR]
 *   bun run examples/static.ts [DIR]
 *   node dist/examples/static.js [DIR]      (after npm run build)
 */
import { nodeFileSystem, serve, serveStatic } from "../mod.ts";

const args: string[] = (globalThis as unknown as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const dir = args[0] ?? ".";

const server = await serve({
  port: 3003,
  hostname: "127.0.0.1",
  handler: serveStatic(dir, nodeFileSystem),
});
console.log(`serving ${dir} on http://127.0.0.1:${server.port} (${server.runtime})`);
