/**
 * Model-based property test of the request view (src/request.ts, src/web-request.ts,
 * src/authority.ts, src/address.ts): random request heads (field names in random case, repeated
 * fields, empty values, obs-text, OWS around values, several `Cookie` fields, `Host` in every
 * form, origin-, absolute-, authority- and asterisk-form targets, queries good and bad), random
 * peers, `trustProxy` lists written in varied forms and random `X-Forwarded-For` / `Forwarded`
 * chains are read through `IncomingRequest` and the fetch path's `Request`, and compared with
 * test/request-oracle.ts, which follows the README and the RFCs.
 *
 * Fixed seeds and bounded runs; a failure prints the head fast-check shrank to.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { check } from "./model/check.ts";
import { IncomingRequest, type ProxyHeader, type ProxyTrust } from "../src/request.ts";
import { webRequest } from "../src/web-request.ts";
import { findHeadEnd, parseHead, RequestHead } from "../src/parser.ts";
import { defaultLimits } from "../src/limits.ts";
import { HttpServer } from "../src/server.ts";
import { canonicalAddress } from "../src/address.ts";
import {
  canonical,
  clientIp,
  configured,
  expect,
  headBytes,
  headerValue,
  type HeadSpec,
  MAX_HOPS,
} from "./request-oracle.ts";

// ---- Heads ----

/** Hosts: reg-names, IP literals, zone ids, userinfo, bad bytes, empty. */
const HOSTS = [
  "example.com",
  "EXAMPLE.com",
  "a-b.c",
  "localhost",
  "127.0.0.1",
  "0x7f.1",
  "1.2.3.256",
  "a_b!$&'()*+,;=",
  "%41",
  "a%20b",
  "a%2",
  "a%zz",
  "xn--nxasmq6b",
  "xn--a",
  "[::1]",
  "[2001:DB8::1]",
  "[::ffff:1.2.3.4]",
  "[1:2:3:4:5:6:7:8]",
  "[1:2:3:4:5:6:7::]",
  "[1:2:3:4:5:6:7:8:9]",
  "[fe80::1%25eth0]",
  "[::1",
  "::1",
  "[v1.abc]",
  "[v1.]",
  "[::1.2.3.256]",
  "u@h",
  "u:p@h",
  "a b",
  "caf\xe9",
  "",
];
const PORTS = ["", "", "", ":", ":80", ":0", ":65535", ":65536", ":99999", ":00080", ":8a"];
/** Mostly authorities a client would send, so that most heads are taken. */
const authorityArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(
      fc.constantFrom(...HOSTS.slice(0, 17), "[::1]", "[2001:DB8::1]", "[::ffff:1.2.3.4]"),
      fc.constantFrom("", "", ":80", ":8080", ":"),
    ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom(...PORTS)) },
).map(([h, p]) => h + p);
/** An authority that fits in a request line (no space, no obs-text). */
const targetAuthorityArb = authorityArb.filter((a) => !/[ \x80-\xff]/.test(a));

const PATHS = ["/", "/a", "/a/b", "//x", "/a%20b", "/%zz", "/caf%C3%A9", "/a;b=c", "/a:b", "/@x"];
const QUERIES = [
  "",
  "?",
  "?a=1",
  "?a=1&&b=2",
  "?a==b",
  "?a+b=c+d",
  "?%41=%zz",
  "?a=%",
  "?a&a=2&a",
  "??x",
  "?x=%E2%82%AC",
  "?%C3",
  "?=v",
  "?%EF%BB%BFa=1",
  "?a=1?b",
];
const originArb = fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...QUERIES)).map(([p, q]) =>
  p + q
);
const SCHEMES = ["http", "http", "HTTP", "https", "hTTpS", "ftp"];
const absoluteArb = fc.tuple(
  fc.constantFrom(...SCHEMES),
  targetAuthorityArb,
  fc.constantFrom("", ...PATHS),
  fc.constantFrom(...QUERIES),
).map(([s, a, p, q]) => `${s}://${a}${p}${q}`);

const METHODS = ["GET", "GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PURGE", "CONNECT"];
/** Mostly a method with a target of a form it may use; now and then any with any. */
const requestLineArb: fc.Arbitrary<[string, string]> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(fc.constantFrom(...METHODS.slice(0, -1)), originArb),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...METHODS.slice(0, -1)), absoluteArb),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constant("OPTIONS"), fc.constant("*")) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("CONNECT"), targetAuthorityArb) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(...METHODS),
      fc.oneof(originArb, absoluteArb, fc.constant("*"), targetAuthorityArb),
    ),
  },
);

/** Names in random case; `a^b` and `a~b` differ only in one bit. */
const NAMES = [
  "Accept",
  "X-Custom",
  "a",
  "key",
  "Cookie",
  "Set-Cookie",
  "User-Agent",
  "a^b",
  "a~b",
  "!#$%&'*+-.^_`|~",
];
const casedArb = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((ups) =>
    [...name].map((c, i) => (ups[i] ? c.toUpperCase() : c.toLowerCase())).join("")
  );
const VALUES = [
  "",
  "v",
  "a, b",
  "a;b",
  "x=1; y=2",
  '"q,"',
  "\x80\xff obs",
  "caf\xe9",
  "in\tside",
  "=",
  "1.2.3.4",
  "del\x7f",
  "nul\x00",
];
const OWS_ARB = fc.constantFrom("", "", " ", "  ", "\t", " \t ");
const valueArb = fc.tuple(OWS_ARB, fc.constantFrom(...VALUES), OWS_ARB).map(([a, v, b]) =>
  a + v + b
);
const fieldArb: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.constantFrom(...NAMES).chain(casedArb),
  valueArb,
);

// ---- Peers, proxies, chains ----

/** Peers as sockets report them. */
const PEERS = [
  "127.0.0.1",
  "10.0.0.1",
  "10.0.0.2",
  "::1",
  "2001:db8::1",
  "::ffff:10.0.0.1",
  "::ffff:127.0.0.1",
  "fe80::1%eth0",
  "203.0.113.9",
  // IPv4-compatible, as libuv writes it and as other stacks do.
  "::10.0.0.1",
  "::a00:1",
];
/** Proxies as a configuration may write them; some are no IP address at all. */
const TRUST = [
  "127.0.0.1",
  "10.0.0.1",
  "10.0.0.2",
  "::1",
  "0:0::1",
  "0000:0000:0000:0000:0000:0000:0000:0001",
  "::ffff:10.0.0.2",
  "::FFFF:A00:1",
  "2001:DB8:0:0::1",
  "2001:db8:0:0:1:0:0:1",
  "[::1]",
  "010.0.0.1",
  "fe80::1%eth0",
  "10.0.0.1 ",
  "localhost",
];
/** How a configuration may write each peer (a link-local peer with its zone cannot be). */
const PEER_WRITTEN: Record<string, string[]> = {
  "127.0.0.1": ["127.0.0.1", "::ffff:127.0.0.1", "::FFFF:7f00:1"],
  "10.0.0.1": ["10.0.0.1", "::ffff:a00:1"],
  "10.0.0.2": ["10.0.0.2", "0:0:0:0:0:ffff:10.0.0.2"],
  "::1": ["::1", "0:0::1", "0000:0000:0000:0000:0000:0000:0000:0001"],
  "2001:db8::1": ["2001:DB8:0:0::1", "2001:db8:0::0:1"],
  "::ffff:10.0.0.1": ["10.0.0.1", "::ffff:10.0.0.1", "[::ffff:10.0.0.1]"],
  "::ffff:127.0.0.1": ["127.0.0.1", "::1"],
  "fe80::1%eth0": ["fe80::1"],
  "203.0.113.9": ["203.0.113.9"],
  "::10.0.0.1": ["::10.0.0.1", "[::10.0.0.1]", "::a00:1", "0:0:0:0:0:0:10.0.0.1"],
  "::a00:1": ["::a00:1", "[::A00:1]", "::10.0.0.1"],
};
/** Mostly lists that name the peer, so that chains are walked. */
const peerTrustArb: fc.Arbitrary<[string, string[]]> = fc.tuple(
  fc.constantFrom(...PEERS),
  fc.subarray(TRUST, { maxLength: 4 }),
  fc.nat(9),
  fc.nat(),
).map(([peer, trust, odds, at]) => {
  if (odds < 3) return [peer, trust];
  const forms = PEER_WRITTEN[peer]!;
  const list = [...trust];
  list.splice(at % (list.length + 1), 0, forms[at % forms.length]!);
  return [peer, list];
});

/** Addresses a chain names, trusted ones among them, in the forms proxies write. */
const ADDRESSES = [
  "10.0.0.1",
  "10.0.0.2",
  "127.0.0.1",
  "198.51.100.7",
  "2001:db8::1",
  "2001:DB8:0::7",
  "::ffff:10.0.0.1",
  "::1",
  "0:0::1",
  "::ffff:a00:2",
  "1:0:0:1:0:0:0:1",
];
const BAD_NODES = [
  "unknown",
  "UNKNOWN",
  "_hidden",
  "garbage<x>",
  "01.2.3.4",
  "1.2.3.256",
  "fe80::1%eth0",
  "1.2.3.4 5.6.7.8",
  "1.2.3.4:",
  "1.2.3.4:abc",
  "1.2.3.4:123456",
  "[::1",
  "::1]",
  "[::1]x",
  "[::1]:",
  "[1.2.3.4]",
  "[unknown]",
];
const portArb = fc.constantFrom("", "", ":80", ":4711", ":_p0rt");
/** `[v6]` (or bare) and v4, with a port or not. */
const nodeArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.constantFrom(...ADDRESSES), portArb, fc.boolean()).map(
      ([a, p, bracket]) => {
        const v6 = a.includes(":");
        if (!v6) return a + p;
        return bracket || p !== "" ? `[${a}]${p}` : a;
      },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_NODES) },
);

/** OWS, and the byte 0xA0 that trim() takes for whitespace and HTTP does not. */
const CHAIN_OWS = fc.constantFrom("", "", "", " ", "\t", "\xa0");
const xffElementArb = fc.tuple(
  CHAIN_OWS,
  fc.oneof({ weight: 9, arbitrary: nodeArb }, {
    weight: 1,
    arbitrary: fc.constant(""),
  }),
  CHAIN_OWS,
).map(([a, n, b]) => a + n + b);

/** Node of a `for=`, quoted as RFC 7239 §6 has IPv6 and ports quoted, or not. */
const forValueArb = fc.tuple(nodeArb, fc.nat(9)).map(([n, q]) =>
  q < 7 && /[:[\]]/.test(n) ? `"${n}"` : q === 0 ? `"${n}"` : q === 1 ? `"${n}` : n
);
const OTHER_PAIRS = ["by=10.0.0.1", 'by="[::1]:80"', "proto=https", "host=example.com", "x"];
const forwardedElementArb = fc.tuple(
  fc.nat(12),
  forValueArb,
  forValueArb,
  fc.subarray(OTHER_PAIRS, { maxLength: 2 }),
  fc.constantFrom("for", "For", "FOR"),
  fc.constantFrom(";", ";", "; ", ";\xa0"),
).map(([shape, v1, v2, others, name, sep]) => {
  // Mostly one `for`; some elements have none, two, or are empty.
  const fors = shape === 0 ? [] : shape === 1 ? [v1, v2] : [v1];
  const pairs = [...fors.map((v) => `${name}=${v}`), ...others.filter((o) => o !== "x")];
  if (shape === 2) return "";
  if (shape === 3 && others.includes("x")) pairs.push("x");
  return shape % 2 === 0 ? pairs.reverse().join(sep) : pairs.join(sep);
});

/** A chain: mostly short, some longer than the hops binks looks at. */
const chainArb = <T>(element: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.array(element, { minLength: 1, maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.array(element, { minLength: MAX_HOPS - 2, maxLength: MAX_HOPS + 4 }),
    },
  );
/** A long run of trusted hops behind a client, or not. */
const trustedRunArb = fc.tuple(
  fc.constantFrom("198.51.100.7", "2001:db8::9"),
  fc.integer({ min: MAX_HOPS - 2, max: MAX_HOPS + 2 }),
  fc.constantFrom("10.0.0.1", "127.0.0.1"),
);

/** The proxies' fields: one or more lines, the chain cut between them anywhere. */
const proxyFieldsArb = (which: ProxyHeader): fc.Arbitrary<[string, string][]> => {
  const element = which === "forwarded" ? forwardedElementArb : xffElementArb;
  const long = trustedRunArb.map(([client, n, proxy]) =>
    which === "forwarded"
      ? [`for="${client.includes(":") ? `[${client}]` : client}"`, ...Array(n).fill(`for=${proxy}`)]
      : [client, ...Array(n).fill(proxy)]
  );
  return fc.tuple(
    fc.oneof({ weight: 4, arbitrary: chainArb(element) }, { weight: 1, arbitrary: long }),
    fc.nat(3),
    fc.nat(),
    fc.constantFrom(
      ...(which === "forwarded" ? ["Forwarded", "forwarded"] : [
        "X-Forwarded-For",
        "x-forwarded-for",
      ]),
    ),
  ).map(([chain, lines, cut, name]) => {
    if (lines === 0) return [];
    if (lines === 1 || chain.length < 2) return [[name, ` ${chain.join(",")}`]];
    const at = 1 + cut % (chain.length - 1);
    return [[name, ` ${chain.slice(0, at).join(", ")}`], [name, chain.slice(at).join(",")]];
  });
};

interface Case {
  head: HeadSpec;
  peer: string;
  trust: string[];
  header: ProxyHeader;
  /** Names asked of `header()`. */
  asked: string[];
}

const hostFieldsArb: fc.Arbitrary<[string, string][]> = fc.tuple(
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 20, arbitrary: fc.constant(1) },
    { weight: 1, arbitrary: fc.constant(2) },
  ),
  fc.array(fc.tuple(casedArb("Host"), OWS_ARB, authorityArb, OWS_ARB), {
    minLength: 2,
    maxLength: 2,
  }),
).map(([n, hosts]) => hosts.slice(0, n).map(([name, a, h, b]) => [name, a + h + b]));

const caseArb: fc.Arbitrary<Case> = fc.tuple(
  requestLineArb,
  fc.constantFrom<0 | 1>(1, 1, 1, 0),
  hostFieldsArb,
  fc.array(fieldArb, { maxLength: 8 }),
  fc.constantFrom<ProxyHeader>("x-forwarded-for", "forwarded"),
  peerTrustArb,
  fc.nat(),
).chain(([[method, target], minor, hosts, others, header, [peer, trust], seed]) =>
  fc.tuple(
    proxyFieldsArb(header),
    proxyFieldsArb(header === "forwarded" ? "x-forwarded-for" : "forwarded"),
    fc.shuffledSubarray(NAMES.concat("Host", "X-Forwarded-For", "Forwarded"), {
      minLength: 3,
    }).chain((names) => fc.tuple(...names.map(casedArb))),
  ).map(([mine, theirs, asked]) => {
    const fields = [...others];
    // Host and the other chain anywhere; the proxies' own field lines last, as they append them.
    for (const f of [...hosts, ...theirs]) {
      fields.splice((seed + fields.length) % (fields.length + 1), 0, f);
    }
    fields.push(...mine);
    return {
      head: { method, target, minor, fields },
      peer,
      trust,
      header,
      // Names that are no token, some of which lowercase into one (`š` & 0xff is `a`).
      asked: [...asked, "Absent", "\u0161", "\u212Aey", "coo\u212Aie", "a b", ""],
    };
  })
);

// ---- The comparison ----

function parse(spec: HeadSpec): { status: number; head: RequestHead } {
  const bytes = headBytes(spec);
  const head = new RequestHead(defaultLimits.maxHeaders);
  const end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  assert.ok(end > 0, "a whole head");
  return { status: parseHead(bytes, 0, end, head, defaultLimits), head };
}

/** The server's trusted proxies for `c`, or null when it refuses the list (as it must, if bad). */
function proxiesFor(c: Case): ProxyTrust | null {
  const valid = c.trust.every((t) => configured(t) !== null);
  let server: HttpServer;
  try {
    server = new HttpServer({ handler: () => ({}), trustProxy: c.trust, proxyHeader: c.header });
  } catch (e) {
    assert.ok(!valid, `trustProxy ${JSON.stringify(c.trust)} refused: ${(e as Error).message}`);
    assert.ok(e instanceof TypeError);
    return null;
  }
  assert.ok(valid, `trustProxy ${JSON.stringify(c.trust)} taken`);
  return server.proxies;
}

const FETCHABLE = new Set(["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PURGE"]);

function holds(c: Case): void {
  const want = expect(c.head);
  const { status, head } = parse(c.head);
  assert.equal(status, want.status, "parse status");
  if (status !== 0) return;
  const proxies = proxiesFor(c) ??
    proxiesFor({ ...c, trust: c.trust.filter((t) => configured(t) !== null) })!;
  const req = new IncomingRequest(head, null, { remoteAddress: c.peer }, proxies);
  assert.equal(req.method, c.head.method);
  assert.equal(req.url, c.head.target);
  assert.equal(req.path, want.path, "path");
  assert.equal(req.host, want.host, "host");
  assert.equal(req.version, c.head.minor === 0 ? "1.0" : "1.1");
  assert.deepEqual([...req.query], want.query, "query");
  assert.deepEqual(req.headerList(), want.headerList, "headerList");
  for (const name of c.asked) {
    assert.equal(
      req.header(name),
      headerValue(c.head.fields, name),
      `header(${JSON.stringify(name)})`,
    );
  }
  const trusted = new Set(c.trust.map(configured).filter((t): t is string => t !== null));
  assert.deepEqual([...proxies.addresses].sort(), [...trusted].sort(), "trusted, as written");
  const chain = headerValue(c.head.fields, c.header);
  assert.equal(
    req.ip,
    clientIp(c.peer, trusted, c.header, chain),
    `ip (chain ${JSON.stringify(chain)})`,
  );
  if (!FETCHABLE.has(c.head.method)) return;
  if (want.fetchUrl === null) {
    assert.throws(() => webRequest(req), TypeError, "a URL the URL standard refuses");
    return;
  }
  const request = webRequest(req);
  assert.equal(request.url, want.fetchUrl, "Request.url");
  assert.equal(request.method, c.head.method);
  // Read by name: Deno's iterator drops empty values from a combined one (`, y` comes out as
  // `y`), where its get() and the Fetch standard keep them, and Bun's puts Set-Cookie last.
  const names = [...new Set(want.fetchHeaders.map(([n]) => n))];
  const got = [...new Set(request.headers.keys())].sort();
  assert.deepEqual(got, names, "Request.headers names");
  for (const name of names) {
    const values = want.fetchHeaders.filter(([n]) => n === name).map(([, v]) => v);
    if (name === "set-cookie") assert.deepEqual(request.headers.getSetCookie(), values, name);
    else assert.equal(request.headers.get(name), values[0], `Request.headers.get(${name})`);
  }
}

/** Heads that are taken, from a trusted peer: every case walks a chain. */
const walkArb: fc.Arbitrary<Case> = fc.tuple(
  fc.constantFrom(...PEERS.filter((p) => !p.includes("%"))),
  fc.subarray(TRUST, { maxLength: 4 }),
  fc.constantFrom<ProxyHeader>("x-forwarded-for", "forwarded"),
  fc.nat(),
).chain(([peer, trust, header, at]) =>
  fc.tuple(proxyFieldsArb(header), proxyFieldsArb(header), fc.nat(5)).map(([a, b, n]) => {
    const forms = PEER_WRITTEN[peer]!;
    return {
      // The client's own copy of the field (first), then what the proxies appended.
      head: {
        method: "GET",
        target: "/",
        minor: 1,
        fields: [["Host", "x"], ...(n === 0 ? a : []), ...b],
      },
      peer,
      trust: [...trust.filter((t) => configured(t) !== null), forms[at % forms.length]!],
      header,
      asked: [header],
    };
  })
);

/** IPv6 text as people and programs write it: any case, leading zeros, `::` anywhere, a v4 tail. */
const ipv6TextArb: fc.Arbitrary<string> = fc.tuple(
  fc.array(
    fc.constantFrom("0", "00", "0000", "1", "01", "ffff", "FFFF", "a00", "db8", "0", "12345"),
    {
      minLength: 8,
      maxLength: 8,
    },
  ),
  fc.nat(9),
  fc.nat(9),
  fc.constantFrom("", "", "1.2.3.4", "10.0.0.1", "01.2.3.4", "1.2.3", "256.0.0.1"),
  fc.constantFrom("", "", "", ":", "::", "%eth0", " "),
).map(([pieces, from, length, v4, odd]) => {
  const count = v4 === "" ? 8 : 6;
  const list = pieces.slice(0, count);
  if (from < count && length > 0) {
    const to = Math.min(count, from + length);
    const text = `${list.slice(0, from).join(":")}::${list.slice(to).join(":")}`;
    return text + (v4 === "" ? "" : text.endsWith(":") ? v4 : `:${v4}`) + odd;
  }
  return list.join(":") + (v4 === "" ? "" : `:${v4}`) + odd;
});

/** Hosts made of the bytes an authority is made of, and some it is not; IP literals too. */
const hostTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.array(
    fc.constantFrom(..."aZ09.-_~!$&'()*+,;=:[]%@/ v".split(""), "%41", "%4", "::1", "1.2.3.4"),
    { maxLength: 10 },
  ).map((parts) => parts.join("")),
  fc.tuple(
    fc.oneof(ipv6TextArb, fc.constantFrom("v1.a", "V1f.:+", "v.a", "v1.", "v1.a b", "vg.a")),
    fc.constantFrom("", ":", ":80", ":65536", "x", ":8:8"),
  ).map(([inside, port]) => `[${inside}]${port}`),
);

describe("request model", () => {
  it("writes addresses as RFC 5952 does, and takes none that RFC 3986 does not", async () => {
    await check(
      fc.asyncProperty(ipv6TextArb, (text) => {
        assert.equal(canonicalAddress(text), canonical(text), text);
        return Promise.resolve();
      }),
      { seed: 0x5952, numRuns: 3000 },
    );
  });

  it("takes a Host value exactly when RFC 3986 says it is an authority", async () => {
    await check(
      fc.asyncProperty(hostTextArb, (host) => {
        const spec: HeadSpec = { method: "GET", target: "/", minor: 1, fields: [["Host", host]] };
        assert.equal(parse(spec).status, expect(spec).status, JSON.stringify(host));
        return Promise.resolve();
      }),
      { seed: 0x3986, numRuns: 3000 },
    );
  });

  it("reads random heads, peers and proxy chains as the documented rules say", async () => {
    await check(
      fc.asyncProperty(caseArb, (c) => Promise.resolve(holds(c))),
      { seed: 0x4e0, numRuns: 1500 },
    );
  });

  it("walks random proxy chains from a trusted peer as the documented rules say", async () => {
    await check(
      fc.asyncProperty(walkArb, (c) => Promise.resolve(holds(c))),
      { seed: 0x1f, numRuns: 1500 },
    );
  });
});
