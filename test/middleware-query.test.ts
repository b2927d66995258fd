/**
 * Middleware misused as application code misuses it (next() twice, late, never, ignored; throws
 * and non-replies; replies replaced; stream replies dropped), served through the real connection
 * over an in-process transport: each failure reported once, a 500, nothing run twice or after the
 * answer, no unhandled rejection, no stream left open. Then `req.query` against the WHATWG URL
 * parser's `searchParams`, and `req.params` against `decodeURIComponent`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Middleware, Router } from "../src/router.ts";
import { HttpServer } from "../src/server.ts";
import type { Handler } from "../src/connection.ts";
import type { Reply } from "../src/response.ts";
import { IncomingRequest } from "../src/request.ts";
import { findHeadEnd, parseHead, RequestHead } from "../src/parser.ts";
import { defaultLimits } from "../src/limits.ts";
import { parseResponses } from "./client.ts";
import { Wire } from "./wire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** What one request through `handler` came to: its answers, reports and loose rejections. */
interface Outcome {
  statuses: number[];
  bodies: string[];
  errors: string[];
  unhandled: unknown[];
}

/**
 * Send `method target` to a server on `handler`, wait (a bounded while) for `ready`, then give
 * late work two more turns to show itself.
 */
async function exchange(
  handler: Handler,
  target: string,
  method = "GET",
  ready: () => boolean = () => true,
): Promise<Outcome> {
  const errors: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  try {
    const server = new HttpServer({
      handler,
      lingerMs: 5,
      onError: (e) => errors.push(e instanceof Error ? e.message : String(e)),
    });
    const wire = new Wire();
    wire.events = server.accept(wire);
    wire.events.onData(enc.encode(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    for (let i = 0; i < 100; i++) {
      if (ready() && parseResponses(wire.bytes(), [method === "HEAD"]).responses.length > 0) break;
      await tick(2);
    }
    await tick(5);
    await tick(5);
    const { responses } = parseResponses(wire.bytes(), [method === "HEAD"]);
    await server.shutdown(50);
    return {
      statuses: responses.map((r) => r.status),
      bodies: responses.map((r) => dec.decode(r.body)),
      errors,
      unhandled,
    };
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
}

/**
 * A producer holding a resource from when it is made, as an opened file does: closed by its
 * end or by return(), and it counts every close.
 */
class Held implements AsyncIterable<string> {
  closes = 0;
  pulled = 0;
  private done = false;
  private readonly pieces: string[];
  constructor(pieces: string[]) {
    this.pieces = pieces;
  }
  [Symbol.asyncIterator](): AsyncIterator<string> {
    return {
      next: () => {
        if (this.done) return Promise.resolve({ done: true, value: undefined });
        const piece = this.pieces[this.pulled++];
        if (piece === undefined) {
          this.close();
          return Promise.resolve({ done: true, value: undefined });
        }
        return Promise.resolve({ done: false, value: piece });
      },
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
  private close(): void {
    if (this.done) return;
    this.done = true;
    this.closes++;
  }
}

describe("middleware misuse", () => {
  it("next() twice, one after the other: the handler runs once, a 500 reported once", async () => {
    let runs = 0;
    const router = new Router()
      .use((_req, next) => {
        next();
        return next();
      })
      .get("/", () => {
        runs++;
        return { body: "ok" };
      });
    const out = await exchange(router.handler, "/");
    assert.deepEqual(out.statuses, [500]);
    assert.deepEqual(out.errors, ["middleware called next() twice"]);
    assert.equal(runs, 1);
    assert.deepEqual(out.unhandled, []);
  });

  it("next() twice at once from async middleware: the handler runs once, a 500", async () => {
    let runs = 0;
    const router = new Router().get("/", async (_req, next) => {
      const [a] = await Promise.all([next(), next()]);
      return a;
    }, async () => {
      runs++;
      await tick(1);
      return { body: "ok" };
    });
    const out = await exchange(router.handler, "/");
    assert.deepEqual(out.statuses, [500]);
    assert.deepEqual(out.errors, ["middleware called next() twice"]);
    assert.equal(runs, 1);
    assert.deepEqual(out.unhandled, []);
  });

  it("next() never called: the middleware's answer, the handler not run, nothing reported", async () => {
    let runs = 0;
    const router = new Router().use(() => ({ status: 401, body: "no" })).get("/", () => {
      runs++;
      return { body: "ok" };
    });
    const out = await exchange(router.handler, "/");
    assert.deepEqual([out.statuses, out.bodies, out.errors, runs], [[401], ["no"], [], 0]);
  });

  it("next() called from a timer after the middleware answered throws; the handler never runs", async () => {
    let runs = 0;
    let late: unknown = "not called";
    const router = new Router()
      .use((_req, next) => {
        setTimeout(() => {
          try {
            late = next();
          } catch (e) {
            late = e;
          }
        }, 1);
        return { status: 202, body: "later" };
      })
      .get("/", () => {
        runs++;
        return { body: "charged" };
      });
    const out = await exchange(router.handler, "/", "GET", () => late !== "not called");
    assert.deepEqual([out.statuses, out.bodies, out.errors], [[202], ["later"], []]);
    assert.equal(runs, 0);
    assert.ok(late instanceof Error);
    assert.equal(late.message, "middleware called next() after its answer was given");
  });

  it("next() called after async middleware settled throws too", async () => {
    let runs = 0;
    let late: unknown = "not called";
    const router = new Router().get("/", async (_req, next) => {
      await tick(1);
      setTimeout(() => {
        try {
          late = next();
        } catch (e) {
          late = e;
        }
      }, 1);
      return { status: 203, body: "mw" };
    }, () => {
      runs++;
      return { body: "h" };
    });
    const out = await exchange(router.handler, "/", "GET", () => late !== "not called");
    assert.deepEqual([out.statuses, out.errors, runs], [[203], [], 0]);
    assert.ok(late instanceof Error);
  });

  it("next() may still be called later by a middleware whose own promise is pending", async () => {
    // It answers with that promise: nothing is given yet, so the rest of the chain is wanted.
    const router = new Router()
      .use((_req, next) => new Promise((resolve) => setTimeout(() => resolve(next()), 2)))
      .get("/", () => ({ body: "handler" }));
    const out = await exchange(router.handler, "/");
    assert.deepEqual([out.statuses, out.bodies, out.errors], [[200], ["handler"], []]);
  });

  for (const when of ["before", "after"] as const) {
    it(`middleware that throws ${when} next(): a 500, reported once`, async () => {
      let runs = 0;
      const router = new Router().use((_req, next) => {
        if (when === "after") next();
        throw new Error(`thrown ${when}`);
      }).get("/", () => {
        runs++;
        return { body: "ok" };
      });
      const out = await exchange(router.handler, "/");
      assert.deepEqual(out.statuses, [500]);
      assert.deepEqual(out.errors, [`thrown ${when}`]);
      assert.equal(runs, when === "after" ? 1 : 0);
      assert.deepEqual(out.unhandled, []);
    });
  }

  it("async middleware that rejects after awaiting next(): a 500, reported once", async () => {
    const router = new Router().use(async (_req, next) => {
      await next();
      throw new Error("after await");
    }).get("/", () => Promise.resolve({ body: "ok" }));
    const out = await exchange(router.handler, "/");
    assert.deepEqual([out.statuses, out.errors, out.unhandled], [[500], ["after await"], []]);
  });

  it("middleware that returns no reply, or a promise of none: a 500, reported once", async () => {
    const cases: Middleware[] = [
      (_req, next) => {
        next();
        return undefined as unknown as Reply;
      },
      async (_req, next) => {
        await next();
        return undefined as unknown as Reply;
      },
      (_req, next) => {
        next();
        return 42 as unknown as Reply;
      },
    ];
    for (const mw of cases) {
      const out = await exchange(new Router().use(mw).get("/", () => ({ body: "x" })).handler, "/");
      assert.deepEqual(out.statuses, [500]);
      assert.equal(out.errors.length, 1);
      assert.deepEqual(out.unhandled, []);
    }
  });

  it("middleware that replaces next()'s reply: its own goes out", async () => {
    const router = new Router().use(async (_req, next) => {
      await next();
      return { status: 418, body: "mine" };
    }).get("/", () => ({ body: "theirs" }));
    const out = await exchange(router.handler, "/");
    assert.deepEqual([out.statuses, out.bodies, out.errors], [[418], ["mine"], []]);
  });

  it("params: global middleware sees them after next(), a mounted router's before and after", async () => {
    const seen: string[] = [];
    const api = new Router()
      .use((req, next) => {
        seen.push(`api before ${JSON.stringify(req.params)}`);
        const out = next();
        seen.push(`api after ${JSON.stringify(req.params)}`);
        return out;
      })
      .get("/users/:id", (req) => ({ body: req.params.id! }));
    const app = new Router()
      .use((req, next) => {
        seen.push(`app before ${JSON.stringify(req.params)}`);
        const out = next();
        seen.push(`app after ${JSON.stringify(req.params)}`);
        return out;
      })
      .mount("/api", api);
    const out = await exchange(app.handler, "/api/users/a%20b");
    assert.deepEqual([out.statuses, out.bodies], [[200], ["a b"]]);
    assert.deepEqual(seen, [
      "app before {}",
      'api before {"id":"a b"}',
      'api after {"id":"a b"}',
      'app after {"id":"a b"}',
    ]);
  });

  it("HEAD routed to GET runs the route's middleware once, with the method HEAD", async () => {
    const seen: string[] = [];
    const router = new Router().get("/", (req, next) => {
      seen.push(req.method);
      return next();
    }, () => ({ body: "body" }));
    const out = await exchange(router.handler, "/", "HEAD");
    assert.deepEqual([out.statuses, out.bodies, seen], [[200], [""], ["HEAD"]]);
  });

  it("404, 405 and OPTIONS: global middleware runs once, a route's own never", async () => {
    for (
      const [method, target, status] of [["GET", "/nope", 404], ["POST", "/", 405], [
        "OPTIONS",
        "/",
        204,
      ]] as const
    ) {
      const seen: string[] = [];
      const router = new Router()
        .use((req, next) => {
          seen.push(`global ${req.method}`);
          return next();
        })
        .get("/", (_req, next) => {
          seen.push("route");
          return next();
        }, () => ({ body: "x" }))
        .post("/other", () => ({ body: "y" }));
      const out = await exchange(router.handler, target, method);
      assert.deepEqual([out.statuses, seen], [[status], [`global ${method}`]]);
    }
  });

  describe("a stream reply that middleware does not pass on is closed once", () => {
    const cases: [string, (made: Held[]) => Router, number][] = [
      ["replaced by a text reply (async)", (made) =>
        new Router().use(async (_req, next) => {
          await next();
          return { status: 304 };
        }).get("/", () => ({ body: made[made.push(new Held(["a", "b"])) - 1] })), 304],
      ["replaced by a text reply (sync)", (made) =>
        new Router().use((_req, next) => {
          next();
          return { status: 200, body: "other" };
        }).get("/", () => ({ body: made[made.push(new Held(["a", "b"])) - 1] })), 200],
      ["the middleware threw after next()", (made) =>
        new Router().use((_req, next) => {
          next();
          throw new Error("after");
        }).get("/", () => ({ body: made[made.push(new Held(["a"])) - 1] })), 500],
      ["next() called twice", (made) =>
        new Router().use((_req, next) => {
          next();
          return next();
        }).get("/", () => ({ body: made[made.push(new Held(["a"])) - 1] })), 500],
      [
        "async handler, middleware returned no reply",
        (made) =>
          new Router().use(async (_req, next) => {
            await next();
            return null as unknown as Reply;
          }).get("/", () => Promise.resolve({ body: made[made.push(new Held(["a"])) - 1] })),
        500,
      ],
      [
        "next()'s promise ignored, the middleware's own reply given first",
        (made) =>
          new Router().use((_req, next) => {
            void next();
            return { status: 200, body: "first" };
          }).get("/", async () => {
            await tick(1);
            return { body: made[made.push(new Held(["a"])) - 1] };
          }),
        200,
      ],
    ];
    for (const [name, build, status] of cases) {
      it(name, async () => {
        const made: Held[] = [];
        const out = await exchange(build(made).handler, "/");
        assert.deepEqual(out.statuses, [status]);
        assert.equal(made.length, 1);
        assert.equal(made[0]!.closes, 1);
        assert.deepEqual(out.unhandled, []);
      });
    }

    it("one passed on (with fields added, or wrapped) is not closed by the router", async () => {
      const held = new Held(["a", "b"]);
      const router = new Router().use(async (_req, next) => {
        const r = await next() as Reply;
        async function* upper(body: AsyncIterable<string>) {
          for await (const piece of body) yield piece.toUpperCase();
        }
        return { status: 200, body: upper(r.body as AsyncIterable<string>) };
      }).get("/", () => ({ body: held }));
      const out = await exchange(router.handler, "/");
      assert.deepEqual([out.statuses, out.bodies, held.closes, held.pulled], [[200], ["AB"], 1, 3]);
    });

    it("one read to its end by the middleware is not closed again", async () => {
      const held = new Held(["a", "b"]);
      const router = new Router().use(async (_req, next) => {
        const r = await next() as Reply;
        let all = "";
        for await (const piece of r.body as AsyncIterable<string>) all += piece;
        return { body: `[${all}]` };
      }).get("/", () => ({ body: held }));
      const out = await exchange(router.handler, "/");
      assert.deepEqual([out.statuses, out.bodies, held.closes], [[200], ["[ab]"], 1]);
    });
  });
});

// ---- req.query and req.params ----

/** Room for a request line of a MiB, the most `maxRequestLine` may be set to. */
const WIDE = { ...defaultLimits, maxRequestLine: 1 << 20, maxHeadBytes: 1 << 21 };

/** A request parsed from `target`, as the server would hand it to a handler. */
function parsed(target: string): IncomingRequest | null {
  const bytes = enc.encode(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const head = new RequestHead(defaultLimits.maxHeaders);
  const end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  if (end < 0 || parseHead(bytes, 0, end, head, WIDE) !== 0) return null;
  return new IncomingRequest(head, null, { remoteAddress: "" });
}

function pairs(params: URLSearchParams): [string, string][] {
  return [...params];
}

/** What a fetch handler's `new URL(request.url).searchParams` holds for the target. */
function whatwg(target: string): [string, string][] {
  return pairs(new URL(target, "http://x").searchParams);
}

describe("req.query against WHATWG URLSearchParams", () => {
  const picked = [
    "/?a+b=c+d",
    "/?a%20b=c%20d",
    "/?a=%",
    "/?a=%4",
    "/?a=%zz&b=%4g",
    "/?%=%%",
    "/?a=%00",
    "/?=",
    "/?=v",
    "/?k=",
    "/?k",
    "/?&&a=1&&",
    "/?a=b=c==",
    "/?a=1&b=2&a=3&a=4",
    "/?caf%C3%A9=%E2%82%AC",
    "/?a=%C3",
    "/?a=%C3%28",
    "/?a=%ED%A0%80",
    "/?a=%F0%9F%98%80%F0%9F",
    "/?a=%FF%FE",
    "/??a=1",
    "/?a=1?b=2",
    "/p?x=%2B+%2b",
    "/p",
    "/p?",
    "http://h/p?q=1&q=2",
    "http://h?q=%41",
    "/?a=\"<>'`{}|^",
    "/?a=;b=c",
    "/?%61=%62",
  ];

  it("agrees on hand-picked queries", () => {
    for (const target of picked) {
      const r = parsed(target);
      assert.notEqual(r, null, target);
      assert.deepEqual(pairs(r!.query), whatwg(target), target);
    }
  });

  it("getAll keeps the order the names came in", () => {
    const r = parsed("/?a=3&b=x&a=1&a=2")!;
    assert.deepEqual(r.query.getAll("a"), ["3", "1", "2"]);
    assert.equal(r.query.get("a"), "3");
  });

  it("a `#` in the target is refused before any handler", () => {
    assert.equal(parsed("/?a=1#frag"), null);
  });

  it("agrees on a very long query", () => {
    const target = "/?" +
      Array.from({ length: 40_000 }, (_, i) => `k${i % 7}=%E2%82%AC+${i}`).join("&");
    const r = parsed(target)!;
    assert.deepEqual(pairs(r.query), whatwg(target));
    assert.equal(r.query.getAll("k3").length, 5714);
  });

  it("agrees on random queries", () => {
    const hex = fc.constantFrom(..."0123456789abcdefABCDEFgz%");
    const piece = fc.oneof(
      fc.constantFrom("a", "b", "=", "&", "+", "?", "%", ";", "~", "'", "/", ":", "@", '"'),
      fc.tuple(hex, hex).map(([a, b]) => `%${a}${b}`),
      fc.integer({ min: 0x80, max: 0xff }).map((n) => `%${n.toString(16).toUpperCase()}`),
      fc.integer({ min: 0x21, max: 0x7e }).filter((n) => n !== 0x23).map((n) =>
        String.fromCharCode(n)
      ),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const target = "/q?" + pieces.join("");
        const r = parsed(target);
        assert.notEqual(r, null, target);
        assert.deepEqual(pairs(r!.query), whatwg(target), target);
      }),
      { seed: 0x5eed, numRuns: 2000 },
    );
  });
});

describe("req.params against decodeURIComponent", () => {
  const router = new Router()
    .get("/u/:id", (req) => ({ body: req.params.id! }))
    .get("/f/*", (req) => ({ body: req.params["*"]! }));

  /** The status and the param the route handed over, or null when refused. */
  function route(target: string): [number, string | null] {
    const r = parsed(target);
    assert.notEqual(r, null, target);
    const out = router.handler(r!) as Reply;
    return [out.status ?? 200, out.status === undefined ? out.body as string : null];
  }

  it("decodes as decodeURIComponent, `+` left as it is, bad encoding a 400", () => {
    for (const segment of ["a+b", "a%20b", "%2B", "%2F", "%25", "%00", "caf%c3%a9", "%E2%82%AC"]) {
      assert.deepEqual(route(`/u/${segment}`), [200, decodeURIComponent(segment)], segment);
    }
    for (const segment of ["%", "%4", "%zz", "%C3", "%C3%28", "%ED%A0%80", "%FF"]) {
      assert.throws(() => decodeURIComponent(segment), URIError);
      assert.deepEqual(route(`/u/${segment}`), [400, null], segment);
    }
  });

  it("the wildcard's rest decoded whole, its slashes kept", () => {
    assert.deepEqual(route("/f/a%2Fb/c%20d"), [200, "a/b/c d"]);
    assert.deepEqual(route("/f/a/%E0"), [400, null]);
  });
});
