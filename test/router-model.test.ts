/**
 * Model-based property test of the router (src/router.ts): random route tables (static segments,
 * `:params`, trailing `*`, overlapping patterns added in random orders, several methods, `all()`,
 * sub-routers mounted under prefixes, middleware at every level, bad patterns among them) and
 * random request targets (percent-encoded bytes, `%2F`, bad encodings, UTF-8, dot-segments, empty
 * segments, trailing slashes, queries, fragments, absolute-form, long paths) are routed by the real
 * router and by test/router-oracle.ts, which follows the documented rules. Compared: what adding a
 * route throws, which route answers with which params, 400/404/405/501 and OPTIONS with their exact
 * Allow, the middleware's order and what each `next()` gave it, and a HEAD's answer on the wire.
 *
 * Fixed seeds and bounded runs; a failure prints the table and the requests fast-check shrank to.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { check } from "./model/check.ts";
import { type Middleware, Router, type RouteResult } from "../src/router.ts";
import { IncomingRequest } from "../src/request.ts";
import { findHeadEnd, parseHead, RequestHead } from "../src/parser.ts";
import { defaultLimits } from "../src/limits.ts";
import {
  KEEP,
  Out,
  type Reply,
  StaticReply,
  type Tail,
  writeReply,
  writeStatic,
} from "../src/response.ts";
import {
  type MwKind,
  type MwSpec,
  type Op,
  OracleRouter,
  type Outcome,
  pathOf,
  type Table,
} from "./router-oracle.ts";

// ---- Tables ----

const STATIC = [
  "a",
  "b",
  "me",
  "users",
  "",
  "caf%C3%A9",
  "%61",
  "x%2Fy",
  "%7e",
  "A",
  "@a",
  "%28a)",
  "%3Ax",
  "%2a",
  "a:b",
];
/** Mostly a few plain segments, so that patterns overlap. */
const staticArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...STATIC.slice(0, 5)) },
  { weight: 1, arbitrary: fc.constantFrom(...STATIC) },
);
const PARAMS = [":id", ":x", ":p"];
/** Rare: patterns the router must refuse, each for its own rule. */
const BAD_SEGMENTS = ["é", "a b", "q?", ":", "*", "a\\b", "h#"];

const segmentArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: staticArb },
  { weight: 6, arbitrary: fc.constantFrom(...PARAMS) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_SEGMENTS) },
);

const patternArb: fc.Arbitrary<string> = fc.tuple(
  fc.array(segmentArb, { maxLength: 3 }),
  fc.boolean(),
  fc.nat(40),
).map(([segments, wild, odd]) => {
  const all = wild ? [...segments, "*"] : segments;
  const pattern = all.length === 0 ? "/" : `/${all.join("/")}`;
  return odd === 0 ? pattern.slice(1) : pattern;
});

const ROUTE_METHODS = ["GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "OPTIONS"]
  .concat(["PATCH", "PURGE", "purge", "*", "*", "get"]);

const mwArb: fc.Arbitrary<MwKind> = fc.constantFrom<MwKind>(
  "pass",
  "pass",
  "pass",
  "async",
  "stop",
);

const PREFIXES = ["/", "/api", "/a", "/:id", "/p/:x", "/%61", "/api/", "api"];

/** Ops of router `k` of `n` (names and tags are given later, by position). */
function opsArb(k: number, n: number): fc.Arbitrary<Op[]> {
  const route = fc.record({
    kind: fc.constant("route" as const),
    method: fc.constantFrom(...ROUTE_METHODS),
    pattern: patternArb,
    mw: fc.array(mwArb.map((kind): MwSpec => ({ name: "", kind })), { maxLength: 2 }),
    tag: fc.constant(""),
  });
  const use = mwArb.map((kind): Op => ({ kind: "use", mw: { name: "", kind } }));
  const arbs: fc.WeightedArbitrary<Op>[] = [{ weight: 8, arbitrary: route }, {
    weight: 2,
    arbitrary: use,
  }];
  if (k < n - 1) {
    const mount = fc.record({
      kind: fc.constant("mount" as const),
      prefix: fc.constantFrom(...PREFIXES),
      child: fc.integer({ min: k + 1, max: n - 1 }),
    });
    arbs.push({ weight: 3, arbitrary: mount });
  }
  return fc.array(fc.oneof(...arbs), { maxLength: k === 0 ? 14 : 8 });
}

/** Names every route and middleware by where it was added. */
function named(table: Table): Table {
  return table.map((ops, k) =>
    ops.map((op, i): Op => {
      const at = `${k}.${i}`;
      if (op.kind === "route") {
        return { ...op, tag: at, mw: op.mw.map((m, j) => ({ ...m, name: `${at}m${j}` })) };
      }
      if (op.kind === "use") return { ...op, mw: { ...op.mw, name: `g${at}` } };
      return op;
    })
  );
}

const tableArb: fc.Arbitrary<Table> = fc.integer({ min: 1, max: 3 }).chain((n) =>
  fc.tuple(...Array.from({ length: n }, (_, k) => opsArb(k, n))).map(named)
);

// ---- Requests ----

const VALUES = [
  "7",
  "me",
  "a",
  "A",
  "%61",
  "%41",
  "caf%c3%a9",
  "caf%C3%A9",
  "x%2Fy",
  "x%2fy",
  "%2F",
  "%7E",
  "~",
  "%zz",
  "%",
  "%4",
  "%%61",
  "%%34%31",
  "%E0%A4%A",
  "%ED%A0%80",
  "%C0%80",
  "%EF%BB%BFx",
  "%F0%9F%98%80",
  "%00",
  "a%20b",
  "...",
  ".a",
  "a.",
  "users",
  "b",
  "",
  "*",
  ":id",
  "%40a",
  "%40A",
  "@a",
  "(a)",
  "%28a%29",
  "%3ax",
  ":x",
  "%2A",
  "a%3Ab",
  "a%2a",
  "%22",
  '"',
];
/** Rare: what the parser refuses in a path (a dot-segment, bytes no target holds). */
const REFUSED = [".", "..", "%2e", ".%2E", "é", "a\\b", "x#f"];
const valueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 1, arbitrary: fc.constantFrom(...REFUSED) },
);

const requestSegmentArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: staticArb },
  { weight: 10, arbitrary: valueArb },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 3000 }).map((n) => "x".repeat(n)) },
);

const QUERIES = ["", "", "", "", "", "?", "?a=1", "?x=/%zz/../b", "??a"];
/** Rare: a fragment, which no request-target holds (RFC 9112 §3.2). */
const queryArb = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...QUERIES) },
  { weight: 1, arbitrary: fc.constantFrom("#frag", "?a#b") },
);

const REQUEST_METHODS = ["GET", "GET", "GET", "HEAD", "HEAD", "POST", "POST", "PUT", "DELETE"]
  .concat(["OPTIONS", "OPTIONS", "PATCH", "PURGE", "purge", "BREW", "get"]);

interface Call {
  method: string;
  target: string;
}

const callArb: fc.Arbitrary<Call> = fc.record({
  method: fc.constantFrom(...REQUEST_METHODS),
  segments: fc.array(requestSegmentArb, { maxLength: 4 }),
  slash: fc.nat(4),
  query: queryArb,
  form: fc.constantFrom(...Array<string>(12).fill("origin"), "absolute", "asterisk"),
}).map(({ method, segments, slash, query, form }) => {
  if (form === "asterisk") return { method, target: "*" };
  let path = segments.length === 0 ? "/" : `/${segments.join("/")}`;
  if (slash === 0 && segments.length > 0) path += "/";
  if (form === "absolute") {
    return { method, target: `http://h:8${path === "/" ? "" : path}${query}` };
  }
  return { method, target: path + query };
});

// ---- Running both ----

/** The request as the parser makes it, or null when it refuses the request line. */
function parse(method: string, target: string): IncomingRequest | null {
  const bytes = new TextEncoder().encode(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const head = new RequestHead(defaultLimits.maxHeaders);
  const end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  if (end < 0 || parseHead(bytes, 0, end, head, defaultLimits) !== 0) return null;
  return new IncomingRequest(head, null, { remoteAddress: "" });
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === "object" && x !== null &&
    typeof (x as { then?: unknown }).then === "function";
}

/** A result as the middleware log shows it: its status, or `promise`. */
function shown(r: RouteResult): string {
  if (isThenable(r)) return "promise";
  return String(r.status ?? 200);
}

function middleware(spec: MwSpec, log: string[]): Middleware {
  const { name, kind } = spec;
  if (kind === "stop") {
    return () => {
      log.push(`>${name}`);
      return { status: 299, body: name };
    };
  }
  if (kind === "async") {
    return async (_req, next) => {
      log.push(`>${name}`);
      const r = await next();
      log.push(`<${name}:${shown(r)}`);
      return r;
    };
  }
  return (_req, next) => {
    log.push(`>${name}`);
    const r = next();
    log.push(`<${name}:${shown(r)}`);
    return r;
  };
}

/** Params in a fixed order: the router's key order is no part of its contract. */
function sortedParams(params: Record<string, string>): string {
  return JSON.stringify(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Build `table` into real routers and the oracle's, checking each step throws alike. */
function build(table: Table, log: string[]): { router: Router; oracle: OracleRouter } {
  const routers: Router[] = table.map(() => new Router());
  const oracles = table.map(() => new OracleRouter());
  for (let k = table.length - 1; k >= 0; k--) {
    for (const op of table[k]!) {
      let expected: string | null;
      let step: () => void;
      if (op.kind === "route") {
        expected = oracles[k]!.add(op.method, op.pattern, op.mw, op.tag);
        const handler = (req: IncomingRequest) => {
          log.push(`handler ${op.tag} ${sortedParams(req.params)} ${req.path}`);
          return { status: 200, body: op.tag };
        };
        const mws = op.mw.map((m) => middleware(m, log));
        step = () => routers[k]!.on(op.method, op.pattern, ...mws, handler);
      } else if (op.kind === "use") {
        expected = oracles[k]!.use(op.mw);
        step = () => routers[k]!.use(middleware(op.mw, log));
      } else {
        expected = oracles[k]!.mount(op.prefix, oracles[op.child]!);
        step = () => routers[k]!.mount(op.prefix, routers[op.child]!);
      }
      const what = `router ${k}: ${JSON.stringify(op)}`;
      if (expected === null) assert.doesNotThrow(step, what);
      else {
        assert.throws(
          step,
          (e: Error) => e.message.includes(expected),
          `${what} throws ${expected}`,
        );
      }
    }
  }
  return { router: routers[0]!, oracle: oracles[0]! };
}

/** What a request must log and answer, by running its chain as the oracle says. */
function expected(oracle: OracleRouter, outcome: Outcome, path: string) {
  const chain = outcome.kind === "route" ? [...oracle.mw, ...outcome.route.chain] : [...oracle.mw];
  const now: string[] = [];
  // An async middleware's exit comes after everything synchronous, innermost first.
  const later: string[] = [];
  let stopped: string | null = null;
  const run = (i: number): { promise: boolean; status: number } => {
    if (i === chain.length) {
      if (outcome.kind === "route") {
        now.push(`handler ${outcome.route.tag} ${sortedParams(outcome.params ?? {})} ${path}`);
        return { promise: false, status: 200 };
      }
      const status = outcome.kind === "error" ? outcome.status : outcome.kind === "405" ? 405 : 204;
      return { promise: false, status };
    }
    const { name, kind } = chain[i]!;
    now.push(`>${name}`);
    if (kind === "stop") {
      stopped = name;
      return { promise: false, status: 299 };
    }
    const inner = run(i + 1);
    if (kind === "async") {
      later.push(`<${name}:${inner.status}`);
      return { promise: true, status: inner.status };
    }
    now.push(`<${name}:${inner.promise ? "promise" : inner.status}`);
    return inner;
  };
  const top = run(0);
  return { log: [...now, ...later], promise: top.promise, stopped: stopped as string | null };
}

const tail = (): Tail => ({
  bytes: null,
  stream: null,
  closeDelimited: false,
  sized: -1,
  close: false,
  status: 200,
});

/** The answer as the server would send it, Date left out. */
function wire(reply: Reply | StaticReply, headOnly: boolean): string {
  const out = new Out(1024);
  const t = tail();
  if (reply instanceof StaticReply) t.bytes = writeStatic(out, reply, headOnly, KEEP);
  else writeReply(out, reply, headOnly, KEEP, 1, t);
  assert.equal(t.bytes, null);
  assert.equal(t.stream, null);
  return new TextDecoder().decode(out.buf.subarray(out.start, out.len)).replace(
    /\r\nDate: [^\r]*/,
    "",
  );
}

function bodyOf(reply: Reply | StaticReply): string {
  if (reply instanceof StaticReply) return new TextDecoder().decode(reply.body);
  return typeof reply.body === "string" ? reply.body : "";
}

/** One request against both; throws on a difference. */
async function compare(router: Router, oracle: OracleRouter, call: Call, log: string[]) {
  const path = pathOf(call.method, call.target);
  const req = parse(call.method, call.target);
  if (path === null || req === null) {
    assert.equal(req === null, path === null, `the parser ${req === null ? "refused" : "took"} it`);
    return;
  }
  assert.equal(req.path, path);
  const outcome = oracle.resolve(call.method, path);
  const want = expected(oracle, outcome, path);
  log.length = 0;
  const result = router.handler(req);
  assert.equal(isThenable(result), want.promise, "answered with a promise");
  const reply = await result;
  assert.deepEqual(log, want.log, `log for ${JSON.stringify(outcome)}`);
  if (want.stopped !== null) assert.deepEqual(reply, { status: 299, body: want.stopped });
  else if (outcome.kind === "route") {
    assert.deepEqual(reply, { status: 200, body: outcome.route.tag });
  } else if (outcome.kind === "options") {
    assert.deepEqual(reply, { status: 204, headers: { Allow: outcome.allow } });
  } else if (outcome.kind === "405") {
    assert.deepEqual(reply, {
      status: 405,
      headers: { Allow: outcome.allow, "Content-Type": "text/plain" },
      body: "405\n",
    });
  } else {
    assert.ok(reply instanceof StaticReply, `a StaticReply ${outcome.status}`);
    assert.equal(reply.status, outcome.status);
    assert.equal(bodyOf(reply), `${outcome.status}\n`);
  }
  // RFC 9110 §9.3.2: HEAD gets GET's header fields, Content-Length included, and no content.
  const full = wire(reply, false);
  const body = reply.status === 204 ? "" : bodyOf(reply);
  assert.ok(full.endsWith(`\r\n\r\n${body}`), full);
  if (call.method === "HEAD") {
    assert.equal(wire(reply, true), full.slice(0, full.length - body.length));
  }
}

interface Case {
  table: Table;
  calls: Call[];
}

/**
 * `segment` spelled another way: the characters a path may hold as they are that mean the same
 * encoded, each swapped for the other form (`@` for `%40`, `%28` for `(`).
 */
function respelled(segment: string): string {
  return segment.replace(/%([2-7][0-9A-Fa-f])|[@():*!"]/g, (m, hex: string | undefined) => {
    if (hex === undefined) return `%${m.charCodeAt(0).toString(16).toUpperCase()}`;
    const c = String.fromCharCode(parseInt(hex, 16));
    return /^[!-~]$/.test(c) && !"#%/?\\.".includes(c) ? c : m;
  });
}

/** Calls that hit the table's routes more often than chance: its own patterns filled in. */
function callsFor(table: Table): fc.Arbitrary<Call[]> {
  const patterns = table.flatMap((ops) =>
    ops.flatMap((op) => (op.kind === "route" ? [op.pattern] : []))
  );
  // The table's own prefixes, filled in too (`/p/:x` as `/p/7`), or none.
  const prefixes = [
    "/7",
    "/api/x",
    ...table.flatMap((ops) =>
      ops.flatMap((
        op,
      ) => (op.kind === "mount" && op.prefix !== "/" ? [op.prefix.replace(/:[a-z]+/, "7")] : []))
    ),
  ];
  const filled: fc.Arbitrary<Call> = patterns.length === 0 ? callArb : fc.record({
    method: fc.constantFrom(...REQUEST_METHODS),
    pattern: fc.constantFrom(...patterns),
    prefix: fc.oneof(
      { weight: 2, arbitrary: fc.constant("") },
      {
        weight: 3,
        arbitrary: fc.array(fc.constantFrom(...prefixes), { maxLength: 2 }).map((p) => p.join("")),
      },
    ),
    values: fc.array(fc.oneof(valueArb, fc.constantFrom(...STATIC)), {
      minLength: 4,
      maxLength: 4,
    }),
    query: queryArb,
    respell: fc.boolean(),
  }).map(({ method, pattern, prefix, values, query, respell }) => {
    let i = 0;
    const path = pattern.split("/").map((s) =>
      s.startsWith(":") || s === "*" ? values[i++ % values.length]! : respell ? respelled(s) : s
    ).join("/");
    return { method, target: `${prefix}${path.startsWith("/") ? "" : "/"}${path}${query}` };
  });
  return fc.array(fc.oneof({ weight: 1, arbitrary: callArb }, { weight: 3, arbitrary: filled }), {
    minLength: 1,
    maxLength: 16,
  });
}

const caseArb: fc.Arbitrary<Case> = tableArb.chain((table) =>
  callsFor(table).map((calls) => ({ table, calls }))
);

async function holds({ table, calls }: Case): Promise<void> {
  const log: string[] = [];
  const { router, oracle } = build(table, log);
  for (const call of calls) {
    try {
      await compare(router, oracle, call, log);
    } catch (e) {
      (e as Error).message = `${call.method} ${call.target}: ${(e as Error).message}`;
      throw e;
    }
  }
}

describe("router model", () => {
  it("routes random requests through random tables as the documented rules say", async () => {
    await check(fc.asyncProperty(caseArb, holds), { seed: 0x7007e, numRuns: 600 });
  });

  it("routes tables of many overlapping routes", async () => {
    const big = fc.tuple(opsArb(0, 1), opsArb(0, 1), opsArb(0, 1)).map(([a, b, c]) =>
      named([[...a, ...b, ...c]])
    );
    const bigCase = big.chain((table) => callsFor(table).map((calls) => ({ table, calls })));
    await check(fc.asyncProperty(bigCase, holds), { seed: 0xb16, numRuns: 300 });
  });
});
