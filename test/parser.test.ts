/**
 * Unit tests of the head parser and the chunked decoder: every valid input
 * split at every byte gives the same result as whole, and every rule has an
 * input that breaks it, with the exact status.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { findHeadEnd, NEED_MORE, parseHead, RequestHead } from "../src/parser.ts";
import { ChunkedDecoder } from "../src/chunked.ts";
import { defaultLimits, type Limits } from "../src/limits.ts";
import { latin1, ownBuffer, useLatin1Decoder } from "../src/bytes.ts";
import { useNativeLatin1 } from "../adapters/latin1.ts";
import { describeHead, type Seen } from "./fuzz/harness.ts";

const enc = new TextEncoder();
const limits: Limits = { ...defaultLimits };

const seen = describeHead;

/** Feed `pieces` one after another into a growing buffer, the way a connection does. */
function feed(
  pieces: Uint8Array[],
  lim: Limits = limits,
): { status: number; head?: Seen; end?: number } {
  const buf = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let len = 0;
  let scanned = 0;
  const resume = { scan: 0 };
  for (const p of pieces) {
    buf.set(p, len);
    len += p.length;
    const end = findHeadEnd(buf, 0, scanned, len, resume);
    if (end === NEED_MORE) {
      scanned = resume.scan;
      continue;
    }
    if (end < 0) return { status: -end };
    const head = new RequestHead(lim.maxHeaders);
    const status = parseHead(buf, 0, end, head, lim);
    return status === 0 ? { status, head: seen(head), end } : { status };
  }
  return { status: NEED_MORE };
}

function whole(text: string, lim: Limits = limits) {
  return feed([enc.encode(text)], lim);
}

function splits(text: string): Uint8Array[][] {
  const bytes = enc.encode(text);
  const out: Uint8Array[][] = [];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Uint8Array.of(b)));
  return out;
}

const VALID = [
  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET /p/a/t/h?q=1&r=%20 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: x/1\r\nAccept: */*\r\n\r\n",
  "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n",
  "POST /up HTTP/1.1\r\nhost: a\r\ntransfer-encoding: CHUNKED\r\n\r\n",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
  "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\nX-Empty:\r\nX-Obs: caf\xe9\r\n\r\n",
  "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n".replace("M-SEARCH *", "M-SEARCH /"),
];

describe("parseHead: valid requests", () => {
  it("reads method, target, version and headers as offsets", () => {
    const r = whole(VALID[1]!);
    assert.equal(r.status, 0);
    assert.deepEqual(r.head, {
      method: "GET",
      target: "/p/a/t/h?q=1&r=%20",
      minor: 1,
      headers: [["Host", "example.com:8080"], ["User-Agent", "x/1"], ["Accept", "*/*"]],
      contentLength: -1,
      chunked: false,
      keepAlive: true,
      expectContinue: false,
      body: "",
    });
  });

  it("derives framing, keep-alive and expectations", () => {
    assert.equal(whole(VALID[2]!).head!.contentLength, 10);
    assert.equal(whole(VALID[3]!).head!.chunked, true);
    assert.equal(whole(VALID[4]!).head!.keepAlive, true);
    assert.equal(whole("GET / HTTP/1.0\r\n\r\n").head!.keepAlive, false);
    assert.equal(
      whole("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n").head!.keepAlive,
      false,
    );
    const e = whole(VALID[7]!).head!;
    assert.equal(e.expectContinue, true);
    assert.deepEqual(e.headers.slice(3), [["X-Empty", ""], ["X-Obs", "caf\xc3\xa9"]]);
  });

  it("reads Connection as a list of whole tokens", () => {
    const keepAlive = (version: string, value: string) =>
      whole(`GET / HTTP/1.${version}\r\nHost: a\r\nConnection: ${value}\r\n\r\n`).head!.keepAlive;
    assert.equal(keepAlive("0", "upgrade,\t keep-alive \t,"), true);
    assert.equal(keepAlive("0", ", ,KEEP-ALIVE"), true);
    // Not tokens: an element with whitespace inside matches nothing.
    assert.equal(keepAlive("0", "x keep-alive"), false);
    assert.equal(keepAlive("0", "keep-alive x"), false);
    assert.equal(keepAlive("0", "keep-alive;x"), false);
    assert.equal(keepAlive("1", "close x"), true);
    assert.equal(keepAlive("1", "x, close"), false);
    assert.equal(keepAlive("1", "closed"), true);
  });

  it("trims whitespace around values but keeps it inside", () => {
    const r = whole("GET / HTTP/1.1\r\nHost: a\r\nX: \t a  b \t\r\n\r\n");
    assert.deepEqual(r.head!.headers[1], ["X", "a  b"]);
  });

  it("reads a later HTTP/1.x as HTTP/1.1 (RFC 9110 §2.5)", () => {
    for (const minor of "29") {
      const r = whole(`GET / HTTP/1.${minor}\r\nHost: a\r\nConnection: x\r\n\r\n`);
      assert.equal(r.status, 0);
      assert.equal(r.head!.minor, 1);
      assert.equal(r.head!.keepAlive, true);
    }
    // Still one digit each, and still a Host.
    assert.equal(whole("GET / HTTP/1.2\r\n\r\n").status, 400);
  });

  it("skips empty list elements in Transfer-Encoding and Expect (RFC 9110 §5.6.1.2)", () => {
    const post = (fields: string) => whole(`POST / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`);
    for (const te of [",chunked", "chunked,", " , chunked , ,", "chunked\r\nTransfer-Encoding:"]) {
      const r = post(`Transfer-Encoding: ${te}\r\n`);
      assert.equal(r.status, 0, te);
      assert.equal(r.head!.chunked, true, te);
    }
    // No coding at all: chunked is not the final one.
    for (const te of ["", ",", " , , "]) {
      assert.equal(post(`Transfer-Encoding: ${te}\r\n`).status, 400);
    }
    assert.equal(post("Transfer-Encoding: gzip,,chunked\r\n").status, 501);
    for (const expect of ["100-continue,", ", 100-Continue", "100-continue, 100-continue"]) {
      const r = post(`Expect: ${expect}\r\nContent-Length: 1\r\n`);
      assert.equal(r.status, 0, expect);
      assert.equal(r.head!.expectContinue, true, expect);
    }
    const empty = post("Expect: , \r\nContent-Length: 1\r\n");
    assert.equal(empty.status, 0);
    assert.equal(empty.head!.expectContinue, false);
    assert.equal(post("Expect: 100-continue, x\r\n").status, 417);
    assert.equal(post("Expect: 100-continue\r\nExpect: ,x\r\n").status, 417);
  });

  it("interns registered methods and accepts extension methods", () => {
    assert.equal(whole(VALID[8]!).head!.method, "M-SEARCH");
    assert.equal(whole("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n").head!.method, "DELETE");
  });

  for (const [i, text] of VALID.entries()) {
    it(`gives the same result split at every byte (request ${i})`, () => {
      const expected = whole(text);
      assert.equal(expected.status, 0);
      for (const pieces of splits(text)) assert.deepEqual(feed(pieces), expected);
    });
  }

  it("reports where the head ends, leaving the body", () => {
    const text = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi";
    assert.equal(whole(text).end, text.length - 2);
  });

  it("waits for more while the head is incomplete", () => {
    assert.equal(whole("GET / HTTP/1.1\r\nHost: a\r\n").status, NEED_MORE);
    assert.equal(whole("GET / HTTP/1.1\r\nHost: a\r\n\r").status, NEED_MORE);
  });
});

/** Parse in one pass, without findHeadEnd, as the connection's fast path does. */
function direct(text: string, lim: Limits = limits): { status: number; head?: Seen; end?: number } {
  const bytes = enc.encode(text);
  const head = new RequestHead(lim.maxHeaders);
  const status = parseHead(bytes, 0, bytes.length, head, lim);
  if (status === NEED_MORE) {
    // As the connection does: bytes that do not make a head yet go to the scanner.
    const found = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
    return { status: found < 0 && found !== NEED_MORE ? -found : NEED_MORE };
  }
  return status === 0 ? { status, head: seen(head), end: head.end } : { status };
}

describe("parseHead in one pass (no findHeadEnd)", () => {
  for (const [i, text] of VALID.entries()) {
    it(`needs more on every prefix and agrees on the whole (request ${i})`, () => {
      const bytes = enc.encode(text);
      for (let n = 0; n < bytes.length; n++) {
        const head = new RequestHead(limits.maxHeaders);
        assert.equal(parseHead(bytes, 0, n, head, limits), NEED_MORE, `prefix of ${n} bytes`);
      }
      assert.deepEqual(direct(text), whole(text));
      assert.deepEqual(direct(text + "GET / HTTP/1.1\r\n"), whole(text));
    });
  }

  it("never reads past the end it is given", () => {
    const bytes = enc.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    const head = new RequestHead(limits.maxHeaders);
    assert.equal(parseHead(bytes, 0, bytes.length - 1, head, limits), NEED_MORE);
    assert.equal(parseHead(bytes, 0, 20, head, limits), NEED_MORE);
  });
});

describe("parseHead: authorities", () => {
  const hosts = [
    "",
    "a",
    "a:80",
    "a:",
    "192.0.2.1:65535",
    "[::1]",
    "[::1]:8080",
    "[v1.x]",
    "[1:2:3:4:5:6:7:8]",
    "[::ffff:192.0.2.1]:443",
    "[1::]",
    "a:0080",
    "a%20b",
    "a%20b:8",
    "a:80 \t",
    "x-y.z_~!$&'()*+,;=",
  ];
  for (const host of hosts) {
    it(`takes Host ${JSON.stringify(host)}`, () => {
      assert.equal(whole(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).status, 0);
    });
  }

  /** The path the parser found in `target`, as bytes from pathStart to the target's end. */
  function pathOf(method: string, target: string): string {
    const bytes = enc.encode(`${method} ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
    const head = new RequestHead(limits.maxHeaders);
    assert.equal(parseHead(bytes, 0, bytes.length, head, limits), 0);
    return latin1(bytes, head.pathStart, head.targetEnd);
  }

  it("waits for more when the bytes at hand end inside the target", () => {
    // The scan reads one past the end: that must stop it (an infinite loop on 6eb3ff6).
    for (const cut of ["GET /abc", "GET /a.b", "GET http://a/%2", "OPTIONS *"]) {
      const bytes = enc.encode(cut);
      const head = new RequestHead(limits.maxHeaders);
      assert.equal(parseHead(bytes, 0, bytes.length, head, limits), NEED_MORE, cut);
    }
  });

  it("takes dots that make no dot-segment, and any in the query", () => {
    for (
      const target of ["/a.b", "/.well-known/x", "/a/...", "/a/.b/", "/a..", "/%2ex", "/a%2E%2Eb"]
    ) {
      assert.equal(pathOf("GET", target), target);
    }
    assert.equal(pathOf("GET", "/a?x=/../\\"), "/a?x=/../\\");
    assert.equal(pathOf("GET", "http://a?/./"), "?/./");
    assert.equal(pathOf("CONNECT", "a.example:443"), "a.example:443");
  });

  it("finds the path after the authority of an absolute-form target", () => {
    assert.equal(pathOf("GET", "http://a.example:8080/x/y?q=/z"), "/x/y?q=/z");
    assert.equal(pathOf("GET", "HTTPS://[::1]:8/"), "/");
    // The scheme is http or https, in any case (RFC 3986 §3.1).
    for (const scheme of ["http", "HTTP", "Http", "hTtP", "https", "HTTPS", "httpS"]) {
      assert.equal(pathOf("GET", `${scheme}://a/b?c`), "/b?c", scheme);
    }
    assert.equal(pathOf("GET", "http://a?q"), "?q");
    assert.equal(pathOf("GET", "http://a"), "");
    assert.equal(pathOf("GET", "/x?q"), "/x?q");
    assert.equal(pathOf("OPTIONS", "*"), "*");
    assert.equal(pathOf("CONNECT", "a.example:443"), "a.example:443");
    // A reg-name may begin with `*` (a sub-delim): still authority-form, not asterisk-form.
    assert.equal(pathOf("CONNECT", "*a:443"), "*a:443");
  });
});

describe("parseHead: refused requests", () => {
  const H = "Host: a\r\n";
  const cases: [string, string, number][] = [
    ["empty method", ` / HTTP/1.1\r\n${H}\r\n`, 400],
    ["method with a separator", `GE,T / HTTP/1.1\r\n${H}\r\n`, 400],
    ["two spaces after the method", `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
    ["tab as separator", `GET\t/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["missing version", `GET /\r\n${H}\r\n`, 400],
    ["trailing space after version", `GET / HTTP/1.1 \r\n${H}\r\n`, 400],
    ["lowercase protocol name", `GET / Http/1.1\r\n${H}\r\n`, 400],
    ["two-digit minor", `GET / HTTP/1.10\r\n${H}\r\n`, 400],
    ["version 2.0", `GET / HTTP/2.0\r\n${H}\r\n`, 505],
    ["version 0.9", `GET / HTTP/0.9\r\n${H}\r\n`, 505],
    ["DEL in target", `GET /\x7f HTTP/1.1\r\n${H}\r\n`, 400],
    ["high byte in target", `GET /\xff HTTP/1.1\r\n${H}\r\n`, 400],
    ["fragment in target", `GET /a#b HTTP/1.1\r\n${H}\r\n`, 400],
    ["fragment in an absolute target", `GET http://a/b?c#d HTTP/1.1\r\n${H}\r\n`, 400],
    ["relative target", `GET a/b HTTP/1.1\r\n${H}\r\n`, 400],
    ["asterisk for GET", `GET * HTTP/1.1\r\n${H}\r\n`, 400],
    ["origin-form for CONNECT", `CONNECT /x HTTP/1.1\r\n${H}\r\n`, 400],
    ["bare LF after request line", `GET / HTTP/1.1\n${H}\r\n`, 400],
    ["bare LF after a field", `GET / HTTP/1.1\r\nHost: a\n\r\n`, 400],
    ["bare LF as blank line", `GET / HTTP/1.1\r\n${H}\n`, 400],
    ["bare CR in a value", `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, 400],
    ["CR CR LF", `GET / HTTP/1.1\r\r\n${H}\r\n`, 400],
    ["space before colon", `GET / HTTP/1.1\r\n${H}X : b\r\n\r\n`, 400],
    ["tab before colon", `GET / HTTP/1.1\r\n${H}X\t: b\r\n\r\n`, 400],
    ["obs-fold", `GET / HTTP/1.1\r\n${H}X: b\r\n c\r\n\r\n`, 400],
    ["whitespace before the first field", `GET / HTTP/1.1\r\n ${H}\r\n`, 400],
    ["empty field name", `GET / HTTP/1.1\r\n${H}: b\r\n\r\n`, 400],
    ["field without colon", `GET / HTTP/1.1\r\n${H}X\r\n\r\n`, 400],
    ["NUL in value", `GET / HTTP/1.1\r\n${H}X: a\0\r\n\r\n`, 400],
    ["control byte in value", `GET / HTTP/1.1\r\n${H}X: a\x07\r\n\r\n`, 400],
    ["non-token name", `GET / HTTP/1.1\r\n${H}X(y): b\r\n\r\n`, 400],
    [
      "TE and CL",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n`,
      400,
    ],
    [
      "CL and TE",
      `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`,
      400,
    ],
    ["CL with sign", `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
    ["CL hex", `POST / HTTP/1.1\r\n${H}Content-Length: 0x10\r\n\r\n`, 400],
    ["CL list", `POST / HTTP/1.1\r\n${H}Content-Length: 1,1\r\n\r\n`, 400],
    ["CL with inner space", `POST / HTTP/1.1\r\n${H}Content-Length: 1 0\r\n\r\n`, 400],
    ["CL differing", `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\n`, 400],
    ["CL of 16 digits", `POST / HTTP/1.1\r\n${H}Content-Length: 1000000000000000\r\n\r\n`, 400],
    ["CL empty", `POST / HTTP/1.1\r\n${H}Content-Length: \r\n\r\n`, 400],
    // RFC 9112 §6.3: no length can be read unless chunked is the final coding.
    [
      "TE final coding not chunked",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`,
      400,
    ],
    ["TE of one unknown coding", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 400],
    ["TE misspelt", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunk\r\n\r\n`, 400],
    [
      "TE over two fields, chunked first",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n`,
      400,
    ],
    // RFC 9112 §6.1: chunked last, but a coding before it that binks does not implement.
    ["TE unknown coding", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501],
    [
      "TE unknown coding in an earlier field",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n`,
      501,
    ],
    [
      "TE chunked twice in one field",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`,
      400,
    ],
    [
      "TE chunked twice in two fields",
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
      400,
    ],
    ["TE empty", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: \r\n\r\n`, 400],
    ["TE with parameters", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n`, 400],
    ["TE in HTTP/1.0", `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
    ["no Host in 1.1", `GET / HTTP/1.1\r\n\r\n`, 400],
    ["two Hosts", `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
    ["two Hosts in 1.0", `GET / HTTP/1.0\r\n${H}${H}\r\n`, 400],
    ["unknown expectation", `GET / HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`, 417],
    // RFC 9112 §3.2: a Host whose value is not `uri-host [ ":" port ]`.
    ["Host with a space", `GET / HTTP/1.1\r\nHost: a b\r\n\r\n`, 400],
    ["Host with a path", `GET / HTTP/1.1\r\nHost: a/b\r\n\r\n`, 400],
    ["Host with userinfo", `GET / HTTP/1.1\r\nHost: u@a\r\n\r\n`, 400],
    ["Host with a port that is not digits", `GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n`, 400],
    ["Host with two ports", `GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n`, 400],
    ["Host with a letter after the port", `GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n`, 400],
    ["Host with a word after the port", `GET / HTTP/1.1\r\nHost: a:80 x\r\n\r\n`, 400],
    ["Host with a cut %-escape", `GET / HTTP/1.1\r\nHost: a%2\r\n\r\n`, 400],
    ["Host with a %-escape that is not hex", `GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n`, 400],
    ["Host with an unclosed IP-literal", `GET / HTTP/1.1\r\nHost: [::1\r\n\r\n`, 400],
    ["Host with an empty IP-literal", `GET / HTTP/1.1\r\nHost: []\r\n\r\n`, 400],
    ["Host with bytes after an IP-literal", `GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n`, 400],
    ["Host with obs-text", `GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n`, 400],
    // RFC 3986 §3.2.2: between brackets, an IPv6address or an IPvFuture and nothing else.
    ["Host with an IP-literal that is no address", `GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n`, 400],
    ["Host with :: twice", `GET / HTTP/1.1\r\nHost: [::1::2]\r\n\r\n`, 400],
    ["Host with nine IPv6 pieces", `GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n`, 400],
    ["Host with an IPv6 piece of 5 digits", `GET / HTTP/1.1\r\nHost: [12345::]\r\n\r\n`, 400],
    ["Host with an embedded IPv4 past 255", `GET / HTTP/1.1\r\nHost: [::1.2.3.256]\r\n\r\n`, 400],
    ["Host with a zone id", `GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n`, 400],
    ["Host with a port past 65535", `GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n`, 400],
    ["Host with an 11-digit port", `GET / HTTP/1.1\r\nHost: a:99999999999\r\n\r\n`, 400],
    ["absolute-form with a bad IP-literal", `GET http://[zz]/a HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form with a port past 65535", `GET http://a:99999/ HTTP/1.1\r\n${H}\r\n`, 400],
    // Paths a URL parser reads as other paths (RFC 3986 §5.2.4, WHATWG URL): refused.
    ["a dot-segment", `GET /a/../b HTTP/1.1\r\n${H}\r\n`, 400],
    ["a single-dot segment", `GET /a/./b HTTP/1.1\r\n${H}\r\n`, 400],
    ["a dot-segment at the end", `GET /a/.. HTTP/1.1\r\n${H}\r\n`, 400],
    ["a dot-segment before the query", `GET /a/.?q HTTP/1.1\r\n${H}\r\n`, 400],
    ["a dot-segment written %2e%2E", `GET /a/%2e%2E/b HTTP/1.1\r\n${H}\r\n`, 400],
    ["a dot-segment written .%2e", `GET /.%2e HTTP/1.1\r\n${H}\r\n`, 400],
    ["a dot-segment in an absolute-form path", `GET http://a/x/../y HTTP/1.1\r\n${H}\r\n`, 400],
    ["a backslash in the path", `GET /public/..\\admin HTTP/1.1\r\n${H}\r\n`, 400],
    ["HTTP/1.0 Host that is not an authority", `GET / HTTP/1.0\r\nHost: a|b\r\n\r\n`, 400],
    // Absolute-form and authority-form carry an authority of the same grammar.
    ["absolute-form with userinfo", `GET http://u@a/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form with an empty host", `GET http:///x HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form with only a port", `GET http://:80/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form with a bad byte in the host", `GET http://a|b/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form with a fragment in the host", `GET http://a#x HTTP/1.1\r\n${H}\r\n`, 400],
    // A scheme other than http or https names no resource of this server (not routed by path).
    ["absolute-form in the ftp scheme", `GET ftp://example.com/a HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form in the ws scheme", `GET ws://a/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form in a scheme that starts http", `GET httpx://a/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form in a scheme that ends http", `GET xhttp://a/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form in the https+x scheme", `GET https+x://a/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form with http: but no //", `GET http:/a/ HTTP/1.1\r\n${H}\r\n`, 400],
    ["absolute-form cut after the scheme", `GET https: HTTP/1.1\r\n${H}\r\n`, 400],
    ["CONNECT without a port", `CONNECT a HTTP/1.1\r\n${H}\r\n`, 400],
    ["CONNECT with an empty port", `CONNECT a: HTTP/1.1\r\n${H}\r\n`, 400],
    ["CONNECT without a host", `CONNECT :443 HTTP/1.1\r\n${H}\r\n`, 400],
  ];
  for (const [what, text, status] of cases) {
    it(`${status} for ${what}`, () => {
      assert.equal(whole(text).status, status);
      assert.equal(direct(text).status, status, "in one pass");
    });
  }

  it("414 for a request line over the limit, 431 for a head over the limit", () => {
    const small: Limits = { ...limits, maxRequestLine: 40, maxHeadBytes: 80 };
    assert.equal(whole(`GET /${"a".repeat(40)} HTTP/1.1\r\nHost: a\r\n\r\n`, small).status, 414);
    assert.equal(
      whole(`GET / HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(80)}\r\n\r\n`, small).status,
      431,
    );
    assert.equal(whole(`GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n`, small).status, 0);
  });

  it("431 only past the head limit: a head of exactly maxHeadBytes is read", () => {
    const small: Limits = { ...limits, maxHeadBytes: 80 };
    const head = (n: number) => `GET / HTTP/1.1\r\nHost: a\r\nX: ${"b".repeat(n)}\r\n\r\n`;
    const exact = head(80 - head(0).length);
    assert.equal(exact.length, 80);
    const over = head(81 - head(0).length);
    assert.equal(over.length, 81);
    assert.equal(whole(exact, small).status, 0);
    assert.equal(direct(exact, small).status, 0, "in one pass");
    assert.equal(whole(over, small).status, 431);
    assert.equal(direct(over, small).status, 431, "in one pass");
  });

  it("431 past the header count limit", () => {
    const few: Limits = { ...limits, maxHeaders: 3 };
    assert.equal(whole("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", few).status, 0);
    assert.equal(
      whole("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", few).status,
      431,
    );
  });

  it("413 for a Content-Length over the body limit", () => {
    const lim: Limits = { ...limits, maxBodyBytes: 100 };
    assert.equal(whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", lim).status, 0);
    assert.equal(
      whole("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", lim).status,
      413,
    );
  });

  it("ignores an HTTP/1.0 client's expectations", () => {
    const r = whole("POST / HTTP/1.0\r\nExpect: 100-continue\r\nX-Y: z\r\n\r\n");
    assert.equal(r.status, 0);
    assert.equal(r.head!.expectContinue, false);
    assert.equal(whole("GET / HTTP/1.0\r\nExpect: other\r\n\r\n").status, 0);
  });

  it("finds a bare LF without waiting for the rest", () => {
    assert.equal(whole("GET / HTTP/1.1\nHo").status, 400);
  });
});

/** Decode `pieces`; returns the body, or the error status. */
function decodeAll(
  pieces: Uint8Array[],
  lim: Limits = limits,
): { body?: string; status?: number; rest?: string } {
  const d = new ChunkedDecoder();
  let body = "";
  for (let k = 0; k < pieces.length; k++) {
    const p = pieces[k]!;
    let pos = 0;
    while (pos < p.length && !d.done) {
      pos = d.decode(p, pos, p.length, lim);
      if (d.error) return { status: d.error };
      body += latin1(p, d.spanStart, d.spanEnd);
    }
    if (d.done) {
      const rest = latin1(p, pos, p.length) +
        pieces.slice(k + 1).map((x) => latin1(x, 0, x.length)).join("");
      return { body, rest };
    }
  }
  return {};
}

describe("ChunkedDecoder", () => {
  const VALID_BODIES: [string, string][] = [
    ["0\r\n\r\n", ""],
    ["5\r\nhello\r\n0\r\n\r\n", "hello"],
    ['5;a=b;c="d e"\r\nhello\r\n6 ; ext\r\n world\r\n0\r\n\r\n', "hello world"],
    [
      "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\nOther:y \r\n\r\n",
      "01234567890123456789",
    ],
    ["00005\r\nhello\r\n000\r\n\r\n", "hello"],
  ];
  for (const [wire, body] of VALID_BODIES) {
    it(`decodes ${JSON.stringify(wire.slice(0, 24))} whole and split at every byte`, () => {
      const whole = decodeAll([enc.encode(wire + "NEXT")]);
      assert.deepEqual(whole, { body, rest: "NEXT" });
      const bytes = enc.encode(wire + "NEXT");
      for (let i = 1; i < bytes.length; i++) {
        assert.deepEqual(
          decodeAll([bytes.subarray(0, i), bytes.subarray(i)]),
          whole,
          `split at ${i}`,
        );
      }
      assert.deepEqual(decodeAll([...bytes].map((b) => Uint8Array.of(b))), whole);
    });
  }

  const BAD: [string, string, number][] = [
    ["no digits", "\r\n", 400],
    ["0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400],
    ["leading space", " 5\r\nhello\r\n0\r\n\r\n", 400],
    ["trailing space without extension", "5 \r\nhello\r\n0\r\n\r\n", 400],
    ["underscore", "5_0\r\n", 400],
    ["bare LF after size", "5\nhello\r\n0\r\n\r\n", 400],
    ["data longer than the size", "3\r\nhello\r\n0\r\n\r\n", 400],
    ["data followed by LF only", "5\r\nhello\n0\r\n\r\n", 400],
    ["data followed by nothing but CR", "5\r\nhello\rX", 400],
    ["15 hex digits", "fffffffffffffff\r\n", 400],
    ["a control byte in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", 400],
    ["a bare LF in a trailer", "0\r\nX: y\n\r\n", 400],
    ["a trailer without colon", "0\r\nX\r\n\r\n", 400],
    ["an obs-folded trailer", "0\r\nX: y\r\n z\r\n\r\n", 400],
  ];
  for (const [what, wire, status] of BAD) {
    it(`${status} for ${what}`, () => {
      assert.equal(decodeAll([enc.encode(wire)]).status, status);
    });
  }

  it("413 once the decoded size passes the body limit", () => {
    const lim: Limits = { ...limits, maxBodyBytes: 10 };
    assert.deepEqual(decodeAll([enc.encode("a\r\n0123456789\r\n0\r\n\r\n")], lim), {
      body: "0123456789",
      rest: "",
    });
    assert.equal(decodeAll([enc.encode("a\r\n0123456789\r\n1\r\n")], lim).status, 413);
    assert.equal(decodeAll([enc.encode("b\r\n")], lim).status, 413);
  });

  it("400 for extensions and 431 for trailers over their limits", () => {
    const lim: Limits = { ...limits, maxChunkExtension: 8, maxTrailerBytes: 16 };
    assert.equal(decodeAll([enc.encode("1;abcdefghij\r\nx\r\n0\r\n\r\n")], lim).status, 400);
    assert.equal(decodeAll([enc.encode(`0\r\nX: ${"y".repeat(20)}\r\n\r\n`)], lim).status, 431);
  });

  it("400 only past the extension limit: an extension of exactly maxChunkExtension is read", () => {
    const lim: Limits = { ...limits, maxChunkExtension: 8 };
    // The bytes after the size, from `;` (not counted) to the CR; counted per chunk.
    const exact = '1;abcdefgh\r\nx\r\n2 ;a="b cd"\r\nyz\r\n0;12345678\r\n\r\n';
    assert.deepEqual(decodeAll([enc.encode(exact)], lim), { body: "xyz", rest: "" });
    assert.equal(decodeAll([enc.encode("1;abcdefghi\r\nx\r\n0\r\n\r\n")], lim).status, 400);
    assert.equal(decodeAll([enc.encode('1 ;a="b cde"\r\nx\r\n0\r\n\r\n')], lim).status, 400);
    assert.equal(decodeAll([enc.encode("0;123456789\r\n\r\n")], lim).status, 400);
  });

  it("431 only past the trailer limit: trailers of exactly maxTrailerBytes are read", () => {
    const lim: Limits = { ...limits, maxTrailerBytes: 16 };
    const trailers = (fields: string) =>
      decodeAll([enc.encode(`1\r\nx\r\n0\r\n${fields}\r\n`)], lim);
    // Name and value bytes count (the value's leading space too), the colon and CRLF do not.
    const name16 = "ABCDEFGHIJKLMNOP";
    assert.deepEqual(trailers(`${name16}:\r\n`), { body: "x", rest: "" });
    assert.equal(trailers(`${name16}Q:\r\n`).status, 431);
    assert.deepEqual(trailers(`X:${"y".repeat(15)}\r\n`), { body: "x", rest: "" });
    assert.equal(trailers(`X:${"y".repeat(16)}\r\n`).status, 431);
    // The limit is on the whole section, not per field: 4 + 5 + 7 bytes.
    assert.deepEqual(trailers("A: 12\r\nB: 345\r\nCD:  678\r\n"), { body: "x", rest: "" });
    assert.equal(trailers("A: 12\r\nB: 345\r\nCD:  6789\r\n").status, 431);
    assert.equal(trailers("A: 12\r\nB: 345\r\nCD:  678\r\nE:\r\n").status, 431);
  });

  it("400 for a control byte in a trailer value; HTAB and obs-text are read", () => {
    const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
    for (const c of [0x00, 0x01, 0x08, 0x0a, 0x0b, 0x0c, 0x1f, 0x7f]) {
      const wire = bytes(`0\r\nX: a${String.fromCharCode(c)}b\r\n\r\n`);
      assert.equal(decodeAll([wire]).status, 400, `byte ${c}`);
    }
    const ok = bytes("0\r\nX: a\tb\xe9\xff\x80 ~\r\n\r\nNEXT");
    assert.deepEqual(decodeAll([ok]), { body: "", rest: "NEXT" });
  });

  it("refuses framing above 3/4 of the bytes read once past 100 KiB, not below", () => {
    const FLOOR = 100 * 1024;
    /** `n` chunks of `data` after the size line `line`, then the last chunk: status or body size. */
    const decode = (n: number, line: string, data: string) => {
      const r = decodeAll([enc.encode(`${line}\r\n${data}\r\n`.repeat(n) + "0\r\n\r\n")]);
      return r.status ?? r.body!.length;
    };
    /** Chunks enough for `framing` bytes of framing each to pass the floor, or to stay below it. */
    const past = (framing: number) => Math.ceil(FLOOR / framing) + 100;
    const short = (framing: number) => Math.floor(FLOOR / framing) - 10;
    // 9 bytes of framing to 2 of data: 9/11 of the bytes, above 3/4 (and below 7/8).
    assert.equal(decode(past(9), "2;eee", "ab"), 400);
    // The same below the floor is a body.
    assert.equal(decode(short(9), "2;eee", "ab"), 2 * short(9));
    // 10 to 3: 10/13, just above 3/4.
    assert.equal(decode(past(10), "3;eeee", "abc"), 400);
    // 8 to 3: 8/11, just below 3/4, however long it goes on.
    assert.equal(decode(4 * past(8), "3;ee", "abc"), 3 * 4 * past(8));
  });

  it("refuses a body that is mostly framing", () => {
    let wire = "";
    for (let i = 0; i < 40000; i++) wire += "1;e\r\nx\r\n";
    assert.equal(decodeAll([enc.encode(wire)]).status, 400);
  });

  it("hands out spans of the input without copying", () => {
    const bytes = enc.encode("5\r\nhello\r\n0\r\n\r\n");
    const d = new ChunkedDecoder();
    const pos = d.decode(bytes, 0, bytes.length, limits);
    assert.equal(d.spanStart, 3);
    assert.equal(d.spanEnd, 8);
    assert.equal(pos, 8);
  });
});

describe("latin1", () => {
  it("decodes every byte as the code point of its value, at every length", () => {
    const bytes = new Uint8Array(10_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    // The lengths around each way of decoding: each short length its own call, one call over
    // an array, several calls.
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 256, 4095, 4096, 4097, 8192, 10_000]) {
      for (const start of [0, 1, 250]) {
        const end = Math.min(bytes.length, start + n);
        let expected = "";
        for (let i = start; i < end; i++) expected += String.fromCharCode(bytes[i]!);
        assert.equal(latin1(bytes, start, end), expected, `length ${n} from ${start}`);
      }
    }
  });

  it("decodes as well with the runtime's own decoder, and takes none that decodes otherwise", () => {
    const bytes = new Uint8Array(5_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
    const cases = [[0, 9], [3, 40], [0, 256], [100, 5_000]] as const;
    const before = cases.map(([start, end]) => latin1(bytes, start, end));
    // Like windows-1252 (the Encoding standard's "latin1"), where 0x80 is €.
    const euro = (b: Uint8Array, s: number, e: number) =>
      [...b.subarray(s, e)].map((c) => String.fromCharCode(c === 0x80 ? 0x20ac : c)).join("");
    assert.equal(useLatin1Decoder(euro), false);
    assert.equal(useLatin1Decoder(() => "x"), false);
    // One that reads the view's buffer from its start, not from the view's offset.
    const fromBufferStart = (b: Uint8Array, s: number, e: number) =>
      latin1(new Uint8Array(b.buffer), s, e);
    assert.equal(useLatin1Decoder(fromBufferStart), false);
    assert.equal(
      useLatin1Decoder(() => {
        throw new Error("no");
      }),
      false,
    );
    assert.deepEqual(cases.map(([start, end]) => latin1(bytes, start, end)), before);
    // Node, Deno and Bun all have one.
    assert.equal(useNativeLatin1(), true);
    assert.deepEqual(cases.map(([start, end]) => latin1(bytes, start, end)), before);
    for (const [start, end] of cases) {
      let expected = "";
      for (let i = start; i < end; i++) expected += String.fromCharCode(bytes[i]!);
      assert.equal(latin1(bytes, start, end), expected);
    }
  });
});

describe("ownBuffer", () => {
  const plain = (b: Uint8Array) => Object.getPrototypeOf(b) === Uint8Array.prototype;

  it("keeps bytes that fill their buffer, and copies a view of a larger one", () => {
    const exact = enc.encode("body");
    assert.equal(ownBuffer(exact), exact);
    const read = enc.encode("head|body|next");
    const view = read.subarray(5, 9);
    const own = ownBuffer(view);
    assert.deepEqual([own.byteOffset, own.byteLength, own.buffer.byteLength], [0, 4, 4]);
    read.fill(0x2d);
    assert.equal(new TextDecoder().decode(own), "body");
    assert.ok(plain(own));
  });

  it("hands out a plain Uint8Array, and copies where a subclass's slice() is a view", () => {
    // As Node's Buffer: slice() gives a view of the same memory.
    class ViewSlice extends Uint8Array {
      override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
        return this.subarray(start, end) as Uint8Array<ArrayBuffer>;
      }
    }
    const whole = new ViewSlice(4).fill(0x61);
    const kept = ownBuffer(whole);
    assert.ok(plain(kept));
    assert.equal(kept.buffer, whole.buffer);
    const part = new ViewSlice(8).fill(0x62).subarray(2, 6);
    const copied = ownBuffer(part);
    assert.ok(plain(copied));
    assert.notEqual(copied.buffer, part.buffer);
    assert.deepEqual([copied.byteLength, copied.buffer.byteLength], [4, 4]);
  });
});
