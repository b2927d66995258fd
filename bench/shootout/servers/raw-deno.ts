/**
 * The trivial responder on Deno's `Deno.listen` (see raw-common.ts).
 *
 *   deno run --allow-net bench/shootout/servers/raw-deno.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { announce, listenArgs } from "./common.ts";
import { CANNED_CLOSE, cannedTimes, HeadCounter } from "./raw-common.ts";
import { type DenoConn, denoGlobal } from "./types.ts";

async function writeAll(conn: DenoConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

async function serveConn(conn: DenoConn): Promise<void> {
  conn.setNoDelay(true);
  const counter = new HeadCounter();
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const got = await conn.read(buf);
      if (got === null) break;
      const n = counter.feed(buf.subarray(0, got));
      if (counter.closeAfter) {
        if (n > 1) await writeAll(conn, cannedTimes(n - 1));
        await writeAll(conn, CANNED_CLOSE);
        break;
      }
      if (n > 0) await writeAll(conn, cannedTimes(n));
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
announce("raw Deno.listen", listener.addr.port);
for await (const conn of listener) serveConn(conn);
