/**
 * The access log's writes: whole lines in pieces of at most PIPE_BUF bytes, so that workers
 * sharing a pipe never interleave inside a line.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AccessLog, MAX_LOGGED_TARGET, PIECE_BYTES, pieces } from "../src/log.ts";
import { HttpServer } from "../src/server.ts";
import type { ConnectionEvents, Transport } from "../src/transport.ts";
import type { Reply } from "../src/response.ts";
import type { IncomingRequest } from "../src/request.ts";

const utf8 = new TextEncoder();

function bytes(text: string): number {
  return utf8.encode(text).length;
}

/** Lines of the given lengths in characters, each made of `char` and ending with a newline. */
function lines(lengths: number[], char = "x"): string {
  return lengths.map((n) => char.repeat(n - 1) + "\n").join("");
}

/** What every split must keep: the text whole, whole lines, and no piece too long needlessly. */
function checkPieces(text: string, max = PIECE_BYTES): string[] {
  const got = pieces(text, max);
  assert.equal(got.join(""), text);
  for (const piece of got) {
    assert.ok(piece.endsWith("\n"), `a piece ends inside a line: ${JSON.stringify(piece)}`);
    // Longer than allowed only when it is one line.
    if (bytes(piece) > max) assert.equal(piece.indexOf("\n"), piece.length - 1);
  }
  // Each piece is as long as it may be: the next one's first line would not have fitted.
  for (let i = 0; i + 1 < got.length; i++) {
    const next = got[i + 1]!.slice(0, got[i + 1]!.indexOf("\n") + 1);
    assert.ok(bytes(got[i]!) + bytes(next) > max, `pieces ${i} and ${i + 1} could be one`);
  }
  return got;
}

describe("access log pieces", () => {
  it("are PIPE_BUF, 4096 bytes at most", () => {
    assert.equal(PIECE_BYTES, 4096);
  });

  it("keep text that fits as one piece, and split at line ends", () => {
    assert.deepEqual(pieces(""), []);
    assert.deepEqual(checkPieces(lines([10, 20])), [lines([10, 20])]);
    // Exactly full, then one byte over.
    assert.deepEqual(checkPieces(lines([4000, 96])), [lines([4000, 96])]);
    assert.deepEqual(checkPieces(lines([4000, 97])), [lines([4000]), lines([97])]);
    assert.equal(checkPieces(lines(Array(100).fill(300))).length, Math.ceil(100 / 13));
  });

  it("give a line longer than a piece a piece of its own", () => {
    assert.deepEqual(checkPieces(lines([5000])), [lines([5000])]);
    assert.deepEqual(
      checkPieces(lines([100, 5000, 100, 9000, 4096, 1])),
      [lines([100]), lines([5000]), lines([100]), lines([9000]), lines([4096]), lines([1])],
    );
  });

  it("count bytes, not characters, for text beyond ASCII", () => {
    // 2, 3 and 4 bytes a character (the last a surrogate pair: two UTF-16 units).
    for (const char of ["é", "€", "😀"]) {
      const size = bytes(char);
      const perLine = Math.floor(1000 / size);
      const text = lines(Array(30).fill(perLine), char);
      const got = checkPieces(text);
      assert.ok(got.length > 1);
      for (const piece of got) assert.ok(bytes(piece) <= PIECE_BYTES);
    }
    // One wide character among ASCII lines moves the cut.
    const text = "é".repeat(50) + "\n" + lines([4000]);
    assert.deepEqual(checkPieces(text), ["é".repeat(50) + "\n", lines([4000])]);
    // ... found however far into a long batch it comes.
    const far = lines(Array(17).fill(4000)) + lines([2100]) + "é".repeat(1000) + "\n";
    assert.deepEqual(checkPieces(far).slice(-2), [lines([2100]), "é".repeat(1000) + "\n"]);
    assert.deepEqual(checkPieces("€".repeat(2000) + "\n" + "a\n"), [
      "€".repeat(2000) + "\n",
      "a\n",
    ]);
  });

  it("hold for any mix of line lengths and piece sizes", () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const count = 1 + random(40);
      const text = Array.from({ length: count }, () => {
        const chars = ["a", "é", "€", "😀"];
        let line = "";
        for (let n = random(600); n > 0; n--) line += chars[random(10) < 8 ? 0 : random(4)];
        return line + "\n";
      }).join("");
      checkPieces(text, 64 + random(4096));
    }
  });

  it("are what the log hands its writer", () => {
    const writes: string[] = [];
    const log = new AccessLog((text) => writes.push(text));
    const info = { method: "GET", url: "/?" + "q".repeat(1000), remote: "127.0.0.1", started: 0 };
    for (let i = 0; i < 20; i++) log.record(info, 200, 10, true);
    log.flush();
    assert.ok(writes.length > 1);
    for (const text of writes) {
      assert.ok(bytes(text) <= PIECE_BYTES && text.endsWith("\n"));
      for (const line of text.slice(0, -1).split("\n")) assert.equal(JSON.parse(line).status, 200);
    }
    assert.equal(writes.join("").split("\n").length - 1, 20);
  });

  // Found by a review: a line longer than a piece went alone, and the kernel may split such a
  // write, another worker's line landing inside it.
  it("fit every line in one piece: a long target (or method) is cut, and the line says so", () => {
    const writes: string[] = [];
    const log = new AccessLog((text) => writes.push(text));
    // `"` is allowed in a target and doubles when escaped for JSON: the worst case.
    const url = "/" + '"'.repeat(8000);
    log.record({ method: "X".repeat(5000), url, remote: "::1", started: 0 }, 400, 0, true);
    log.record({ method: "GET", url: "/ok", remote: "::1", started: 0 }, 200, 10, true);
    log.flush();
    assert.equal(writes.length, 1);
    assert.ok(bytes(writes[0]!) <= PIECE_BYTES);
    const [long, short] = writes[0]!.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(long.path, url.slice(0, MAX_LOGGED_TARGET));
    assert.equal(long.method, "X".repeat(64));
    assert.equal(long.cut, true);
    assert.equal(short.path, "/ok");
    assert.equal("cut" in short, false);
  });
});

/** A transport that counts what it is handed; its close is reported when the test says. */
class LoggedTransport implements Transport {
  written = 0;
  /** Bytes handed to it after close(): on a real socket, they go nowhere. */
  afterClose = 0;
  closed = false;
  readonly pending = 0;
  readonly remotePort = 4000;
  events!: ConnectionEvents;
  readonly remoteAddress: string;
  constructor(remoteAddress = "192.0.2.9") {
    this.remoteAddress = remoteAddress;
  }
  write(bytes: Uint8Array): boolean {
    if (this.closed) this.afterClose += bytes.length;
    else this.written += bytes.length;
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  close(): void {
    this.closed = true;
  }
}

/** A server logging into `lines`, and connections to it. */
function logged(
  handler: (req: IncomingRequest) => Reply | Promise<Reply>,
  onError?: (err: unknown) => void,
) {
  const lines: string[] = [];
  const server = new HttpServer({
    lingerMs: 50,
    accessLog: (text) => lines.push(text),
    handler,
    onError,
  });
  const connect = (requests: string, from?: string): LoggedTransport => {
    const t = new LoggedTransport(from);
    t.events = server.accept(t);
    t.events.onData(new TextEncoder().encode(requests));
    return t;
  };
  const entries = () => {
    server.accessLog!.flush();
    return lines.join("").trim().split("\n").map((l) => JSON.parse(l));
  };
  return { server, connect, entries };
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

/** A stream that sends "ab" (and "cd" when `more`), then waits for `gate` before it ends. */
function gatedStream(gate: Promise<void>, more = false): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      yield "ab";
      if (more) yield "cd";
      await gate;
    },
  };
}

const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await null;
};

describe("access log lines", () => {
  it("write an IPv4 peer of a dual-stack socket as IPv4, refused before it was read too", async () => {
    const { connect, entries } = logged(() => ({ body: "ok" }));
    connect(get("/ok"), "::ffff:192.0.2.7");
    connect("NOT A REQUEST LINE\r\n\r\n", "::ffff:192.0.2.8");
    connect("NOT A REQUEST LINE\r\n\r\n", "2001:db8::1");
    await turns();
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.remote]),
      [["/ok", 200, "192.0.2.7"], [null, 400, "192.0.2.8"], [null, 400, "2001:db8::1"]],
    );
  });

  it("write an IPv4-compatible peer in hex, as IPv6, however the runtime writes it", async () => {
    const { connect, entries } = logged(() => ({ body: "ok" }));
    // libuv writes `::a00:1` as `::10.0.0.1`; it is no IPv4 peer (RFC 4291 §2.5.5.1).
    connect(get("/ok"), "::10.0.0.1");
    connect("NOT A REQUEST LINE\r\n\r\n", "::10.0.0.1");
    connect(get("/ok"), "::a00:1");
    await turns();
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.remote]),
      [["/ok", 200, "::a00:1"], [null, 400, "::a00:1"], ["/ok", 200, "::a00:1"]],
    );
  });

  // Found by the model tests (test/model/access.ts): the requests given up on behind a streamed
  // answer were logged as they were given up, the stream's own line only when it ended, after
  // theirs.
  it("come in the order the answers went out, a stream's before those given up behind it", async () => {
    let open = (): void => {};
    const gate = new Promise<void>((resolve) => open = resolve);
    const { connect, entries } = logged((req) => {
      if (req.path === "/stream") return { body: gatedStream(gate) };
      if (req.path === "/closing") {
        // Answered after a turn: the request behind it is read and started meanwhile.
        return Promise.resolve({ headers: { Connection: "close" }, body: gatedStream(gate) });
      }
      // Answered later: waiting behind the stream when its connection goes.
      return new Promise<Reply>(() => {});
    });
    // The client leaves while the stream goes out, a request read behind it.
    const left = connect(get("/stream") + get("/behind"));
    await turns();
    const leftBytes = left.written;
    left.events.onClose(new Error("ECONNRESET"));
    // The stream says close: the request read behind it is given up as it starts.
    const closing = connect(get("/closing") + get("/dropped"));
    await turns();
    open();
    await turns();
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.bytes, e.complete]),
      [
        ["/stream", 200, leftBytes, false],
        ["/behind", null, 0, false],
        ["/closing", 200, closing.written, true],
        ["/dropped", null, 0, false],
      ],
    );
  });

  // Found by the fetch model once its shared transports reported a close as late as Node does
  // (a turn after destroy()): an answer ready after the shutdown's grace had cut the connection
  // was still written, into a closed socket, and logged as sent whole.
  it("say nothing went out for an answer ready after the server cut its connection", async () => {
    let answer = (_: Reply): void => {};
    const { server, connect, entries } = logged(() => new Promise<Reply>((r) => answer = r));
    const t = connect(get("/late"));
    const stopped = server.shutdown(0);
    for (let waited = 0; !t.closed; waited += 2) {
      assert.ok(waited < 2000, "the grace never ran out");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    answer({ body: "too late" });
    await turns();
    t.events.onClose();
    await stopped;
    assert.equal(t.afterClose, 0);
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.bytes, e.complete]),
      [["/late", null, 0, false]],
    );
  });

  it("say a stream of a known length went out whole once all of it did, cut after that", async () => {
    // Its last piece sent, the producer still at work (closing a file) when the client left.
    const { connect, entries } = logged(() => ({
      length: 4,
      body: gatedStream(new Promise<void>(() => {}), true),
    }));
    const t = connect(get("/sized"));
    await turns();
    const sent = t.written;
    t.events.onClose(new Error("ECONNRESET"));
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.bytes, e.complete]),
      [["/sized", 200, sent, true]],
    );
  });

  it("say a stream of length 0 went out whole with its head, cut before its producer ended", async () => {
    // Content-Length: 0 is all the client is owed; the producer had not said it was done.
    const { connect, entries } = logged(() => ({
      length: 0,
      body: {
        [Symbol.asyncIterator]: () => ({
          next: () => new Promise<IteratorResult<string>>(() => {}),
        }),
      },
    }));
    const t = connect(get("/empty"));
    await turns();
    const sent = t.written;
    assert.ok(sent > 0);
    t.events.onClose(new Error("ECONNRESET"));
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.bytes, e.complete]),
      [["/empty", 200, sent, true]],
    );
  });

  it("say a stream of a known length went out whole once all of it did, failing after that", async () => {
    // Its last piece sent, the producer failed closing its file: the client has all it was told.
    await failingStreamLogged(4, ["abcd"], "/sized");
  });

  it("say a stream of length 0 went out whole with its head, failing after that", async () => {
    // `Content-Length: 0` went out with the head: the client has all there is before any piece.
    await failingStreamLogged(0, [], "/empty");
  });

  /** A stream of `length` that yields `pieces` and then fails is logged complete, its error reported. */
  async function failingStreamLogged(length: number, pieces: string[], path: string) {
    const failure = new Error("close failed");
    const errors: unknown[] = [];
    const { connect, entries } = logged(() => ({
      length,
      body: {
        async *[Symbol.asyncIterator]() {
          yield* pieces;
          throw failure;
        },
      },
    }), (err) => errors.push(err));
    const t = connect(get(path));
    await turns();
    assert.deepEqual(
      entries().map((e) => [e.path, e.status, e.bytes, e.complete]),
      [[path, 200, t.written, true]],
    );
    assert.deepEqual(errors, [failure]);
  }
});
