/**
 * A reply's header fields given as a record: which of its keys are fields. Serialised with
 * writeReply and writeStatic, no connection.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  emptyTail,
  type HeaderInit,
  KEEP,
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
