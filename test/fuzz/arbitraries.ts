/**
 * fast-check generators of HTTP/1.1 requests, valid ones with the result
 * they must parse to (worked out here from what was generated, not by asking
 * the parser), and random or mutated byte sequences.
 *
 * Strings are Latin-1 throughout: one char per byte, so obs-text (0x80–0xff)
 * is a single char and `bytesOf` turns a wire string into its exact bytes.
 */
import fc from "fast-check";
import type { Seen } from "./harness.ts";

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function charsIn(from: number, to: number): string[] {
  const out: string[] = [];
  for (let c = from; c <= to; c++) out.push(String.fromCharCode(c));
  return out;
}

/** Visible ASCII. */
const VCHAR = charsIn(0x21, 0x7e);
/** What a request-target may hold: visible ASCII but `#` (a fragment is never sent). */
const TARGET_CHAR = VCHAR.filter((c) => c !== "#");
/** Bytes a field value may hold besides whitespace: VCHAR and obs-text. */
const VALUE_CHAR = [...VCHAR, ...charsIn(0x80, 0xff)];
/** reg-name bytes (RFC 3986 unreserved and sub-delims); `%` comes only as pct-encoded. */
const REG_NAME = [...ALPHA, ..."0123456789-._~!$&'()*+,;="];
const HEXDIGS = [..."0123456789abcdefABCDEF"];

/** uri-host: a reg-name (with the odd `%HH`) or an IP-literal in brackets. */
const uriHostArb = (minLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.string({
        unit: fc.oneof(
          { weight: 12, arbitrary: fc.constantFrom(...REG_NAME) },
          {
            weight: 1,
            arbitrary: fc.tuple(fc.constantFrom(...HEXDIGS), fc.constantFrom(...HEXDIGS)).map((
              [a, b],
            ) => `%${a}${b}`),
          },
        ),
        minLength,
        maxLength: 16,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.oneof(fc.ipV6(), fc.ipV4()).map((a) => a.includes(":") ? `[${a}]` : a),
    },
  );

/** `uri-host [ ":" port ]`, the port possibly empty (RFC 3986 §3.2.3). */
const authorityArb = (minHost: number): fc.Arbitrary<string> =>
  fc.tuple(
    uriHostArb(minHost),
    fc.option(fc.oneof(fc.constant(""), fc.nat(65535).map(String))),
  )
    .map(([host, port]) => (port === null ? host : `${host}:${port}`));

/** Names the parser gives meaning to; generated on purpose, never by chance. */
const FRAMING_NAMES = ["host", "content-length", "transfer-encoding", "expect", "connection"];

export const tokenArb = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...TCHARS), minLength: min, maxLength: max });

/** Random ASCII case of a lowercase name. */
function anyCase(name: string): fc.Arbitrary<string> {
  return fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) =>
    Array.from(name, (c, i) => (up[i] ? c.toUpperCase() : c)).join("")
  );
}

const owsArb = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 3 });

/** Trim spaces and tabs only (String.prototype.trim would also eat 0xa0). */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s[a] === " " || s[a] === "\t")) a++;
  while (b > a && (s[b - 1] === " " || s[b - 1] === "\t")) b--;
  return s.slice(a, b);
}

/** A field value: visible bytes, obs-text and inner whitespace, with OWS around it on the wire. */
const valueArb: fc.Arbitrary<{ wire: string; value: string }> = fc
  .tuple(
    owsArb,
    fc.string({
      unit: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VALUE_CHAR) }, {
        weight: 1,
        arbitrary: fc.constantFrom(" ", "\t"),
      }),
      maxLength: 24,
    }),
    owsArb,
  )
  .map(([before, inner, after]) => {
    const wire = before + inner + after;
    return { wire, value: trimOws(wire) };
  });

type Header = [name: string, wire: string, value: string];

const plainHeaderArb: fc.Arbitrary<Header> = fc
  .tuple(tokenArb(1, 16).filter((n) => !FRAMING_NAMES.includes(n.toLowerCase())), valueArb)
  .map(([name, v]) => [name, v.wire, v.value]);

function header(name: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<Header> {
  return fc.tuple(name, owsArb, value, owsArb).map(([n, a, v, b]) => [n, a + v + b, v]);
}

/** Lowercase-insensitive split of a Connection value into its options, as RFC 9110 §7.6.1. */
function connectionOptions(value: string): string[] {
  return value.split(/[ \t,]+/).filter((t) => t !== "").map((t) => t.toLowerCase());
}

const connectionValueArb = fc.constantFrom(
  "close",
  "Close",
  "keep-alive",
  "Keep-Alive",
  "upgrade",
  "keep-alive, close",
  "x-foo,close",
  "TE, keep-alive",
  "closed",
);

/** A body framing and its bytes on the wire. */
interface Framing {
  headers: Header[];
  wire: string;
  body: string;
  contentLength: number;
  chunked: boolean;
}

const bodyBytesArb = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...charsIn(0, 0xff)), maxLength: max });

const contentLengthArb: fc.Arbitrary<Framing> = fc
  .tuple(bodyBytesArb(64), fc.nat(3), fc.boolean(), anyCase("content-length"))
  .chain(([body, zeros, twice, name]) => {
    const value = "0".repeat(zeros) + String(body.length);
    return header(fc.constant(name), fc.constant(value)).map((h): Framing => ({
      headers: twice ? [h, [name, value, value]] : [h],
      wire: body,
      body,
      contentLength: body.length,
      chunked: false,
    }));
  });

/** Chunk extensions: `;name`, `;name=token`, `;name="quoted"`, with optional BWS. */
const extensionArb: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom("", " ", "\t"),
      tokenArb(1, 6),
      fc.option(fc.oneof(tokenArb(1, 6), tokenArb(0, 6).map((t) => `"${t} x"`))),
    ),
    { maxLength: 3 },
  )
  .map((exts) => exts.map(([ws, name, v]) => `${ws};${name}${v === null ? "" : `=${v}`}`).join(""));

function hexSize(n: number, zeros: number, upper: boolean): string {
  const hex = n.toString(16);
  return "0".repeat(zeros) + (upper ? hex.toUpperCase() : hex);
}

const chunkArb = fc.tuple(
  bodyBytesArb(40).filter((d) => d.length > 0),
  fc.nat(2),
  fc.boolean(),
  extensionArb,
);

const trailerArb: fc.Arbitrary<string> = fc
  .tuple(tokenArb(1, 10), valueArb)
  .map(([name, v]) => `${name}:${v.wire}\r\n`);

const chunkedArb: fc.Arbitrary<Framing> = fc
  .tuple(
    fc.array(chunkArb, { maxLength: 4 }),
    fc.nat(2),
    extensionArb,
    fc.array(trailerArb, { maxLength: 2 }),
    fc.constantFrom("chunked", "Chunked", "CHUNKED", "chunKed"),
    anyCase("transfer-encoding"),
  )
  .chain(([chunks, lastZeros, lastExt, trailers, coding, name]) =>
    header(fc.constant(name), fc.constant(coding)).map((h): Framing => {
      let wire = "";
      let body = "";
      for (const [data, zeros, upper, ext] of chunks) {
        wire += `${hexSize(data.length, zeros, upper)}${ext}\r\n${data}\r\n`;
        body += data;
      }
      wire += `${"0".repeat(lastZeros + 1)}${lastExt}\r\n${trailers.join("")}\r\n`;
      return { headers: [h], wire, body, contentLength: -1, chunked: true };
    })
  );

const noBodyArb: fc.Arbitrary<Framing> = fc.constantFrom<Framing>(
  { headers: [], wire: "", body: "", contentLength: -1, chunked: false },
  { headers: [["Content-Length", "0", "0"]], wire: "", body: "", contentLength: 0, chunked: false },
);

/**
 * A path (before its query) with a backslash or a dot-segment, which binks refuses as one a URL
 * parser would read as another path (README, "HTTP/1.1 rules").
 */
export function misleadingPath(target: string): boolean {
  const path = target.split("?")[0]!;
  return path.includes("\\") || /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i.test(path);
}

/** Method and target together: the target form depends on the method. */
const methodTargetArb: fc.Arbitrary<[string, string]> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(
      fc.oneof(
        fc.constantFrom("GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "TRACE"),
        tokenArb(1, 10).filter((m) => m !== "CONNECT"),
      ),
      fc.oneof(
        fc.string({ unit: fc.constantFrom(...TARGET_CHAR), maxLength: 40 }).map((p) => `/${p}`)
          .filter((t) => !misleadingPath(t)),
        fc
          .tuple(
            // Only http and https, in any case: another scheme is a 400 (README, "rules").
            fc.oneof(anyCase("http"), anyCase("https")),
            authorityArb(1),
            fc.option(
              fc.tuple(
                fc.constantFrom("/", "?"),
                fc.string({ unit: fc.constantFrom(...TARGET_CHAR), maxLength: 30 }),
              ),
            ),
          )
          .map(([scheme, authority, rest]) =>
            `${scheme}://${authority}${rest === null ? "" : rest[0] + rest[1]}`
          )
          .filter((t) => !misleadingPath(t.slice(t.indexOf("://") + 3).replace(/^[^/?]*/, ""))),
      ),
    ),
  },
  { weight: 1, arbitrary: fc.constant<[string, string]>(["OPTIONS", "*"]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(uriHostArb(1), fc.nat(65535))
      .map(([h, p]): [string, string] => ["CONNECT", `${h}:${p}`]),
  },
);

/** One valid request: its bytes, and what it must parse to. */
export interface Generated {
  wire: string;
  seen: Seen;
}

export const validRequestArb: fc.Arbitrary<Generated> = fc
  .record({
    mt: methodTargetArb,
    minor: fc.constantFrom(0, 1),
    hostCount: fc.constantFrom(0, 1, 1, 1),
    host: header(anyCase("host"), authorityArb(0)),
    plain: fc.array(plainHeaderArb, { maxLength: 6 }),
    connection: fc.option(header(anyCase("connection"), connectionValueArb)),
    expect: fc.option(header(anyCase("expect"), fc.constantFrom("100-continue", "100-Continue"))),
    framing: fc.oneof(noBodyArb, contentLengthArb, chunkedArb),
    order: fc.array(fc.nat(), { maxLength: 12 }),
  })
  .map((r) => {
    const [method, target] = r.mt;
    let minor = r.minor;
    // Chunked is HTTP/1.1 only; HTTP/1.1 needs exactly one Host.
    if (r.framing.chunked) minor = 1;
    const hostCount = minor === 1 ? 1 : r.hostCount;
    const fields: Header[] = [...r.plain, ...r.framing.headers];
    if (hostCount === 1) fields.push(r.host);
    if (r.connection !== null) fields.push(r.connection);
    if (r.expect !== null) fields.push(r.expect);
    // Shuffle the fields by the generated order, deterministically.
    for (let i = fields.length - 1; i > 0; i--) {
      const j = (r.order[i % Math.max(1, r.order.length)] ?? 0) % (i + 1);
      [fields[i], fields[j]] = [fields[j]!, fields[i]!];
    }
    const options = r.connection === null ? [] : connectionOptions(r.connection[2]);
    const close = options.includes("close");
    const keepAlive = !close && (minor === 1 || options.includes("keep-alive"));
    let wire = `${method} ${target} HTTP/1.${minor}\r\n`;
    for (const [name, value] of fields) wire += `${name}:${value}\r\n`;
    wire += "\r\n" + r.framing.wire;
    const seen: Seen = {
      method,
      target,
      minor,
      headers: fields.map(([name, , value]) => [name, value]),
      contentLength: r.framing.contentLength,
      chunked: r.framing.chunked,
      keepAlive,
      expectContinue: minor === 1 && r.expect !== null,
      body: r.framing.body,
    };
    return { wire, seen };
  });

/** 1–3 valid requests pipelined, with empty lines allowed between them. */
export const pipelineArb: fc.Arbitrary<{ wire: string; seen: Seen[] }> = fc
  .array(fc.tuple(fc.nat(2), validRequestArb), { minLength: 1, maxLength: 3 })
  .map((list) => ({
    wire: list.map(([blank, g]) => "\r\n".repeat(blank) + g.wire).join(""),
    seen: list.map(([, g]) => g.seen),
  }));

/** Split points for a wire of some length: a few random cuts, or every byte. */
export const splitsArb: fc.Arbitrary<number[] | "bytewise"> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.nat({ max: 4000 }), { minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constant<"bytewise">("bytewise") },
);

/** Pieces HTTP is made of, and bytes that break it, for dictionary fuzzing. */
export const DICTIONARY: readonly string[] = [
  "GET ",
  "POST ",
  "CONNECT ",
  "OPTIONS ",
  "/",
  "*",
  "http://a/",
  "HTTPS://a",
  "ftp://a/",
  " HTTP/1.1",
  " HTTP/1.0",
  " HTTP/2.0",
  " HTTP/1.1\r\n",
  "\r\n",
  "\r\n\r\n",
  "\n",
  "\r",
  "Host: a\r\n",
  "Host:",
  "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: ",
  "Content-Length: ",
  "Content-Length: 5\r\n",
  "Expect: 100-continue\r\n",
  "Expect: x\r\n",
  "Connection: close\r\n",
  "chunked",
  "chunked, chunked",
  "gzip",
  ":",
  " ",
  "\t",
  ";",
  "=",
  ",",
  '"',
  "0",
  "5",
  "a",
  "F",
  "ffffffffffffffff",
  "0\r\n\r\n",
  "5\r\nhello\r\n",
  "X: y\r\n",
  "\x00",
  "\x7f",
  "\x80",
  "\xff",
  "hello",
];

/** A concatenation of dictionary pieces: random, but often deep inside the grammar. */
export const dictionaryInputArb: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...DICTIONARY), { minLength: 1, maxLength: 30 })
  .map((parts) => parts.join(""));

/** Bytes worth inserting: line ends, whitespace, separators, NUL, DEL, high bytes, digits. */
const INTERESTING = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x7f, 0xff, 0x80, 0x3a, 0x3b, 0x2c, 0x30, 0x61];

/** One edit to a byte string. */
export type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "insert"; at: number; byte: number }
  | { op: "delete"; at: number; count: number }
  | { op: "duplicate"; at: number; count: number }
  | { op: "truncate"; at: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat(255)),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    op: fc.constant("duplicate" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
);

/** Apply mutations in order; positions wrap around the current length. */
export function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case "flip":
        if (at < b.length) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case "insert":
        b.splice(at, 0, m.byte);
        break;
      case "delete":
        b.splice(at, m.count);
        break;
      case "duplicate":
        b.splice(at, 0, ...b.slice(at, at + m.count));
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
    }
  }
  return Uint8Array.from(b);
}

/** A mutated valid pipeline. */
export const mutatedArb: fc.Arbitrary<{ original: string; mutations: Mutation[] }> = fc.record({
  original: pipelineArb.map((p) => p.wire),
  mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
});
