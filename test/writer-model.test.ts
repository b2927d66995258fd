/**
 * Model-based property test of the response writer (src/response.ts, src/status.ts, and the
 * fetch path's conversion in src/fetch.ts): random replies — every status from 100 to 599 and
 * some outside, header fields as records, pairs, `Headers` and `Map`s, names in random case,
 * repeated, `Set-Cookie`, the fields binks writes itself, values with obs-text, HTAB, control
 * bytes and characters past U+00FF; bodies as strings (ASCII, non-ASCII, lone surrogates), bytes
 * of every size around the inline limit, streams with and without a length, none; `text()`,
 * `json()`, `StaticReply`s sent many times and `withHeaders` layered — written back to back into
 * one shared `Out` for HTTP/1.1 kept alive or closing, HTTP/1.0 with and without keep-alive, HEAD
 * and GET. Each answer's head (Date masked), inline body, after-body and stream framing are
 * compared with test/writer-oracle.ts; the bytes handed out, in order, must be exactly the
 * expected answers one after the other, and views a transport kept must never change. A stream's
 * pieces are framed as RFC 9112 §7.1's chunks.
 *
 * Fixed seeds and bounded runs; a failure prints the replies fast-check shrank to.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  chunkFrame,
  chunkSizeLine,
  CLOSE,
  emptyTail,
  json,
  KEEP,
  KEEP_10,
  LAST_CHUNK,
  Out,
  pieceBytes,
  type Reply,
  type ReplyBody,
  StaticReply,
  type StreamBody,
  type Tail,
  text,
  withHeaders,
  writeReply,
  writeStatic,
} from "../src/response.ts";
import { toReply } from "../src/fetch.ts";
import {
  type BodySpec,
  type Ctx,
  expectedWire,
  type Field,
  headersPairs,
  REFUSED,
  utf8,
  type Wire,
  withType,
} from "./writer-oracle.ts";

// ---- What the handler gives ----

const NAMES = [
  "X-A",
  "Content-Type",
  "Set-Cookie",
  "Cache-Control",
  "ETag",
  "Vary",
  "Content-Length",
  "Transfer-Encoding",
  "Connection",
  "Date",
  "Keep-Alive",
  "Proxy-Connection",
  "X-Keep-Alive",
  "X-Content-Length",
  "Connection-X",
  "Upgrade",
];
const BAD_NAMES = ["", "a b", "caf\u00e9", "x:y", "a\r\nb", "[x]", "\u212Aey"];

/** `name` with each letter's case flipped where `bits` says. */
function recase(name: string, bits: number): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    out += (bits >> (i % 30)) & 1 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c;
  }
  return out;
}

const nameArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.nat()).map(([n, b]) => recase(n, b)),
  },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_NAMES) },
);

const VALUES = [
  "v1",
  "",
  " padded\t",
  "a\tb",
  "close",
  "Close, x",
  "keep-alive, CLOSE ",
  "\u00a0close",
  "x close",
  "upgrade, X-A",
  "7",
  "000123",
  " 42 ",
  "\t9\t",
  "\u00a07",
  "1234567890123456",
  "-1",
  "abc",
  "caf\u00e9",
  "\u0080\u00ff\u0085",
  "id=1; Path=/",
];
/** Values binks must refuse wherever it writes them. */
const BAD_VALUES = [
  "a\u0001b",
  "a\r\nX-Split: 1",
  "\u007f",
  "\u0000",
  "\u0100",
  "\u20ac",
  "\ud800",
];

const valueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 3, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_VALUES) },
  // A handler's bug: a field read from a request that did not have it.
  { weight: 1, arbitrary: fc.constantFrom(undefined, null) as unknown as fc.Arbitrary<string> },
);

const fieldsArb: fc.Arbitrary<Field[]> = fc.array(
  fc.tuple(nameArb, valueArb).map(([n, v]) => [n, v] as Field),
  { maxLength: 7 },
);

type Form = "none" | "pairs" | "record" | "map" | "headers";
const formArb: fc.Arbitrary<Form> = fc.constantFrom("none", "pairs", "record", "map", "headers");

type Init = Readonly<Record<string, string>> | Field[] | Map<string, string> | Headers;

/** Fields a Fetch `Headers` can hold as they are (else the pairs are given as pairs). */
function headersCanHold(fields: readonly Field[]): boolean {
  for (const [name, value] of fields) {
    if (typeof value !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return false;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
    }
  }
  return true;
}

/**
 * `pairs` with their names in the order `headers` yields them: Bun's `Headers` yields `set-cookie`
 * after the other names, not sorted among them as the Fetch standard has it. The order of fields
 * of different names means nothing (RFC 9110 §5.3); each name's values keep theirs.
 */
function inOrderOf(headers: Headers, pairs: Field[]): Field[] {
  const names: string[] = [];
  for (const [name] of headers) if (!names.includes(name)) names.push(name);
  const rank = (name: string): number => names.indexOf(name);
  assert.deepEqual([...names].sort(), [...new Set(pairs.map(([n]) => n))].sort(), "Headers' names");
  return [...pairs].sort((a, b) => rank(a[0]) - rank(b[0]));
}

/** `fields` in `form`, and the pairs binks is to see in it, in order. */
function asInit(fields: readonly Field[], form: Form): { init: Init | undefined; seen: Field[] } {
  switch (form) {
    case "none":
      return { init: undefined, seen: [] };
    case "record": {
      const record: Record<string, string> = {};
      for (const [n, v] of fields) record[n] = v;
      return { init: record, seen: Object.entries(record) };
    }
    case "map": {
      const map = new Map(fields);
      return { init: map, seen: [...map] };
    }
    case "headers":
      if (headersCanHold(fields)) {
        const headers = new Headers(fields.map(([n, v]) => [n, v]));
        return { init: headers, seen: inOrderOf(headers, headersPairs(fields)) };
      }
      return { init: [...fields], seen: [...fields] };
    default:
      return { init: [...fields], seen: [...fields] };
  }
}

const statusArb: fc.Arbitrary<number | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 200, max: 599 }) },
  { weight: 4, arbitrary: fc.constantFrom(200, 204, 205, 304, 404) },
  { weight: 2, arbitrary: fc.integer({ min: 100, max: 199 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 600, 999, 0, -200, 200.5, NaN, 1e3) },
);

/** A body as generated: bytes are made from a size and a pattern, not held by fast-check. */
type BodyGen =
  | { kind: "none"; value: null | undefined }
  | { kind: "string"; value: string }
  | { kind: "bytes"; size: number; seed: number }
  | { kind: "stream"; length: number | undefined };

const SIZES = [0, 1, 100, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 64 * 1024 + 3];

const bodyArb: fc.Arbitrary<BodyGen> = fc.oneof(
  fc.constantFrom(null, undefined).map((value) => ({ kind: "none" as const, value })),
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 20 }),
    fc.constantFrom("caf\u00e9", "\ud800x", "x\udfff", "\ud83d\ude00", "\u00ff"),
    fc.constantFrom(16 * 1024, 16 * 1024 + 1, 70_000).map((n) => "a".repeat(n - 1) + "\u00e9"),
  ).map((value) => ({ kind: "string" as const, value })),
  fc.tuple(fc.constantFrom(...SIZES), fc.nat(255)).map(([size, seed]) => ({
    kind: "bytes" as const,
    size,
    seed,
  })),
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(0, 5, 70_000) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, NaN, 2 ** 53) },
  ).map((length) => ({ kind: "stream" as const, length })),
);

const CTXS: Ctx[] = [];
for (const head of [false, true]) {
  CTXS.push({ minor: 1, mode: "keep", head }, { minor: 1, mode: "close", head });
  CTXS.push({ minor: 0, mode: "keep10", head }, { minor: 0, mode: "close", head });
}
const ctxArb = fc.constantFrom(...CTXS);

function modeOf(ctx: Ctx): number {
  return ctx.mode === "keep" ? KEEP : ctx.mode === "keep10" ? KEEP_10 : CLOSE;
}

/** How the reply is made. */
type Maker = "plain" | "text" | "json" | "static" | "layered" | "layered-static";

interface Step {
  maker: Maker;
  status: number | undefined;
  fields: Field[];
  form: Form;
  body: BodyGen;
  /** withHeaders' two layers, for the layered makers. */
  layers: [Field[], Form, Field[], Form];
  /** The answers it is sent as (a StaticReply is sent more than once). */
  ctxs: Ctx[];
  /** After it: hand the buffer to the transport, which keeps the view (or copies it). */
  flush: "no" | "copied" | "kept";
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  maker: fc.constantFrom<Maker>(
    "plain",
    "plain",
    "text",
    "json",
    "static",
    "layered",
    "layered-static",
  ),
  status: statusArb,
  fields: fieldsArb,
  form: formArb,
  body: bodyArb,
  layers: fc.tuple(fieldsArb, formArb, fieldsArb, formArb),
  ctxs: fc.array(ctxArb, { minLength: 1, maxLength: 3 }),
  flush: fc.constantFrom<Step["flush"]>("no", "copied", "kept"),
});

// ---- Running it ----

function bytesOf(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A stream that says whether it was closed unread. */
class Producer implements StreamBody {
  closed = 0;
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => Promise.resolve({ done: true, value: undefined }),
      return: () => {
        this.closed++;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}

/** Each byte as the character of that code: exact, unlike a latin1 TextDecoder (windows-1252). */
function octets(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

const DATE =
  /\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/;

/** The written bytes split as head (Date masked) and what follows it. */
function split(bytes: Uint8Array): { head: string; rest: Uint8Array } {
  const s = octets(bytes);
  const end = s.indexOf("\r\n\r\n");
  assert.ok(end >= 0, `no end of head in ${JSON.stringify(s.slice(0, 300))}`);
  const head = s.slice(0, end + 4);
  assert.match(head, DATE);
  return { head: head.replace(DATE, "\r\nDate: D\r\n"), rest: bytes.subarray(end + 4) };
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function show(b: Uint8Array): string {
  const s = octets(b);
  return JSON.stringify(s.length > 400 ? `${s.slice(0, 200)}…(${s.length})…${s.slice(-100)}` : s);
}

/** One run: the steps written back to back into one buffer, as a connection does. */
class Run {
  readonly out = new Out(64);
  readonly tail: Tail = emptyTail();
  /** What went to the transport, in order. */
  readonly sent: Uint8Array[] = [];
  /** What should have, in order (heads with the real Date lines, as they were written). */
  readonly expected: Uint8Array[] = [];
  /** Views a transport kept, and what they held when handed over. */
  readonly kept: [Uint8Array, Uint8Array][] = [];

  /** Hand what is written to the transport. */
  flush(keep: boolean): void {
    if (this.out.len === this.out.start) return;
    const view = this.out.written();
    this.sent.push(view.slice());
    if (keep) this.kept.push([view, view.slice()]);
    this.out.sent(keep);
  }

  /** Where the bytes not yet handed over end, counted from where they begin. */
  mark(): number {
    return this.out.len - this.out.start;
  }

  /** The bytes written since `mark`. */
  since(mark: number): Uint8Array {
    return this.out.buf.subarray(this.out.start + mark, this.out.len);
  }

  /**
   * Check what was just written (from `mark`) and left in the tail against `wire`; a large body
   * goes out after the head, as the connection sends it.
   */
  checkWire(
    what: string,
    mark: number,
    wire: Wire,
    after: Uint8Array | null,
    stream: StreamBody | null,
  ): void {
    const written = this.since(mark);
    const { head, rest } = split(written);
    assert.equal(head, wire.head, what);
    assert.equal(show(rest), show(wire.inline), `${what}: inline body`);
    assert.equal(
      after === null ? null : show(after),
      wire.after === null ? null : show(wire.after),
      `${what}: body after`,
    );
    assert.equal(stream !== null, wire.stream, `${what}: streamed`);
    this.expected.push(written.slice());
    if (after !== null) {
      this.flush(false);
      this.sent.push(after);
      this.expected.push(after);
    }
  }
}

function bodySpec(body: BodyGen): { value: ReplyBody; spec: BodySpec; length?: number } {
  switch (body.kind) {
    case "none":
      return { value: body.value, spec: body };
    case "string":
      return { value: body.value, spec: body };
    case "bytes": {
      const value = bytesOf(body.size, body.seed);
      return { value, spec: { kind: "bytes", value } };
    }
    default:
      return { value: new Producer(), spec: body, length: body.length };
  }
}

function playReply(
  run: Run,
  what: string,
  reply: Reply,
  seen: Field[],
  spec: BodySpec,
  ctx: Ctx,
): void {
  const wire = expectedWire(reply.status, seen, spec, ctx);
  const mark = run.mark();
  const before = run.since(0).slice();
  const tail = run.tail;
  try {
    writeReply(run.out, reply, ctx.head, modeOf(ctx), ctx.minor, tail);
  } catch (err) {
    assert.equal(wire, REFUSED, `${what}: refused (${(err as Error).message})`);
    assert.ok(err instanceof TypeError || err instanceof RangeError, what);
    const written = run.since(0);
    if (expectedWire(reply.status, seen, { kind: "none", value: null }, ctx) === REFUSED) {
      // Refused for its status or fields: writeReply takes back what it wrote of the head.
      assert.equal(show(written), show(before), `${what}: refused, nothing of it stays`);
    } else {
      // Refused for its body's length, once the head was written: the caller drops it.
      assert.equal(show(written.subarray(0, before.length)), show(before), `${what}: kept`);
    }
    run.out.len = run.out.start + mark;
    return;
  }
  assert.notEqual(wire, REFUSED, `${what}: sent, not refused: ${show(run.since(mark))}`);
  if (wire === REFUSED) return;
  assert.equal(tail.close, wire.close, `${what}: closes`);
  assert.equal(tail.closeDelimited, wire.closeDelimited, `${what}: close-delimited`);
  assert.equal(tail.sized, wire.sized, `${what}: sized`);
  if (reply.body instanceof Producer) {
    if (wire.stream) assert.equal(tail.stream, reply.body, `${what}: the stream follows`);
    else assert.equal(reply.body.closed, 1, `${what}: the stream not sent is closed`);
  }
  run.checkWire(what, mark, wire, tail.bytes, tail.stream);
  tail.bytes = null;
  tail.stream = null;
}

function playStatic(
  run: Run,
  what: string,
  reply: StaticReply,
  seen: Field[],
  spec: BodySpec,
  ctx: Ctx,
): void {
  const wire = expectedWire(reply.status, seen, spec, ctx, "static");
  assert.notEqual(wire, REFUSED, what);
  if (wire === REFUSED) return;
  const mark = run.mark();
  const after = writeStatic(run.out, reply, ctx.head, modeOf(ctx));
  assert.equal(reply.close, wire.close, `${what}: closes`);
  run.checkWire(what, mark, wire, after, null);
}

/** The pairs a reply made by withHeaders carries, and the `HeaderInit` to give it. */
function layer(fields: Field[], form: Form): { init: Init; seen: Field[] } {
  const { init, seen } = asInit(fields, form);
  return init === undefined ? { init: [], seen: [] } : { init, seen };
}

function playStep(run: Run, step: Step, index: number): void {
  const what = `step ${index} (${step.maker})`;
  const { init, seen } = asInit(step.fields, step.form);
  const body = bodySpec(step.body);
  if (step.maker === "static" || step.maker === "layered-static") {
    const given = body.spec.kind === "string"
      ? body.spec.value
      : body.spec.kind === "bytes"
      ? body.spec.value
      : "static";
    const bytes = typeof given === "string" ? utf8(given) : given;
    const status = step.status ?? 200;
    const made = expectedWire(status, seen, { kind: "bytes", value: bytes }, CTXS[0]!);
    let reply: StaticReply;
    try {
      reply = new StaticReply(status, init, given);
    } catch {
      assert.equal(made, REFUSED, `${what}: StaticReply refused`);
      return;
    }
    assert.notEqual(made, REFUSED, `${what}: StaticReply made`);
    // A 205 is made empty (RFC 9110 §15.3.6).
    const spec: BodySpec = { kind: "bytes", value: status === 205 ? new Uint8Array(0) : bytes };
    const head = octets(reply.head);
    for (const [i, ctx] of step.ctxs.entries()) {
      if (step.maker === "static") {
        playStatic(run, `${what} sent ${i}`, reply, seen, spec, ctx);
      } else {
        const a = layer(step.layers[0], step.layers[1]);
        const b = layer(step.layers[2], step.layers[3]);
        const layered = withHeaders(withHeaders(reply, a.init), b.init);
        playReply(run, `${what} sent ${i}`, layered, [...seen, ...a.seen, ...b.seen], spec, ctx);
      }
      assert.equal(octets(reply.head), head, `${what}: the StaticReply is not changed`);
    }
    return;
  }
  const ctx = step.ctxs[0]!;
  if (step.maker === "text" || step.maker === "json") {
    const str = body.spec.kind === "string" ? body.spec.value : "t";
    const fields = init === undefined ? undefined : seen;
    if (step.maker === "text") {
      const reply = text(str, step.status, init);
      const spec: BodySpec = { kind: "string", value: str };
      playReply(run, what, reply, withType(fields, "text/plain; charset=utf-8"), spec, ctx);
    } else {
      // null is JSON; undefined has no JSON text (RFC 8259) and is refused, as Response.json().
      const value = body.spec.kind === "none" ? body.spec.value : str;
      if (value === undefined) {
        assert.throws(() => json(value, step.status, init), TypeError, `${what}: json(undefined)`);
        return;
      }
      const reply = json(value, step.status, init);
      const spec: BodySpec = {
        kind: "string",
        value: value === null ? "null" : JSON.stringify(value),
      };
      playReply(run, what, reply, withType(fields, "application/json"), spec, ctx);
    }
    return;
  }
  const reply: Reply = { status: step.status, body: body.value };
  if (init !== undefined) reply.headers = init;
  if (body.length !== undefined || body.spec.kind === "stream") reply.length = body.length;
  if (step.maker === "plain") {
    playReply(run, what, reply, seen, body.spec, ctx);
    return;
  }
  const a = layer(step.layers[0], step.layers[1]);
  const b = layer(step.layers[2], step.layers[3]);
  const layered = withHeaders(withHeaders(reply, a.init), b.init);
  playReply(run, what, layered, [...seen, ...a.seen, ...b.seen], body.spec, ctx);
}

function playRun(steps: Step[], startKept: number): void {
  const run = new Run();
  // A transport that kept bytes before this run: the run's bytes go after them.
  if (startKept > 0) {
    run.out.put(bytesOf(startKept, 7));
    run.flush(true);
    run.expected.push(run.sent[0]!);
  }
  for (const [i, step] of steps.entries()) {
    playStep(run, step, i);
    if (step.flush !== "no") run.flush(step.flush === "kept");
  }
  run.flush(false);
  assert.equal(
    show(concat(run.sent)),
    show(concat(run.expected)),
    "the bytes handed out, in order",
  );
  for (const [i, [view, copy]] of run.kept.entries()) {
    assert.equal(show(view), show(copy), `kept view ${i} is not written over`);
  }
}

/** Check `property` with fixed `params`; a failure says what was violated and on what. */
function check<T>(
  arb: fc.Arbitrary<T>,
  body: (value: T) => void,
  params: { seed: number; numRuns: number },
): void {
  const details = fc.check(fc.property(arb, body), params);
  if (!details.failed) return;
  const error = details.errorInstance as Error | null;
  const shown = JSON.stringify(
    details.counterexample?.[0],
    (_, v) => typeof v === "string" && v.length > 200 ? `${v.slice(0, 40)}…(${v.length})` : v,
  ).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  assert.fail(
    `seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)}\n` +
      `counterexample: ${shown}\n${error?.message ?? error}`,
  );
}

// ---- The fetch path ----

interface FetchCase {
  status: number;
  fields: Field[];
  body: { size: number; seed: number } | null;
  ctx: Ctx;
}

const fetchFieldsArb: fc.Arbitrary<Field[]> = fieldsArb.map((fields) =>
  fields.filter(([n, v]) => typeof v === "string" && headersCanHold([[n, v]]))
);

const fetchArb: fc.Arbitrary<FetchCase> = fc.record({
  status: fc.oneof(fc.integer({ min: 200, max: 599 }), fc.constantFrom(200, 204, 205, 304)),
  fields: fetchFieldsArb,
  body: fc.option(fc.record({ size: fc.constantFrom(...SIZES), seed: fc.nat(255) })),
  ctx: ctxArb,
});

/** What a Response's fields become: sorted and combined, each Set-Cookie last on its own. */
function fetchPairs(fields: readonly Field[]): Field[] {
  const all = headersPairs(fields);
  return [...all.filter(([n]) => n !== "set-cookie"), ...all.filter(([n]) => n === "set-cookie")];
}

describe("response writer model", () => {
  it("writes every reply as the oracle does, back to back in one buffer", () => {
    check(
      fc.tuple(fc.array(stepArb, { minLength: 1, maxLength: 6 }), fc.constantFrom(0, 0, 10, 60)),
      ([steps, startKept]) => playRun(steps, startKept),
      { seed: 0x9112, numRuns: 1000 },
    );
  });

  it("writes a fetch handler's Response as the oracle does", async () => {
    const cases = fc.sample(fetchArb, { seed: 0x9110, numRuns: 150 });
    for (const [i, c] of cases.entries()) {
      const nullBody = c.status === 204 || c.status === 205 || c.status === 304;
      const bytes = c.body === null || nullBody ? null : bytesOf(c.body.size, c.body.seed);
      const response = new Response(bytes, {
        status: c.status,
        headers: c.fields.map(([n, v]) => [n, v]),
      });
      const reply = await toReply(response, c.ctx.head);
      const run = new Run();
      const spec: BodySpec = bytes === null
        ? { kind: "none", value: null }
        : { kind: "bytes", value: bytes };
      playReply(
        run,
        `case ${i} ${JSON.stringify({ ...c, body: c.body?.size })}`,
        reply,
        fetchPairs(c.fields),
        spec,
        c.ctx,
      );
    }
  });

  it("frames a stream's pieces as RFC 9112 §7.1 chunks", () => {
    assert.equal(octets(LAST_CHUNK), "0\r\n\r\n");
    check(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 30 }),
        fc.tuple(fc.constantFrom(...SIZES, 15, 16, 255, 256, 4095, 4096), fc.nat(255)).map((
          [size, seed],
        ) => bytesOf(size, seed)),
      ),
      (piece) => {
        const bytes = pieceBytes(piece);
        const data = typeof piece === "string" ? utf8(piece) : piece;
        assert.equal(show(bytes), show(data));
        // chunk-size is hex digits, chunk-data that many octets, then CRLF.
        const size = data.length.toString(16);
        assert.equal(octets(chunkSizeLine(data.length)), `${size}\r\n`);
        assert.equal(
          show(chunkFrame(data)),
          show(concat([ascii(`${size}\r\n`), data, ascii("\r\n")])),
        );
      },
      { seed: 0x7e1, numRuns: 300 },
    );
    for (const bad of [1, null, new ArrayBuffer(1), [1], { length: 1 }]) {
      assert.throws(() => pieceBytes(bad as unknown as string), TypeError);
    }
  });
});
