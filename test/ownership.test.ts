/**
 * Ownership of what a handler hands over: every stream body that does not go out to its end is
 * closed (return(), or a ReadableStream's cancel) exactly once, and none that ended by itself
 * is closed again; the connection and its handler slots are let go (`server.connections` and
 * `server.running` back to 0); each failure is reported once. Over an in-process transport.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type HttpOptions, HttpServer } from "../src/server.ts";
import type { Reply } from "../src/response.ts";
import { fetchHandler } from "../src/fetch.ts";
import { timers } from "../src/clock.ts";
import { parseResponses } from "./client.ts";
import { Wire } from "./wire.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One access-log entry, as far as these tests look. */
interface Entry {
  path: string | null;
  status: number | null;
  complete: boolean;
}

/** Every server made here, with its access log's lines and the rejections no one handled. */
const logs = new Map<
  HttpServer,
  { lines: string[]; unhandled: unknown[]; off: () => void; timersBefore: number }
>();

function serve(options: Partial<HttpOptions> & Pick<HttpOptions, "handler">) {
  const errors: unknown[] = [];
  const lines: string[] = [];
  const server = new HttpServer({
    lingerMs: 5,
    onError: (e) => errors.push(e),
    accessLog: (text) => lines.push(text),
    ...options,
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  // Other suites in the same process (bun test) may have timers of their own.
  const timersBefore = timers.size;
  logs.set(server, {
    lines,
    unhandled,
    off: () => process.off("unhandledRejection", onUnhandled),
    timersBefore,
  });
  const connect = (): Wire => {
    const wire = new Wire();
    wire.events = server.accept(wire);
    return wire;
  };
  return { server, connect, errors };
}

const get = (target: string, method = "GET", fields = "") =>
  `${method} ${target} HTTP/1.1\r\nHost: x\r\n${fields}\r\n`;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Wait (a bounded while) for `done` to hold. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await tick(2);
}

/** A promise and its resolve. */
function later<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

/** What a producer's piece may be: text, a failure, a wait, or a value no stream may give. */
type Piece = string | Error | Promise<void> | number;

/**
 * A hand-written producer that holds a resource from its first piece on, as one reading a file
 * does: closed by return() while it has not finished. It counts a return() that comes after it
 * finished (gave done, or failed), which for-await never makes and which would close its file
 * twice.
 */
class Producer implements AsyncIterable<string> {
  opened = 0;
  closed = 0;
  closedAfterEnd = 0;
  private readonly pieces: Piece[];
  constructor(pieces: Piece[]) {
    this.pieces = pieces;
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    let i = 0;
    let finished = false;
    let started = false;
    return {
      next: async () => {
        if (finished) return { done: true, value: undefined };
        if (!started) {
          started = true;
          this.opened++;
        }
        for (;;) {
          const piece = this.pieces[i++];
          if (piece instanceof Promise) {
            await piece;
            continue;
          }
          if (piece === undefined) {
            finished = true;
            this.closedByItself();
            return { done: true, value: undefined };
          }
          if (piece instanceof Error) {
            finished = true;
            this.closedByItself();
            throw piece;
          }
          return { done: false, value: piece as string };
        }
      },
      return: () => {
        if (finished) this.closedAfterEnd++;
        else if (started) this.closed++;
        finished = true;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /** Done or failed: its file is closed by itself. */
  private closedByItself(): void {
    this.closed++;
  }

  /** Every resource it took was let go once, and nothing closed twice. */
  check(label: string): void {
    assert.equal(this.closedAfterEnd, 0, `${label}: return() after the producer ended`);
    assert.equal(
      this.closed,
      this.opened,
      `${label}: opened ${this.opened}, closed ${this.closed}`,
    );
  }
}

/** A producer whose return() is counted whether or not it was started (it opened when made). */
class Eager implements AsyncIterable<string> {
  returns = 0;
  [Symbol.asyncIterator](): AsyncIterator<string> {
    let given = false;
    return {
      // One piece, then done: an answer sent by mistake ends.
      next: () =>
        Promise.resolve(
          given ? { done: true, value: undefined } : (given = true, { done: false, value: "x" }),
        ),
      return: () => {
        this.returns++;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}

/**
 * The server let go of everything (no connection, no handler slot), and its access log has
 * `entries` (path, status, complete), each request once, in order.
 */
async function settled(server: HttpServer, label: string, entries: string[]): Promise<void> {
  for (let i = 0; i < 50 && (server.connections !== 0 || server.running !== 0); i++) await tick(2);
  assert.equal(server.running, 0, `${label}: running`);
  assert.equal(server.connections, 0, `${label}: connections`);
  server.accessLog!.flush();
  const { lines, unhandled, off, timersBefore } = logs.get(server)!;
  // Runtimes report a rejection no one handled once the microtasks have run out.
  await tick(1);
  off();
  assert.deepEqual(unhandled, [], `${label}: unhandled rejections`);
  // No deadline of a request or connection outlives them. At most as many as before: under
  // `bun test` every file shares one process, and an earlier file's timers may run out meanwhile.
  assert.ok(timers.size <= timersBefore, `${label}: timers ${timers.size} > ${timersBefore}`);
  const logged = lines.join("").split("\n").filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Entry)
    .map((e) => `${e.path} ${e.status} ${e.complete}`);
  assert.deepEqual(logged, entries, `${label}: access log`);
  logs.delete(server);
}

describe("ownership: replies that do not go out", () => {
  it("closes the stream of a reply with no content, refused, or to CONNECT, once", async () => {
    const cases: [string, string, (body: AsyncIterable<string>) => Reply, number][] = [
      ["HEAD", "/", (body) => ({ body }), 200],
      ["GET", "/", (body) => ({ status: 204, body }), 204],
      ["GET", "/", (body) => ({ status: 304, body }), 304],
      ["GET", "/", (body) => ({ status: 205, body }), 205],
      ["GET", "/", (body) => ({ status: 205, headers: { "a b": "x" }, body }), 500],
      ["GET", "/", (body) => ({ status: 204, headers: { "X-A": "a\nb" }, body }), 500],
      ["GET", "/", (body) => ({ status: 101, body }), 500],
      ["GET", "/", (body) => ({ status: 99, body }), 500],
      ["GET", "/", (body) => ({ headers: { "a b": "x" }, body }), 500],
      ["GET", "/", (body) => ({ length: 1.5, body }), 500],
      ["CONNECT", "h:443", (body) => ({ body }), 500],
      ["HEAD", "/", (body) => ({ body, length: 3 }), 200],
    ];
    for (const mode of ["sync", "async"]) {
      for (const [method, target, make, status] of cases) {
        const label = `${mode} ${method} ${JSON.stringify(make(new Eager()))}`;
        const eager = new Eager();
        const { server, connect, errors } = serve({
          handler: () => mode === "sync" ? make(eager) : Promise.resolve(make(eager)),
        });
        const wire = connect();
        wire.events.onData(enc.encode(get(target, method, "Connection: close\r\n")));
        await tick(1);
        assert.deepEqual(wire.statuses([method === "HEAD"]), [status], label);
        assert.equal(eager.returns, 1, label);
        assert.equal(errors.length, status === 500 ? 1 : 0, label);
        await settled(server, label, [`${target} ${status} true`]);
      }
    }
  });

  it("closes a stream answered after its client left, after the deadline, or after the grace", async () => {
    // The client leaves while the handler works.
    {
      const gate = later();
      const eager = new Eager();
      const { server, connect, errors } = serve({
        handler: async () => {
          await gate.promise;
          return { body: eager };
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/")));
      await tick();
      wire.leave();
      gate.resolve();
      await tick(1);
      assert.equal(eager.returns, 1, "left");
      assert.deepEqual(errors, []);
      await settled(server, "left", ["/ null false"]);
    }
    // A sync answer queued behind an async one whose client left.
    {
      const gate = later();
      const eager = new Eager();
      const { server, connect, errors } = serve({
        handler: (req) => req.path === "/slow" ? gate.promise.then(() => ({})) : { body: eager },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/slow") + get("/sync")));
      await tick();
      assert.equal(eager.returns, 0);
      wire.leave();
      assert.equal(eager.returns, 1, "queued");
      gate.resolve();
      await tick(1);
      assert.equal(eager.returns, 1, "queued");
      assert.deepEqual(errors, []);
      await settled(server, "queued", ["/slow null false", "/sync null false"]);
    }
    // The handler deadline passed: a 503 went out.
    {
      const gate = later();
      const eager = new Eager();
      const { server, connect, errors } = serve({
        timeouts: { handlerMs: 5 },
        handler: async () => {
          await gate.promise;
          return { body: eager };
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/", "GET", "Connection: close\r\n")));
      await until(() => wire.statuses().length === 1);
      assert.deepEqual(wire.statuses(), [503]);
      gate.resolve();
      await tick(1);
      assert.equal(eager.returns, 1, "deadline");
      assert.equal(errors.length, 1, "deadline");
      await settled(server, "deadline", ["/ 503 true"]);
    }
    // The shutdown grace ran out.
    {
      const gate = later();
      const eager = new Eager();
      const { server, connect, errors } = serve({
        handler: async () => {
          await gate.promise;
          return { body: eager };
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/")));
      await tick();
      await server.shutdown(5);
      gate.resolve();
      await tick(1);
      assert.deepEqual(wire.statuses(), []);
      assert.equal(eager.returns, 1, "grace");
      assert.deepEqual(errors, []);
      await settled(server, "grace", ["/ null false"]);
    }
  });
});

describe("ownership: streams cut short", () => {
  const pieces: Record<string, [Piece[], number | undefined, number]> = {
    // path: pieces, length, errors
    "/fails": [["a", new Error("disk")], undefined, 1],
    "/long": [["ab", "c"], 1, 1],
    "/short": [["ab"], 5, 1],
    "/number": [["a", 42], undefined, 1],
    "/whole": [["ab"], 2, 0],
    "/chunked": [["ab", "cd"], undefined, 0],
  };
  for (const [path, [list, length, reported]] of Object.entries(pieces)) {
    it(`closes ${path}'s producer once, and not when it ended by itself`, async () => {
      const producer = new Producer(list);
      const { server, connect, errors } = serve({
        handler: () => length === undefined ? { body: producer } : { body: producer, length },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get(path, "GET", "Connection: close\r\n")));
      await tick(1);
      producer.check(path);
      assert.equal(producer.opened, 1, path);
      assert.equal(errors.length, reported, path);
      await settled(server, path, [`${path} 200 ${reported === 0}`]);
    });
  }

  it("closes a producer waiting for its next piece when the client resets", async () => {
    const gate = later();
    const producer = new Producer(["a", gate.promise, "b"]);
    const { server, connect, errors } = serve({ handler: () => ({ body: producer }) });
    const wire = connect();
    wire.events.onData(enc.encode(get("/")));
    await tick();
    wire.leave();
    gate.resolve();
    await tick(1);
    producer.check("reset");
    assert.deepEqual(errors, []);
    await settled(server, "reset", ["/ 200 false"]);
  });

  it("closes the answers queued behind a stream that fails, or a reply that closes", async () => {
    for (const first of ["fails", "close"]) {
      const eager = [new Eager(), new Eager()];
      const head = new Producer(["a", new Error("disk")]);
      let n = 0;
      const { server, connect, errors } = serve({
        handler: (req) => {
          if (req.path === "/first") {
            // Later than those behind it, which are read and handled meanwhile.
            return tick(1).then(() =>
              first === "fails" ? { body: head } : { headers: { Connection: "close" }, body: "bye" }
            );
          }
          const i = n++;
          // One answered at once, one later: both wait behind the first.
          return i === 0 ? { body: eager[0]! } : Promise.resolve({ body: eager[1]! });
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/first") + get("/2") + get("/3")));
      await tick(5);
      assert.equal(n, 2, first);
      assert.deepEqual(eager.map((e) => e.returns), [1, 1], first);
      head.check(first);
      assert.equal(errors.length, first === "fails" ? 1 : 0, first);
      await settled(server, first, [
        `/first 200 ${first === "close"}`,
        "/2 null false",
        "/3 null false",
      ]);
    }
  });

  it("reports no producer's failure to close, however soon the close is told", async () => {
    // A return() that fails is not reported when the connection's close closes the producer;
    // nor was it to be when the producer's next piece came between the cut and that close.
    for (const lag of [0, 20]) {
      const gate = later();
      let returns = 0;
      const producer: AsyncIterable<string> = {
        [Symbol.asyncIterator]: () => {
          let given = 0;
          return {
            next: async () => {
              if (given++ === 1) await gate.promise;
              return { done: false, value: "a" };
            },
            return: () => {
              returns++;
              return Promise.reject(new Error("close failed"));
            },
          };
        },
      };
      const { server, connect, errors } = serve({ handler: () => ({ body: producer }) });
      const wire = connect();
      wire.lag = lag;
      wire.events.onData(enc.encode(get("/")));
      await tick();
      const down = server.shutdown(0);
      await until(() => wire.closed);
      gate.resolve();
      await down;
      await tick(lag + 5);
      assert.equal(returns, 1, `lag ${lag}`);
      assert.deepEqual(errors, [], `lag ${lag}`);
      await settled(server, `lag ${lag}`, ["/ 200 false"]);
    }
  });

  it("closes a stream under way when the shutdown grace runs out", async () => {
    const gate = later();
    const producer = new Producer(["a", gate.promise, "b"]);
    const { server, connect, errors } = serve({ handler: () => ({ body: producer }) });
    const wire = connect();
    wire.events.onData(enc.encode(get("/")));
    await tick();
    await server.shutdown(5);
    producer.check("grace");
    gate.resolve();
    await tick(1);
    producer.check("grace");
    assert.deepEqual(errors, []);
    await settled(server, "grace", ["/ 200 false"]);
  });

  it("leaves the unread body of a request answered at once and serves the next", async () => {
    const { server, connect } = serve({ handler: (req) => ({ body: req.path }) });
    const wire = connect();
    wire.events.onData(
      enc.encode(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
          get("/b", "GET", "Connection: close\r\n"),
      ),
    );
    await tick(1);
    assert.deepEqual(wire.statuses(), [200, 200]);
    await settled(server, "body", ["/a 200 true", "/b 200 true"]);
  });
});

/** A ReadableStream that gives `count` pieces, one per timer turn, and counts its cancels. */
function slowStream(count: number) {
  const counts = { cancels: 0, pulls: 0 };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      counts.pulls++;
      await tick(1);
      if (counts.pulls > count) controller.close();
      else controller.enqueue(enc.encode(`p${counts.pulls};`));
    },
    cancel() {
      counts.cancels++;
    },
  }, { highWaterMark: 0 });
  return { stream, counts };
}

describe("ownership: fetch Responses", () => {
  it("cancels a streamed body once when the client resets mid-way", async () => {
    const { stream, counts } = slowStream(1000);
    const { server, connect, errors } = serve({
      handler: fetchHandler(() => new Response(stream), { globalResponse: false }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/")));
    await until(() => wire.text().includes("p1;"));
    wire.leave();
    await tick(5);
    assert.equal(counts.cancels, 1);
    assert.deepEqual(errors, []);
    await settled(server, "reset", ["/ 200 false"]);
  });

  it("cancels a streamed body not sent: HEAD, client gone, deadline, grace", async () => {
    for (const what of ["head", "left", "deadline", "grace"]) {
      const { stream, counts } = slowStream(1000);
      const gate = later();
      const { server, connect, errors } = serve({
        timeouts: { handlerMs: what === "deadline" ? 5 : 1000 },
        handler: fetchHandler(async () => {
          if (what !== "head") await gate.promise;
          return new Response(stream);
        }, { globalResponse: false }),
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/", what === "head" ? "HEAD" : "GET")));
      await tick();
      if (what === "left") wire.leave();
      if (what === "deadline") await tick(20);
      if (what === "grace") await server.shutdown(1);
      gate.resolve();
      await tick(10);
      assert.equal(counts.cancels, 1, what);
      assert.equal(errors.length, what === "deadline" ? 1 : 0, what);
      if (what === "head" || what === "deadline") wire.leave();
      await settled(server, what, [
        what === "head" ? "/ 200 true" : what === "deadline" ? "/ 503 true" : "/ null false",
      ]);
    }
  });

  it("answers a Response whose body is locked with a 500, and one sent twice", async () => {
    const { stream } = slowStream(2);
    const shared = new Response(stream);
    const { server, connect, errors } = serve({
      handler: fetchHandler((request) => {
        if (new URL(request.url).pathname === "/locked") {
          const body = new Response(slowStream(1).stream);
          body.body!.getReader();
          return body;
        }
        return shared;
      }, { globalResponse: false }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/locked") + get("/shared") + get("/shared")));
    await until(() => wire.statuses().length === 3 && errors.length === 2);
    assert.deepEqual(wire.statuses(), [500, 200, 500]);
    assert.equal(errors.length, 2);
    wire.leave();
    await settled(server, "locked", ["/locked 500 true", "/shared 200 true", "/shared 500 true"]);
  });
});

describe("ownership: requests refused while their answers wait", () => {
  it("closes the stream of an answer that waits when its request's body is refused", async () => {
    for (const why of ["framing", "late"]) {
      const gate = later();
      const eager = new Eager();
      const { server, connect, errors } = serve({
        timeouts: { handlerMs: why === "late" ? 5 : 1000 },
        handler: (req) => {
          if (req.path === "/slow") return gate.promise.then(() => ({ body: "slow" }));
          // Answered at once, waiting behind /slow; or answered after its deadline.
          return why === "framing" ? { body: eager } : gate.promise.then(() => ({ body: eager }));
        },
      });
      const wire = connect();
      wire.events.onData(
        enc.encode(
          why === "framing"
            // A GET, which may start while /slow runs (a POST would wait for it).
            ? get("/slow") + "GET /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
              "2\r\nab\r\nzz\r\n"
            : "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab",
        ),
      );
      await tick(20);
      gate.resolve();
      await tick(5);
      assert.equal(eager.returns, 1, why);
      assert.deepEqual(wire.statuses(), why === "framing" ? [200, 400] : [408], why);
      assert.equal(errors.length, 0, why);
      await settled(
        server,
        why,
        why === "framing" ? ["/slow 200 true", "/up 400 true"] : ["/up 408 true"],
      );
    }
  });
});

describe("ownership: fetch Responses cut short", () => {
  it("cancels a body whose piece is no bytes, once; not one that failed", async () => {
    for (const what of ["bad-first", "bad-later", "fails"]) {
      const counts = { cancels: 0, pulls: 0 };
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          counts.pulls++;
          if (what !== "bad-first") await tick(1);
          if (counts.pulls === 1 && what !== "bad-first") controller.enqueue(enc.encode("a"));
          else if (what === "fails") controller.error(new Error("disk"));
          else controller.enqueue("text" as unknown as Uint8Array);
        },
        cancel() {
          counts.cancels++;
        },
      }, { highWaterMark: 0 });
      const { server, connect, errors } = serve({
        handler: fetchHandler(() => new Response(stream), { globalResponse: false }),
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/", "GET", "Connection: close\r\n")));
      // Fixed waits were too short on a loaded machine: until the failure is told, then a little.
      await until(() => errors.length === 1);
      await tick(5);
      // Cut mid-way, the chunked answer has no end: its status line is all there is to read.
      assert.match(
        wire.text(),
        what === "bad-first" ? /^HTTP\/1\.1 500 / : /^HTTP\/1\.1 200 /,
        what,
      );
      assert.equal(counts.cancels, what === "fails" ? 0 : 1, what);
      assert.equal(errors.length, 1, what);
      await settled(server, what, [what === "bad-first" ? "/ 500 true" : "/ 200 false"]);
    }
  });

  it("cancels the body of an answer to a client that half-closed while it was made", async () => {
    const { stream, counts } = slowStream(1000);
    const gate = later();
    const { server, connect, errors } = serve({
      handler: fetchHandler(async () => {
        await gate.promise;
        return new Response(stream);
      }, { globalResponse: false }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/")));
    wire.events.onEnd();
    await tick();
    gate.resolve();
    await tick(10);
    assert.equal(counts.cancels, 1);
    assert.deepEqual(errors, []);
    await settled(server, "half-closed", ["/ 200 false"]);
  });

  // The rest went out as the whole body: a 200 with altered data (a body read to its end, or
  // still locked, was a 500 already).
  it("refuses a body the handler read some of, and cancels it", async () => {
    const { stream, counts } = slowStream(3);
    const { server, connect, errors } = serve({
      handler: fetchHandler(async () => {
        const response = new Response(stream);
        const reader = response.body!.getReader();
        await reader.read();
        reader.releaseLock();
        return response;
      }, { globalResponse: false }),
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/", "GET", "Connection: close\r\n")));
    await until(() => wire.statuses().length === 1 && counts.cancels === 1);
    assert.deepEqual(wire.statuses(), [500]);
    assert.equal(counts.cancels, 1);
    assert.equal(counts.pulls, 1);
    assert.equal(errors.length, 1);
    await settled(server, "disturbed", ["/ 500 true"]);
  });
});

describe("ownership: request bodies", () => {
  it("fails a body read under way when its client leaves: no report, no rejection", async () => {
    for (const api of ["native", "fetch"]) {
      const seen: string[] = [];
      const { server, connect, errors } = serve({
        handler: api === "native"
          ? async (req) => {
            try {
              return { body: await req.text() };
            } catch (err) {
              seen.push((err as Error).message);
              throw err;
            }
          }
          : fetchHandler(async (request) => {
            try {
              return new Response(await request.text());
            } catch (err) {
              seen.push((err as Error).message);
              throw err;
            }
          }, { globalResponse: false }),
      });
      const wire = connect();
      wire.events.onData(
        enc.encode("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab"),
      );
      await tick(1);
      wire.leave();
      await tick(5);
      assert.equal(seen.length, 1, api);
      assert.deepEqual(errors, [], api);
      assert.deepEqual(wire.statuses(), [], api);
      await settled(server, api, ["/up null false"]);
    }
  });
});

describe("ownership: an answer that streams its request's body", () => {
  it("is cut without a report when the client leaves mid-body", async () => {
    for (const how of ["native reset", "native fin", "fetch reset", "fetch fin"]) {
      const { server, connect, errors } = serve({
        handler: how.startsWith("native")
          ? (req) => ({ body: req.body! })
          : fetchHandler((request) => new Response(request.body), { globalResponse: false }),
      });
      const wire = connect();
      wire.events.onData(
        enc.encode("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab"),
      );
      await until(() => wire.text().includes("ab"));
      if (how.endsWith("reset")) wire.leave();
      else wire.events.onEnd();
      await tick(5);
      assert.match(wire.text(), /^HTTP\/1\.1 200 /, how);
      assert.deepEqual(errors.map((e) => (e as Error).message), [], how);
      await settled(server, how, ["/echo 200 false"]);
    }
  });
});

describe("ownership: pipelined requests", () => {
  it("reads nothing after a request that says Connection: close", async () => {
    const producer = new Producer(["a", "b"]);
    let handled = 0;
    const { server, connect, errors } = serve({
      handler: () => {
        handled++;
        return Promise.resolve({ body: producer });
      },
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/1", "GET", "Connection: close\r\n") + get("/2")));
    await tick(5);
    assert.equal(handled, 1);
    assert.deepEqual(wire.statuses(), [200]);
    producer.check("close");
    assert.deepEqual(errors, []);
    await settled(server, "close", ["/1 200 true"]);
  });

  it("serves a stream behind a request whose handler failed", async () => {
    const producer = new Producer(["a", "b"]);
    const { server, connect, errors } = serve({
      handler: (req) => {
        if (req.path === "/1") return Promise.reject(new Error("broken"));
        return { body: producer };
      },
    });
    const wire = connect();
    wire.events.onData(enc.encode(get("/1") + get("/2", "GET", "Connection: close\r\n")));
    await tick(5);
    assert.deepEqual(wire.statuses(), [500, 200]);
    assert.match(wire.text(), /\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n$/);
    producer.check("behind");
    assert.equal(errors.length, 1);
    await settled(server, "behind", ["/1 500 true", "/2 200 true"]);
  });
});

describe("ownership: a handler that starts the shutdown", () => {
  // The connection looked idle while its handler ran (nothing queued yet): the shutdown sent
  // its FIN at once, and the handler's answer was written after it, which a socket refuses.
  it("gets its answer out before the connection ends", async () => {
    for (const mode of ["sync", "async", "stream"]) {
      const producer = new Producer(["by", "e"]);
      let down: Promise<void> | null = null;
      const { server, connect, errors } = serve({
        handler: () => {
          down = server.shutdown(1000);
          if (mode === "stream") return { body: producer };
          return mode === "sync" ? { body: "bye" } : Promise.resolve({ body: "bye" });
        },
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/quit") + get("/more")));
      await down;
      assert.equal(wire.writesAfterEnd, 0, mode);
      assert.ok(wire.ended, mode);
      const [response] = parseResponses(wire.bytes()).responses;
      assert.equal(response?.status, 200, mode);
      assert.equal(dec.decode(response!.body), "bye", mode);
      assert.equal(response!.headers.find(([n]) => n === "Connection")?.[1], "close", mode);
      producer.check(mode);
      assert.deepEqual(errors, [], mode);
      await settled(server, mode, ["/quit 200 true"]);
    }
  });
});

describe("ownership: a fetch body ready in many small pieces", () => {
  /** A stream with a one-byte piece ready at every pull, `pieces` of them (null: for good). */
  function dribble(pieces: number | null) {
    const counts = { pulls: 0, cancels: 0 };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        counts.pulls++;
        if (pieces !== null && counts.pulls > pieces) controller.close();
        else controller.enqueue(new Uint8Array([0x61]));
      },
      cancel() {
        counts.cancels++;
      },
    }, { highWaterMark: 0 });
    return { stream, counts };
  }

  // Each ready piece was gathered in a microtask up to 1 MiB: a HEAD's producer that always had
  // one was pulled a million times, the event loop held all the while, before it was cancelled.
  it("gathers at most 1,024 pieces, then streams the rest, or cancels it for HEAD", async () => {
    for (const [method, pieces] of [["GET", 1000], ["GET", 3000], ["HEAD", null]] as const) {
      const { stream, counts } = dribble(pieces);
      const { server, connect, errors } = serve({
        handler: fetchHandler(() => new Response(stream), { globalResponse: false }),
      });
      const wire = connect();
      wire.events.onData(enc.encode(get("/", method)));
      await until(() =>
        counts.cancels === 1 || wire.text().endsWith(pieces === 3000 ? "0\r\n\r\n" : "a")
      );
      const head = wire.text().split("\r\n\r\n")[0]!.toLowerCase();
      const label = `${method} ${pieces}`;
      if (pieces === 1000) assert.match(head, /\r\ncontent-length: 1000(\r\n|$)/, label);
      else if (pieces === 3000) {
        assert.match(head, /\r\ntransfer-encoding: chunked(\r\n|$)/, label);
        // The 1,024 gathered in one chunk, the rest as they came.
        const lines = wire.text().split("\r\n\r\n")[1]!.split("\r\n");
        assert.deepEqual(lines.slice(0, 2), ["400", "a".repeat(1024)], label);
        assert.equal(lines.filter((line) => line === "a").length, 3000 - 1024, label);
      } else {
        assert.doesNotMatch(head, /content-length/, label);
        assert.equal(counts.pulls <= 1025 + 1, true, `${label}: ${counts.pulls} pulls`);
        assert.equal(counts.cancels, 1, label);
      }
      assert.deepEqual(errors, [], label);
      wire.leave();
      await settled(server, label, ["/ 200 true"]);
    }
  });
});
