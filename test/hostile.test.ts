/**
 * Hostile values from application code: thrown non-Errors, getters and Proxy traps that throw,
 * thenables that are no Promise, iterators that break their protocol. Each request gets its
 * documented answer, `onError` hears of it once, the connection serves the next request, and
 * nothing escapes into the transport's callbacks (which on a real socket is a crash).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type HttpOptions, HttpServer } from "../src/server.ts";
import type { Reply } from "../src/response.ts";
import { fetchHandler } from "../src/fetch.ts";

import { Wire } from "./wire.ts";

const enc = new TextEncoder();

function serve(options: Partial<HttpOptions> & Pick<HttpOptions, "handler">) {
  const errors: unknown[] = [];
  const server = new HttpServer({ lingerMs: 50, onError: (e) => errors.push(e), ...options });
  const connect = (): Wire => {
    const wire = new Wire();
    wire.events = server.accept(wire);
    return wire;
  };
  return { server, connect, errors };
}

const request = (method: string, target: string) =>
  `${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** What `onError` got, as text, without trusting the values' own getters. */
function messages(errors: unknown[]): string[] {
  return errors.map((e) => {
    try {
      return e instanceof Error ? e.message : typeof e;
    } catch {
      // A Proxy whose getPrototypeOf throws.
      return "unreadable";
    }
  });
}

function throwingGetter(key: string, message: string): Error {
  return Object.defineProperty(new Error("outer"), key, {
    get() {
      throw new Error(message);
    },
  });
}

/** A Proxy whose every trap throws `message`. */
function trapped(message: string): object {
  const traps = new Proxy({}, {
    get: () => () => {
      throw new Error(message);
    },
  });
  return new Proxy({}, traps);
}

describe("hostile values: what a handler throws", () => {
  const thrown: Record<string, () => unknown> = {
    "/status-getter": () => throwingGetter("status", "status getter"),
    "/status-code-getter": () => throwingGetter("statusCode", "statusCode getter"),
    "/proxy": () => trapped("trap"),
  };

  for (const mode of ["sync", "async"]) {
    it(`answers a ${mode} throw whose status cannot be read with a 500, reported once`, async () => {
      const { connect, errors, server } = serve({
        handler: (req) => {
          if (req.path === "/ok") return { body: "ok" };
          if (mode === "sync") throw thrown[req.path]!();
          return Promise.reject(thrown[req.path]!());
        },
      });
      const wire = connect();
      // On a socket an exception out of onData is an uncaught one: the process goes down.
      wire.events.onData(enc.encode(Object.keys(thrown).map((p) => request("GET", p)).join("")));
      wire.events.onData(enc.encode(request("GET", "/ok")));
      await tick(5);
      assert.deepEqual(wire.statuses(), [500, 500, 500, 200]);
      assert.deepEqual(messages(errors), ["outer", "outer", "unreadable"]);
      assert.equal(wire.closed, false);
      assert.equal(server.running, 0);
    });
  }

  it("answers other thrown non-Errors and odd statuses as documented", async () => {
    const values: Record<string, () => unknown> = {
      "/string": () => "s",
      "/number": () => 42,
      "/null": () => null,
      "/undefined": () => undefined,
      "/symbol": () => Symbol("s"),
      "/text-404": () => ({ status: "404" }),
      "/half": () => ({ status: 404.5 }),
      "/nan": () => ({ status: NaN }),
      "/negative": () => ({ status: -1 }),
      "/1e3": () => ({ status: 1e3 }),
      "/bigint": () => ({ status: 404n }),
      "/status-code": () => ({ statusCode: 418 }),
      "/primitive": () => ({
        [Symbol.toPrimitive]() {
          throw new Error("toPrimitive");
        },
      }),
    };
    const { connect, errors } = serve({
      handler: (req) => {
        if (req.path === "/ok") return { body: "ok" };
        throw values[req.path]!();
      },
    });
    const wire = connect();
    wire.events.onData(
      enc.encode([...Object.keys(values), "/ok"].map((p) => request("GET", p)).join("")),
    );
    await tick(5);
    assert.deepEqual(wire.statuses(), [...Array(11).fill(500), 418, 500, 200]);
    // The client's mistake (a 4xx) is not reported; every other is, once.
    assert.equal(errors.length, 12);
    assert.equal(wire.closed, false);
  });
});

describe("hostile values: thenables that are no Promise", () => {
  it("answers a then that throws, or a then getter that throws, with a 500; one never settled with a 503", async () => {
    const gave: Record<string, () => unknown> = {
      "/then-throws": () => ({
        then() {
          throw new Error("then");
        },
      }),
      "/then-getter": () =>
        Object.defineProperty({}, "then", {
          get() {
            throw new Error("then getter");
          },
        }),
      "/twice": () => ({
        then(ok: (v: Reply) => void, fail: (e: unknown) => void) {
          ok({ body: "first" });
          fail(new Error("after"));
          ok({ body: "second" });
        },
      }),
      "/never": () => ({ then() {} }),
    };
    const { connect, errors, server } = serve({
      timeouts: { handlerMs: 50 },
      handler: (req) => req.path === "/ok" ? { body: "ok" } : gave[req.path]!() as Reply,
    });
    const wire = connect();
    wire.events.onData(
      enc.encode([...Object.keys(gave), "/ok"].map((p) => request("GET", p)).join("")),
    );
    await tick(150);
    assert.deepEqual(wire.statuses(), [500, 500, 200, 503, 200]);
    // The getter throws at once, the then a turn later, as a Promise calls it.
    assert.deepEqual(messages(errors), [
      "then getter",
      "then",
      "handler for GET took longer than its deadline",
    ]);
    assert.equal(server.running, 0);
  });

  it("takes a fetch handler's thenable as the Response it gives, or meets the deadline", async () => {
    const { connect, errors } = serve({
      timeouts: { handlerMs: 50 },
      handler: fetchHandler((request) => {
        const path = new URL(request.url).pathname;
        if (path === "/never") return { then() {} } as unknown as Promise<Response>;
        return {
          then(ok: (r: Response) => void) {
            ok(new Response("fine"));
          },
        } as unknown as Promise<Response>;
      }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(request("GET", "/thenable") + request("GET", "/never")));
    await tick(150);
    assert.deepEqual(wire.statuses(), [200, 503]);
    assert.deepEqual(messages(errors), ["handler for GET took longer than its deadline"]);
  });
});

describe("hostile values: replies to CONNECT", () => {
  it("answers a reply whose status or body getter throws with a 500", async () => {
    const gave: Record<string, () => unknown> = {
      "a:1": () =>
        Object.defineProperty({}, "status", {
          get() {
            throw new Error("status getter");
          },
        }),
      "b:1": () =>
        Object.defineProperty({ status: 200 }, "body", {
          get() {
            throw new Error("body getter");
          },
        }),
    };
    for (const mode of ["sync", "async"]) {
      const { connect, errors, server } = serve({
        handler: (req) => {
          if (req.path === "/ok") return { body: "ok" };
          const reply = gave[req.url]!() as Reply;
          return mode === "sync" ? reply : Promise.resolve(reply);
        },
      });
      const wire = connect();
      wire.events.onData(
        enc.encode(request("CONNECT", "a:1") + request("CONNECT", "b:1") + request("GET", "/ok")),
      );
      await tick(5);
      assert.deepEqual(wire.statuses(), [500, 500, 200], mode);
      assert.deepEqual(messages(errors), [
        "status getter",
        "a 2xx answer to CONNECT opens a tunnel, which binks does not provide",
      ], mode);
      assert.equal(server.running, 0, mode);
    }
  });
});

describe("hostile values: a stream's producer that will not close", () => {
  const returns: Record<string, () => unknown> = {
    "throws": () => {
      throw new Error("return");
    },
    "gives a plain object": () => ({ done: true, value: undefined }),
    "gives a number": () => 5,
  };
  for (const [what, ret] of Object.entries(returns)) {
    it(`forgets the connection its client left when return() ${what}`, async () => {
      let closes = 0;
      const { connect, errors, server } = serve({
        handler: () => ({
          body: {
            [Symbol.asyncIterator]: () => ({
              next: () => new Promise<IteratorResult<string>>(() => {}),
              return: () => {
                closes++;
                return ret();
              },
            }),
          } as AsyncIterable<string>,
        }),
      });
      const wire = connect();
      wire.events.onData(enc.encode(request("GET", "/stream")));
      await tick(5);
      assert.equal(server.connections, 1);
      // The client leaves: the transport says so, and must get no exception back.
      wire.events.onClose();
      await tick(5);
      assert.equal(closes, 1);
      assert.equal(server.connections, 0);
      assert.deepEqual(errors, []);
    });
  }
});

describe("hostile values: a refused reply's stream", () => {
  // A reply refused for a bad field, status or length went out as a 500, and the stream it
  // carried (which may hold an open file) was never closed.
  it("is closed when the reply is refused; a status is read once", async () => {
    const closed: string[] = [];
    const stream = (name: string): AsyncIterable<string> => ({
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.resolve({ done: false as const, value: "x" }),
        return: () => {
          closed.push(name);
          return Promise.resolve({ done: true as const, value: undefined });
        },
      }),
    });
    let reads = 0;
    const gave: Record<string, () => Reply> = {
      "/field": () => ({ headers: { "bad name": "x" }, body: stream("field") }),
      "/value": () => ({ headers: { "X-A": "a\r\nb" }, body: stream("value") }),
      "/status": () => ({ status: 99, body: stream("status") }),
      "/length": () => ({ length: -1, body: stream("length") }),
      // 201 when written, then a getter that throws: the answer was refused after it was written.
      "/twice": () =>
        Object.defineProperty({ body: "twice" }, "status", {
          get() {
            if (reads++ === 0) return 201;
            throw new Error("status read twice");
          },
        }) as Reply,
    };
    for (const mode of ["sync", "async"]) {
      closed.length = 0;
      reads = 0;
      const { connect, errors, server } = serve({
        handler: (req) => {
          const reply = gave[req.path]!();
          return mode === "sync" ? reply : Promise.resolve(reply);
        },
      });
      const wire = connect();
      wire.events.onData(
        enc.encode(Object.keys(gave).map((path) => request("GET", path)).join("")),
      );
      await tick(5);
      assert.deepEqual(wire.statuses(), [500, 500, 500, 500, 201], mode);
      assert.deepEqual(closed, ["field", "value", "status", "length"], mode);
      assert.equal(errors.length, 4, mode);
      assert.equal(server.running, 0, mode);
    }
  });
});

describe("hostile values: a stream's producer closed once", () => {
  it("calls return() once when its client leaves while a piece is on its way", async () => {
    let returns = 0;
    let release: () => void = () => {};
    const { connect, errors, server } = serve({
      handler: () => ({
        body: {
          [Symbol.asyncIterator]: () => ({
            next: () =>
              new Promise<IteratorResult<string>>((resolve) => {
                release = () => resolve({ done: false, value: "late" });
              }),
            // A hand-written producer that closes its file here: a second call would close
            // whatever file took its descriptor since.
            return: () => {
              returns++;
              return Promise.resolve({ done: true as const, value: undefined });
            },
          }),
        } as AsyncIterable<string>,
      }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(request("GET", "/stream")));
    await tick(5);
    wire.events.onClose();
    release();
    await tick(5);
    assert.equal(returns, 1);
    assert.equal(server.connections, 0);
    assert.deepEqual(errors, []);
  });
});
