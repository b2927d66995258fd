/**
 * Differential property test of the URL a fetch handler's `Request` has (src/fetch.ts,
 * src/web-request.ts, src/authority.ts, src/parser.ts), against test/fetch-url-oracle.ts:
 * random request targets (origin-form with every printable byte class, percent-encodings, `//`,
 * dot-segments, `?` parts, `#`, `\`, non-ASCII bytes; absolute-form with userinfo, ports, IPv6
 * literals; `*`) and Host fields (names, IPv4 in the URL standard's forms, IPv6, ports empty,
 * `:0` and huge, userinfo, `/`, `\`, `?`, `#`, `%`, spaces, upper case, trailing dots,
 * percent-encoded bytes, none, two) go through the core over a transport of the test's own to a
 * fetch handler that records what it was given.
 *
 * The oracle asks no `URL` of the runtime, so Node, Deno and Bun must all give its answer.
 * Fixed seeds and bounded runs; a failure prints the case fast-check shrank to.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { check } from "./model/check.ts";
import { HttpServer } from "../src/server.ts";
import { fetchHandler } from "../src/fetch.ts";
import type { ConnectionEvents, Transport } from "../src/transport.ts";
import { type Expected, expected, routedPath, type UrlCase } from "./fetch-url-oracle.ts";

// ---- Hosts ----

/** Host names a client would send, the URL standard's IPv4 forms and IPv6 literals. */
const NAMES = [
  "example.com",
  "EXAMPLE.Com",
  "a-b.c.",
  "a_b",
  "localhost",
  "127.0.0.1",
  "1.2.3.4.",
  "0x7f.1",
  "010.1",
  "4294967295",
  "4294967296",
  "1.2.3.256",
  "foo.123",
  "a.0x",
  "1..2",
  "xn--nxasmq6b",
  "xn--a",
  "XN--a.b",
  "%78n--a",
  "xn%2D-a",
  "%C3%A9",
  "caf%C3%A9.example",
  "%E2%80%AE",
  "%FF",
  "[::1]",
  "[2001:DB8:0:0:0:0:0:1]",
  "[::ffff:1.2.3.4]",
  "[1:0:0:2:0:0:0:3]",
  "[1:2:3:4:5:6:7:8]",
  "[1:2:3:4:5:6:7::]",
  "[::1.2.3.4]",
  "[1:2:3:4:5:6:7:8:9]",
  "[fe80::1%25eth0]",
  "[v1.a]",
  "[::1",
  "::1",
  "",
];
/** Bytes a made-up name is written from: reg-name bytes, `%HH` of any ASCII, and others. */
const NAME_PIECES = [
  ..."aZ09-._~!$&'()*+,;=",
  "%41",
  "%2e",
  "%2F",
  "%5C",
  "%3F",
  "%23",
  "%40",
  "%3A",
  "%20",
  "%00",
  "%7C",
  "%5E",
  "%25",
  "%",
  "%4",
  "%zz",
  "@",
  "/",
  "\\",
  "?",
  "#",
  " ",
  "[",
  "\xe9",
  "\t",
];
const madeUpNameArb = fc.array(fc.constantFrom(...NAME_PIECES), { minLength: 1, maxLength: 6 })
  .map((pieces) => pieces.join(""));
const PORTS = ["", "", "", ":", ":0", ":80", ":443", ":8080", ":00080", ":65535", ":65536"];
const MORE_PORTS = [":99999", ":123456789012", ":8a", ":-1", ": 80", "::80"];
const authorityArb = fc.tuple(
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NAMES) }, {
    weight: 1,
    arbitrary: madeUpNameArb,
  }),
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PORTS) }, {
    weight: 1,
    arbitrary: fc.constantFrom(...MORE_PORTS),
  }),
  fc.oneof(
    { weight: 12, arbitrary: fc.constant("") },
    { weight: 1, arbitrary: fc.constantFrom("u@", "u:p@", "@") },
  ),
).map(([name, port, userinfo]) => userinfo + name + port);

/** A Host field's value, with the OWS around it that the parser must take off. */
const hostValueArb = fc.tuple(
  authorityArb,
  fc.constantFrom("", "", "", " ", "\t"),
  fc.constantFrom("", "", "", " ", " \t"),
).map(([a, before, behind]) => before + a + behind);

// ---- Targets ----

/** Bytes a path or query is written from: every printable class and percent-encodings. */
const PATH_PIECES = [
  ..."aZ09-._~",
  ..."!$&'()*+,;=:@",
  ...'"<>`{}|^[]',
  "/",
  "//",
  "?",
  "%2e",
  "%2E",
  "%2F",
  "%5C",
  "%41",
  "%C3%A9",
  "%zz",
  "%",
  "..a",
];
/** What makes a target a 400: a dot-segment, `\`, `#`, a byte outside visible ASCII. */
const BAD_PATH_PIECES = [".", "..", "/./", "/../", "/.%2e/", "%2e/", "\\", "#", "\xe9", "\x7f"];
const pathArb = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...PATH_PIECES) },
    { weight: 1, arbitrary: fc.constantFrom(...BAD_PATH_PIECES) },
  ),
  { maxLength: 8 },
).map((pieces) => pieces.join(""));
const originArb = pathArb.map((p) => `/${p}`);
const absoluteArb = fc.tuple(
  fc.constantFrom("http", "http", "http", "HTTP", "https", "https", "hTTpS", "ftp", "http:"),
  authorityArb,
  fc.oneof(originArb, fc.constant(""), pathArb.map((p) => `?${p}`)),
).map(([scheme, authority, rest]) => `${scheme}://${authority}${rest}`);

const caseArb: fc.Arbitrary<UrlCase> = fc.record({
  method: fc.constantFrom("GET", "GET", "HEAD", "POST", "OPTIONS", "DELETE", "PURGE"),
  target: fc.oneof(
    { weight: 6, arbitrary: originArb },
    { weight: 4, arbitrary: absoluteArb },
    { weight: 1, arbitrary: fc.constant("*") },
  ),
  minor: fc.constantFrom<0 | 1>(1, 1, 1, 0),
  hosts: fc.oneof(
    { weight: 16, arbitrary: hostValueArb.map((h) => [h]) },
    { weight: 1, arbitrary: fc.constant<string[]>([]) },
    { weight: 1, arbitrary: fc.tuple(hostValueArb, hostValueArb).map((two) => [...two]) },
  ),
  // `*` is asked with OPTIONS, the one method it is for (RFC 9112 §3.2.4), most of the time.
  asterisk: fc.constantFrom("OPTIONS", "OPTIONS", "OPTIONS", null),
}).map(({ asterisk, ...c }): UrlCase =>
  c.target === "*" && asterisk !== null ? { ...c, method: asterisk } : c
);

// ---- The core, over a transport of the test's own ----

/** Records what the core writes; a request's answer is complete once `done` says so. */
class Wire implements Transport {
  readonly out: number[] = [];
  closed = false;
  ended = false;
  readonly pending = 0;
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 41400;
  events!: ConnectionEvents;
  write(bytes: Uint8Array): boolean {
    for (const b of bytes) this.out.push(b);
    return true;
  }
  pause(): void {}
  resume(): void {}
  end(): void {
    this.ended = true;
  }
  close(): void {
    this.closed = true;
  }
  text(): string {
    return String.fromCharCode(...this.out);
  }
}

/** What the fetch handler was given, and the path and query binks's own request had. */
interface Seen {
  url: string;
  host: string;
  pathname: string;
  search: string;
  method: string;
  headers: [string, string][];
  routed: string;
  query: string;
}

const seen: Seen[] = [];
let routed = { path: "", query: "" };
const fetchApp = fetchHandler((request) => {
  const url = new URL(request.url);
  seen.push({
    url: request.url,
    host: url.host,
    pathname: url.pathname,
    search: url.search,
    method: request.method,
    headers: [...request.headers],
    ...{ routed: routed.path, query: routed.query },
  });
  return new Response("ok");
}, { globalResponse: false });

const server = new HttpServer({
  lingerMs: 10,
  onError: () => {},
  handler: (req) => {
    routed = { path: req.path, query: req.query.toString() };
    return fetchApp(req);
  },
});

/** The head `c` stands for, as bytes (latin1: a byte per character). */
function headOf(c: UrlCase): Uint8Array {
  let text = `${c.method} ${c.target} HTTP/1.${c.minor}\r\n`;
  for (const host of c.hosts) text += `Host: ${host}\r\n`;
  text += "X-Seen: 1\r\n";
  if (c.method === "POST") text += "Content-Length: 0\r\n";
  text += "Connection: close\r\n\r\n";
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/** The status binks answered `c` with, and what its handler saw (if it ran). */
async function exchange(
  c: UrlCase,
): Promise<{ status: number; seen: Seen | undefined; closed: boolean }> {
  seen.length = 0;
  const wire = new Wire();
  wire.events = server.accept(wire);
  wire.events.onData(headOf(c));
  // The handler answers at once; its Response's body is read in a few turns.
  for (let i = 0; i < 200 && !wire.ended && !wire.closed; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const closed = wire.ended || wire.closed;
  wire.events.onClose();
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(wire.text());
  assert.ok(m, `no answer: ${JSON.stringify(wire.text())}`);
  return { status: Number(m[1]), seen: seen[0], closed };
}

/** The fields a `Headers` made of `c`'s head lists: sorted, repeats joined with `, `. */
function headersOf(c: UrlCase): [string, string][] {
  const fields = new Map<string, string[]>();
  const add = (name: string, value: string) =>
    fields.set(name, [...(fields.get(name) ?? []), value]);
  // RFC 9112 §3.2.2: with an absolute-form target, the target's authority is the host.
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(c.target);
  if (absolute !== null) add("host", absolute[1]!);
  else for (const host of c.hosts) add("host", host.replace(/^[ \t]+|[ \t]+$/g, ""));
  add("x-seen", "1");
  if (c.method === "POST") add("content-length", "0");
  add("connection", "close");
  return [...fields].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => [n, v.join(", ")]);
}

/** `c` went as the oracle says. */
async function agrees(c: UrlCase): Promise<void> {
  const want: Expected = expected(c);
  const got = await exchange(c);
  if (want.kind === "url" && want.idnaDependent && got.status === 400) return;
  if (want.kind === "refused") {
    assert.equal(got.status, 400, `refused, not ${got.status}: ${JSON.stringify(got.seen)}`);
    assert.equal(got.seen, undefined);
    // A request binks cannot make sense of ends its connection: what follows may be anything.
    assert.equal(got.closed, true);
    return;
  }
  assert.equal(got.status, 200, `answered, not refused (${got.status})`);
  const s = got.seen!;
  assert.deepEqual(
    [s.url, s.host, s.pathname, s.search, s.method],
    [want.href, want.host, want.pathname, want.search, c.method],
  );
  assert.deepEqual(s.headers, headersOf(c));
  // The router's path, encoded as the URL standard encodes, is the URL's: nothing shifted it.
  assert.equal(s.routed, routedPath(c.target));
  if (c.target !== "*") {
    assert.equal(s.pathname, s.routed.replace(/["<>`{}^]/g, (ch) => encodeURIComponent(ch)));
  }
  assert.equal(new URLSearchParams(s.search).toString(), s.query);
}

describe("fetch URL model: the Request URL against the request binks parsed", () => {
  after(async () => {
    await server.shutdown(0);
  });

  it("agrees with the oracle on origin-form, absolute-form and * targets and their Hosts", async () => {
    await check(
      fc.asyncProperty(caseArb, async (c) => {
        await agrees(c);
      }),
      { seed: 0x9112, numRuns: 2000 },
    );
  });

  it("agrees on Hosts alone, one per HTTP/1.1 request to a plain path", async () => {
    await check(
      fc.asyncProperty(
        hostValueArb.map((h): UrlCase => ({ method: "GET", target: "/a?b", minor: 1, hosts: [h] })),
        async (c) => {
          await agrees(c);
        },
      ),
      { seed: 0x3986, numRuns: 1500 },
    );
  });
});
