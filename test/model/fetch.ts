/**
 * The connection model (test/model/harness.ts) with Web-standard fetch handlers in place of
 * native ones: the server is `fetchHandler()` over a fetch function of the test's own, which
 * reads the `Request` body in one of the ways handlers do (`text()`, `arrayBuffer()`, a reader
 * taking piece by piece at gates, `for await`, not at all, `cancel()`), waits, watches
 * `request.signal` or not, and answers with a `Response` made from a string, bytes, nothing,
 * `Response.json`, `Response.redirect`, or a `ReadableStream` (pull or start based) that
 * enqueues pieces at gates and then closes, errors or never ends; or fails (throws, rejects,
 * returns no Response). The schedule is the connection model's: input cut at random points
 * (and at most 4 or 64 KiB a read), gates opened, a send buffer that fills and drains, FIN,
 * reset, shutdown with a grace, virtual time; on one connection, or on 2 or 3 sharing a server
 * (and its handler slots).
 *
 * What is checked, from what was generated (not by asking the server):
 *
 * - answers go out in order, each byte for byte what its `Response` said: status line, its
 *   header fields as the `Response` has them (sorted, lower-case, Set-Cookie one per line,
 *   values trimmed) without those binks writes itself, then Date, then the framing:
 *   Content-Length for a body known at once, chunked (close-delimited for HTTP/1.0) for one
 *   still being produced, none for HEAD, 204 or 304 (a handler's own Content-Length passes only
 *   on a HEAD answered without a body);
 * - a stream that errors midway is cut: no last chunk, the connection closed by the server
 *   (a body that would look complete is a violation); failures before the head give a 500;
 * - the body each handler reads is exactly the bytes sent, in every style; a body left unread
 *   does not disturb the next request (or the connection closes after the answer, and only
 *   then: a handler that read its body whole keeps the connection);
 * - `request.signal` aborts for a handler whose answer is dropped, and for a stream cut
 *   because the client left; every stream made is read to its end, errored or cancelled, and
 *   no pull is running at the end, none called after a cancel;
 * - onError gets the handlers' own failures (each once, and those whose 500 or cut went out),
 *   nothing else (no client leaving); no exception escapes, no promise is left rejected;
 * - at the end: no timer beyond those found, no connection counted, no handler running;
 * - the access log has one line per request dispatched or refused, as its answer went out on
 *   the wire (see test/model/access.ts).
 */
import fc from "fast-check";
import { HttpServer } from "../../src/server.ts";
import { fetchHandler } from "../../src/fetch.ts";
import { timers } from "../../src/clock.ts";
import { detectRuntime } from "../../adapters/detect.ts";
import { type Gate, type ModelOptions, type Outcome, Run, stopOnAbort } from "./harness.ts";
import { onClock, VirtualClock } from "./clock.ts";
import { AccessSink, checkAccess } from "./access.ts";
import type { ServerAction } from "./server.ts";
import {
  type Action,
  actionArb,
  DATE,
  type Delay,
  delayArb,
  errorText,
  type HandlerSpec,
  label,
  type Mode,
  type RequestSpec,
  requestText,
  type Scenario,
} from "./scenario.ts";
import { reasonOf } from "../reasons.ts";

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const DATE_LINE = /Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/g;
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";

// ---- what is generated ----

/** How a handler takes its request's body. */
export type ReadStyle =
  | "ignore"
  | "text"
  | "arrayBuffer"
  | "reader"
  | "iterate"
  | "cancel"
  /** `new Request(request).text()`: a copy, as Hono's body-limit middleware makes one. */
  | "copy";

/** Header fields a handler gives its Response. */
export interface FieldsSpec {
  type: string | null;
  cookies: string[];
  /** A Content-Length of the handler's own (binks frames the message itself). */
  length: string | null;
  /** An `x-a` field whose value has whitespace around it (a Headers trims it). */
  extra: boolean;
  /**
   * `Connection: close`, `Transfer-Encoding: chunked` and a `Date` of the handler's own: binks
   * writes those itself, and closes after the answer.
   */
  hop?: boolean;
}

/** What a fetch handler answers with. */
export type AnswerSpec =
  /**
   * A body made from a string, bytes (a Uint8Array, a view into a larger buffer, an
   * ArrayBuffer: each written over once the Response is made, which must not change what it
   * sends) or a Blob.
   */
  | {
    kind: "text" | "bytes" | "view" | "buffer" | "blob";
    status: number;
    text: string;
    fields: FieldsSpec;
  }
  | { kind: "null"; status: number; fields: FieldsSpec }
  | { kind: "json"; status: number; value: unknown }
  | { kind: "redirect"; status: number; to: string }
  | {
    kind: "stream";
    status: number;
    fields: FieldsSpec;
    source: "pull" | "start";
    pieces: { text: string; delay: Delay }[];
    /** How it ends: closed, errored, never, or with a chunk that is no Uint8Array (a string). */
    end: "close" | "error" | "never" | "badChunk";
  }
  /** `new Response(request.body)`: the request's body sent back as it arrives. */
  | { kind: "echo" }
  | { kind: "throw" | "reject" | "notResponse" };

/** What one request's fetch handler does. */
export interface FetchHandlerSpec {
  read: ReadStyle;
  /** With a reader: wait at a gate before each read. */
  readGates: boolean;
  readFirst: boolean;
  delay: Delay;
  /** Give up with the signal's reason once it aborts (while waiting). */
  watchSignal: boolean;
  answer: AnswerSpec;
}

/** A request as the client sends it, and its handler. */
export interface FetchRequestSpec {
  method: "GET" | "HEAD" | "POST";
  minor: 0 | 1;
  connection: "none" | "close" | "keep-alive";
  body: null | { framing: "length"; data: string } | {
    framing: "chunked";
    data: string;
    chunks: number[];
  };
  expect: boolean;
  handler: FetchHandlerSpec;
}

/** A whole run: one connection to a server of fetch handlers, and the schedule. */
export interface FetchScenario {
  requests: FetchRequestSpec[];
  cuts: number[];
  actions: Action[];
  freshChunks: boolean;
  keepBorrowed: boolean;
  leakyPause: boolean;
  maxPipelined: number;
  maxInflight: number;
  ending: "fin" | "idle";
  /** The grace a shutdown in the schedule is given (Infinity: it waits). */
  grace: number;
  /**
   * The most the transport hands over at once: 4096 by default (what a reused buffer holds);
   * with fresh chunks up to 64 KiB, as Node's sockets read.
   */
  readSize?: number;
}

/** What a Run needs of the handler spec: nothing (the handler is the fetch one here). */
const NO_HANDLER: HandlerSpec = {
  read: "ignore",
  readFirst: false,
  delay: { kind: "sync" },
  stopOnAbort: false,
  reply: { kind: "empty", status: 200 },
};

/** The request's own decision to keep the connection (RFC 9112 §9.3). */
function keepsAlive(r: FetchRequestSpec): boolean {
  if (r.connection === "close") return false;
  return r.minor === 1 || r.connection === "keep-alive";
}

/** The connection model's view of a request: its bytes are the same. */
function asRequestSpec(r: FetchRequestSpec): RequestSpec {
  const body = r.body === null
    ? null
    : r.body.framing === "length"
    ? r.body
    : { ...r.body, badChunk: -1 };
  return { ...r, body, badHead: false, handler: NO_HANDLER };
}

// ---- what must come out ----

function connectionLine(mode: Mode): string {
  return mode === "close"
    ? "Connection: close\r\n"
    : mode === "keep10"
    ? "Connection: keep-alive\r\n"
    : "";
}

/** The fields of a Response made with `fields` (and `x-req`), as the Fetch standard lists them. */
function fieldLines(tag: string, fields: FieldsSpec, defaultType: string | null): string {
  const plain: [string, string][] = [["x-req", tag]];
  const type = fields.type ?? defaultType;
  if (type !== null) plain.push(["content-type", type]);
  if (fields.extra) plain.push(["x-a", "v  w"]);
  // Content-Length is binks's to write.
  plain.sort((a, b) => a[0] < b[0] ? -1 : 1);
  const all = [...plain, ...fields.cookies.map((c): [string, string] => ["set-cookie", c])];
  return all.map(([n, v]) => `${n}: ${v}\r\n`).join("");
}

/** The `HeadersInit` a handler gives for `fields`. */
function fieldsInit(tag: string, fields: FieldsSpec): [string, string][] {
  const init: [string, string][] = [["X-Req", tag]];
  for (const c of fields.cookies) init.push(["Set-Cookie", c]);
  if (fields.type !== null) init.push(["Content-Type", fields.type]);
  if (fields.length !== null) init.push(["Content-Length", fields.length]);
  if (fields.extra) init.push(["X-A", " v  w\t"]);
  if (fields.hop === true) {
    init.push(["Connection", "close"], ["Transfer-Encoding", "chunked"], ["Date", "x"]);
  }
  return init;
}

/** The body a stream answer sends before it ends (or errors). */
function streamText(a: AnswerSpec & { kind: "stream" }): string {
  return a.pieces.map((p) => p.text).join("");
}

/**
 * The stream has it all at once (enqueued in `start`, or in `pull` as it is asked): it goes
 * out whole, with a Content-Length.
 */
function readyAtOnce(a: AnswerSpec & { kind: "stream" }): boolean {
  return a.end === "close" &&
    a.pieces.every((p) => p.delay.kind === "sync");
}

/** How an answer's body is framed on the wire. */
type Framing = { kind: "none" } | { kind: "length"; n: number } | { kind: "chunked" } | {
  kind: "close";
};

/** One answer that may go out for a request. */
interface Candidate {
  head: string;
  framing: Framing;
  body: string;
  kind: "own" | "fail500" | "error";
  status: number;
  mode: Mode;
  /** The body is that of a stream that errors: it must not look complete. */
  failing: boolean;
  /** Framed as a stream (chunked or close-delimited), even with no body (HEAD). */
  streamed?: boolean;
}

/** The Response says `Connection: close`. */
function asksClose(a: AnswerSpec): boolean {
  return "fields" in a && a.fields.hop === true;
}

function failureKind(a: AnswerSpec): boolean {
  return a.kind === "throw" || a.kind === "reject" || a.kind === "notResponse" ||
    a.kind === "stream" && (a.end === "error" || a.end === "badChunk");
}

/** The answers of the handler's own that may go out for request `i` with `mode`. */
function ownCandidates(r: FetchRequestSpec, tag: string, mode: Mode): Candidate[] {
  const a = r.handler.answer;
  if (asksClose(a) && mode !== "close") return [];
  const headOnly = r.method === "HEAD";
  const status = "status" in a ? a.status : a.kind === "echo" ? 200 : 500;
  const line = `HTTP/1.1 ${status} ${reasonOf(status)}\r\n`;
  const conn = connectionLine(mode);
  const own = (head: string, framing: Framing, body: string, failing = false): Candidate => ({
    head,
    framing,
    body,
    kind: "own",
    status,
    mode,
    failing,
  });
  /** Streamed: chunked, or close-delimited to an HTTP/1.0 client. */
  const streamed = (fields: string, body: string, failing: boolean): Candidate =>
    r.minor === 0
      ? {
        ...own(
          `${line}${fields}${DATE}Connection: close\r\n\r\n`,
          headOnly ? { kind: "none" } : { kind: "close" },
          headOnly ? "" : body,
          failing,
        ),
        mode: "close",
        streamed: true,
      }
      : {
        ...own(
          `${line}${fields}${DATE}Transfer-Encoding: chunked\r\n${conn}\r\n`,
          headOnly ? { kind: "none" } : { kind: "chunked" },
          headOnly ? "" : body,
          failing,
        ),
        streamed: true,
      };
  const sized = (fields: string, body: string): Candidate =>
    own(
      `${line}${fields}${DATE}Content-Length: ${enc.encode(body).length}\r\n${conn}\r\n`,
      headOnly ? { kind: "none" } : { kind: "length", n: body.length },
      headOnly ? "" : body,
    );
  switch (a.kind) {
    case "text":
      return [sized(fieldLines(tag, a.fields, "text/plain;charset=UTF-8"), a.text)];
    case "bytes":
    case "view":
    case "buffer":
      return [sized(fieldLines(tag, a.fields, null), a.text)];
    case "blob": {
      // A Blob's size is known, yet its stream may not answer at once: streamed, or not.
      const fields = fieldLines(tag, a.fields, null);
      return [sized(fields, a.text), streamed(fields, a.text, false)];
    }
    case "json":
      return [sized(
        fieldLines(tag, NO_FIELDS, "application/json"),
        JSON.stringify(a.value),
      )];
    case "null":
    case "redirect": {
      const fields = a.kind === "null" ? fieldLines(tag, a.fields, null) : `location: ${a.to}\r\n`;
      if (status === 204 || status === 304) {
        return [own(`${line}${fields}${DATE}${conn}\r\n`, { kind: "none" }, "")];
      }
      const stated = a.kind === "null" && a.fields.length !== null ? a.fields.length : null;
      const length = !headOnly || status === 205
        ? "Content-Length: 0\r\n"
        : stated !== null
        ? `Content-Length: ${stated}\r\n`
        : "";
      return [own(`${line}${fields}${DATE}${length}${conn}\r\n`, { kind: "none" }, "")];
    }
    case "stream": {
      const fields = fieldLines(tag, a.fields, null);
      const body = streamText(a);
      const out: Candidate[] = [];
      if (a.end === "close") out.push(sized(fields, body));
      const fails = a.end === "error" || a.end === "badChunk";
      if (!readyAtOnce(a)) out.push(streamed(fields, body, fails && !headOnly));
      return out;
    }
    case "echo": {
      const fields = fieldLines(tag, NO_FIELDS, null);
      if (r.body === null) {
        const length = headOnly ? "" : "Content-Length: 0\r\n";
        return [own(`${line}${fields}${DATE}${length}${conn}\r\n`, { kind: "none" }, "")];
      }
      return [sized(fields, r.body.data), streamed(fields, r.body.data, false)];
    }
    default:
      return [];
  }
}

const NO_FIELDS: FieldsSpec = { type: null, cookies: [], length: null, extra: false };

// ---- running it ----

/** Thrown by handlers and streams told to fail: their own failures, for onError. */
export class FetchFail extends Error {
  override name = "FetchFail";
  readonly conn: number;
  readonly index: number;
  constructor(conn: number, index: number, where: string) {
    super(`${where} ${label(index, conn)} fails`);
    this.conn = conn;
    this.index = index;
  }
}

/** What a stream answered with did, as its producer saw it. */
interface StreamState {
  state: "open" | "closed" | "errored" | "cancelled";
  pulling: boolean;
  pullAfterCancel: boolean;
  /** It failed with its request's signal's reason. */
  stoppedOnAbort: boolean;
}

/** What happened to one request's handler. */
interface FetchRecord {
  called: boolean;
  settled: boolean;
  settledSeq: number;
  /** Its signal had aborted by the time it settled. */
  abortedEarly: boolean;
  request: Request | null;
  body: string | null;
  bodyFailed: string | null;
  stoppedOnAbort: boolean;
  stream: StreamState | null;
  reported: number;
}

/** A matched answer in the output. */
interface Slot {
  kind: "own" | "fail500" | "error";
  status: number;
  mode: Mode;
  at: number;
  /** Where it ends in the output (cut short: where the output does). */
  end: number;
  partial: boolean;
  failing: boolean;
  streamed: boolean;
}

/** How `fetchHandler` is set up as `serve()` sets it up on this runtime. */
const RUNTIME = detectRuntime();
const READY = {
  lazy: RUNTIME === "node",
  keepBytes: RUNTIME === "bun" ? 1024 * 1024 : undefined,
};

/** The most a transport hands over at once. */
const READ_SIZE = 4096;

/**
 * What binks reports of a handler's mistakes it finds itself: a value that is no Response, a
 * body chunk that is no Uint8Array (the handler's own failures, as its throws are).
 */
function handlerMistake(error: unknown): boolean {
  return error instanceof TypeError &&
    (error.message.startsWith("a fetch handler must return a Response") ||
      error.message.startsWith("a Response body chunk must be a Uint8Array"));
}

/** A server of fetch handlers shared by several connections, each a FetchRun. */
interface SharedFetch {
  server: HttpServer;
  conn: number;
  access: AccessSink;
}

/** One connection to a server of fetch handlers: its own, or one it shares. */
class FetchRun {
  readonly violations: string[] = [];
  readonly run: Run;
  readonly server: HttpServer;
  readonly records: FetchRecord[];
  /** What reached onError: this connection's FetchFails, or on a server of its own, all. */
  readonly errors: unknown[] = [];
  readonly conn: number;
  /** The server's access log (shared: every connection's lines). */
  readonly access: AccessSink;
  private readonly s: FetchScenario;
  private readonly options: ModelOptions;
  private readonly clock: VirtualClock;
  shutdownAt = -1;
  private shutDown = false;
  private readonly timersBefore: number = timers.size;

  constructor(s: FetchScenario, options: ModelOptions, clock: VirtualClock, shared?: SharedFetch) {
    this.s = s;
    this.options = options;
    this.clock = clock;
    this.conn = shared?.conn ?? 0;
    this.access = shared?.access ?? new AccessSink();
    this.server = shared?.server ?? new HttpServer({
      handler: fetchHandler((request) => this.fetch(request, this.index(request)), {
        ready: READY,
      }),
      lingerMs: options.lingerMs,
      timeouts: options.timeouts,
      limits: { maxPipelined: s.maxPipelined, maxInflight: s.maxInflight },
      onError: (error) => this.errors.push(error),
      accessLog: this.access.write,
    });
    const requests = s.requests.map(asRequestSpec);
    // A transport reads at most so much at a time (the reused buffer of Deno's adapter too).
    const length = requests.reduce((n, r, i) => n + requestText(r, i, this.conn).length, 0);
    const reads: number[] = [];
    const size = s.readSize ?? READ_SIZE;
    for (let at = size; at < length; at += size) reads.push(at);
    const scenario: Scenario = { ...s, requests, cuts: [...s.cuts, ...reads], actions: [] };
    this.run = new Run(scenario, options, clock, {
      server: this.server,
      conn: this.conn,
      access: this.access,
    });
    // As on a shared server (see Run): a shutdown's grace cuts the connection while its
    // handlers may still answer, before the close is reported; such writes go nowhere.
    this.records = s.requests.map(() => ({
      called: false,
      settled: false,
      settledSeq: -1,
      abortedEarly: false,
      request: null,
      body: null,
      bodyFailed: null,
      stoppedOnAbort: false,
      stream: null,
      reported: 0,
    }));
  }

  violation(what: string): void {
    this.violations.push(what);
    this.run.log.push(`VIOLATION ${this.violations.length}`);
  }

  settle(): Promise<void> {
    return this.run.settle();
  }

  private wait(delay: Delay): Promise<void> | null {
    if (delay.kind === "sync") return null;
    if (delay.kind === "micro") {
      return (async () => {
        for (let k = 0; k < delay.n; k++) await null;
      })();
    }
    return new Promise<void>((resolve) => {
      const gate: Gate = {
        opened: false,
        open: () => {
          gate.opened = true;
          resolve();
        },
      };
      this.run.gates.push(gate);
    });
  }

  // ---- the fetch handler ----

  /** What names request `i` of this connection (its target, its answer's `x-req`). */
  tag(i: number): string {
    return label(i, this.conn);
  }

  /** The number of the request of this connection `request` is, or -1. */
  index(request: Request): number {
    const m = /^\/rc(\d+)\.(\d+)$/.exec(new URL(request.url).pathname);
    return m === null || Number(m[1]) !== this.conn ? -1 : Number(m[2]);
  }

  /** The fetch handler, for request `i` of this connection. */
  fetch(request: Request, i: number): Response | Promise<Response> {
    const r = this.s.requests[i];
    if (r === undefined) {
      this.violation(`a handler called for ${request.url}, which no client sent`);
      return new Response(null);
    }
    const rec = this.records[i]!;
    this.run.log.push(`fetch ${i}`);
    if (rec.called) this.violation(`handler ${i} called twice`);
    if (i > 0 && !this.records[i - 1]!.called) this.violation(`handler ${i} called out of order`);
    if (request.method !== r.method) {
      this.violation(`handler ${i} got method ${request.method}, sent ${r.method}`);
    }
    rec.called = true;
    rec.request = request;
    const h = r.handler;
    const done = () => {
      rec.settled = true;
      rec.settledSeq = this.run.tick();
      rec.abortedEarly = request.signal.aborted;
    };
    if (h.read === "ignore" && h.delay.kind === "sync") {
      try {
        return this.answer(i, request);
      } finally {
        done();
      }
    }
    const work = async (): Promise<Response> => {
      try {
        if (h.readFirst) await this.read(i, request);
        const waiting = this.wait(h.delay);
        if (waiting !== null) {
          if (h.watchSignal) await stopOnAbort(waiting, request.signal);
          else await waiting;
        }
        if (!h.readFirst) await this.read(i, request);
        return await this.answer(i, request);
      } catch (err) {
        if (request.signal.aborted && err === request.signal.reason) rec.stoppedOnAbort = true;
        throw err;
      }
    };
    return work().finally(done);
  }

  private async read(i: number, request: Request): Promise<void> {
    const rec = this.records[i]!;
    const h = this.s.requests[i]!.handler;
    switch (h.read) {
      case "ignore":
        return;
      case "cancel":
        await request.body?.cancel().catch(() => {});
        return;
      case "text":
        try {
          rec.body = await request.text();
        } catch {
          rec.bodyFailed = "";
        }
        return;
      case "copy":
        try {
          rec.body = await new Request(request).text();
        } catch {
          rec.bodyFailed = "";
        }
        return;
      case "arrayBuffer":
        try {
          rec.body = latin1.decode(new Uint8Array(await request.arrayBuffer()));
        } catch {
          rec.bodyFailed = "";
        }
        return;
      case "reader": {
        let seen = "";
        try {
          const reader = request.body?.getReader();
          for (;;) {
            if (reader === undefined) break;
            if (h.readGates) await this.wait({ kind: "gate" });
            const step = await reader.read();
            if (step.done) break;
            seen += latin1.decode(step.value);
          }
          rec.body = seen;
        } catch {
          rec.bodyFailed = seen;
        }
        return;
      }
      case "iterate": {
        let seen = "";
        try {
          const body = request.body as AsyncIterable<Uint8Array> | null;
          if (body !== null) { for await (const piece of body) seen += latin1.decode(piece); }
          rec.body = seen;
        } catch {
          rec.bodyFailed = seen;
        }
        return;
      }
    }
  }

  /** The Response (or the failure) request `i`'s spec says. */
  private answer(i: number, request: Request): Response | Promise<Response> {
    const a = this.s.requests[i]!.handler.answer;
    switch (a.kind) {
      case "throw":
        throw new FetchFail(this.conn, i, "handler");
      case "reject":
        return Promise.reject(new FetchFail(this.conn, i, "handler"));
      case "notResponse":
        return { status: 200, body: `${i}` } as unknown as Response;
      case "text":
        return new Response(a.text, {
          status: a.status,
          headers: fieldsInit(this.tag(i), a.fields),
        });
      case "bytes":
      case "view":
      case "buffer": {
        const bytes = enc.encode(a.text);
        const room = new Uint8Array(bytes.length + 6).fill(0x23);
        room.set(bytes, 3);
        const view = room.subarray(3, 3 + bytes.length);
        const body = a.kind === "bytes" ? bytes : a.kind === "view" ? view : view.slice().buffer;
        const response = new Response(body, {
          status: a.status,
          headers: fieldsInit(this.tag(i), a.fields),
        });
        // What the Response was made from changes afterwards: not what it sends.
        bytes.fill(0x21);
        room.fill(0x21);
        if (body instanceof ArrayBuffer) new Uint8Array(body).fill(0x21);
        return response;
      }
      case "blob":
        return new Response(new Blob([a.text]), {
          status: a.status,
          headers: fieldsInit(this.tag(i), a.fields),
        });
      case "null":
        return new Response(null, { status: a.status, headers: fieldsInit(this.tag(i), a.fields) });
      case "json":
        return Response.json(a.value, { status: a.status, headers: [["X-Req", this.tag(i)]] });
      case "redirect":
        return Response.redirect(a.to, a.status as 302);
      case "echo":
        return new Response(request.body, { headers: [["X-Req", this.tag(i)]] });
      case "stream":
        return new Response(this.stream(i, a, request), {
          status: a.status,
          headers: fieldsInit(this.tag(i), a.fields),
        });
    }
    void request;
  }

  private stream(
    i: number,
    a: AnswerSpec & { kind: "stream" },
    request: Request,
  ): ReadableStream<Uint8Array> {
    const watch = this.s.requests[i]!.handler.watchSignal;
    const st: StreamState = {
      state: "open",
      pulling: false,
      pullAfterCancel: false,
      stoppedOnAbort: false,
    };
    this.records[i]!.stream = st;
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => stop = resolve);
    const pieces = a.pieces;
    const live = () => st.state === "open";
    const finish = (
      controller: ReadableStreamDefaultController<Uint8Array>,
    ): Promise<void> | void => {
      if (a.end === "close") {
        st.state = "closed";
        controller.close();
      } else if (a.end === "error") {
        st.state = "errored";
        controller.error(new FetchFail(this.conn, i, "stream"));
      } else {
        // The bad chunk is the producer's last word; it stays open until it is cancelled.
        if (a.end === "badChunk") controller.enqueue("not bytes" as unknown as Uint8Array);
        return stopped;
      }
    };
    const cancel = () => {
      if (st.state === "open") st.state = "cancelled";
      stop();
    };
    /** Wait before a piece; one that watches the signal fails with its reason once it aborts. */
    const pause = async (
      delay: Delay,
      controller: ReadableStreamDefaultController<Uint8Array>,
    ): Promise<boolean> => {
      const waiting = this.wait(delay);
      if (waiting === null) return true;
      if (!watch) {
        await waiting;
        return true;
      }
      try {
        await stopOnAbort(waiting, request.signal);
        return true;
      } catch (reason) {
        if (live()) {
          st.state = "errored";
          st.stoppedOnAbort = true;
          controller.error(reason);
        }
        return false;
      }
    };
    if (a.source === "pull") {
      let k = 0;
      return new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          if (!live()) {
            st.pullAfterCancel = true;
            return;
          }
          st.pulling = true;
          try {
            if (k >= pieces.length) {
              await finish(controller);
              return;
            }
            const piece = pieces[k++]!;
            if (!await pause(piece.delay, controller)) return;
            if (live()) controller.enqueue(enc.encode(piece.text));
          } finally {
            st.pulling = false;
          }
        },
        cancel,
      });
    }
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const produce = async () => {
          for (const piece of pieces) {
            if (!await pause(piece.delay, controller)) return;
            if (!live()) return;
            controller.enqueue(enc.encode(piece.text));
          }
          if (live()) await finish(controller);
        };
        void produce();
      },
      cancel,
    });
  }

  // ---- the schedule ----

  private act(a: Action): Promise<void> {
    if (a.kind !== "shutdown") return this.run.act(a);
    if (this.shutdownAt >= 0 || !this.run.beginDrain()) return Promise.resolve();
    this.run.log.push(`shutdown(${this.s.grace})`);
    this.shutdownAt = this.clock.now;
    this.server.shutdown(this.s.grace).then(
      () => this.shutDown = true,
      (err) => this.violation(`shutdown failed: ${err}`),
    );
    return Promise.resolve();
  }

  private async quiesce(): Promise<void> {
    for (let round = 0; round < 500; round++) {
      let moved = this.run.openGates();
      if (this.run.drain()) moved = true;
      if (this.run.deliver()) moved = true;
      await this.run.settle();
      if (moved || !this.run.still()) continue;
      await new Promise((resolve) => setImmediate(resolve));
      if (this.run.still()) return;
    }
    this.violation("the run did not settle in 500 rounds");
  }

  private async passTime(ms: number): Promise<void> {
    await this.clock.advance(ms + timers.resolution, this.run.settle);
  }

  /** The client leaves by going quiet, not with a FIN (one whose answer never ends, can't). */
  idles(): boolean {
    return this.s.ending === "idle" && !this.endless();
  }

  /** Some answer never ends: the client has to leave, with a FIN. */
  private endless(): boolean {
    return this.s.requests.some((r) =>
      r.handler.answer.kind === "stream" && r.handler.answer.end === "never"
    );
  }

  async go(): Promise<void> {
    const run = this.run;
    run.accept();
    for (const a of this.s.actions) await this.act(a);
    await this.quiesce();
    // Behind an answer that never ends, input may wait for good.
    if (run.stuck() && !this.endless()) {
      this.violation("input paused for good: nothing left to unblock it");
    }
    const fin = this.s.ending === "fin" || this.endless();
    if (fin) run.fin();
    else await this.passTime(this.options.timeouts.keepAliveMs + 1);
    await this.quiesce();
    if (!run.gone() && run.t.endedAt < 0 && run.t.closedAt < 0) {
      this.violation("the connection never ended");
    }
    if (!fin) await this.passTime(this.options.lingerMs + 1);
    run.fin();
    await this.quiesce();
    run.notifyClose();
    await this.quiesce();
    if (this.shutdownAt >= 0 && !this.shutDown) this.violation("shutdown() never finished");
    this.server.accessLog?.flush();
    this.check();
  }

  // ---- checks ----

  private timed(): boolean {
    const to = this.options.timeouts;
    return this.run.elapsed >=
      Math.min(to.keepAliveMs, to.headMs, to.bodyMs, to.handlerMs, to.sendMs);
  }

  /** What is checked of this connection; the non-Responses reported are counted by the caller. */
  checkConnection(): NotResponses {
    for (const v of this.run.violations) this.violation(`connection: ${v}`);
    const slots = this.match();
    this.checkClosing(slots);
    this.checkHandlers(slots);
    this.checkAccessLog(slots);
    return this.checkErrors(slots);
  }

  /** The connection's access-log lines, against its output (see test/model/access.ts). */
  private checkAccessLog(slots: Slot[]): void {
    const remote = this.run.t.remoteAddress;
    const firstUncalled = this.records.findIndex((rec) => !rec.called);
    checkAccess({
      lines: this.access.of(remote),
      remote,
      output: latin1.decode(this.run.t.bytes()),
      requests: this.s.requests.map((r, i) => ({
        method: r.method,
        target: `/r${this.tag(i)}`,
        called: this.records[i]!.called,
      })),
      answers: slots,
      mayRefuseUnanswered: firstUncalled >= 0 &&
        this.run.delivered > this.run.starts[firstUncalled]!,
    }, (what) => this.violation(what));
  }

  private check(): void {
    for (const fault of this.access.faults) this.violation(`access log: ${fault}`);
    const counts = this.checkConnection();
    checkNotResponses(counts, (what) => this.violation(what));
    if (timers.size > this.timersBefore) {
      this.violation(`${timers.size - this.timersBefore} timers left after the close`);
    }
    if (this.server.connections !== 0) this.violation("the server still counts the connection");
    if (this.server.running !== 0) this.violation(`${this.server.running} handler slots held`);
    if (this.server.scope.size !== 0) this.violation("the scope still owns the connection");
  }

  /** The connection ended with a FIN from the server, not cut. */
  private cleanEnd(): boolean {
    const t = this.run.t;
    return t.endedAt >= 0 && (t.closedAt < 0 || t.endedAt < t.closedAt);
  }

  private match(): Slot[] {
    const text = latin1.decode(this.run.t.bytes()).replace(DATE_LINE, DATE);
    const slots: Slot[] = [];
    const to = this.options.timeouts;
    let pos = 0;
    let continued = -1;
    while (pos < text.length) {
      const k = slots.length;
      const r = this.s.requests[k];
      if (r === undefined) {
        this.violation(`bytes after the last answer: ${JSON.stringify(text.slice(pos, pos + 80))}`);
        break;
      }
      const rec = this.records[k]!;
      const headOnly = r.method === "HEAD";
      const modes: Mode[] = keepsAlive(r)
        ? [r.minor === 0 ? "keep10" : "keep", "close"]
        : ["close"];
      if (r.expect && text.startsWith(CONTINUE, pos)) {
        const reads = r.handler.read !== "ignore" && r.handler.read !== "cancel" ||
          r.handler.answer.kind === "echo";
        if (!reads || continued === k) {
          this.violation(`a 100 Continue to request ${k}, whose handler never asked for the body`);
        }
        continued = k;
        pos += CONTINUE.length;
        continue;
      }
      const candidates: Candidate[] = [];
      if (rec.called) {
        for (const mode of modes) candidates.push(...ownCandidates(r, this.tag(k), mode));
      }
      const a = r.handler.answer;
      const errors: [number, boolean, "fail500" | "error"][] = [
        [400, this.run.finAt >= 0 && this.run.finAt < this.run.ends[k]!, "error"],
        [408, this.run.elapsed >= Math.min(to.headMs, to.bodyMs, to.handlerMs), "error"],
        [503, this.run.elapsed >= to.handlerMs, "error"],
        [500, rec.called && (failureKind(a) || rec.stoppedOnAbort), "fail500"],
        // So is a stream that stopped on the signal before the head went out.
        [500, rec.stream?.stoppedOnAbort === true, "error"],
        // An echo whose body the client stopped sending fails.
        [500, rec.called && a.kind === "echo" && this.disturbed(), "error"],
      ];
      for (const [status, may, kind] of errors) {
        if (!may) continue;
        const errorModes: Mode[] = status === 400 || status === 408 ? ["close"] : modes;
        for (const mode of errorModes) {
          candidates.push({
            head: errorText(status, status !== 408 && headOnly, mode),
            framing: { kind: "none" },
            body: "",
            kind,
            status,
            mode,
            failing: false,
          });
        }
      }
      const found = candidates.find((c) => text.startsWith(c.head, pos));
      if (found === undefined) {
        const rest = text.slice(pos);
        if (candidates.some((c) => c.head.startsWith(rest))) {
          slots.push({
            kind: "own",
            status: 0,
            mode: "keep",
            at: pos,
            end: text.length,
            partial: true,
            failing: false,
            streamed: false,
          });
          break;
        }
        this.violation(
          `answer ${k} is none of those allowed: ${JSON.stringify(rest.slice(0, 300))}\n` +
            `  allowed: ${candidates.map((c) => JSON.stringify(c.head)).join("\n    ")}`,
        );
        break;
      }
      const at = pos;
      pos += found.head.length;
      const body = readBody(text, pos, found.framing, this.cleanEnd());
      if (body.bad !== undefined) {
        this.violation(`answer ${k}: ${body.bad}: ${JSON.stringify(text.slice(pos, pos + 200))}`);
        break;
      }
      pos = body.next;
      const expected = found.body;
      if (body.complete ? body.data !== expected : !expected.startsWith(body.data)) {
        this.violation(
          `answer ${k}'s body is ${JSON.stringify(body.data.slice(0, 200))} (${body.data.length}` +
            ` bytes), its Response's ${
              JSON.stringify(expected.slice(0, 200))
            } (${expected.length})`,
        );
      }
      if (body.complete && found.failing) {
        this.violation(`answer ${k} is a stream that failed, yet it went out as complete`);
      }
      slots.push({
        kind: found.kind,
        status: found.status,
        mode: found.mode,
        at,
        end: body.complete ? pos : text.length,
        partial: !body.complete,
        failing: found.failing,
        streamed: found.streamed === true,
      });
      if (!body.complete) {
        if (pos < text.length) this.violation(`answer ${k} is cut short, yet more follows`);
        break;
      }
    }
    return slots;
  }

  /** The client left (FIN or reset), or the server stopped or timed out. */
  private disturbed(): boolean {
    return this.run.finAt >= 0 || this.run.resetSeq >= 0 || this.shutdownAt >= 0 || this.timed();
  }

  /** The answer to request `k` may end the connection for a reason of its own. */
  private closesOfItself(k: number, slot: Slot): boolean {
    const r = this.s.requests[k]!;
    if (!keepsAlive(r) || slot.kind === "error" && slot.status !== 503) return true;
    if (slot.failing || slot.streamed && r.minor === 0) return true;
    if (slot.kind === "own" && asksClose(r.handler.answer)) return true;
    // An answer that may go out before its body is all in, not read (or sent back as it
    // comes): closed after it. A handler that read it all has it all in.
    const h = r.handler;
    const unread = h.read === "ignore" || h.read === "cancel" || h.answer.kind === "echo" ||
      this.records[k]!.bodyFailed !== null;
    return r.body !== null && r.body.data.length > 0 && unread;
  }

  private checkClosing(slots: Slot[]): void {
    const cleanEnd = this.run.t.closedAt < 0 || this.cleanEnd();
    slots.forEach((slot, k) => {
      if (slot.mode === "close" && !this.closesOfItself(k, slot) && !this.disturbed()) {
        this.violation(`answer ${k} says close with no reason to`);
      }
      if (slot.mode === "close" && k < slots.length - 1) {
        this.violation(`answer ${k} says close, yet answer ${k + 1} follows`);
      }
      if (slot.partial && cleanEnd && this.run.resetSeq < 0) {
        this.violation(`answer ${k} is cut short, yet the connection was ended cleanly`);
      }
      if (slot.partial && slot.failing && this.run.resetSeq < 0 && !this.run.t.cutByServer) {
        this.violation(`answer ${k}, a stream that failed, did not make the server cut`);
      }
    });
    if (this.disturbed()) return;
    // Every request read whole is owed an answer, up to one that ends the connection.
    let owed = 0;
    for (let j = 0; j < this.s.requests.length; j++) {
      const r = this.s.requests[j]!;
      owed = j + 1;
      if (!keepsAlive(r)) break;
      const slot = slots[j];
      if (slot !== undefined && slot.mode === "close") break;
      if (slot !== undefined && slot.partial) break;
      const a = r.handler.answer;
      if (a.kind === "stream" && a.end !== "close" || asksClose(a)) break;
    }
    const answered = slots.filter((s) => !s.partial).length;
    const endless = this.s.requests.slice(0, owed).some((r) =>
      r.handler.answer.kind === "stream" && r.handler.answer.end !== "close"
    );
    if (answered < owed && !endless) {
      this.violation(`${answered} answers, yet ${owed} requests were read whole and owed one`);
    }
  }

  private checkHandlers(slots: Slot[]): void {
    const t = this.run.t;
    const writeSeqAt = (at: number): number => {
      let seq = -1;
      for (const w of t.writes) if (w.at <= at) seq = w.seq;
      return seq;
    };
    const doneSeq = [t.endedAt, t.closedAt, t.notifiedAt]
      .filter((s) => s >= 0).reduce((a, b) => Math.min(a, b), Infinity);
    this.records.forEach((rec, i) => {
      if (!rec.called) return;
      const r = this.s.requests[i]!;
      if (!rec.settled) this.violation(`handler ${i} never settled`);
      const slot = slots[i];
      const own = slot !== undefined && slot.kind === "own" && !slot.partial;
      if (own && rec.abortedEarly && !this.disturbed()) {
        this.violation(`handler ${i}'s signal aborted, yet its client took its answer`);
      }
      const aborted = rec.request!.signal.aborted;
      if (!own && !aborted) {
        const sealed = slot !== undefined ? writeSeqAt(slot.at) : doneSeq;
        if (rec.settledSeq > sealed) {
          this.violation(
            `handler ${i}'s answer was dropped while it ran, and its signal not aborted`,
          );
        }
      }
      if (
        slot?.partial === true && slot.streamed && !slot.failing && !aborted &&
        (this.run.finAt >= 0 || this.run.resetSeq >= 0)
      ) {
        this.violation(
          `the stream answering ${i} was cut as its client left, its signal not aborted`,
        );
      }
      const st = rec.stream;
      if (st !== null) {
        if (st.state === "open") {
          this.violation(`the stream answering ${i} was neither read to its end nor cancelled`);
        }
        if (st.pulling) this.violation(`the stream answering ${i} still has a pull running`);
        if (st.pullAfterCancel) {
          this.violation(`the stream answering ${i} was pulled after it ended`);
        }
      }
      const whole = r.body === null ? "" : r.body.data;
      if (rec.body !== null && rec.body !== whole) {
        this.violation(
          `handler ${i} read ${
            JSON.stringify(rec.body.slice(0, 100))
          } (${rec.body.length} bytes),` +
            ` sent ${JSON.stringify(whole.slice(0, 100))} (${whole.length})`,
        );
      }
      if (rec.bodyFailed !== null) {
        if (!whole.startsWith(rec.bodyFailed)) {
          this.violation(
            `handler ${i} read ${JSON.stringify(rec.bodyFailed)} of ${JSON.stringify(whole)}`,
          );
        }
        if (own && !this.disturbed()) {
          this.violation(`handler ${i}'s body failed for no reason, and it was answered`);
        }
      }
    });
  }

  private checkErrors(slots: Slot[]): NotResponses {
    let notResponses = 0;
    for (const error of this.errors) {
      if (error instanceof FetchFail) {
        const rec = error.conn === this.conn ? this.records[error.index] : undefined;
        if (rec === undefined || !failureKind(this.s.requests[error.index]!.handler.answer)) {
          this.violation(`reported a failure no handler had: ${error.message}`);
        } else rec.reported++;
        continue;
      }
      if (handlerMistake(error)) {
        notResponses++;
        continue;
      }
      if (error instanceof Error && error.name === "Timeout" && this.timed()) continue;
      this.violation(`reported: ${(error as Error)?.stack ?? error}`);
    }
    let owedNotResponses = 0;
    this.records.forEach((rec, i) => {
      if (rec.reported > 1) {
        this.violation(`handler ${i}'s failure was reported ${rec.reported} times`);
      }
      const a = this.s.requests[i]!.handler.answer;
      const slot = slots[i];
      const stopped = rec.stoppedOnAbort || rec.stream?.stoppedOnAbort === true;
      const mistake = a.kind === "notResponse" || a.kind === "stream" && a.end === "badChunk";
      if (slot?.kind === "fail500" && !stopped) {
        if (mistake) owedNotResponses++;
        else if (rec.reported !== 1) {
          this.violation(`handler ${i} failed, answered 500, not reported`);
        }
      }
      if (slot?.partial === true && slot.failing && !rec.request!.signal.aborted && mistake) {
        owedNotResponses++;
      } else if (
        slot?.partial === true && slot.failing && !rec.request!.signal.aborted && rec.reported !== 1
      ) {
        this.violation(`the stream answering ${i} failed midway, and it was not reported`);
      }
    });
    const called = this.records.filter((rec, i) => {
      const a = this.s.requests[i]!.handler.answer;
      return rec.called &&
        (a.kind === "notResponse" || a.kind === "stream" && a.end === "badChunk");
    }).length;
    return { reported: notResponses, owed: owedNotResponses, made: called };
  }
}

/** Non-Responses handlers returned: reported, answered with a 500 (so owed a report), made. */
interface NotResponses {
  reported: number;
  owed: number;
  made: number;
}

function checkNotResponses(n: NotResponses, violation: (what: string) => void): void {
  if (n.reported < n.owed || n.reported > n.made) {
    violation(`${n.reported} non-Responses reported, ${n.owed} answered 500, ${n.made} made`);
  }
}

/** The body at `pos` framed as `framing`: its bytes, whether it is all there, where it ends. */
function readBody(
  text: string,
  pos: number,
  framing: Framing,
  cleanEnd: boolean,
): { data: string; complete: boolean; next: number; bad?: string } {
  switch (framing.kind) {
    case "none":
      return { data: "", complete: true, next: pos };
    case "length": {
      const end = Math.min(text.length, pos + framing.n);
      return { data: text.slice(pos, end), complete: end === pos + framing.n, next: end };
    }
    case "close":
      return { data: text.slice(pos), complete: cleanEnd, next: text.length };
    case "chunked": {
      let data = "";
      let p = pos;
      for (;;) {
        const eol = text.indexOf("\r\n", p);
        if (eol < 0) {
          if (!/^[0-9a-f]*\r?$/.test(text.slice(p))) {
            return { data, complete: false, next: p, bad: "a bad chunk size" };
          }
          return { data, complete: false, next: text.length };
        }
        const line = text.slice(p, eol);
        if (!/^[0-9a-f]+$/.test(line)) {
          return { data, complete: false, next: p, bad: "a bad chunk size" };
        }
        const size = parseInt(line, 16);
        p = eol + 2;
        if (size === 0) {
          if (text.startsWith("\r\n", p)) return { data, complete: true, next: p + 2 };
          if ("\r\n".startsWith(text.slice(p))) return { data, complete: false, next: text.length };
          return { data, complete: false, next: p, bad: "no CRLF after the last chunk" };
        }
        if (p + size > text.length) {
          return { data: data + text.slice(p), complete: false, next: text.length };
        }
        data += text.slice(p, p + size);
        p += size;
        if (text.length - p < 2) {
          if (!"\r\n".startsWith(text.slice(p))) {
            return { data, complete: false, next: p, bad: "a chunk not ended by CRLF" };
          }
          return { data, complete: false, next: text.length };
        }
        if (!text.startsWith("\r\n", p)) {
          return { data, complete: false, next: p, bad: "a chunk not ended by CRLF" };
        }
        p += 2;
      }
    }
  }
}

/** The result of one run. */
export type FetchOutcome = Outcome;

const clock = new VirtualClock();

/** Run `s` against a fresh server of fetch handlers on the virtual clock. */
export async function runFetchScenario(
  s: FetchScenario,
  options: ModelOptions,
): Promise<FetchOutcome> {
  const run = await onClock(clock, () => new FetchRun(s, options, clock));
  return {
    violations: run.violations,
    log: run.run.log,
    output: latin1.decode(run.run.t.bytes()),
  };
}

// ---- several connections ----

/** What one step of a shared schedule does: as in the server model. */
export type FetchServerAction = ServerAction;

/** Several connections to one server of fetch handlers, all there from the start. */
export interface FetchServerScenario {
  /** Each connection's requests, cuts and transport (their actions and limits are not used). */
  conns: FetchScenario[];
  actions: FetchServerAction[];
  maxInflight: number;
  maxPipelined: number;
  grace: number;
}

class FetchServerRun {
  readonly violations: string[] = [];
  readonly log: string[] = [];
  readonly server: HttpServer;
  readonly runs: FetchRun[];
  private readonly others: unknown[] = [];
  private readonly access = new AccessSink();
  private readonly s: FetchServerScenario;
  private readonly options: ModelOptions;
  private readonly clock: VirtualClock;
  private shutdownAt = -1;
  private shutDown = false;
  private readonly timersBefore: number = timers.size;

  constructor(s: FetchServerScenario, options: ModelOptions, clock: VirtualClock) {
    this.s = s;
    this.options = options;
    this.clock = clock;
    this.server = new HttpServer({
      handler: fetchHandler((request) => this.fetch(request), { ready: READY }),
      lingerMs: options.lingerMs,
      timeouts: options.timeouts,
      limits: { maxPipelined: s.maxPipelined, maxInflight: s.maxInflight },
      onError: (error) => {
        if (error instanceof FetchFail && this.runs[error.conn] !== undefined) {
          this.runs[error.conn]!.errors.push(error);
        } else this.others.push(error);
      },
      accessLog: this.access.write,
    });
    this.runs = s.conns.map((c, k) =>
      new FetchRun(c, options, clock, { server: this.server, conn: k, access: this.access })
    );
  }

  private fetch(request: Request): Response | Promise<Response> {
    const m = /^\/rc(\d+)\./.exec(new URL(request.url).pathname);
    const run = m === null ? undefined : this.runs[Number(m[1])];
    if (run === undefined) {
      this.violations.push(`a handler called for ${request.url}, which no client sent`);
      return new Response(null);
    }
    return run.fetch(request, run.index(request));
  }

  readonly settle = async (): Promise<void> => {
    for (let i = 0; i < 40; i++) await null;
  };

  private async act(a: FetchServerAction): Promise<void> {
    switch (a.kind) {
      case "on": {
        const run = this.runs[a.conn % this.runs.length]!;
        this.log.push(`${run.conn}: ${a.action.kind}`);
        if (a.action.kind === "shutdown") return;
        await run.run.act(a.action);
        return;
      }
      case "gate": {
        const shut = this.runs.flatMap((r) => r.run.gates.filter((g) => !g.opened));
        if (shut.length > 0) shut[a.pick % shut.length]!.open();
        return;
      }
      case "micro":
        for (let i = 0; i < a.n; i++) await null;
        return;
      case "time":
        this.log.push(`time ${a.ms}`);
        for (const r of this.runs) r.run.elapsed += a.ms;
        await this.clock.advance(a.ms, this.settle);
        return;
      case "shutdown": {
        if (this.shutdownAt >= 0) return;
        this.log.push(`shutdown(${this.s.grace})`);
        this.shutdownAt = this.clock.now;
        for (const r of this.runs) {
          r.run.beginDrain();
          r.shutdownAt = this.clock.now;
        }
        this.server.shutdown(this.s.grace).then(
          () => this.shutDown = true,
          (err) => this.violations.push(`shutdown failed: ${err}`),
        );
        return;
      }
    }
  }

  private async quiesce(): Promise<void> {
    const still = () => this.runs.every((r) => r.run.still());
    for (let round = 0; round < 500; round++) {
      let moved = false;
      for (const r of this.runs) {
        if (r.run.openGates()) moved = true;
        if (r.run.drain()) moved = true;
        if (r.run.deliver()) moved = true;
      }
      await this.settle();
      if (moved || !still()) continue;
      await new Promise((resolve) => setImmediate(resolve));
      if (still()) return;
    }
    this.violations.push("the run did not settle in 500 rounds");
  }

  violation(what: string): void {
    this.violations.push(what);
  }

  async go(): Promise<void> {
    for (const r of this.runs) r.run.accept();
    for (const a of this.s.actions) await this.act(a);
    await this.quiesce();
    // Each client leaves: with a FIN, or by going quiet (one whose answer never ends, a FIN).
    const idle = this.runs.filter((r) => r.idles());
    for (const r of this.runs) if (!r.idles()) r.run.fin();
    await this.settle();
    if (idle.length > 0) {
      await this.clock.advance(
        this.options.timeouts.keepAliveMs + 1 + timers.resolution,
        this.settle,
      );
    }
    await this.quiesce();
    for (const r of this.runs) {
      const t = r.run.t;
      if (!r.run.gone() && t.endedAt < 0 && t.closedAt < 0) {
        this.violations.push(`connection ${r.conn} never ended`);
      }
    }
    if (idle.length > 0) {
      await this.clock.advance(this.options.lingerMs + 1 + timers.resolution, this.settle);
    }
    for (const r of this.runs) r.run.fin();
    await this.quiesce();
    for (const r of this.runs) r.run.notifyClose();
    await this.quiesce();
    if (this.shutdownAt >= 0 && !this.shutDown) this.violations.push("shutdown() never finished");
    this.server.accessLog?.flush();
    this.check();
  }

  private check(): void {
    for (const fault of this.access.faults) this.violations.push(`access log: ${fault}`);
    const total: NotResponses = { reported: 0, owed: 0, made: 0 };
    for (const r of this.runs) {
      const n = r.checkConnection();
      total.owed += n.owed;
      total.made += n.made;
      for (const v of r.violations) this.violations.push(`connection ${r.conn}: ${v}`);
    }
    const to = this.options.timeouts;
    const timed = this.runs[0]!.run.elapsed >=
      Math.min(to.keepAliveMs, to.headMs, to.bodyMs, to.handlerMs, to.sendMs);
    for (const error of this.others) {
      if (handlerMistake(error)) total.reported++;
      else if (!(error instanceof Error && error.name === "Timeout" && timed)) {
        this.violations.push(`reported: ${(error as Error)?.stack ?? error}`);
      }
    }
    checkNotResponses(total, (what) => this.violations.push(what));
    if (timers.size > this.timersBefore) {
      this.violations.push(`${timers.size - this.timersBefore} timers left at the end`);
    }
    if (this.server.connections !== 0) {
      this.violations.push(`the server still counts ${this.server.connections} connections`);
    }
    if (this.server.running !== 0) {
      this.violations.push(`${this.server.running} handler slots held at the end`);
    }
    if (this.server.scope.size !== 0) this.violations.push("the scope still owns connections");
  }
}

/** The result of a run of several connections. */
export interface FetchServerOutcome {
  violations: string[];
  log: string[];
  outputs: string[];
}

/** Run `s` against a fresh server of fetch handlers on the virtual clock. */
export async function runFetchServerScenario(
  s: FetchServerScenario,
  options: ModelOptions,
): Promise<FetchServerOutcome> {
  const run = await onClock(clock, () => new FetchServerRun(s, options, clock));
  return {
    violations: run.violations,
    log: [...run.log, ...run.runs.map((r) => `-- ${r.conn}: ${r.run.log.join(", ")}`)],
    outputs: run.runs.map((r) => latin1.decode(r.run.t.bytes())),
  };
}

// ---- generators ----

const textArb = fc.string({ unit: fc.constantFrom(..."abcdefxyz0123456789"), maxLength: 24 });

/** A body or an answer, now and then long: past the chunks input comes in, past the limits. */
const sizedTextArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: textArb },
  {
    weight: 2,
    arbitrary: fc.tuple(textArb, fc.constantFrom(5000, 20000, 70000)).map(([seed, n]) =>
      (seed + "0123456789abcdefghijklmnopqrstuvwxyz").repeat(Math.ceil(n / 36)).slice(0, n)
    ),
  },
);

const fieldsArb: fc.Arbitrary<FieldsSpec> = fc.record({
  type: fc.constantFrom(null, null, "text/html", "application/octet-stream"),
  cookies: fc.array(fc.constantFrom("a=1; Path=/", "b=2, c=3", "id=x; HttpOnly"), {
    maxLength: 3,
  }),
  length: fc.constantFrom(null, null, null, "0", "5", "77"),
  extra: fc.boolean(),
  hop: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

const bodyStatusArb = fc.constantFrom(200, 200, 200, 201, 404);

const answerArb: fc.Arbitrary<AnswerSpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "text" as const,
        "text" as const,
        "bytes" as const,
        "view" as const,
        "buffer" as const,
        "blob" as const,
      ),
      status: bodyStatusArb,
      text: sizedTextArb,
      fields: fieldsArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("null" as const),
      status: fc.constantFrom(200, 204, 205, 304, 404),
      fields: fieldsArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("json" as const),
      status: bodyStatusArb,
      value: fc.oneof(fc.constant({ a: [1, "x"] }), fc.constant(null), textArb),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("redirect" as const),
      status: fc.constantFrom(301, 302, 303, 307, 308),
      to: fc.constantFrom("http://model/next", "http://model/a?b=c"),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("stream" as const),
      status: bodyStatusArb,
      fields: fieldsArb,
      source: fc.constantFrom("pull" as const, "start" as const),
      pieces: fc.array(fc.record({ text: sizedTextArb, delay: delayArb }), { maxLength: 4 }),
      end: fc.constantFrom(
        "close" as const,
        "close" as const,
        "close" as const,
        "error" as const,
        "never" as const,
        "badChunk" as const,
      ),
    }),
  },
  { weight: 2, arbitrary: fc.constant<AnswerSpec>({ kind: "echo" }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom("throw" as const, "reject" as const, "notResponse" as const),
    }),
  },
);

const handlerArb: fc.Arbitrary<FetchHandlerSpec> = fc.record({
  read: fc.constantFrom<ReadStyle>(
    "ignore",
    "text",
    "arrayBuffer",
    "reader",
    "iterate",
    "cancel",
    "copy",
  ),
  readGates: fc.boolean(),
  readFirst: fc.boolean(),
  delay: delayArb,
  watchSignal: fc.boolean(),
  answer: answerArb,
});

/** A request body: short mostly; now and then past the chunks it comes in, or the high water. */
const bodyArb = fc.tuple(
  fc.oneof(
    { weight: 10, arbitrary: textArb },
    {
      weight: 2,
      arbitrary: fc.tuple(textArb, fc.constantFrom(3000, 40000, 300_000)).map(([seed, n]) =>
        (seed + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789").repeat(Math.ceil(n / 36)).slice(0, n)
      ),
    },
  ),
  fc.boolean(),
  fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 4 }),
).map(([data, chunked, weights]): NonNullable<FetchRequestSpec["body"]> => {
  if (!chunked || data.length === 0) return { framing: "length", data };
  // The data cut into chunks in the proportions drawn, none empty.
  const total = weights.reduce((a, b) => a + b, 0);
  const chunks: number[] = [];
  let left = data.length;
  for (const w of weights) {
    const size = Math.min(left, Math.max(1, Math.floor(data.length * w / total)));
    if (size > 0) chunks.push(size);
    left -= size;
  }
  if (left > 0) chunks.push(left);
  return { framing: "chunked", data, chunks };
});

export const fetchRequestArb: fc.Arbitrary<FetchRequestSpec> = fc.record({
  method: fc.constantFrom("GET" as const, "HEAD" as const, "POST" as const, "POST" as const),
  minor: fc.constantFrom<0 | 1>(1, 1, 1, 1, 1, 1, 1, 0),
  connection: fc.constantFrom<FetchRequestSpec["connection"]>(
    ...Array<"none">(8).fill("none"),
    "close",
    "keep-alive",
  ),
  body: bodyArb,
  expect: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  handler: handlerArb,
}).map((r): FetchRequestSpec => {
  let body = r.method === "POST" ? r.body : null;
  if (body?.framing === "chunked" && r.minor === 0) body = { framing: "length", data: body.data };
  // An echo sends the body on: its handler does not read it first.
  const handler = r.handler.answer.kind === "echo"
    ? { ...r.handler, read: "ignore" as const }
    : r.handler;
  return { ...r, body, handler, expect: r.expect && body !== null && r.minor === 1 };
});

/** Whole runs, with actions drawn by `weights`. */
export function fetchScenarioArb(
  weights: Record<Action["kind"], number>,
): fc.Arbitrary<FetchScenario> {
  return fc.record({
    requests: fc.array(fetchRequestArb, { minLength: 1, maxLength: 5 }),
    cuts: fc.array(fc.nat(1 << 30), { maxLength: 14 }),
    actions: fc.array(actionArb(weights), { maxLength: 40 }),
    freshChunks: fc.boolean(),
    keepBorrowed: fc.boolean(),
    leakyPause: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    maxPipelined: fc.constantFrom(1, 2, 64),
    maxInflight: fc.constantFrom(1, 2, 1000),
    ending: fc.constantFrom("fin" as const, "idle" as const),
    grace: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 200 })),
    readSize: fc.constantFrom(READ_SIZE, READ_SIZE, 65536),
  }).map((s) => ({ ...s, readSize: s.freshChunks ? s.readSize : READ_SIZE }));
}

/** Runs of 2 or 3 connections on one server, with steps drawn by `weights`. */
export function fetchServerScenarioArb(
  weights: Record<Action["kind"], number>,
): fc.Arbitrary<FetchServerScenario> {
  const on = (kind: "deliver" | "full" | "drain" | "fin" | "reset") => ({
    weight: weights[kind],
    arbitrary: fc.nat(2).map((conn): FetchServerAction => ({ kind: "on", conn, action: { kind } })),
  });
  const step = fc.oneof(
    ...[
      on("deliver"),
      on("full"),
      on("drain"),
      on("fin"),
      on("reset"),
      {
        weight: weights.micro,
        arbitrary: fc.integer({ min: 1, max: 8 }).map((n): FetchServerAction => ({
          kind: "micro",
          n,
        })),
      },
      {
        weight: weights.gate,
        arbitrary: fc.nat(15).map((pick): FetchServerAction => ({ kind: "gate", pick })),
      },
      {
        weight: weights.time,
        arbitrary: fc.integer({ min: 1, max: 60 }).map((ms): FetchServerAction => ({
          kind: "time",
          ms,
        })),
      },
      { weight: weights.shutdown, arbitrary: fc.constant<FetchServerAction>({ kind: "shutdown" }) },
    ].filter((a) => a.weight > 0),
  );
  return fc.record({
    conns: fc.array(fetchScenarioArb(weights), { minLength: 2, maxLength: 3 }),
    actions: fc.array(step, { maxLength: 60 }),
    maxInflight: fc.constantFrom(1, 2, 1000),
    maxPipelined: fc.constantFrom(1, 2, 64),
    grace: fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 200 })),
  });
}
