/**
 * The servers binks is compared with in the idle-memory benchmark, each with
 * its idle timeout off (or at its maximum), so that 10,000 idle connections
 * stay open while they are counted. Every one answers `GET /` with the hello
 * JSON and keeps the connection open.
 *
 *   node dist/bench/memory/peers.js node-http|node-net PORT
 *   deno run --allow-net bench/memory/peers.ts deno-serve|deno-read PORT
 *   bun run bench/memory/peers.ts bun-serve|bun-listen PORT
 *
 * The `*-net`, `*-read` and `*-listen` servers are floors: the least a server
 * written in JavaScript on that runtime's sockets can hold per connection (a
 * socket with a data listener; on Deno, a socket with a pending read into a
 * 1 KiB buffer, which is how a `Deno.listen` server learns of input).
 *
 * @module
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";

import { CANNED, CANNED_CLOSE, HeadCounter } from "../shootout/servers/raw-common.ts";
import { HELLO_BODY } from "../shootout/servers/common.ts";
import { scriptArgs } from "../runtime.ts";

/** `Deno.listen` connection, `Deno.serve` and `Bun.serve`/`Bun.listen`, typed by hand. */
interface DenoConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  close(): void;
}
interface DenoLike {
  listen(o: { port: number; hostname: string }): AsyncIterable<DenoConn>;
  serve(o: { port: number; hostname: string; onListen?: () => void }, h: () => Response): unknown;
}
interface BunSocket {
  write(data: Uint8Array): number;
  end(data?: Uint8Array): void;
  data: HeadCounter;
}
interface BunLike {
  serve(o: { port: number; hostname: string; idleTimeout: number; fetch: () => Response }): unknown;
  listen(o: {
    port: number;
    hostname: string;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, chunk: Uint8Array): void;
    };
  }): unknown;
}

const HOST = "127.0.0.1";
const g = globalThis as unknown as { Deno?: DenoLike; Bun?: BunLike };

function hello(): Response {
  return new Response(HELLO_BODY, { headers: { "Content-Type": "application/json" } });
}

function ready(port: number): void {
  console.log(`listening on ${HOST}:${port}`);
}

/** Answer each complete head in `chunk`; true once the client asked to close. */
function answer(counter: HeadCounter, chunk: Uint8Array, write: (b: Uint8Array) => void): boolean {
  const n = counter.feed(chunk);
  for (let i = 0; i < n; i++) {
    write(counter.closeAfter && i === n - 1 ? CANNED_CLOSE : CANNED);
  }
  return counter.closeAfter;
}

async function denoConn(conn: DenoConn): Promise<void> {
  const counter = new HeadCounter();
  const buf = new Uint8Array(1024);
  try {
    for (;;) {
      const got = await conn.read(buf);
      if (got === null) break;
      let out: Uint8Array | null = null;
      const close = answer(counter, buf.subarray(0, got), (b) => out = b);
      if (out !== null) await conn.write(out);
      if (close) break;
    }
  } catch {
    // A reset peer: close below.
  }
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

const [kind, portText] = scriptArgs();
const port = Number(portText);
if (!Number.isInteger(port)) throw new Error("usage: peers.ts KIND PORT");

if (kind === "node-http") {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": HELLO_BODY.length });
    res.end(HELLO_BODY);
  });
  server.keepAliveTimeout = 0; // 0 turns node:http's idle timeout off
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.listen(port, HOST, () => ready(port));
} else if (kind === "node-net") {
  const server = createNetServer((socket) => {
    const counter = new HeadCounter();
    socket.on("data", (chunk: Uint8Array) => {
      if (answer(counter, chunk, (b) => socket.write(b))) socket.end();
    });
    socket.on("error", () => socket.destroy());
  });
  server.listen(port, HOST, () => ready(port));
} else if (kind === "deno-serve") {
  // Deno.serve has no idle timeout of its own.
  g.Deno!.serve({ port, hostname: HOST, onListen: () => ready(port) }, hello);
} else if (kind === "deno-read") {
  const listener = g.Deno!.listen({ port, hostname: HOST });
  ready(port);
  for await (const conn of listener) void denoConn(conn);
} else if (kind === "bun-serve") {
  // 255 s is the longest idle timeout Bun.serve takes.
  g.Bun!.serve({ port, hostname: HOST, idleTimeout: 255, fetch: hello });
  ready(port);
} else if (kind === "bun-listen") {
  g.Bun!.listen({
    port,
    hostname: HOST,
    socket: {
      open(s) {
        s.data = new HeadCounter();
      },
      data(s, chunk) {
        if (answer(s.data, chunk, (b) => s.write(b))) s.end();
      },
    },
  });
  ready(port);
} else {
  throw new Error(`unknown server ${JSON.stringify(kind)}`);
}
