/**
 * Re-entrancy: application code that binks calls (a handler, sync or async, middleware,
 * `onError`, the access-log writer, a stream's next() and return(), a fetch body's pull and
 * cancel, a request's signal listener, a body's reader) calling binks back: the shutdown, the
 * body read again, a throw. Whatever it does, every answer owed goes out whole and in order
 * before the FIN, nothing is written after it, each failure is reported once, the server lets
 * go of every connection and handler slot, and the shutdown resolves.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type HttpOptions, HttpServer } from "../src/server.ts";
import type { Reply } from "../src/response.ts";
import type { IncomingRequest } from "../src/request.ts";
import { fetchHandler } from "../src/fetch.ts";
import { Router } from "../src/router.ts";
import { header, RawClient } from "./client.ts";
import { Wire } from "./wire.ts";
import { serve as listen } from "../serve.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A server over the in-process wire, which records errors, log lines and stray rejections. */
function serve(options: Partial<HttpOptions> & Pick<HttpOptions, "handler">) {
  const errors: string[] = [];
  const lines: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  const server = new HttpServer({
    lingerMs: 5,
    accessLog: (text) => lines.push(text),
    ...options,
    onError: (e) => {
      errors.push(e instanceof Error ? e.message : String(e));
      options.onError?.(e);
    },
  });
  const connect = (): Wire => {
    const wire = new Wire();
    wire.events = server.accept(wire);
    return wire;
  };
  /** Wait for the server to let go of everything; then check nothing went astray. */
  const settled = async (label: string): Promise<void> => {
    for (let i = 0; i < 100 && (server.connections !== 0 || server.running !== 0); i++) {
      await tick(2);
    }
    await tick(1);
    process.off("unhandledRejection", onUnhandled);
    assert.equal(server.running, 0, `${label}: running`);
    assert.equal(server.connections, 0, `${label}: connections`);
    assert.deepEqual(unhandled, [], `${label}: unhandled rejections`);
  };
  return { server, connect, errors, lines, settled };
}

const get = (target: string, method = "GET", fields = "") =>
  `${method} ${target} HTTP/1.1\r\nHost: x\r\n${fields}\r\n`;
const post = (target: string, body: string) =>
  `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** `promise` settled within `ms`: true; false if it is still pending then. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  void promise.then(() => done = true, () => done = true);
  for (let i = 0; i < ms / 5 && !done; i++) await tick(5);
  return done;
}

/** Grace long enough that a test failing to end a connection shows as a hang, not a pass. */
const GRACE = 2_000;

describe("reentrancy: onError starts the shutdown", () => {
  it("while a refused reply is written, the 500 goes out and the connection ends", async () => {
    for (const mode of ["sync", "async"]) {
      let down: Promise<void> | null = null;
      const { server, connect, errors, settled } = serve({
        handler: (req) => {
          const reply: Reply = req.path === "/"
            ? { headers: { "a b": "x" }, body: "no" }
            : { body: "more" };
          return mode === "sync" ? reply : Promise.resolve(reply);
        },
        onError: () => {
          down ??= server.shutdown(GRACE);
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/")));
      await tick(1);
      assert.ok(down !== null, mode);
      assert.ok(await within(down!, 200), `${mode}: shutdown resolved`);
      assert.deepEqual(wire.answers(), ["500 500\n"], mode);
      assert.equal(wire.writesAfterEnd, 0, mode);
      assert.ok(wire.ended, mode);
      assert.deepEqual(errors, ['invalid header name "a b"'], mode);
      await settled(mode);
    }
  });
});

/** What application code does when binks calls it. */
type Action = "shutdown" | "throw" | "read again" | "nothing";
const ACTIONS: Action[] = ["shutdown", "throw", "read again", "nothing"];

/** What one callback point's test has to do its action with. */
interface Ctx {
  server: HttpServer;
  down: Promise<void> | null;
  /** Do the action; `req` is the request at hand, if the point has one. */
  act(req?: IncomingRequest): Promise<void> | void;
}

/** One place binks calls application code, and how a request gets it called. */
interface Point {
  name: string;
  options(ctx: Ctx): Partial<HttpOptions> & Pick<HttpOptions, "handler">;
  /** What the client sends; after it, `then` (a FIN, or nothing). */
  send: string;
  then?: (wire: Wire) => void;
  /** The first request is a HEAD. */
  headOnly?: boolean;
  /** How long to leave it before the test's own shutdown, in ms. */
  wait?: number;
  /** The answers the client gets, per action. */
  expect: Record<Action, string[]>;
  /** Reports to onError, per action. */
  reports: Record<Action, number>;
}

const body = (text: string) => ({ body: text });

const POINTS: Point[] = [
  {
    name: "sync handler",
    options: (ctx) => ({
      handler: (req) => {
        if (req.path === "/") void ctx.act(req);
        return body(req.path);
      },
    }),
    send: post("/", "abc") + get("/next"),
    expect: {
      // Not read yet when the shutdown came.
      shutdown: ["200 /"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["200 /", "200 /next"],
      nothing: ["200 /", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 0, nothing: 0 },
  },
  {
    name: "async handler",
    options: (ctx) => ({
      handler: async (req) => {
        if (req.path === "/") {
          await req.text();
          await ctx.act(req);
        }
        return body(req.path);
      },
    }),
    send: post("/", "abc") + get("/next"),
    expect: {
      // Held back behind the POST when the shutdown came: answered, as the last.
      shutdown: ["200 /", "200 /next"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["500 500\n", "200 /next"],
      nothing: ["200 /", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 1, nothing: 0 },
  },
  {
    name: "async handler, its body still to come",
    options: (ctx) => ({
      handler: async (req) => {
        if (req.path !== "/") return body(req.path);
        await ctx.act(req);
        return body(await req.text());
      },
    }),
    send: `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na`,
    then: (wire) => wire.events.onData(enc.encode("bc" + get("/next"))),
    expect: {
      // The body is the request's, still read; what follows it is not.
      shutdown: ["200 abc"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["500 500\n", "200 /next"],
      nothing: ["200 abc", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 1, nothing: 0 },
  },
  {
    name: "middleware",
    options: (ctx) => ({
      handler: new Router().use(async (req, next) => {
        const res = await next();
        if (req.path === "/") await ctx.act(req);
        return res;
      }).all("/*", (req) => body(req.path)).handler,
    }),
    send: get("/") + get("/next"),
    expect: {
      shutdown: ["200 /", "200 /next"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["200 /", "200 /next"],
      nothing: ["200 /", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 0, nothing: 0 },
  },
  {
    name: "onError of a sync handler's failure",
    options: (ctx) => ({
      handler: (req) => {
        if (req.path === "/") throw new Error("handler");
        return body(req.path);
      },
      onError: () => void ctx.act(),
    }),
    send: get("/") + get("/next"),
    expect: {
      shutdown: ["500 500\n"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["500 500\n", "200 /next"],
      nothing: ["500 500\n", "200 /next"],
    },
    reports: { shutdown: 1, throw: 1, "read again": 1, nothing: 1 },
  },
  {
    name: "a stream's next()",
    options: (ctx) => ({
      handler: (req) => {
        if (req.path !== "/") return body(req.path);
        let i = 0;
        const pieces = ["a", "b"];
        return {
          body: {
            [Symbol.asyncIterator]: () => ({
              next: async () => {
                if (i === 1) await ctx.act(req);
                const value = pieces[i++];
                return value === undefined ? { done: true, value } : { done: false, value };
              },
            }),
          } as AsyncIterable<string>,
        };
      },
    }),
    send: get("/") + get("/next"),
    expect: {
      shutdown: ["200 ab", "200 /next"],
      // Cut mid-stream: the chunked answer never ends, and nothing goes out after it.
      throw: ["cut"],
      "read again": ["200 ab", "200 /next"],
      nothing: ["200 ab", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 0, nothing: 0 },
  },
  {
    name: "a stream's return() (HEAD)",
    options: (ctx) => ({
      handler: (req) => {
        if (req.path !== "/") return body(req.path);
        return {
          body: {
            [Symbol.asyncIterator]: () => ({
              next: () => Promise.resolve({ done: false, value: "x" }),
              return: async () => {
                await ctx.act(req);
                return { done: true, value: undefined };
              },
            }),
          } as AsyncIterable<string>,
        };
      },
    }),
    send: get("/", "HEAD") + get("/next"),
    headOnly: true,
    expect: {
      shutdown: ["200 "],
      // What return() does is not the answer's business: the stream was not wanted.
      throw: ["200 ", "200 /next"],
      "read again": ["200 ", "200 /next"],
      nothing: ["200 ", "200 /next"],
    },
    reports: { shutdown: 0, throw: 0, "read again": 0, nothing: 0 },
  },
  {
    name: "a fetch body's pull()",
    options: (ctx) => ({
      handler: fetchHandler((request) => {
        if (new URL(request.url).pathname !== "/") return new Response("/next");
        let i = 0;
        return new Response(
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              if (i === 1) await ctx.act();
              if (i === 2) controller.close();
              else controller.enqueue(enc.encode("ab"[i]!));
              i++;
            },
          }),
        );
      }, { globalResponse: false }),
    }),
    send: get("/") + get("/next"),
    expect: {
      shutdown: ["200 ab", "200 /next"],
      throw: ["cut"],
      "read again": ["200 ab", "200 /next"],
      nothing: ["200 ab", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 0, nothing: 0 },
  },
  {
    name: "a fetch body's cancel() (HEAD)",
    options: (ctx) => ({
      handler: fetchHandler((request) => {
        if (new URL(request.url).pathname !== "/") return new Response("/next");
        return new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(enc.encode("x"));
            },
            async cancel() {
              await ctx.act();
            },
          }),
        );
      }, { globalResponse: false }),
    }),
    send: get("/", "HEAD") + get("/next"),
    headOnly: true,
    expect: {
      // Cancelled while the fetch handler makes its reply, after /next was read and started.
      shutdown: ["200 ", "200 /next"],
      throw: ["200 ", "200 /next"],
      "read again": ["200 ", "200 /next"],
      nothing: ["200 ", "200 /next"],
    },
    reports: { shutdown: 0, throw: 0, "read again": 0, nothing: 0 },
  },
  {
    name: "a request's signal listener (the client half-closes)",
    options: (ctx) => ({
      handler: (req) => {
        if (req.path !== "/") return body(req.path);
        return new Promise((resolve, reject) => {
          req.signal.addEventListener("abort", () => {
            try {
              void ctx.act(req);
              resolve(body("late"));
            } catch (err) {
              reject(err);
            }
          });
        });
      },
    }),
    send: get("/") + get("/next"),
    then: (wire) => wire.events.onEnd(),
    expect: {
      // Answered for a client that only half-closed.
      shutdown: ["200 late", "200 /next"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["200 late", "200 /next"],
      nothing: ["200 late", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 0, nothing: 0 },
  },
  {
    name: "a request body's reader",
    options: (ctx) => ({
      handler: async (req) => {
        if (req.path !== "/") return body(req.path);
        let got = "";
        for await (const piece of req.body!) {
          got += dec.decode(piece);
          await ctx.act(req);
        }
        return body(got);
      },
    }),
    send: post("/", "abc") + get("/next"),
    expect: {
      shutdown: ["200 abc", "200 /next"],
      throw: ["500 500\n", "200 /next"],
      "read again": ["500 500\n", "200 /next"],
      nothing: ["200 abc", "200 /next"],
    },
    reports: { shutdown: 0, throw: 1, "read again": 1, nothing: 0 },
  },
  {
    name: "the access-log writer",
    options: (ctx) => ({
      handler: (req) => body(req.path),
      accessLog: () => void ctx.act(),
    }),
    send: get("/") + get("/next"),
    // Its first batch is written by its timer.
    wait: 250,
    expect: {
      shutdown: ["200 /", "200 /next"],
      throw: ["200 /", "200 /next"],
      "read again": ["200 /", "200 /next"],
      nothing: ["200 /", "200 /next"],
    },
    // A writer that throws loses its lines, which are reported: one batch, then one at shutdown.
    reports: { shutdown: 0, throw: 1, "read again": 0, nothing: 0 },
  },
];

describe("reentrancy: the matrix", () => {
  for (const point of POINTS) {
    for (const action of ACTIONS) {
      it(`${point.name}: ${action}`, async () => {
        const label = `${point.name}: ${action}`;
        const ctx: Ctx = {
          server: null!,
          down: null,
          act(req) {
            switch (action) {
              case "shutdown":
                ctx.down ??= ctx.server.shutdown(GRACE);
                return;
              case "throw":
                throw new Error("app");
              case "read again":
                if (req !== undefined) return req.text().then(() => {});
                return;
              case "nothing":
                return;
            }
          },
        };
        const { server, connect, errors, settled } = serve(point.options(ctx));
        ctx.server = server;
        const wire = connect();
        wire.events.onData(enc.encode(point.send));
        point.then?.(wire);
        await tick(point.wait ?? 5);
        ctx.down ??= server.shutdown(GRACE);
        assert.ok(await within(ctx.down, 300), `${label}: shutdown resolved`);
        const expected = point.expect[action];
        if (expected[0] === "cut") assert.ok(wire.closed, label);
        else assert.deepEqual(wire.answers([point.headOnly === true]), expected, label);
        assert.equal(wire.writesAfterEnd, 0, `${label}: writes after the FIN`);
        assert.equal(errors.length, point.reports[action], `${label}: ${errors.join("; ")}`);
        await settled(label);
      });
    }
  }
});

describe("reentrancy: over a real socket", () => {
  // On a socket a write after our FIN is refused (Node: ERR_STREAM_WRITE_AFTER_END), and the
  // 500 it carried never reaches the client.
  it("onError starting the shutdown while a refused reply is written: the 500, then the end", async () => {
    let down: Promise<void> | null = null;
    const errors: unknown[] = [];
    const server = await listen({
      port: 0,
      hostname: "127.0.0.1",
      lingerMs: 5,
      handler: () => Promise.resolve<Reply>({ headers: { "a b": "x" }, body: "no" }),
      onError: (e) => {
        errors.push(e);
        down ??= server.http.shutdown(GRACE);
      },
    });
    const client = await RawClient.connect(server.port);
    try {
      await client.send(get("/"));
      const [response] = await client.responses(1, [], 1000);
      assert.equal(response?.status, 500);
      await client.closedByServer(1000);
      assert.ok(await within(down!, 1000), "shutdown resolved");
      assert.equal(errors.length, 1);
      assert.equal(server.http.connections, 0);
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe("reentrancy: serve()'s close() and shutdown() from a handler, over a real socket", () => {
  it("answers, then ends the connection; the shutdown resolves", async () => {
    for (const call of ["close", "shutdown"]) {
      let down: Promise<void> | null = null;
      const server = await listen({
        port: 0,
        hostname: "127.0.0.1",
        lingerMs: 5,
        handler: (req) => {
          if (req.path === "/quit") {
            down = call === "close" ? server.close() : server.shutdown(GRACE);
          }
          return body(req.path);
        },
      });
      const client = await RawClient.connect(server.port);
      try {
        await client.send(get("/quit") + get("/more"));
        // close() only stops accepting: /more is read and answered. shutdown() drains at once, as
        // HttpServer's does: /more is not read, and /quit's answer says the connection ends (it
        // closed the listener first, by when /more had been read, and /quit said keep-alive).
        const expected = call === "close" ? ["/quit", "/more"] : ["/quit"];
        const answers = await client.responses(expected.length, [], 1000);
        assert.deepEqual(answers.map((r) => dec.decode(r.body)), expected, call);
        assert.equal(header(answers[0]!, "connection"), call === "close" ? undefined : "close");
        assert.ok(await within(down!, 1000), `${call} resolved`);
        if (call === "shutdown") {
          await client.closedByServer(1000);
          assert.equal(server.http.connections, 0, call);
        }
      } finally {
        client.close();
        if (call === "close") await server.shutdown(GRACE);
      }
    }
  });
});

describe("reentrancy: calling back at the edges", () => {
  it("the access-log writer starts the shutdown again from the shutdown's own flush", async () => {
    let nested: Promise<void> | null = null;
    let writes = 0;
    const { server, connect, errors, settled } = serve({
      handler: (req) => body(req.path),
      accessLog: () => {
        writes++;
        nested ??= server.shutdown(GRACE);
      },
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/")));
    const down = server.shutdown(GRACE);
    assert.ok(await within(down, 300), "outer shutdown");
    assert.ok(nested !== null && await within(nested, 300), "nested shutdown");
    assert.deepEqual(wire.answers(), ["200 /"]);
    assert.equal(writes, 1);
    assert.deepEqual(errors, []);
    await settled("log");
  });

  it("onError starts the shutdown when a stream fails mid-way, or a handler's deadline passes", async () => {
    for (const why of ["stream", "deadline"]) {
      let down: Promise<void> | null = null;
      const { server, connect, errors, settled } = serve({
        timeouts: { handlerMs: 20 },
        handler: (req) => {
          if (req.path !== "/") return body(req.path);
          if (why === "deadline") return new Promise<Reply>(() => {});
          return {
            body: (async function* () {
              yield "a";
              throw new Error("producer");
            })(),
          };
        },
        onError: () => {
          down ??= server.shutdown(GRACE);
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/") + get("/next")));
      await tick(40);
      assert.ok(down !== null, why);
      assert.ok(await within(down!, 300), `${why}: shutdown resolved`);
      if (why === "deadline") assert.deepEqual(wire.answers(), ["503 503\n", "200 /next"], why);
      else assert.ok(wire.closed, why);
      assert.equal(wire.writesAfterEnd, 0, why);
      assert.equal(errors.length, 1, `${why}: ${errors.join("; ")}`);
      await settled(why);
    }
  });

  it("a request used after its answer went out: reading throws or rejects, nothing else moves", async () => {
    let kept: IncomingRequest | null = null;
    const { server, connect, errors, settled } = serve({
      handler: async (req) => {
        await req.text();
        if (req.path === "/") kept = req;
        return body(req.path);
      },
    });
    const wire = connect();
    wire.events.onData(enc.encode(post("/", "abc") + get("/next")));
    await tick(5);
    assert.deepEqual(wire.answers(), ["200 /", "200 /next"]);
    const req = kept! as IncomingRequest;
    await assert.rejects(async () => await req.text());
    // A listener added late never hears of an abort that did not happen to its request.
    let heard = 0;
    req.signal.addEventListener("abort", () => heard++);
    const down = server.shutdown(GRACE);
    assert.ok(await within(down, 300));
    assert.equal(heard, 0);
    assert.deepEqual(errors, []);
    await settled("late");
  });

  it("a signal listener that starts the shutdown again when the grace runs out", async () => {
    let heard = 0;
    let nested: Promise<void> | null = null;
    const { server, connect, settled } = serve({
      handler: (req) =>
        new Promise<Reply>(() => {
          req.signal.addEventListener("abort", () => {
            heard++;
            nested = server.shutdown(GRACE);
          });
        }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/")));
    await tick(1);
    const down = server.shutdown(10);
    assert.ok(await within(down, 500), "outer shutdown");
    assert.ok(nested !== null && await within(nested, 300), "nested shutdown");
    assert.equal(heard, 1);
    assert.deepEqual(wire.answers(), []);
    await settled("grace");
  });
});

describe("reentrancy: a handler slot", () => {
  it("a handler that starts the shutdown while another connection waits for its slot", async () => {
    for (const mode of ["sync", "async"]) {
      let down: Promise<void> | null = null;
      const { server, connect, errors, settled } = serve({
        limits: { maxInflight: 1 },
        handler: async (req) => {
          if (req.path === "/quit") {
            await tick(2);
            down = server.shutdown(GRACE);
            return mode === "sync" ? body("bye") : Promise.resolve(body("bye"));
          }
          return body(req.path);
        },
      });
      const a = connect();
      const b = connect();
      a.events.onData(enc.encode(get("/quit")));
      b.events.onData(enc.encode(get("/held") + get("/after")));
      await tick(10);
      assert.ok(down !== null && await within(down, 300), `${mode}: shutdown resolved`);
      assert.deepEqual(a.answers(), ["200 bye"], mode);
      // Held back for the slot when the shutdown came: answered, as its connection's last.
      assert.deepEqual(b.answers(), ["200 /held"], mode);
      assert.equal(a.writesAfterEnd + b.writesAfterEnd, 0, mode);
      assert.deepEqual(errors, [], mode);
      await settled(mode);
    }
  });
});
