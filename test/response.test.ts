/**
 * Replies as bytes: the json() and text() helpers, and what an answer to HEAD says of a
 * length the handler stated. Serialised with writeReply, no connection.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  emptyTail,
  json,
  KEEP,
  Out,
  type Reply,
  type Tail,
  text,
  writeReply,
} from "../src/response.ts";

const dec = new TextDecoder("latin1");

/** The bytes `reply` becomes for an HTTP/1.1 request kept alive, its Date line made fixed. */
function wire(reply: Reply, headOnly = false): string {
  const out = new Out(64);
  const tail: Tail = emptyTail();
  writeReply(out, reply, headOnly, KEEP, 1, tail);
  assert.equal(tail.bytes, null);
  assert.equal(tail.stream, null);
  const bytes = dec.decode(out.buf.subarray(out.start, out.len));
  assert.match(bytes, /\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  return bytes.replace(/\r\nDate: [^\r]*\r\n/, "\r\nDate: D\r\n");
}

describe("json() and text()", () => {
  it("json(): 200, the value as JSON, application/json", () => {
    const reply = json({ a: [1, "é"], b: null });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, '{"a":[1,"é"],"b":null}');
    assert.equal(
      wire(reply),
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nDate: D\r\n" +
        'Content-Length: 23\r\n\r\n{"a":[1,"\xc3\xa9"],"b":null}',
    );
  });

  it("json() of a value with no JSON text throws, as Response.json() does", () => {
    for (const value of [undefined, () => 1, Symbol("s")]) {
      assert.throws(() => json(value), TypeError, String(typeof value));
    }
    // A value that has one inside a container is left out of it, or written null, by JSON's rules.
    assert.equal(json([undefined]).body, "[null]");
    assert.equal(json({ a: undefined }).body, "{}");
  });

  it("json() with a status and header fields", () => {
    const reply = json("made", 201, { Location: "/x/1" });
    assert.equal(reply.status, 201);
    assert.equal(reply.body, '"made"');
    assert.equal(
      wire(reply),
      "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nLocation: /x/1\r\n" +
        'Date: D\r\nContent-Length: 6\r\n\r\n"made"',
    );
  });

  it("text(): 200, the text, text/plain in UTF-8", () => {
    const reply = text("hello");
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "hello");
    assert.equal(
      wire(reply),
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nDate: D\r\n" +
        "Content-Length: 5\r\n\r\nhello",
    );
    assert.equal(text("gone", 410, [["X-A", "1"]]).status, 410);
    assert.equal(
      wire(text("gone", 410, [["X-A", "1"]])),
      "HTTP/1.1 410 Gone\r\ncontent-type: text/plain; charset=utf-8\r\nX-A: 1\r\nDate: D\r\n" +
        "Content-Length: 4\r\n\r\ngone",
    );
  });

  it("a caller's Content-Type wins, in any case and any form of header fields, and only it", () => {
    const forms: [string, () => Parameters<typeof text>[2]][] = [
      ["a record", () => ({ "X-A": "1", "Content-Type": "text/html" })],
      ["a record in upper case", () => ({ "X-A": "1", "CONTENT-TYPE": "text/html" })],
      ["a record in lower case", () => ({ "X-A": "1", "content-type": "text/html" })],
      ["pairs", () => [["X-A", "1"], ["Content-Type", "text/html"]]],
      ["pairs in mixed case", () => [["X-A", "1"], ["conTent-tYpe", "text/html"]]],
      ["a Map", () => new Map([["X-A", "1"], ["Content-Type", "text/html"]])],
      ["a Headers", () => new Headers([["X-A", "1"], ["Content-Type", "text/html"]])],
    ];
    for (const [what, headers] of forms) {
      for (const reply of [text("<p>", 200, headers()), json("<p>", 200, headers())]) {
        const head = wire(reply).split("\r\n\r\n")[0]!;
        const types = head.split("\r\n").filter((l) => /^content-type:/i.test(l));
        assert.equal(types.length, 1, `${what}: ${JSON.stringify(head)}`);
        assert.equal(types[0]!.toLowerCase(), "content-type: text/html", what);
        assert.match(head, /\r\nx-a: 1\r\n/i, what);
      }
    }
  });
});

describe("an answer to HEAD without a body", () => {
  const head = (contentLength: string) =>
    wire({ headers: { "Content-Length": contentLength, "X-A": "1" } }, true);

  it("passes on a stated length of up to 15 digits", () => {
    assert.equal(
      head("123456789012345"),
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: D\r\nContent-Length: 123456789012345\r\n\r\n",
    );
    assert.equal(
      head("000000000000007"),
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: D\r\nContent-Length: 7\r\n\r\n",
    );
  });

  it("takes only spaces and tabs around the stated length (RFC 9110 §5.5), not 0xA0", () => {
    assert.equal(
      head(" \t7\t "),
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: D\r\nContent-Length: 7\r\n\r\n",
    );
    for (const n of ["\u00a07", "7\u00a0", "\u00a0\u00a07"]) {
      assert.equal(head(n), "HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: D\r\n\r\n", JSON.stringify(n));
    }
  });

  it("states no length when the handler's has 16 digits or more", () => {
    for (const n of ["1234567890123456", "0000000000000007", "9".repeat(20)]) {
      assert.equal(head(n), "HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: D\r\n\r\n", n);
    }
  });
});

describe("fields about the connection", () => {
  it("refuses a bad value in a field binks drops or writes itself, as in any other", () => {
    const fields: [string, string][] = [
      ["Connection", "close\r\nX-Split: 1"],
      ["Content-Length", "7\u0000"],
      ["date", "\u007f"],
      ["Transfer-Encoding", "chunked\n"],
      ["Keep-Alive", "timeout=\u0100"],
      ["PROXY-CONNECTION", "\u0001"],
    ];
    for (const field of fields) {
      assert.throws(() => wire({ headers: [field], body: "ok" }), TypeError, JSON.stringify(field));
    }
  });

  it("a handler's Connection asks to close with a close option between spaces and tabs only", () => {
    const closes = (value: string): boolean => {
      const out = new Out(64);
      const tail: Tail = emptyTail();
      writeReply(out, { headers: { Connection: value }, body: "ok" }, false, KEEP, 1, tail);
      return tail.close;
    };
    for (const value of ["close", " Close\t", "a, CLOSE ,b"]) {
      assert.equal(closes(value), true, value);
    }
    // RFC 9110 §5.6.1: list elements are separated by OWS, which is SP and HTAB (§5.6.3).
    for (const value of ["\u00a0close", "close\u00a0", "a,\u00a0close", "x close"]) {
      assert.equal(closes(value), false, JSON.stringify(value));
    }
  });

  it("drops a handler's framing, Date, Connection, Keep-Alive and Proxy-Connection, in any case", () => {
    const fields: [string, string][] = [
      ["X-A", "1"],
      ["keep-alive", "timeout=5"],
      ["Content-Length", "99"],
      ["KEEP-ALIVE", "max=100"],
      ["Proxy-Connection", "keep-alive"],
      ["Transfer-Encoding", "gzip"],
      ["Connection", "keep-alive"],
      ["date", "Thu, 01 Jan 1970 00:00:00 GMT"],
      ["X-Keep-Alive", "2"],
    ];
    const expected = "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-Keep-Alive: 2\r\nDate: D\r\n" +
      "Content-Length: 2\r\n\r\nok";
    assert.equal(wire({ headers: fields, body: "ok" }), expected);
    // The same names from a record and from a Headers, first seen there or not.
    assert.equal(wire({ headers: Object.fromEntries(fields), body: "ok" }), expected);
    assert.equal(
      wire({ headers: new Headers([["x-a", "1"], ["Keep-Alive", "timeout=5"]]), body: "ok" }),
      "HTTP/1.1 200 OK\r\nx-a: 1\r\nDate: D\r\nContent-Length: 2\r\n\r\nok",
    );
  });
});

describe("a reply refused in a buffer it outgrew", () => {
  it("leaves exactly what waited before it, behind bytes a transport kept", () => {
    const out = new Out(64);
    const tail: Tail = emptyTail();
    writeReply(out, { body: "first" }, false, KEEP, 1, tail);
    // The transport keeps that view: what comes next is written after it.
    out.written();
    out.sent(true);
    out.ascii("waiting");
    // The head outgrows the 64 bytes (the buffer is replaced) before its last field is refused.
    const bad: Reply = { headers: [["X-Big", "b".repeat(100)], ["X-Bad", "a\r\nb"]], body: "x" };
    assert.throws(() => writeReply(out, bad, false, KEEP, 1, tail), TypeError);
    assert.equal(dec.decode(out.written()), "waiting");
    writeReply(out, { body: "second" }, false, KEEP, 1, tail);
    assert.match(dec.decode(out.written()), /^waitingHTTP\/1\.1 200 OK\r\nDate: [^\r]+\r\n/);
  });
});

describe("string bodies", () => {
  const utf8 = new TextEncoder();
  /** What `body` must be on the wire after its head: its UTF-8 as `wire` shows bytes. */
  const sent = (body: string) => dec.decode(utf8.encode(body));
  const answer = (body: string, headOnly = false) => wire({ body }, headOnly);
  const expected = (body: string, headOnly = false) =>
    `HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: ${utf8.encode(body).length}\r\n\r\n` +
    (headOnly ? "" : sent(body));

  it("sends every length and kind of text as its UTF-8, with that length", () => {
    const cases: [string, string][] = [
      ["empty", ""],
      ["64 ASCII chars, the longest copied char by char", "a".repeat(64)],
      ["65 ASCII chars", "b".repeat(65)],
      ["short, not ASCII", "é€😀"],
      ["64 chars ending in one not ASCII", "c".repeat(63) + "é"],
      ["5,000 ASCII chars", "<p>lorem ipsum</p>".repeat(278).slice(0, 5000)],
      ["long, two and three bytes a char", "é".repeat(2000) + "€".repeat(1000)],
      ["long, with astral chars", "😀x".repeat(3000)],
      ["lone surrogates, as U+FFFD", "\ud800".repeat(100) + "d".repeat(100) + "\udfff"],
      ["64 KiB of ASCII", "e".repeat(64 * 1024)],
      ["past 64 KiB", "f".repeat(64 * 1024) + "é"],
      ["more UTF-8 than the encoding room", "€".repeat(40_000)],
      ["ASCII after a longer text", "g".repeat(100)],
    ];
    for (const [what, body] of cases) assert.equal(answer(body), expected(body), what);
  });

  it("states the UTF-8 length of a text it does not send, in an answer to HEAD", () => {
    for (const body of ["é€", "h".repeat(1000), "é".repeat(1000), "€".repeat(40_000)]) {
      assert.equal(answer(body, true), expected(body, true), body.slice(0, 8));
    }
  });

  it("keeps each text's bytes when replies follow each other in one buffer", () => {
    const out = new Out(64);
    const tail: Tail = emptyTail();
    const bodies = ["é".repeat(500), "i".repeat(2000), "j€".repeat(300)];
    for (const body of bodies) writeReply(out, { body }, false, KEEP, 1, tail);
    const bytes = dec.decode(out.buf.subarray(out.start, out.len));
    const parts = bytes.split(/HTTP\/1\.1 200 OK\r\nDate: [^\r]*\r\nContent-Length: \d+\r\n\r\n/);
    assert.deepEqual(parts, ["", ...bodies.map(sent)]);
  });
});

describe("header field values of every length", () => {
  const CSP = "default-src 'self'; script-src 'self' https://cdn.example.com 'nonce-abc123'; " +
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; frame-ancestors 'none'";

  it("sends each value as its octets, one per char, short or long", () => {
    const values = [
      "x".repeat(32),
      "y".repeat(33),
      CSP,
      `${CSP}\t${CSP}`,
      " \t~!".repeat(50),
      // obs-text: one octet per char, not UTF-8.
      "caf\u00e9 \u00ff".repeat(10),
      `${CSP}\u00a0\u00ff`,
    ];
    for (const value of values) {
      assert.equal(
        wire({ headers: [["X-V", value]], body: "ok" }),
        `HTTP/1.1 200 OK\r\nX-V: ${value}\r\nDate: D\r\nContent-Length: 2\r\n\r\nok`,
        value.slice(0, 40),
      );
    }
  });

  it("refuses a value with a control char or a char past U+00FF, short or long, wherever it is", () => {
    const bad = ["\r\nX-Split: 1", "\n", "\u0000", "\u001f", "\u007f", "\u0100", "€", "😀"];
    for (const char of bad) {
      const values = [char, `v${char}`, `${char}v`, char + CSP, CSP + char];
      for (const value of [...values, CSP.slice(0, 40) + char + CSP.slice(40)]) {
        assert.throws(
          () => wire({ headers: [["X-V", value]], body: "ok" }),
          TypeError,
          JSON.stringify(char),
        );
        // Also in a field binks writes itself or drops.
        assert.throws(
          () => wire({ headers: [["Keep-Alive", value]], body: "ok" }),
          TypeError,
          JSON.stringify(char),
        );
      }
    }
  });
});
