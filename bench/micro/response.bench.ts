/**
 * Response serialisation: a `StaticReply` (bytes made once) and `Reply`
 * objects of several shapes, written into a reused `Out` buffer as the
 * connection writes them (the `Date` line included).
 *
 *   node dist/bench/micro/response.bench.js
 *   deno run -A bench/micro/response.bench.ts
 *   bun run bench/micro/response.bench.ts
 *
 * @module
 */
import {
  CLOSE,
  emptyTail,
  json,
  KEEP,
  Out,
  type Reply,
  StaticReply,
  type Tail,
  writeReply,
  writeStatic,
} from "../../src/response.ts";
import { Suite } from "./suite.ts";

const HELLO_BODY = '{"hello":"world"}';
const HELLO = new StaticReply(200, { "Content-Type": "application/json" }, HELLO_BODY);
const HELLO_REPLY: Reply = {
  status: 200,
  headers: { "Content-Type": "application/json" },
  body: HELLO_BODY,
};
const FOUR_K = new Uint8Array(4096).fill(0x61);
const SIXTY_FOUR_K = new Uint8Array(65536).fill(0x62);
const MANY_HEADERS: Reply = {
  status: 200,
  headers: [
    ["Content-Type", "text/html; charset=utf-8"],
    ["Cache-Control", "no-store"],
    ["Set-Cookie", "a=1; Path=/; HttpOnly"],
    ["Set-Cookie", "b=2; Path=/; Secure"],
    ["X-Request-Id", "0f8e7d6c5b4a3928"],
    ["Vary", "Accept-Encoding"],
    ["Strict-Transport-Security", "max-age=63072000"],
    ["X-Content-Type-Options", "nosniff"],
  ],
  body: "<!doctype html><title>ok</title>",
};
const MANY_HEADERS_RECORD: Reply = {
  status: 200,
  headers: {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Set-Cookie": "a=1; Path=/; HttpOnly",
    "X-Request-Id": "0f8e7d6c5b4a3928",
    "Vary": "Accept-Encoding",
    "Strict-Transport-Security": "max-age=63072000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
  },
  body: "<!doctype html><title>ok</title>",
};
const UNICODE: Reply = { status: 200, headers: { "Content-Type": "text/plain" }, body: "grüße ✓" };
/** A page of 4 KiB, as a template or `c.html()` makes one. */
const PAGE: Reply = {
  status: 200,
  headers: { "Content-Type": "text/html; charset=utf-8" },
  body: ("<!doctype html><p>" + "lorem ipsum dolor sit amet ".repeat(152)).slice(0, 4096),
};

const out = new Out(256 * 1024);
const tail: Tail = emptyTail();

/** Serialise `reply` once, as the connection does for a keep-alive HTTP/1.1 request. */
function reply(r: Reply, mode = KEEP): number {
  out.len = 0;
  writeReply(out, r, false, mode, 1, tail);
  return out.len;
}

function staticReply(r: StaticReply, mode = KEEP): number {
  out.len = 0;
  writeStatic(out, r, false, mode);
  return out.len;
}

// Sanity: the hello response looks like an HTTP response and ends with its body.
{
  const n = staticReply(HELLO);
  const text = new TextDecoder().decode(out.buf.subarray(0, n));
  if (!text.startsWith("HTTP/1.1 200 ") || !text.endsWith(`\r\n\r\n${HELLO_BODY}`)) {
    throw new Error(`unexpected serialisation: ${JSON.stringify(text)}`);
  }
}

const suite = new Suite("response", "one response serialised");
suite
  .add("StaticReply hello (keep-alive)", () => staticReply(HELLO))
  .add("StaticReply hello (Connection: close)", () => staticReply(HELLO, CLOSE))
  .add("Reply hello, string body", () => reply(HELLO_REPLY))
  .add("json({ hello }) + Reply", () => reply(json({ hello: "world" })))
  .add("Reply, 8 header fields", () => reply(MANY_HEADERS))
  .add("Reply, 8 header fields as a record", () => reply(MANY_HEADERS_RECORD))
  .add("Reply, non-ASCII string body", () => reply(UNICODE))
  .add("Reply, 4 KiB string body", () => reply(PAGE))
  .add("Reply, 4 KiB bytes (inlined)", () => reply({ body: FOUR_K }))
  .add("Reply, 64 KiB bytes (head only; body sent apart)", () => reply({ body: SIXTY_FOUR_K }));

await suite.run();
