/**
 * The trivial responder for every route on `Deno.listen` (see `RouteResponder` in
 * raw-common.ts). One read buffer per connection: what a read answers is written, in one write,
 * before the next read.
 *
 *   deno run --allow-net bench/shootout/servers/raw-routes-deno.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { Gather, RouteResponder } from "./raw-common.ts";
import { type DenoConn, denoGlobal } from "./types.ts";

async function serveConn(conn: DenoConn): Promise<void> {
  conn.setNoDelay(true);
  const responder = new RouteResponder();
  const buf = new Uint8Array(64 * 1024);
  const gather = new Gather();
  try {
    for (;;) {
      const got = await conn.read(buf);
      if (got === null) break;
      responder.feed(buf.subarray(0, got), gather.add);
      const bytes = gather.take();
      let off = 0;
      while (bytes !== null && off < bytes.length) off += await conn.write(bytes.subarray(off));
      if (responder.closeAfter) break;
    }
  } catch {
    // A reset peer; nothing to do but close.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

const { port, host } = listenArgs();
const listener = denoGlobal().listen({ port, hostname: host });
announce("raw Deno.listen (all routes)", listener.addr.port);
for await (const conn of listener) serveConn(conn);
