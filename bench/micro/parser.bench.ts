/**
 * The request parser, against http-parser-js (the pure-JS parser Node once
 * shipped as an alternative to its C one) parsing the same bytes.
 *
 *   node dist/bench/micro/parser.bench.js
 *   deno run -A bench/micro/parser.bench.ts
 *   bun run bench/micro/parser.bench.ts
 *
 * One op is one request. binks's side is what the server does per request:
 * `findHeadEnd` + `parseHead` into a reused `RequestHead` (and, for the
 * chunked case, `ChunkedDecoder` over the body). It records offsets and makes
 * no string for a header. http-parser-js, as Node's parsers do, hands the
 * callback the method, URL and every header as strings; its parser object is
 * reused across requests, as a connection would.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";

import { useNativeLatin1 } from "../../adapters/latin1.ts";
import { ChunkedDecoder } from "../../src/chunked.ts";
import { defaultLimits } from "../../src/limits.ts";
import { findHeadEnd, NEED_MORE, parseHead, RequestHead } from "../../src/parser.ts";
import { IncomingRequest } from "../../src/request.ts";
import { Suite } from "./suite.ts";

const enc = new TextEncoder();

const SMALL = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

const BROWSER = "GET /search?q=binks&lang=en HTTP/1.1\r\n" +
  "Host: www.example.com\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "Chrome/126.0.0.0 Safari/537.36\r\n" +
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp," +
  "*/*;q=0.8\r\n" +
  "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n" +
  "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
  "Referer: https://www.example.com/\r\n" +
  "Cookie: session=4f2a9c1e7b3d5a60; theme=dark; consent=yes\r\n" +
  "Connection: keep-alive\r\n" +
  "Upgrade-Insecure-Requests: 1\r\n" +
  "Sec-Fetch-Dest: document\r\n" +
  "Sec-Fetch-Mode: navigate\r\n" +
  "Sec-Fetch-Site: same-origin\r\n" +
  "\r\n";
const BROWSER_HEADERS = 12;

const PIPELINE_DEPTH = 16;
let pipelined = "";
for (let i = 0; i < PIPELINE_DEPTH; i++) {
  pipelined += `GET /item/${i} HTTP/1.1\r\nHost: localhost:8080\r\nAccept: */*\r\n\r\n`;
}

const CHUNK_SIZE = 1024;
const CHUNKS = 4;
let chunked = "POST /upload HTTP/1.1\r\nHost: localhost:8080\r\n" +
  "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
for (let i = 0; i < CHUNKS; i++) {
  chunked += `${CHUNK_SIZE.toString(16)}\r\n${"x".repeat(CHUNK_SIZE)}\r\n`;
}
chunked += "0\r\n\r\n";

interface Case {
  name: string;
  bytes: Uint8Array;
  requests: number;
  headers: number;
  bodyBytes: number;
}

const CASES: Case[] = [
  { name: "small GET", bytes: enc.encode(SMALL), requests: 1, headers: 1, bodyBytes: 0 },
  {
    name: `browser GET (${BROWSER_HEADERS} headers)`,
    bytes: enc.encode(BROWSER),
    requests: 1,
    headers: BROWSER_HEADERS,
    bodyBytes: 0,
  },
  {
    name: `pipelined batch of ${PIPELINE_DEPTH}`,
    bytes: enc.encode(pipelined),
    requests: PIPELINE_DEPTH,
    headers: 2,
    bodyBytes: 0,
  },
  {
    name: `chunked POST (${CHUNKS} × ${CHUNK_SIZE} B)`,
    bytes: enc.encode(chunked),
    requests: 1,
    headers: 3,
    bodyBytes: CHUNKS * CHUNK_SIZE,
  },
];

// ---- binks

const limits = defaultLimits;
const head = new RequestHead(limits.maxHeaders);
const decoder = new ChunkedDecoder();
const resume = { scan: 0 };

/** Parse every request in `buf` as the connection does; returns body bytes seen. */
function binksParse(buf: Uint8Array): number {
  let start = 0;
  let body = 0;
  const end = buf.length;
  while (start < end) {
    // Whole heads are found and parsed in one pass; the scanner is for heads that trickle in.
    let status = parseHead(buf, start, end, head, limits);
    if (status === NEED_MORE) {
      const headEnd = findHeadEnd(buf, start, start, end, resume);
      if (headEnd < 0) throw new Error(`findHeadEnd: ${headEnd}`);
      status = parseHead(buf, start, headEnd, head, limits);
    }
    if (status !== 0) throw new Error(`parseHead: ${status}`);
    start = head.end;
    if (head.chunked) {
      decoder.reset();
      while (!decoder.done) {
        start = decoder.decode(buf, start, end, limits);
        if (decoder.error !== 0) throw new Error(`chunked: ${decoder.error}`);
        body += decoder.spanEnd - decoder.spanStart;
      }
    } else if (head.contentLength > 0) {
      start += head.contentLength;
      body += head.contentLength;
    }
  }
  return body;
}

// ---- http-parser-js, loaded through require (it is CommonJS)

interface HttpParserJs {
  execute(chunk: Buffer, start?: number, length?: number): number | Error;
  [callback: number]: (...args: unknown[]) => unknown;
}
interface HttpParserJsClass {
  new (type: string): HttpParserJs;
  REQUEST: string;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

function loadHttpParserJs(): HttpParserJsClass | string {
  try {
    const require = createRequire(import.meta.url);
    const mod = require("http-parser-js") as { HTTPParser?: HttpParserJsClass };
    if (typeof mod.HTTPParser !== "function") return "http-parser-js has no HTTPParser export";
    return mod.HTTPParser;
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0]! : String(err);
  }
}

/** Counts what the callbacks saw, to check both parsers agree before timing them. */
class Seen {
  messages = 0;
  headerFields = 0;
  body = 0;
}

function makeHttpParserJs(cls: HttpParserJsClass, seen: Seen): HttpParserJs {
  const parser = new cls(cls.REQUEST);
  parser[cls.kOnHeadersComplete] = (...args: unknown[]): void => {
    // Node ≥ 0.12 style: (versionMajor, versionMinor, headers, method, url, …).
    const first = args[0];
    const headers = typeof first === "object" && first !== null
      ? (first as { headers: string[] }).headers
      : args[2] as string[];
    seen.headerFields += headers.length / 2;
  };
  parser[cls.kOnBody] = (_chunk: unknown, _offset: unknown, length: unknown): void => {
    seen.body += length as number;
  };
  parser[cls.kOnMessageComplete] = (): void => {
    seen.messages++;
  };
  return parser;
}

// ---- the suite

const suite = new Suite("parser", "one request parsed");
const HttpParser = loadHttpParserJs();

for (const c of CASES) {
  // Check the work is what it claims to be, once, before timing it.
  const body = binksParse(c.bytes);
  if (body !== c.bodyBytes || head.headerCount !== c.headers) {
    throw new Error(`binks parsed ${c.name} wrongly: body ${body}, ${head.headerCount} headers`);
  }
  suite.add(`binks: ${c.name}`, () => binksParse(c.bytes), c.requests);

  if (typeof HttpParser === "string") {
    suite.skip(`http-parser-js: ${c.name}`, HttpParser);
    continue;
  }
  const seen = new Seen();
  const parser = makeHttpParserJs(HttpParser, seen);
  const buf = Buffer.from(c.bytes);
  const n = parser.execute(buf);
  if (
    n !== buf.length || seen.messages !== c.requests ||
    seen.headerFields !== c.headers * c.requests || seen.body !== c.bodyBytes
  ) {
    suite.skip(
      `http-parser-js: ${c.name}`,
      `parsed differently (${String(n)} bytes, ${seen.messages} messages)`,
    );
    continue;
  }
  suite.add(`http-parser-js: ${c.name}`, () => parser.execute(buf), c.requests);
}

// What a handler that lists every field (a fetch handler's `Request` does) adds: each name and
// value made a string, as http-parser-js makes them; values decoded as a server decodes them,
// with the runtime's own decoder where the adapter loader finds one.
useNativeLatin1();
const browser = CASES[1]!;
const peer = { remoteAddress: "127.0.0.1" };
let listed = 0;
suite.add(`binks, every field a string: ${browser.name}`, () => {
  binksParse(browser.bytes);
  listed += new IncomingRequest(head, null, peer).headerList().length;
}, browser.requests);

await suite.run();
if (listed === 0) throw new Error("no field was listed");
