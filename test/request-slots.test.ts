/**
 * A `Request` made from its parts (src/request-slots.ts): taken on Deno, refused
 * wherever the runtime's `Request` is not built exactly as expected, and, where taken, a
 * request that reads, copies, clones and is read as one made by the constructor.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../adapters/detect.ts";
import { requestSlots, type SlotMethod } from "../src/request-slots.ts";

const runtime = detectRuntime();
const enc = new TextEncoder();

/** Everything a handler can read of a request, its body included, read twice over. */
async function read(request: Request): Promise<unknown[]> {
  const copy = request.clone();
  const facts: unknown[] = [
    request instanceof Request,
    request.method,
    request.url,
    [...request.headers],
    request.headers.get("cookie"),
    request.headers.get("x-obs"),
    request.body === null ? null : Object.prototype.toString.call(request.body),
    request.bodyUsed,
    request.redirect,
    request.cache,
    request.credentials,
    request.mode,
    request.integrity,
    request.keepalive,
  ];
  facts.push(await request.text(), request.bodyUsed);
  facts.push(await request.arrayBuffer().then((b) => b.byteLength, (e: Error) => e.name));
  facts.push([...new Uint8Array(await copy.arrayBuffer())]);
  facts.push(await request.blob().then((b) => b.size, (e: Error) => e.name));
  return facts;
}

const CASES: {
  method: SlotMethod;
  url: string;
  fields: [string, string][];
  body?: Uint8Array;
}[] = [
  { method: "GET", url: "http://a.test/", fields: [["host", "a.test"]] },
  {
    method: "GET",
    url: "http://EXAMPLE.test:80/p/%7Ex?q=a%20b&r=^#",
    fields: [
      ["host", "example.test:80"],
      ["cookie", "a=1; b=2"],
      ["accept", "text/html"],
      ["accept", "application/json"],
      ["x-obs", "caf\u00e9"],
    ],
  },
  { method: "HEAD", url: "http://[::1]:8080/a/b?", fields: [["host", "[::1]:8080"]] },
  { method: "GET", url: "http://127.0.0.1:3000/*", fields: [] },
  {
    method: "POST",
    url: "http://a.test/form",
    fields: [["host", "a.test"], ["content-type", "application/x-www-form-urlencoded"]],
    body: new TextEncoder().encode("a=1&b=%C3%A9"),
  },
  { method: "PUT", url: "http://a.test/x", fields: [], body: new Uint8Array(0) },
  { method: "PATCH", url: "http://a.test/x", fields: [], body: new Uint8Array([0, 255, 10]) },
  { method: "DELETE", url: "http://a.test/x", fields: [] },
  { method: "OPTIONS", url: "http://a.test/x", fields: [] },
];

describe("a Request made from its parts", () => {
  it("is taken on Deno, where Request is built as expected", () => {
    if (runtime === "deno") assert.notEqual(requestSlots(), null);
  });

  it("is refused for a Request with a slot more than expected", () => {
    const extra = Symbol("extra");
    class Extra extends Request {
      [extra] = 1;
    }
    assert.equal(requestSlots(Extra), null);
  });

  it("is refused for a Request whose state holds more than expected", () => {
    class Altered extends Request {
      constructor(input: string, init?: RequestInit) {
        super(input, init);
        const slotted = this as unknown as Record<symbol, Record<string, unknown>>;
        for (const slot of Object.getOwnPropertySymbols(this)) {
          if (slot.description === "request") slotted[slot]!.priority = "auto";
        }
      }
    }
    assert.equal(requestSlots(Altered), null);
  });

  // binks hands over bytes that are no one else's: copying them, as the constructor copies what
  // it is given, cost a 4 KiB POST on Deno a tenth of its time.
  it("takes the body's bytes as they are, and a view of a larger buffer as a copy", async () => {
    const slots = requestSlots();
    if (slots === null) return;
    const bytes = new TextEncoder().encode("sent");
    const request = new Request(slots.brand);
    slots.fill(request, "POST", "http://a.test/", [], bytes);
    bytes[0] = 0x7a;
    assert.equal(await request.text(), "zent");
    // A body that is part of a read: the request's buffer holds the body alone, and the read is
    // the reader's to reuse.
    const read = new TextEncoder().encode("head|body|next");
    const viewed = new Request(slots.brand);
    slots.fill(viewed, "POST", "http://a.test/", [], read.subarray(5, 9));
    read.fill(0x2d);
    const buffer = await viewed.arrayBuffer();
    assert.equal(buffer.byteLength, 4);
    assert.equal(new TextDecoder().decode(buffer), "body");
  });

  it("reads, copies and clones as a Request made by the constructor", async () => {
    const slots = requestSlots();
    if (slots === null) return;
    for (const { method, url, fields, body } of CASES) {
      const href = new URL(url).href;
      const made = (): Request => new Request(href, { method, headers: fields, body });
      const filled = (): Request => {
        const request: Request = new Request(slots.brand);
        const list = fields.map(([name, value]): [string, string] => [name, value]);
        slots.fill(request, method, href, list, body?.slice() ?? null);
        return request;
      };
      assert.deepEqual(await read(filled()), await read(made()), `${method} ${url}`);
      assert.deepEqual(await read(filled().clone()), await read(made().clone()));
      const [a, b]: Request[] = [filled(), made()];
      a.headers.append("x-late", "1");
      b.headers.append("x-late", "1");
      a.headers.delete("accept");
      b.headers.delete("accept");
      assert.deepEqual(await read(new Request(a)), await read(new Request(b)));
      const init = { method: "PUT", body: "put", headers: { "x-init": "2" } };
      const [c, d]: Request[] = [new Request(filled(), init), new Request(made(), init)];
      assert.deepEqual([c.method, c.url, [...c.headers], await c.text()], [
        d.method,
        d.url,
        [...d.headers],
        await d.text(),
      ]);
    }
  });

  it("takes a body still arriving as the stream over it, as the constructor does", async () => {
    const slots = requestSlots();
    if (slots === null) return;
    const pieces = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const piece of ["ab", "cd", "ef"]) controller.enqueue(enc.encode(piece));
          controller.close();
        },
      });
    const href = "http://a.test/up";
    const fields: [string, string][] = [["host", "a.test"], ["transfer-encoding", "chunked"]];
    const made = (): Request =>
      new Request(
        href,
        { method: "PUT", headers: fields, body: pieces(), duplex: "half" } as RequestInit,
      );
    const filled = (): Request => {
      const request: Request = new Request(slots.brand);
      slots.fill(request, "PUT", href, fields.map(([n, v]): [string, string] => [n, v]), pieces());
      return request;
    };
    assert.deepEqual(await read(filled()), await read(made()));
    assert.equal(await filled().text(), "abcdef");
    assert.deepEqual(await read(new Request(filled())), await read(new Request(made())));
  });
});
