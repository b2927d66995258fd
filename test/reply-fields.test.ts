/**
 * A reply's header fields given as a record: which of its keys are fields. Serialised with
 * writeReply and writeStatic, no connection.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CLOSE,
  emptyTail,
  type HeaderInit,
  KEEP,
  KEEP_10,
  Out,
  type Reply,
  StaticReply,
  type Tail,
  withHeaders,
  writeReply,
  writeStatic,
} from "../src/response.ts";

/** Each byte as the character of that code. */
function octets(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

const DATE = /\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/;

/** The bytes `reply` becomes for an HTTP/1.1 request with `mode`, its Date line made fixed. */
function wire(reply: Reply | StaticReply, mode = KEEP, headOnly = false): string {
  const out = new Out(64);
  const tail: Tail = emptyTail();
  if (reply instanceof StaticReply) writeStatic(out, reply, headOnly, mode);
  else writeReply(out, reply, headOnly, mode, 1, tail);
  const bytes = octets(out.buf.subarray(out.start, out.len));
  assert.match(bytes, DATE);
  return bytes.replace(DATE, "\r\nDate: D\r\n");
}

/** The head of an empty 200 with `fields` before Date, as binks writes it kept alive. */
function headWith(fields: string): string {
  return `HTTP/1.1 200 OK\r\n${fields}Date: D\r\nContent-Length: 2\r\n\r\nok`;
}

/** The same, as a StaticReply writes it: its length was written with its head, before Date. */
function staticWith(fields: string): string {
  return `HTTP/1.1 200 OK\r\n${fields}Content-Length: 2\r\nDate: D\r\n\r\nok`;
}

/** The fields the Fetch standard's `Headers` takes from `record`, names lower-cased. */
function headersNames(record: HeaderInit): string[] {
  return [...new Headers(record as Record<string, string>).keys()].sort();
}

describe("a header record", () => {
  it("gives its own enumerable string keys only, as Object.entries and new Headers() do", () => {
    const proto = { "X-Inherited": "1" };
    const record = Object.create(proto) as Record<string, string>;
    record["X-Own"] = "2";
    Object.defineProperty(record, "X-Getter", { get: () => "4", enumerable: true });
    assert.deepEqual(headersNames(record), ["x-getter", "x-own"]);
    // Neither is a field: a key that is not enumerable (which Node's `Headers` takes all the same,
    // unlike Web IDL's record conversion, Deno's and Bun's), and a symbol (on which Web IDL throws).
    Object.defineProperty(record, "X-Hidden", { value: "3", enumerable: false });
    (record as Record<symbol, string>)[Symbol("X-Symbol")] = "5";
    const expected = headWith("X-Own: 2\r\nX-Getter: 4\r\n");
    assert.equal(wire({ headers: record, body: "ok" }), expected);
    assert.equal(
      wire(new StaticReply(200, record, "ok")),
      staticWith("X-Own: 2\r\nX-Getter: 4\r\n"),
    );
    // withHeaders() took own keys already: a StaticReply's head and its pairs agree.
    assert.equal(wire(withHeaders(new StaticReply(200, record, "ok"), [])), expected);
  });

  it("without a prototype, or an instance of a class, gives its own fields", () => {
    const bare = Object.create(null) as Record<string, string>;
    bare["X-A"] = "1";
    assert.equal(wire({ headers: bare, body: "ok" }), headWith("X-A: 1\r\n"));
    class Fields {
      "X-A" = "1";
      /** A getter of the class is on its prototype, not enumerable: no field. */
      get "X-B"(): string {
        return "2";
      }
    }
    const fields = new Fields() as unknown as Record<string, string>;
    assert.equal(wire({ headers: fields, body: "ok" }), headWith("X-A: 1\r\n"));
    assert.deepEqual(headersNames(fields), ["x-a"]);
  });

  it("is not widened by an enumerable key put on Object.prototype (prototype pollution)", () => {
    const key = "X-Polluted";
    Object.defineProperty(Object.prototype, key, {
      value: "1",
      enumerable: true,
      configurable: true,
      writable: true,
    });
    let got: string[];
    try {
      got = [
        wire({ headers: { "X-A": "1" }, body: "ok" }),
        wire(new StaticReply(200, { "X-A": "1" }, "ok")),
      ];
    } finally {
      delete (Object.prototype as Record<string, unknown>)[key];
    }
    assert.deepEqual(got, [headWith("X-A: 1\r\n"), staticWith("X-A: 1\r\n")]);
  });
});

/** The bytes `reply` becomes answering HTTP/1.`minor`, its Date line made fixed, and its tail. */
function answer(reply: Reply, mode: number, minor = 1, headOnly = false): [string, Tail] {
  const out = new Out(64);
  const tail: Tail = emptyTail();
  writeReply(out, reply, headOnly, mode, minor, tail);
  const bytes = octets(out.buf.subarray(out.start, out.len));
  assert.match(bytes, DATE);
  return [bytes.replace(DATE, "\r\nDate: D\r\n"), tail];
}

describe("a handler's Connection options (RFC 9110 §7.6.1)", () => {
  it("go on after binks's own option in the one Connection field, marking their fields", () => {
    const reply: Reply = { headers: [["Connection", "close, x-foo"], ["X-Foo", "1"]], body: "ok" };
    const [bytes, tail] = answer(reply, KEEP);
    assert.equal(
      bytes,
      "HTTP/1.1 200 OK\r\nX-Foo: 1\r\nDate: D\r\nContent-Length: 2\r\nConnection: close, x-foo\r\n" +
        "\r\nok",
    );
    assert.equal(tail.close, true);
    // §7.8: an Upgrade goes with an upgrade option, in whatever Connection binks writes.
    const upgrade: Reply = {
      status: 426,
      headers: { Upgrade: "h2c", Connection: "Upgrade" },
      body: "ok",
    };
    const fields =
      "HTTP/1.1 426 Upgrade Required\r\nUpgrade: h2c\r\nDate: D\r\nContent-Length: 2\r\n";
    assert.deepEqual(answer(upgrade, KEEP)[0], `${fields}Connection: Upgrade\r\n\r\nok`);
    assert.deepEqual(answer(upgrade, CLOSE)[0], `${fields}Connection: close, Upgrade\r\n\r\nok`);
    assert.deepEqual(
      answer(upgrade, KEEP_10, 0)[0],
      `${fields}Connection: keep-alive, Upgrade\r\n\r\nok`,
    );
    assert.equal(answer(upgrade, KEEP)[1].close, false);
  });

  // An Upgrade whose handler named no upgrade option went out unmarked, for an intermediary to
  // pass on (RFC 9110 §7.8: the sender MUST send the option with it).
  it("get upgrade added when an Upgrade goes out and its handler's Connection did not name it", () => {
    const fields =
      "HTTP/1.1 426 Upgrade Required\r\nupgrade: h2c\r\nDate: D\r\nContent-Length: 2\r\n";
    const bare: Reply = { status: 426, headers: { upgrade: "h2c" }, body: "ok" };
    assert.deepEqual(answer(bare, KEEP)[0], `${fields}Connection: upgrade\r\n\r\nok`);
    assert.deepEqual(answer(bare, CLOSE)[0], `${fields}Connection: close, upgrade\r\n\r\nok`);
    const other: Reply = {
      status: 426,
      headers: [["upgrade", "h2c"], ["Connection", "x-foo, UPGRADE"]],
      body: "ok",
    };
    assert.deepEqual(answer(other, KEEP)[0], `${fields}Connection: x-foo, UPGRADE\r\n\r\nok`);
    const named: Reply = {
      status: 426,
      headers: [["upgrade", "h2c"], ["Connection", "x-foo"]],
      body: "ok",
    };
    assert.deepEqual(answer(named, KEEP)[0], `${fields}Connection: x-foo, upgrade\r\n\r\nok`);
    // Also when the reply is made once and sent many times.
    const made = new StaticReply(426, { Upgrade: "h2c" }, "ok");
    assert.equal(made.connectionOptions, "upgrade");
    // Another name of seven letters is no Upgrade.
    const expires: Reply = { headers: { Expires: "0" }, body: "ok" };
    assert.doesNotMatch(answer(expires, KEEP)[0], /Connection/);
  });

  it("leave out close, binks's own fields' names and what is no token; repeated fields join", () => {
    const reply: Reply = {
      headers: [
        ["Connection", "Keep-Alive, , Date,content-length, x bad,\u00a0x-a, X-A ,Proxy-Connection"],
        ["connection", "transfer-encoding, CONNECTION, Close, x-b"],
        ["Connection", ""],
      ],
      body: null,
    };
    const [bytes, tail] = answer(reply, KEEP);
    assert.equal(
      bytes,
      "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 0\r\nConnection: close, X-A, x-b\r\n\r\n",
    );
    assert.equal(tail.close, true);
    // Nothing left: no field, as before.
    const none: Reply = { headers: { Connection: "keep-alive, close" }, body: "ok" };
    assert.equal(
      answer(none, KEEP_10, 0)[0],
      headWith("").replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
    );
  });

  it("are in every kind of answer: a StaticReply, no content, HEAD, streams", () => {
    const headers = { "X-Foo": "1", "Connection": "x-foo" };
    const stat = new StaticReply(200, headers, "ok");
    assert.equal(stat.close, false);
    assert.equal(
      wire(stat, KEEP),
      staticWith("X-Foo: 1\r\n").replace("D\r\n", "D\r\nConnection: x-foo\r\n"),
    );
    assert.equal(
      wire(stat, CLOSE),
      staticWith("X-Foo: 1\r\n").replace("D\r\n", "D\r\nConnection: close, x-foo\r\n"),
    );
    assert.equal(
      answer({ status: 204, headers }, KEEP)[0],
      "HTTP/1.1 204 No Content\r\nX-Foo: 1\r\nDate: D\r\nConnection: x-foo\r\n\r\n",
    );
    assert.equal(
      answer({ headers }, KEEP, 1, true)[0],
      "HTTP/1.1 200 OK\r\nX-Foo: 1\r\nDate: D\r\nConnection: x-foo\r\n\r\n",
    );
    const stream = { async *[Symbol.asyncIterator]() {} };
    assert.equal(
      answer({ headers, body: stream }, KEEP)[0],
      "HTTP/1.1 200 OK\r\nX-Foo: 1\r\nDate: D\r\nTransfer-Encoding: chunked\r\n" +
        "Connection: x-foo\r\n\r\n",
    );
    assert.equal(
      answer({ headers, body: stream, length: 3 }, KEEP)[0],
      "HTTP/1.1 200 OK\r\nX-Foo: 1\r\nDate: D\r\nContent-Length: 3\r\nConnection: x-foo\r\n\r\n",
    );
    // HTTP/1.0: delimited by the close.
    assert.equal(
      answer({ headers, body: stream }, KEEP_10, 0)[0],
      "HTTP/1.1 200 OK\r\nX-Foo: 1\r\nDate: D\r\nConnection: close, x-foo\r\n\r\n",
    );
    assert.equal(
      answer({ headers, body: new Uint8Array([0x61]) }, KEEP)[0],
      "HTTP/1.1 200 OK\r\nX-Foo: 1\r\nDate: D\r\nContent-Length: 1\r\nConnection: x-foo\r\n\r\na",
    );
    // The next reply written has none of them.
    assert.equal(answer({ body: "ok" }, KEEP)[0], headWith(""));
  });
});
