/**
 * What a model-based run of the connection is made of: a pipeline of requests as the client
 * writes them, what each one's handler does, and a schedule of what happens around them (input
 * delivered in random pieces, handlers woken, a send buffer that fills, a FIN, a reset, time
 * going by). Also the exact bytes the server must write for each answer, worked out here from
 * what was generated, not by asking the server.
 *
 * Strings are Latin-1 (ASCII in practice): one char per byte.
 */
import fc from "fast-check";
import { reasonOf } from "../reasons.ts";

/** How long something waits: not at all, a few microtasks, or until the schedule opens its gate. */
export type Delay =
  | { kind: "sync" }
  | { kind: "micro"; n: number }
  | { kind: "gate" };

/** What a handler answers with. */
export type ReplySpec =
  | { kind: "text"; status: number; text: string }
  | { kind: "empty"; status: number }
  | {
    kind: "stream";
    status: number;
    pieces: { text: string; delay: Delay }[];
    /** Announce the length (Content-Length) rather than chunked or close-delimited. */
    sized: boolean;
  }
  | { kind: "throw" };

/** What a request's handler does. */
export interface HandlerSpec {
  /** How it takes the body: not at all, `bytes()`, or `for await` over `req.body`. */
  read: "ignore" | "bytes" | "iterate";
  /** Read the body before waiting, rather than after. */
  readFirst: boolean;
  /** Wait before answering. */
  delay: Delay;
  /** Give up with the signal's reason once the request's signal aborts (while waiting). */
  stopOnAbort: boolean;
  reply: ReplySpec;
  /** The reply carries `Connection: close`: the handler's wish to close after it. */
  askClose?: boolean;
}

/** One request of the pipeline. */
export interface RequestSpec {
  method: "GET" | "HEAD" | "POST";
  minor: 0 | 1;
  /** The `Connection` field sent, if any. */
  connection: "none" | "close" | "keep-alive";
  /** The body and its framing (POST only). */
  body: null | { framing: "length"; data: string } | {
    framing: "chunked";
    data: string;
    /** Sizes of the chunks the data is sent in. */
    chunks: number[];
    /** A chunk-size line made invalid: that chunk's index, or -1. */
    badChunk: number;
  };
  /** `Expect: 100-continue` (the client sends the body without waiting all the same). */
  expect: boolean;
  /** A header line with no colon: the request is a 400. */
  badHead: boolean;
  /**
   * A request line that is none (it starts with a control byte): a 400 refused before its
   * method is read, so with its body whatever the method.
   */
  badLine?: boolean;
  handler: HandlerSpec;
}

/** Something that happens between deliveries. */
export type Action =
  | { kind: "deliver" }
  | { kind: "micro"; n: number }
  | { kind: "gate"; pick: number }
  | { kind: "full" }
  | { kind: "drain" }
  | { kind: "fin" }
  | { kind: "reset" }
  | { kind: "time"; ms: number }
  | { kind: "shutdown" };

/** A whole run. */
export interface Scenario {
  requests: RequestSpec[];
  /** Where the input is cut into pieces (offsets, any order, may repeat). */
  cuts: number[];
  actions: Action[];
  /** Each chunk given to onData is the core's for good (Node, Bun) or reused (Deno). */
  freshChunks: boolean;
  /** A full transport keeps borrowed views rather than copies (Node's partial write). */
  keepBorrowed: boolean;
  /** Data may still come while paused (an adapter that had a read under way). */
  leakyPause: boolean;
  maxPipelined: number;
  maxInflight: number;
  /** How the client leaves at the end if it has not: a FIN, or it goes quiet (keep-alive ends). */
  ending: "fin" | "idle";
}

/** The request's own decision to keep the connection (RFC 9112 §9.3). */
export function keepsAlive(r: RequestSpec): boolean {
  if (r.connection === "close") return false;
  return r.minor === 1 || r.connection === "keep-alive";
}

/**
 * What names request `i` in its target and its answer's `x-req` field: its number, or on one
 * of several connections (`conn`), that connection's number too, so that an answer sent on
 * another connection than its own is told apart.
 */
export function label(i: number, conn?: number): string {
  return conn === undefined ? `${i}` : `c${conn}.${i}`;
}

/** The bytes the client writes for request `i` (of connection `conn`, when there are several). */
export function requestText(r: RequestSpec, i: number, conn?: number): string {
  let text =
    `${r.badLine === true ? "\x01" : ""}${r.method} /r${label(i, conn)} HTTP/1.${r.minor}\r\n` +
    "Host: model\r\n";
  if (r.badHead) text += "Broken header line\r\n";
  if (r.connection === "close") text += "Connection: close\r\n";
  else if (r.connection === "keep-alive") text += "Connection: keep-alive\r\n";
  const body = r.body;
  if (body === null) return text + "\r\n";
  if (r.expect) text += "Expect: 100-continue\r\n";
  if (body.framing === "length") {
    return text + `Content-Length: ${body.data.length}\r\n\r\n` + body.data;
  }
  text += "Transfer-Encoding: chunked\r\n\r\n";
  let at = 0;
  body.chunks.forEach((size, k) => {
    const line = k === body.badChunk ? "zz" : size.toString(16);
    text += `${line}\r\n${body.data.slice(at, at + size)}\r\n`;
    at += size;
  });
  return text + "0\r\n\r\n";
}

/** The body bytes a handler may see before the body fails (all of them when nothing is wrong). */
export function bodyBeforeFault(r: RequestSpec): string {
  const body = r.body;
  if (body === null) return "";
  if (body.framing === "length" || body.badChunk < 0) return body.data;
  let n = 0;
  for (let k = 0; k < body.badChunk; k++) n += body.chunks[k]!;
  return body.data.slice(0, n);
}

/** The Date line as the comparison writes every one (its value is the wall clock's), as long. */
export const DATE: string = `Date: ${"*".repeat(29)}\r\n`;

/** How the `Connection` field of an answer reads: none, `keep-alive` (HTTP/1.0), or `close`. */
export type Mode = "keep" | "keep10" | "close";

function connectionLine(mode: Mode): string {
  return mode === "close"
    ? "Connection: close\r\n"
    : mode === "keep10"
    ? "Connection: keep-alive\r\n"
    : "";
}

/** The server's own canned answer with `status` (see errorReply in src/connection.ts). */
export function errorText(status: number, headOnly: boolean, mode: Mode): string {
  const body = `${status}\n`;
  return `HTTP/1.1 ${status} ${reasonOf(status)}\r\nContent-Type: text/plain\r\n` +
    `Content-Length: ${body.length}\r\n${DATE}${connectionLine(mode)}\r\n` +
    (headOnly ? "" : body);
}

/**
 * The exact bytes of the handler's answer to request `i`, sent with `mode` (a close-delimited
 * stream always says close). Null for a handler that throws: its answer is a 500.
 */
export function replyText(r: RequestSpec, i: number, mode: Mode, conn?: number): string {
  const reply = r.handler.reply;
  const headOnly = r.method === "HEAD";
  if (reply.kind === "throw") return errorText(500, headOnly, mode);
  let text = `HTTP/1.1 ${reply.status} ${reasonOf(reply.status)}\r\nx-req: ${
    label(i, conn)
  }\r\n${DATE}`;
  if (reply.status === 204) return text + connectionLine(mode) + "\r\n";
  if (reply.kind === "empty") {
    return text + (headOnly ? "" : "Content-Length: 0\r\n") + connectionLine(mode) + "\r\n";
  }
  if (reply.kind === "text") {
    return text + `Content-Length: ${reply.text.length}\r\n${connectionLine(mode)}\r\n` +
      (headOnly ? "" : reply.text);
  }
  const whole = reply.pieces.map((p) => p.text).join("");
  if (reply.sized) {
    return text + `Content-Length: ${whole.length}\r\n${connectionLine(mode)}\r\n` +
      (headOnly ? "" : whole);
  }
  if (r.minor === 0) return text + "Connection: close\r\n\r\n" + (headOnly ? "" : whole);
  text += `Transfer-Encoding: chunked\r\n${connectionLine(mode)}\r\n`;
  if (headOnly) return text;
  for (const piece of reply.pieces) {
    if (piece.text.length > 0) text += `${piece.text.length.toString(16)}\r\n${piece.text}\r\n`;
  }
  return text + "0\r\n\r\n";
}

/**
 * The handler's own answer has a body that only the server's close delimits (RFC 9112 §6.3, 8):
 * a stream of no known length to an HTTP/1.0 client. Its bytes cannot say whether it is whole.
 */
export function closeDelimited(r: RequestSpec): boolean {
  const reply = r.handler.reply;
  return reply.kind === "stream" && !reply.sized && r.minor === 0 && reply.status !== 204 &&
    r.method !== "HEAD";
}

/**
 * The answer must close the connection whatever else happens: a close-delimited stream, or a
 * reply that asks to (not a handler that throws: its 500 is the server's).
 */
export function replyCloses(r: RequestSpec): boolean {
  const reply = r.handler.reply;
  if (r.handler.askClose === true && reply.kind !== "throw") return true;
  return reply.kind === "stream" && !reply.sized && r.minor === 0 && reply.status !== 204;
}

// ---- generators ----

export const delayArb: fc.Arbitrary<Delay> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Delay>({ kind: "sync" }) },
  {
    weight: 3,
    arbitrary: fc.integer({ min: 1, max: 6 }).map((n): Delay => ({ kind: "micro", n })),
  },
  { weight: 3, arbitrary: fc.constant<Delay>({ kind: "gate" }) },
);

const textArb = fc.string({ unit: fc.constantFrom(..."abcdefxyz0123456789"), maxLength: 24 });

const statusArb = fc.constantFrom(200, 200, 200, 201, 204, 404);

const replyArb: fc.Arbitrary<ReplySpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("text" as const), status: statusArb, text: textArb }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("empty" as const), status: statusArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("stream" as const),
      status: statusArb,
      pieces: fc.array(fc.record({ text: textArb, delay: delayArb }), { maxLength: 4 }),
      sized: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant<ReplySpec>({ kind: "throw" }) },
);

const handlerArb: fc.Arbitrary<HandlerSpec> = fc.record({
  read: fc.constantFrom("ignore", "bytes", "iterate"),
  readFirst: fc.boolean(),
  delay: delayArb,
  stopOnAbort: fc.boolean(),
  reply: replyArb,
});

const bodyArb = fc.oneof(
  fc.record({ framing: fc.constant("length" as const), data: textArb }),
  fc.tuple(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), textArb)
    .chain(([chunks, seed]) => {
      const total = chunks.reduce((a, b) => a + b, 0);
      const data = (seed + "abcdefghijklmnopqrstuvwxyz0123456789").repeat(2).slice(0, total);
      return fc.record({
        framing: fc.constant("chunked" as const),
        data: fc.constant(data),
        chunks: fc.constant(chunks),
        badChunk: fc.oneof(
          { weight: 9, arbitrary: fc.constant(-1) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: chunks.length - 1 }) },
        ),
      });
    }),
);

export const requestArb: fc.Arbitrary<RequestSpec> = fc.record({
  method: fc.constantFrom("GET", "GET", "HEAD", "POST", "POST"),
  minor: fc.constantFrom<0 | 1>(1, 1, 1, 1, 0),
  connection: fc.constantFrom("none", "none", "none", "none", "close", "keep-alive"),
  body: fc.option(bodyArb, { nil: null, freq: 3 }),
  expect: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  badHead: fc.integer({ min: 0, max: 24 }).map((n) => n === 0),
  handler: handlerArb,
}).map((r): RequestSpec => {
  // Only a POST carries a body; a chunked one only in HTTP/1.1 (RFC 9112 §6.1).
  let body = r.method === "POST" ? r.body : null;
  if (body?.framing === "chunked" && r.minor === 0) body = { framing: "length", data: body.data };
  return {
    ...r,
    body,
    badHead: r.badHead && body === null,
    expect: r.expect && body !== null && r.minor === 1,
  };
});

/** What happens between deliveries, `weights` saying how often each kind does. */
export function actionArb(weights: Record<Action["kind"], number>): fc.Arbitrary<Action> {
  const all: { weight: number; arbitrary: fc.Arbitrary<Action> }[] = [
    { weight: weights.deliver, arbitrary: fc.constant({ kind: "deliver" as const }) },
    {
      weight: weights.micro,
      arbitrary: fc.integer({ min: 1, max: 8 }).map((n) => ({ kind: "micro" as const, n })),
    },
    {
      weight: weights.gate,
      arbitrary: fc.nat(7).map((pick) => ({ kind: "gate" as const, pick })),
    },
    { weight: weights.full, arbitrary: fc.constant({ kind: "full" as const }) },
    { weight: weights.drain, arbitrary: fc.constant({ kind: "drain" as const }) },
    { weight: weights.fin, arbitrary: fc.constant({ kind: "fin" as const }) },
    { weight: weights.reset, arbitrary: fc.constant({ kind: "reset" as const }) },
    { weight: weights.shutdown, arbitrary: fc.constant({ kind: "shutdown" as const }) },
    {
      weight: weights.time,
      arbitrary: fc.integer({ min: 1, max: 60 }).map((ms) => ({ kind: "time" as const, ms })),
    },
  ];
  return fc.oneof(...all.filter((a) => a.weight > 0));
}

/**
 * Whole scenarios, with actions drawn by `weights`; `long`, schedules of up to 40 steps as often
 * as short ones (fast-check's default size keeps most to a few).
 */
export function scenarioArb(
  weights: Record<Action["kind"], number>,
  long = false,
): fc.Arbitrary<Scenario> {
  const actions = actionArb(weights);
  return fc.record({
    requests: fc.array(requestArb, { minLength: 1, maxLength: 8 }),
    cuts: fc.array(fc.nat(2000), { maxLength: 12 }),
    actions: long
      ? fc.array(actions, { maxLength: 40, size: "max" })
      : fc.array(actions, { maxLength: 40 }),
    freshChunks: fc.boolean(),
    keepBorrowed: fc.boolean(),
    leakyPause: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    maxPipelined: fc.constantFrom(1, 2, 3, 64),
    maxInflight: fc.constantFrom(1, 2, 1000),
    ending: fc.constantFrom("fin", "idle"),
  });
}
