/**
 * The adapter of the runtime running this file, driven over loopback by a `node:net` client
 * (which Deno and Bun provide too). No HTTP: a recording {@link ConnectionEvents} stands in
 * for the core.
 *
 * `BINKS_TEST_ADAPTER=node` runs the node adapter instead (meant for Deno and Bun).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { lookup } from "node:dns/promises";
import * as net from "node:net";
import process from "node:process";
import { detectRuntime, loadAdapter } from "../adapters/detect.ts";
import { serve, type ServeOptions } from "../serve.ts";
import { defaultLimits } from "../src/limits.ts";
import type { HeaderInit } from "../src/response.ts";
import { ListenError } from "../src/transport.ts";
import { RawClient, request, text } from "./client.ts";
import type {
  AcceptFn,
  ConnectionEvents,
  Listener,
  ListenFn,
  RuntimeName,
  Transport,
} from "../src/transport.ts";

const TEST_TIMEOUT_MS = 5000;
const running = detectRuntime();
const adapterName = (process.env.BINKS_TEST_ADAPTER ?? running) as RuntimeName;
/** Only Node's own `net` sends a borrowed view in place (Deno's and Bun's write asynchronously). */
const keepsInPlace = adapterName === "node" && running === "node";
/** Whether the last borrowed write was kept as a view (adapters that copy may not say). */
const kept = (transport: Transport): boolean => transport.keptBorrowed === true;

// ---------------------------------------------------------------------------------------------
// Waiting on events without polling, and without ever hanging the runner.

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
}

const waiters = new Set<Waiter>();
let waitingFor = "nothing";

/** Re-checks every waiter; called after anything a test may wait for has happened. */
function changed(): void {
  for (const waiter of waiters) {
    if (waiter.ready()) {
      waiters.delete(waiter);
      waiter.resolve();
    }
  }
}

function until(what: string, ready: () => boolean): Promise<void> {
  if (ready()) return Promise.resolve();
  waitingFor = what;
  return new Promise<void>((resolve) => waiters.add({ ready, resolve }));
}

function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Wraps a test body so that it fails with what it was waiting for instead of hanging. */
function guarded(body: () => Promise<void>): () => Promise<void> {
  return async () => {
    waitingFor = "the test body";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        waiters.clear();
        reject(new Error(`timed out after ${TEST_TIMEOUT_MS} ms waiting for ${waitingFor}`));
      }, TEST_TIMEOUT_MS);
    });
    try {
      await Promise.race([body(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

function pattern(size: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 13) + seed) & 255;
  return bytes;
}

/** Like deepEqual, but reports the first differing offset instead of diffing megabytes. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  if (Buffer.compare(actual, expected) === 0) return;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  assert.fail(`${what}: first difference at byte ${i} (${actual[i]} instead of ${expected[i]})`);
}

// ---------------------------------------------------------------------------------------------
// The server side: one recorder per accepted connection.

class Recorder implements ConnectionEvents {
  readonly transport: Transport;
  readonly chunks: Buffer[] = [];
  bytes = 0;
  dataEvents = 0;
  drains = 0;
  ends = 0;
  closes = 0;
  closeError: unknown = undefined;
  /** Events after onClose, which the contract forbids. */
  afterClose = 0;
  /** Event order, with runs of data folded into one entry. */
  readonly log: string[] = [];
  /** Lets a test act from inside onData, as the core does. */
  onDataHook: ((chunk: Uint8Array) => void) | null = null;
  /** What {@link betweenRequests} answers, as the core would; by default never. */
  betweenHook: (() => boolean) | null = null;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  onData(chunk: Uint8Array): void {
    this.note("data");
    // The adapter may reuse the memory once we return, so keep a copy.
    this.chunks.push(Buffer.from(chunk));
    this.bytes += chunk.length;
    this.dataEvents++;
    this.onDataHook?.(chunk);
    changed();
  }

  betweenRequests(): boolean {
    return this.betweenHook?.() ?? false;
  }

  onDrain(): void {
    this.note("drain");
    this.drains++;
    changed();
  }

  onEnd(): void {
    this.note("end");
    this.ends++;
    changed();
  }

  onClose(error?: unknown): void {
    this.note("close");
    this.closes++;
    this.closeError = error;
    changed();
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.received().toString("latin1");
  }

  private note(event: string): void {
    if (this.closes > 0) this.afterClose++;
    if (event !== "data" || this.log[this.log.length - 1] !== "data") this.log.push(event);
  }
}

const accepted: Recorder[] = [];
/** Runs inside accept(), before the adapter has the events, once. */
let onAccept: ((transport: Transport) => void) | null = null;

const accept: AcceptFn = (transport: Transport): ConnectionEvents => {
  const recorder = new Recorder(transport);
  accepted.push(recorder);
  const hook = onAccept;
  onAccept = null;
  hook?.(transport);
  changed();
  return recorder;
};

// ---------------------------------------------------------------------------------------------
// The peer: a node:net client that records what it gets.

const clients = new Set<Client>();

class Client {
  readonly socket: net.Socket;
  readonly chunks: Buffer[] = [];
  bytes = 0;
  connected = false;
  ended = false;
  closed = false;
  error: (Error & { code?: string }) | null = null;

  constructor(port: number, options: { paused?: boolean } = {}) {
    this.socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    if (options.paused) this.socket.pause();
    clients.add(this);
    this.socket.on("connect", () => {
      this.connected = true;
      changed();
    });
    this.socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      changed();
    });
    this.socket.on("end", () => {
      this.ended = true;
      changed();
    });
    this.socket.on("error", (error: Error) => {
      this.error = error;
      changed();
    });
    this.socket.on("close", () => {
      this.closed = true;
      clients.delete(this);
      changed();
    });
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.received().toString("latin1");
  }

  /** A RST rather than a FIN, where the runtime's node:net can do that. */
  reset(): void {
    if (typeof this.socket.resetAndDestroy === "function") this.socket.resetAndDestroy();
    else this.socket.destroy();
  }
}

async function connect(
  listener: Listener,
  options: { paused?: boolean } = {},
): Promise<{ client: Client; conn: Recorder }> {
  const index = accepted.length;
  const client = new Client(listener.port, options);
  await until("the server to accept", () => accepted.length > index);
  await until("the client to connect", () => client.connected);
  return { client, conn: accepted[index]! };
}

/** The client leaves; like the core would, answer its FIN with ours and wait for onClose. */
async function hangUp(client: Client, conn: Recorder): Promise<void> {
  client.socket.end();
  await until("onEnd", () => conn.ends === 1);
  conn.transport.end();
  await until("onClose", () => conn.closes === 1);
  await until("client close", () => client.closed);
  assert.equal(conn.closeError, undefined);
}

function expectedRuntime(): RuntimeName {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.deno !== undefined) return "deno";
  if (versions.bun !== undefined) return "bun";
  return "node";
}

// ---------------------------------------------------------------------------------------------

describe(`runtime detection (running on ${running})`, () => {
  it(
    "detectRuntime() names the runtime running the tests",
    guarded(() => {
      assert.equal(detectRuntime(), expectedRuntime());
      return Promise.resolve();
    }),
  );

  it(
    "refuses to force another runtime's adapter, except node",
    guarded(async () => {
      for (const other of ["deno", "bun"] as const) {
        if (other === running) continue;
        await assert.rejects(loadAdapter(other), {
          message: `runtime ${other} was asked for, but this is ${running}`,
        });
      }
      assert.equal(typeof (await loadAdapter("node")), "function");
      assert.equal(typeof (await loadAdapter()), "function");
    }),
  );
});

describe("listening where it cannot", () => {
  it(
    "is a ListenError with the address, the reason and the code, the same on every runtime",
    guarded(async () => {
      const first = await serve({ port: 0, hostname: "127.0.0.1", handler: () => ({}) });
      try {
        const taken = serve({ port: first.port, hostname: "127.0.0.1", handler: () => ({}) });
        await assert.rejects(taken, (error: unknown) => {
          assert.ok(error instanceof ListenError);
          assert.equal(
            error.message,
            `cannot listen on 127.0.0.1:${first.port}: address already in use`,
          );
          assert.equal(error.code, "EADDRINUSE");
          assert.ok(error.cause !== undefined);
          return true;
        });
      } finally {
        await first.close();
      }
      await assert.rejects(serve({ port: 0, hostname: "192.0.2.1", handler: () => ({}) }), {
        name: "ListenError",
        message: "cannot listen on 192.0.2.1:0: no such address on this machine",
        code: "EADDRNOTAVAIL",
      });
      // Deno and Bun give a failed lookup no code: it gets Node's.
      await assert.rejects(serve({ port: 0, hostname: "not a host!", handler: () => ({}) }), {
        name: "ListenError",
        message: "cannot listen on not a host!:0: no such host",
        code: "ENOTFOUND",
      });
    }),
  );
});

describe("serve(): a port out of range", () => {
  it(
    "is a RangeError saying so, the same on every runtime",
    guarded(async () => {
      for (const port of [65536, -1, 80.5, NaN]) {
        await assert.rejects(serve({ port, handler: () => ({}) }), {
          name: "RangeError",
          message: `serve(): port must be a whole number from 0 to 65535, not ${port}`,
        });
      }
      // A string where the number belongs is shown quoted, so the mistake shows.
      await assert.rejects(serve({ port: "3000" as unknown as number, handler: () => ({}) }), {
        name: "RangeError",
        message: `serve(): port must be a whole number from 0 to 65535, not "3000"`,
      });
    }),
  );
});

describe("serve(): options it would otherwise ignore or fail on later", () => {
  it(
    "refuses unknown names and wrong types at once, the same on every runtime",
    guarded(async () => {
      const handler = () => ({});
      const cases: [Record<string, unknown>, string, string][] = [
        [{ handler, host: "127.0.0.1" }, "TypeError", 'serve(): unknown option "host"'],
        [{ handler: "x" }, "TypeError", 'serve(): handler must be a function, not "x"'],
        [{ fetch: 1 }, "TypeError", "serve(): fetch must be a function, not 1"],
        [
          { handler, accessLog: "x" },
          "TypeError",
          'serve(): accessLog must be a function, not "x"',
        ],
        [{ handler, hostname: 123 }, "TypeError", "serve(): hostname must be a string, not 123"],
        [{ handler, hostname: "" }, "TypeError", "serve(): hostname must not be empty"],
        [{ handler, limits: null }, "TypeError", "serve(): limits must be an object, not null"],
        [
          { handler, trustProxy: "10.0.0.1" },
          "TypeError",
          'serve(): trustProxy must be an array of addresses, not "10.0.0.1"',
        ],
        [
          { handler, port: 0, hostname: "127.0.0.1", limits: { maxBody: 5 } },
          "TypeError",
          'limits: unknown key "maxBody" (known: ' + Object.keys(defaultLimits).join(", ") + ")",
        ],
      ];
      for (const [options, name, message] of cases) {
        await assert.rejects(serve(options as ServeOptions), { name, message }, message);
      }
    }),
  );

  it(
    "takes a limit left undefined as its default, and an IPv6 hostname in brackets",
    guarded(async () => {
      const server = await serve({
        port: 0,
        hostname: "[::1]",
        handler: () => ({ body: "up" }),
        limits: { maxBodyBytes: undefined },
      });
      try {
        assert.equal(server.hostname, "::1");
        assert.equal(server.http.limits.maxBodyBytes, defaultLimits.maxBodyBytes);
      } finally {
        await server.shutdown(100);
      }
    }),
  );
});

describe("serve(): the address it reports", () => {
  it(
    "is the IP address bound for a name such as localhost, as on every runtime",
    guarded(async () => {
      // Node and Deno resolve the name and report the address they bound; Bun reported the
      // name. Which of the machine's addresses for localhost is bound differs by runtime
      // (Bun tries IPv6 first), so the check is that it is one of them, and that it answers.
      const server = await serve({
        port: 0,
        hostname: "localhost",
        handler: () => ({ body: "up" }),
      });
      try {
        const addresses = (await lookup("localhost", { all: true })).map((a) => a.address);
        assert.ok(
          addresses.includes(server.hostname),
          `${server.hostname} is not one of localhost's addresses ${addresses.join(", ")}`,
        );
        assert.notEqual(net.isIP(server.hostname), 0);
        const c = await RawClient.connect(server.port, server.hostname);
        try {
          await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          const [r] = await c.responses(1);
          assert.equal(r!.status, 200);
          assert.equal(text(r!.body), "up");
        } finally {
          c.close();
        }
      } finally {
        await server.shutdown(100);
      }
    }),
  );
});

describe("serve(): a reply header with no value", () => {
  it(
    "is a 500 on the wire, with nothing of the handler's head, and the connection goes on",
    guarded(async () => {
      const errors: unknown[] = [];
      const bad: Record<string, HeaderInit> = {
        "/undefined": [["X-Before", "sent?"], ["X-Id", undefined as unknown as string]],
        "/null": { "X-Before": "sent?", "X-Id": null as unknown as string },
      };
      const server = await serve({
        port: 0,
        hostname: "127.0.0.1",
        handler: (req) => ({ headers: bad[req.path] ?? { "X-Id": "7" }, body: req.path }),
        onError: (error) => errors.push(error),
      });
      const c = await RawClient.connect(server.port);
      try {
        await c.send(
          "GET /undefined HTTP/1.1\r\nHost: x\r\n\r\nGET /null HTTP/1.1\r\nHost: x\r\n\r\n" +
            "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        await c.responses(3);
        const date = /Date: [^\r]*\r\n/g;
        const failed = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n" +
          "Content-Length: 4\r\n\r\n500\n";
        assert.equal(
          Buffer.from(c.received()).toString("latin1").replace(date, ""),
          failed + failed + "HTTP/1.1 200 OK\r\nX-Id: 7\r\nContent-Length: 3\r\n\r\n/ok",
        );
        assert.deepEqual(
          errors.map((e) => [(e as Error).name, (e as Error).message]),
          [
            ["TypeError", "header X-Id: the value is undefined, not a string"],
            ["TypeError", "header X-Id: the value is null, not a string"],
          ],
        );
      } finally {
        c.close();
        await server.shutdown(100);
      }
    }),
  );
});

describe("serve(): shutdown with a grace that is no number of ms", () => {
  it(
    "is a RangeError before anything stops: the server goes on serving",
    guarded(async () => {
      const server = await serve({
        port: 0,
        hostname: "127.0.0.1",
        handler: () => ({ body: "up" }),
      });
      try {
        for (const grace of [NaN, -1, "5" as unknown as number]) {
          await assert.rejects(server.shutdown(grace), {
            name: "RangeError",
            message: `shutdown grace must be a number of ms >= 0, not ${
              typeof grace === "string" ? `"${grace}"` : grace
            }`,
          });
        }
        const r = await request(server.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.equal(r.status, 200);
        assert.equal(text(r.body), "up");
      } finally {
        await server.shutdown(100);
      }
    }),
  );
});

describe(`transport: ${adapterName} adapter on ${running}`, () => {
  let listen: ListenFn;
  let listener: Listener;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    listen = await loadAdapter(adapterName);
    listener = await listen({ port: 0, hostname: "127.0.0.1" }, accept);
  });

  after(async () => {
    for (const client of clients) client.socket.destroy();
    // Whatever a failed test left open; the connections that passed are closed already.
    for (const conn of accepted) if (conn.closes === 0) conn.transport.close();
    await listener?.close();
    // Every connection must report its close exactly once, even the ones torn down here.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, 2000));
    await Promise.race([
      until("every onClose", () => accepted.every((c) => c.closes > 0)),
      deadline,
    ]);
    clearTimeout(timer);
    waiters.clear();
    process.off("unhandledRejection", onUnhandled);
    assert.deepEqual(
      accepted.map((c) => c.closes),
      accepted.map(() => 1),
      "onClose calls per connection",
    );
    assert.deepEqual(
      accepted.map((c) => c.afterClose),
      accepted.map(() => 0),
      "events after onClose",
    );
    assert.deepEqual(unhandled, [], "unhandled rejections");
  });

  it(
    "listens where asked, with the expected adapter",
    guarded(() => {
      assert.equal(listener.runtime, adapterName);
      assert.equal(listener.hostname, "127.0.0.1");
      assert.ok(listener.port > 0);
      return Promise.resolve();
    }),
  );

  it(
    "delivers incoming bytes to onData, in order and complete",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      client.socket.write("hello ");
      await until("the first bytes", () => conn.bytes === 6);
      client.socket.write("world");
      await until("the second bytes", () => conn.bytes === 11);
      assert.equal(conn.text(), "hello world");
      // Many reads into the adapter's (possibly reused) buffer; copies must add up.
      const big = pattern(1 << 20, 1);
      client.socket.write(big);
      await until("1 MiB", () => conn.bytes === 11 + big.length);
      assertSameBytes(conn.received().subarray(11), big, "1 MiB upload");
      assert.ok(conn.dataEvents > 2, "several onData calls");
      await hangUp(client, conn);
    }),
  );

  it(
    "leaves delivered chunks as they were where it offers them (node adapter over Deno's and Bun's net)",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      // Deno's adapter reads into one buffer per connection, and on Node itself the node adapter
      // into one for all; Deno's and Bun's `node:net` and Bun do not, though only the node
      // adapter offers them as fresh (the Bun adapter's held chunks rely on it all the same).
      assert.equal(conn.transport.freshChunks === true, adapterName === "node" && !keepsInPlace);
      const fresh = adapterName === "bun" || conn.transport.freshChunks === true;
      const views: Uint8Array[] = [];
      conn.onDataHook = (chunk) => views.push(chunk);
      let sent = 0;
      for (let i = 0; i < 40; i++) {
        const piece = pattern(3000 + i, 10 + i);
        client.socket.write(piece);
        sent += piece.length;
        await until(`piece ${i}`, () => conn.bytes === sent);
      }
      const big = pattern(1 << 20, 50);
      client.socket.write(big);
      sent += big.length;
      await until("1 MiB", () => conn.bytes === sent);
      if (fresh) assertSameBytes(Buffer.concat(views), conn.received(), "chunks kept as delivered");
      await hangUp(client, conn);
    }),
  );

  it(
    "reads into one shared buffer on Node itself, and a body on its way into buffers of its own",
    { skip: !keepsInPlace && "only Node's own net reads into a buffer given" },
    guarded(async () => {
      const a = await connect(listener);
      const b = await connect(listener);
      const seen = new Map<Recorder, { chunk: Uint8Array; fresh: boolean }[]>([
        [a.conn, []],
        [b.conn, []],
      ]);
      for (const { conn } of [a, b]) {
        conn.onDataHook = (chunk) => {
          seen.get(conn)!.push({ chunk, fresh: conn.transport.freshChunks === true });
        };
      }
      // Small pieces, each read as it comes: all in the shared buffer, lent for the call.
      const sentA: Uint8Array[] = [];
      let bytesA = 0;
      for (let i = 0; i < 20; i++) {
        const piece = pattern(1000 + 37 * i, i);
        a.client.socket.write(piece);
        sentA.push(piece);
        bytesA += piece.length;
        await until(`piece ${i}`, () => a.conn.bytes === bytesA);
      }
      // 1 MiB waiting in the kernel when reading starts: reads fill their 64 KiB, and those after
      // a full one go into buffers of their own, kept by the core as they are.
      b.conn.transport.pause();
      const big = pattern(1 << 20, 77);
      b.client.socket.write(big);
      await sleep(100);
      b.conn.transport.resume();
      await until("1 MiB", () => b.conn.bytes === big.length);
      const shared = seen.get(a.conn)![0]!.chunk.buffer;
      for (const { chunk, fresh } of [...seen.get(a.conn)!, ...seen.get(b.conn)!]) {
        assert.equal(chunk.length <= 64 * 1024, true, `a read of ${chunk.length} bytes`);
        // Offered fresh: most of a buffer of its own. Lent: the shared buffer, or a short read
        // into one of its own (copied rather than kept with its 64 KiB).
        const own = chunk.buffer !== shared;
        const most = chunk.length * 2 >= chunk.buffer.byteLength;
        assert.equal(fresh, own && most, `${chunk.length} bytes, fresh: ${fresh}, own: ${own}`);
      }
      assert.equal(seen.get(a.conn)!.every((d) => d.chunk.buffer === shared), true, "small reads");
      const fresh = seen.get(b.conn)!.filter((d) => d.fresh).map((d) => d.chunk.buffer);
      assert.equal(fresh.length > 0, true, "no read of the 1 MiB went into a buffer of its own");
      assert.equal(new Set(fresh).size, fresh.length, "a fresh buffer read into twice");
      // The recorder copies each chunk as it is delivered: what a connection got, in order.
      assertSameBytes(a.conn.received(), Buffer.concat(sentA), "a");
      assertSameBytes(b.conn.received(), big, "b");
      // The fresh chunks are still what was read: nothing read later went into them.
      let at = 0;
      for (const { chunk, fresh: own } of seen.get(b.conn)!) {
        if (own) assertSameBytes(chunk, big.subarray(at, at + chunk.length), `fresh at ${at}`);
        at += chunk.length;
      }
      await hangUp(a.client, a.conn);
      await hangUp(b.client, b.conn);
    }),
  );

  it(
    "gives a read that ended a request the shared buffer on Node itself, however full it was",
    { skip: !keepsInPlace && "only Node's own net reads into a buffer given" },
    guarded(async () => {
      const a = await connect(listener);
      const b = await connect(listener);
      const c = await connect(listener);
      const seen = new Map<Recorder, Uint8Array[]>([[a.conn, []], [b.conn, []], [c.conn, []]]);
      for (const { conn } of [a, b, c]) conn.onDataHook = (chunk) => seen.get(conn)!.push(chunk);
      a.client.socket.write("x");
      await until("a's byte", () => a.conn.bytes === 1);
      const shared = seen.get(a.conn)![0]!.buffer;
      // 1 MiB waiting in the kernel when reading starts, so that reads fill their buffer. For b
      // every read ends a request (the core holds nothing of one after it), for c none does.
      b.conn.betweenHook = () => true;
      const big = pattern(1 << 20, 3);
      for (const { client, conn } of [b, c]) {
        conn.transport.pause();
        client.socket.write(big);
      }
      await sleep(100);
      for (const { conn } of [b, c]) conn.transport.resume();
      await until("1 MiB each", () => b.conn.bytes === big.length && c.conn.bytes === big.length);
      const full = (conn: Recorder) => seen.get(conn)!.some((chunk) => chunk.length === 64 * 1024);
      assert.deepEqual([full(b.conn), full(c.conn)], [true, true], "a full read each");
      const own = (conn: Recorder) => seen.get(conn)!.filter((chunk) => chunk.buffer !== shared);
      assert.equal(own(b.conn).length, 0, "b: every read into the shared buffer");
      assert.equal(own(c.conn).length > 0, true, "c: the reads after a full one into their own");
      assertSameBytes(b.conn.received(), big, "b");
      assertSameBytes(c.conn.received(), big, "c");
      for (const { client, conn } of [a, b, c]) await hangUp(client, conn);
    }),
  );

  it(
    "reads between requests no more than a head needs on Deno, whatever a body's reads took",
    { skip: adapterName !== "deno" && "only Deno's adapter sizes each connection's reads" },
    guarded(async () => {
      const { client, conn } = await connect(listener);
      const body = pattern(300_000, 5);
      const sizes: number[] = [];
      conn.onDataHook = (chunk) => sizes.push(chunk.length);
      // As the core says it: between requests before the first byte and after the "body".
      conn.betweenHook = () => conn.bytes === 0 || conn.bytes === body.length;
      client.socket.write(body);
      await until("the body", () => conn.bytes === body.length);
      // Past the size of a head (to 64 KiB when the data comes as fast as it is read).
      assert.equal(Math.max(...sizes) > 4096, true, `the body's reads: ${sizes.join(", ")}`);
      // The first read was full and began between requests: heads may come in 4 KiB.
      sizes.length = 0;
      client.socket.write(pattern(20_000, 6));
      await until("the next request", () => conn.bytes === body.length + 20_000);
      assert.equal(sizes[0], 4096, `reads after the body: ${sizes.join(", ")}`);
      assertSameBytes(conn.received().subarray(body.length), pattern(20_000, 6), "after");
      await hangUp(client, conn);
    }),
  );

  it(
    "reports the peer's address and port",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      assert.equal(conn.transport.remoteAddress, "127.0.0.1");
      assert.equal(conn.transport.remotePort, client.socket.localPort);
      await hangUp(client, conn);
    }),
  );

  it(
    "keeps borrowed bytes intact when the caller reuses them, unless it says it kept the view",
    guarded(async () => {
      const { client, conn } = await connect(listener, { paused: true });
      const small = Buffer.from("borrowed bytes");
      conn.transport.write(small, false);
      assert.equal(kept(conn.transport), false, "a small write to an idle socket is sent");
      small.fill(0x78);
      // Large enough that part of it must wait in the adapter while the client does not read.
      const expected = pattern(6 << 20, 2);
      const large = expected.slice();
      conn.transport.write(large, false);
      // Node sends from the view itself and says so; the others copy what waits.
      assert.equal(kept(conn.transport), keepsInPlace, "keptBorrowed after a partial write");
      if (kept(conn.transport)) assert.ok(conn.transport.pending > 0);
      else large.fill(0);
      // Behind unsent bytes every adapter copies.
      const queued = Buffer.from("queued behind");
      conn.transport.write(queued, false);
      assert.equal(kept(conn.transport), false, "keptBorrowed behind unsent bytes");
      queued.fill(0x79);
      client.socket.resume();
      const total = 14 + expected.length + 13;
      await until("every byte at the client", () => client.bytes === total);
      const got = client.received();
      assert.equal(got.subarray(0, 14).toString(), "borrowed bytes");
      assertSameBytes(got.subarray(14, 14 + expected.length), expected, "borrowed 6 MiB");
      assert.equal(got.subarray(14 + expected.length).toString(), "queued behind");
      conn.transport.close();
      await until("onClose", () => conn.closes === 1);
    }),
  );

  it(
    "says a borrowed write goes out at once only where it does, and not behind unsent bytes",
    guarded(async () => {
      const { client, conn } = await connect(listener, { paused: true });
      // Node's own net sends the view in the call, Bun's socket.write too; Deno writes later.
      const atOnce = keepsInPlace || adapterName === "bun";
      assert.equal(conn.transport.sendsAtOnce === true, atOnce, "on an idle socket");
      const expected = pattern(6 << 20, 3);
      conn.transport.write(expected, true);
      assert.ok(conn.transport.pending > 0, "part of 6 MiB waits while the client does not read");
      assert.equal(conn.transport.sendsAtOnce === true, false, "behind unsent bytes");
      client.socket.resume();
      await until("every byte at the client", () => client.bytes === expected.length);
      await until("nothing pending", () => conn.transport.pending === 0);
      assert.equal(conn.transport.sendsAtOnce === true, atOnce, "once all went");
      assertSameBytes(client.received(), expected, "6 MiB");
      conn.transport.close();
      await until("onClose", () => conn.closes === 1);
    }),
  );

  it(
    "keeps queued copies intact while other connections write and reuse memory",
    guarded(async () => {
      // A copies small borrowed writes behind 8 MiB its peer does not read, so they wait in
      // the adapter; meanwhile B writes many small borrowed pieces that are sent at once. An
      // adapter that reuses copy memory (Deno's slabs) must not reuse what A still holds.
      const a = await connect(listener, { paused: true });
      const b = await connect(listener);
      const head = pattern(8 << 20, 6);
      a.conn.transport.write(head, true);
      const piece = new Uint8Array(1000);
      const expectedA: Uint8Array[] = [head];
      for (let i = 0; i < 300; i++) {
        piece.set(pattern(1000, 100 + i));
        a.conn.transport.write(piece, false);
        expectedA.push(pattern(1000, 100 + i));
      }
      piece.fill(0);
      assert.ok(a.conn.transport.pending > 0, "A's bytes wait in the adapter");
      const expectedB: Uint8Array[] = [];
      let sentB = 0;
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 20; i++) {
          piece.set(pattern(1000, round * 20 + i));
          b.conn.transport.write(piece, false);
          expectedB.push(pattern(1000, round * 20 + i));
        }
        piece.fill(0);
        sentB += 20 * 1000;
        await until(`B's round ${round}`, () => b.client.bytes === sentB);
      }
      assertSameBytes(b.client.received(), Buffer.concat(expectedB), "B's pieces");
      a.client.socket.resume();
      const totalA = head.length + 300 * 1000;
      await until("all of A's bytes", () => a.client.bytes === totalA);
      assertSameBytes(a.client.received(), Buffer.concat(expectedA), "A's queued pieces");
      a.conn.transport.close();
      b.conn.transport.close();
      await until("onClose", () => a.conn.closes === 1 && b.conn.closes === 1);
    }),
  );

  it(
    "returns false on a large write to a peer that does not read, then drains",
    guarded(async () => {
      const { client, conn } = await connect(listener, { paused: true });
      const payload = pattern(8 << 20, 3);
      const ok = conn.transport.write(payload, true);
      assert.equal(ok, false, "write() asks the core to wait");
      assert.ok(conn.transport.pending > 0, "bytes are pending");
      await sleep(50);
      assert.equal(conn.drains, 0, "no drain while the peer is not reading");
      assert.ok(conn.transport.pending > 0, "still pending while the peer is not reading");
      client.socket.resume();
      await until("onDrain", () => conn.drains === 1);
      assert.equal(conn.transport.pending, 0);
      await until("8 MiB at the client", () => client.bytes === payload.length);
      assertSameBytes(client.received(), payload, "8 MiB download");
      assert.equal(conn.drains, 1);
      conn.transport.end();
      await until("client end", () => client.ended);
      client.socket.end();
      await until("onClose", () => conn.closes === 1);
      assert.equal(conn.closeError, undefined);
    }),
  );

  it(
    "delivers nothing while paused and everything after resume()",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      conn.transport.pause();
      const payload = pattern(16 << 20, 4);
      let flushed = 0;
      for (let offset = 0; offset < payload.length; offset += 1 << 20) {
        client.socket.write(payload.subarray(offset, offset + (1 << 20)), () => flushed++);
      }
      client.socket.end();
      await sleep(120);
      assert.equal(conn.dataEvents, 0, "onData while paused");
      assert.equal(conn.ends, 0, "onEnd while paused");
      // The adapter must stop reading the socket, not buffer for us: the kernel buffers fill
      // (a few MiB on loopback) and the peer's writes stall.
      assert.ok(flushed < 16, `the peer sent all 16 MiB to a paused server (${flushed} MiB)`);
      conn.transport.resume();
      await until("the whole upload", () => conn.bytes === payload.length);
      assertSameBytes(conn.received(), payload, "paused upload");
      await until("onEnd", () => conn.ends === 1);
      conn.transport.end();
      await until("onClose", () => conn.closes === 1);
      assert.deepEqual(conn.log, ["data", "end", "close"]);
    }),
  );

  it(
    "stops delivering as soon as onData calls pause()",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      conn.onDataHook = () => {
        conn.transport.pause();
        conn.onDataHook = null;
      };
      const payload = pattern(2 << 20, 5);
      client.socket.write(payload);
      await until("the first chunk", () => conn.dataEvents === 1);
      await sleep(100);
      assert.equal(conn.dataEvents, 1, "onData after pause()");
      assert.ok(conn.bytes < payload.length);
      conn.transport.resume();
      await until("the rest", () => conn.bytes === payload.length);
      assertSameBytes(conn.received(), payload, "upload paused from onData");
      await hangUp(client, conn);
    }),
  );

  it(
    "reports the peer's FIN and can still answer (half-close)",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      client.socket.end("ping");
      await until("onEnd", () => conn.ends === 1);
      assert.equal(conn.text(), "ping");
      const reply = Buffer.from("pong");
      conn.transport.write(reply, false);
      reply.fill(0);
      await until("the reply at the client", () => client.bytes === 4);
      assert.equal(client.text(), "pong");
      assert.equal(client.ended, false);
      conn.transport.end();
      await until("client end", () => client.ended);
      await until("onClose", () => conn.closes === 1);
      await until("client close", () => client.closed);
      assert.equal(conn.closeError, undefined);
      assert.deepEqual(conn.log, ["data", "end", "close"]);
    }),
  );

  it(
    "end() sends a FIN after the queue and keeps reading until the peer closes",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      conn.transport.write(Buffer.from("bye"), false);
      conn.transport.end();
      await until("client end", () => client.ended);
      assert.equal(client.text(), "bye");
      assert.equal(conn.closes, 0, "still open for reading");
      client.socket.write("late");
      await until("late bytes", () => conn.text() === "late");
      client.socket.end();
      await until("onClose", () => conn.closes === 1);
      assert.equal(conn.closeError, undefined);
      assert.deepEqual(conn.log, ["data", "end", "close"]);
    }),
  );

  it(
    "close() tears the connection down at once",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      client.socket.write("x");
      await until("data", () => conn.bytes === 1);
      conn.transport.close();
      assert.equal(conn.closes, 0, "onClose is not called from inside close()");
      await until("onClose", () => conn.closes === 1);
      await until("client end", () => client.ended);
      client.socket.end();
      await until("client close", () => client.closed);
      assert.equal(conn.closeError, undefined);
      assert.doesNotThrow(() => conn.transport.write(Buffer.from("gone"), false));
      assert.doesNotThrow(() => conn.transport.close());
      assert.doesNotThrow(() => conn.transport.end());
      assert.equal(conn.transport.pending, 0);
      await sleep(20);
      assert.equal(conn.closes, 1);
    }),
  );

  it(
    "honours close() called from inside accept()",
    guarded(async () => {
      onAccept = (transport) => transport.close();
      const { client, conn } = await connect(listener);
      await until("onClose", () => conn.closes === 1);
      await until("client end", () => client.ended || client.closed);
      client.socket.destroy();
      assert.equal(conn.dataEvents, 0);
    }),
  );

  it(
    "honours pause() and resume() called from inside accept()",
    guarded(async () => {
      onAccept = (transport) => {
        transport.pause();
        transport.resume();
      };
      const { client, conn } = await connect(listener);
      const payload = pattern(1 << 20, 6);
      client.socket.write(payload);
      await until("the upload", () => conn.bytes === payload.length);
      assertSameBytes(conn.received(), payload, "upload after pause/resume in accept");
      await hangUp(client, conn);
    }),
  );

  it(
    "survives a reset from the peer, with onClose once and no unhandled rejection",
    guarded(async () => {
      const { client, conn } = await connect(listener);
      client.socket.write("x");
      await until("data", () => conn.bytes === 1);
      client.reset();
      await until("onClose", () => conn.closes === 1);
      assert.doesNotThrow(() => conn.transport.write(pattern(1 << 20), false));
      await sleep(30);
      assert.equal(conn.closes, 1);
      assert.deepEqual(unhandled, []);
    }),
  );

  it(
    "survives a reset while a large write is pending",
    guarded(async () => {
      const { client, conn } = await connect(listener, { paused: true });
      assert.equal(conn.transport.write(pattern(8 << 20), true), false);
      assert.ok(conn.transport.pending > 0);
      client.reset();
      // A peer that is gone is noticed by the next write or read; keep the adapter busy.
      await until("onClose", () => conn.closes === 1);
      assert.equal(conn.transport.pending, 0);
      await sleep(30);
      assert.equal(conn.closes, 1);
      assert.equal(conn.drains, 0);
      assert.deepEqual(unhandled, []);
    }),
  );

  it(
    "Listener.close() stops accepting while open connections keep working",
    guarded(async () => {
      const second = await listen({ port: 0, hostname: "127.0.0.1" }, accept);
      const { client, conn } = await connect(second);
      await second.close();
      const late = new Client(second.port);
      await until("the late connect to fail", () => late.error !== null || late.connected);
      assert.equal(late.connected, false, "a connection was accepted after close()");
      assert.equal(late.error?.code, "ECONNREFUSED");
      client.socket.write("still");
      await until("data on the open connection", () => conn.text() === "still");
      conn.transport.write(Buffer.from("here"), false);
      await until("the answer", () => client.text() === "here");
      await hangUp(client, conn);
    }),
  );
});
