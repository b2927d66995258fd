/**
 * Web-standard handlers: `fetch(request: Request) => Response`, as written for
 * Hono, itty-router, `Deno.serve` or `Bun.serve`, served by binks.
 *
 * A `Request` is made only for these handlers (the native API never pays for
 * one), with its `signal` made on first use (see {@link webRequest}): its body
 * is a `ReadableStream` over the arriving bytes, and its `signal` aborts when
 * the client goes away. A `Response` made from a string, bytes or nothing is
 * sent as it was given (see `web-response.ts`); any other body that is ready at
 * once is sent whole with a `Content-Length`; otherwise it is streamed.
 *
 * @module
 */
import { errorReply, type Handler } from "./connection.ts";
import type { IncomingRequest } from "./request.ts";
import { type Reply, StaticReply, type StreamBody } from "./response.ts";
import { webRequest } from "./web-request.ts";
import {
  installReadyResponse,
  keptBody,
  keptFields,
  type ReadyResponseOptions,
} from "./web-response.ts";
import { concatBytes } from "./bytes.ts";
import { kindOf } from "./shown.ts";

/** A standard fetch handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** How {@link fetchHandler} serves. */
export interface FetchHandlerOptions {
  /**
   * Put a `Response` that keeps the string or bytes it was made from in place of the
   * global one (see `web-response.ts`), so that such answers are sent without reading
   * them through a stream. Default true; with false the global `Response` is left alone.
   */
  globalResponse?: boolean;
  /**
   * With `globalResponse`: how that `Response` works on this runtime (see
   * `web-response.ts`). `serve()` makes it lazy on Node, keeping bytes up to 1 MiB, and has
   * it take bytes whole on Bun.
   */
  ready?: ReadyResponseOptions;
  /**
   * Hold a request body that came whole in its `Request`, which hands it to `arrayBuffer()`,
   * `bytes()`, `text()` and `json()` without reading it through its stream (see
   * `web-request.ts`): for a runtime whose `Request` is dear to make with bytes and to read
   * them from (Node's, a byte stream over a copy). `serve()` does so on Node. Default false.
   */
  holdBody?: boolean;
  /**
   * The handler's answers go straight to the connection, through no code that could keep them
   * (`serve({ fetch })`): bytes taken out of a `Response` for one answer are given back to the
   * allocator once written (see `release.ts`). A wrapper or middleware that kept such an
   * answer's body would find it empty, so it is off by default.
   */
  releaseBytes?: boolean;
}

/** Turn a fetch handler into a binks handler. */
export function fetchHandler(fetch: FetchHandler, options: FetchHandlerOptions = {}): Handler {
  if (options.globalResponse !== false) installReadyResponse(options.ready);
  const holdBody = options.holdBody === true;
  const release = options.releaseBytes === true;
  return (req) => {
    // A method no `Request` can carry as sent: a fetch handler does not implement it.
    if (unfetchableMethod(req.method)) return errorReply(501);
    let request: Request;
    try {
      request = webRequest(req, holdBody);
    } catch {
      // A target URI the URL standard refuses although HTTP allows it (`Host: a:99999`):
      // a bad request, answered as the parser answers one, closing.
      return BAD_TARGET;
    }
    // Everything the head held now lives in `request`: no need to keep a copy of it.
    req.release();
    const headOnly = request.method === "HEAD";
    const response = fetch(request);
    if (response instanceof Response) {
      return readyReply(response, release) ?? streamReply(response, headOnly, req);
    }
    if (typeof (response as Partial<Promise<Response>> | null)?.then !== "function") {
      throw notResponse(response);
    }
    // A thenable that is no Promise returns what its `then` likes (nothing, or before it calls
    // back): settled as a Promise, it answers when it calls back, or meets the handler deadline.
    return Promise.resolve(response).then((r) => {
      if (!(r instanceof Response)) throw notResponse(r);
      return readyReply(r, release) ?? streamReply(r, headOnly, req);
    });
  };
}

/**
 * Methods with lower-case letters, and whether this runtime's `Request` carries each as sent:
 * the Fetch standard upper-cases `get`, `post` and four more, Bun `patch` too, and refuses
 * `connect`, `trace` and `track` in any case.
 */
const keptAsSent = new Map<string, boolean>();
/** Methods remembered at most: beyond that, made-up ones are tried each time. */
const KEPT_AS_SENT_MAX = 64;

/**
 * A method no `Request` can carry as sent: CONNECT, TRACE or TRACK, or one it would change
 * (`get` into `GET`): methods are case-sensitive (RFC 9110 §9.1), so the handler would be
 * told another one.
 */
function unfetchableMethod(method: string): boolean {
  // The parser interns the registered methods: the usual ones are settled by identity.
  if (method === "GET" || method === "POST" || method === "HEAD" || method === "PUT") return false;
  if (method === "CONNECT" || method === "TRACE" || method === "TRACK") return true;
  let lower = false;
  for (let i = 0; i < method.length && !lower; i++) {
    const c = method.charCodeAt(i);
    lower = c >= 0x61 && c <= 0x7a;
  }
  // Upper-case methods are carried as they are.
  if (!lower) return false;
  let kept = keptAsSent.get(method);
  if (kept === undefined) {
    try {
      kept = new Request("http://binks.invalid/", { method }).method === method;
    } catch {
      kept = false;
    }
    if (keptAsSent.size < KEPT_AS_SENT_MAX) keptAsSent.set(method, kept);
  }
  return !kept;
}

/** What a fetch handler that gave no `Response` did wrong. */
function notResponse(value: unknown): TypeError {
  return new TypeError(
    `a fetch handler must return a Response (or a promise of one), not ${kindOf(value)}`,
  );
}

/** The standard `Request` for an incoming request, as fetch handlers get it. */
export function toRequest(req: IncomingRequest): Request {
  return webRequest(req);
}

/**
 * The binks reply for a standard `Response`. With `headOnly` (an answer to HEAD) a body that
 * would be streamed is cancelled at once: its producer stops rather than run for nobody.
 */
export async function toReply(response: Response, headOnly: boolean = false): Promise<Reply> {
  return await (readyReply(response, false) ?? streamReply(response, headOnly));
}

/**
 * The reply for a `Response` whose body is to be read through its stream; a streamed one is
 * cancelled when `req` is aborted (its client gone, the server stopping).
 */
async function streamReply(
  response: Response,
  headOnly: boolean,
  req?: IncomingRequest,
): Promise<Reply> {
  const headers = headerList(response);
  const status = response.status;
  const body = response.body;
  if (body === null) return { status, headers };
  if (response.bodyUsed) throw bodyUsed(body);
  // Gather what the body has ready now: a body made from bytes or a string is all there at
  // once and goes out with a Content-Length. The first read the stream cannot answer at once
  // means a producer at work (server-sent events, a proxied download): from there on the
  // body is streamed, so nothing it has made waits for what it has not.
  const reader = body.getReader();
  const pieces: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = reader.read();
    const step = await readyNow(next);
    if (step === NOT_READY) {
      if (headOnly) return { status, headers, body: cancelled(reader) };
      return {
        status,
        headers,
        body: unstarted(reader, rest(reader, joined(pieces, size), next, req?.signal)),
      };
    }
    if (step.done) return { status, headers, body: joined(pieces, size) };
    let piece: Uint8Array;
    try {
      piece = bytesOf(step.value);
    } catch (err) {
      // Answered with a 500 for the handler's mistake: its producer must still learn that
      // nothing reads on, or it runs (a pull waiting, a timer) for good.
      void reader.cancel(err).catch(() => {});
      throw err;
    }
    pieces.push(piece);
    size += step.value.length;
    if (size >= GATHER_LIMIT || pieces.length === GATHER_PIECES) {
      if (headOnly) return { status, headers, body: cancelled(reader) };
      return {
        status,
        headers,
        body: unstarted(reader, rest(reader, joined(pieces, size), null, req?.signal)),
      };
    }
  }
}

/**
 * What a handler that returned a `Response` whose body it had read some of did wrong: the rest
 * would go out as the whole body, altered data as a success (Deno.serve refuses it too). Its
 * producer, which no one else holds unless the body is locked, learns that nothing reads on.
 */
function bodyUsed(body: ReadableStream<Uint8Array>): TypeError {
  if (!body.locked) void body.cancel().catch(() => {});
  return new TypeError("the Response's body was read already: a Response can be sent once, unread");
}

/**
 * The reply for a `Response` whose body was kept as given (at once, or once its bytes are
 * taken out of the runtime's `Response`); undefined for any other. With `release`, the reply
 * goes to the connection alone, which may release bytes taken out for it once written.
 */
function readyReply(response: Response, release: boolean): Reply | Promise<Reply> | undefined {
  const body = keptBody(response, release);
  if (body === undefined) return undefined;
  const headers = keptFields(response) ?? headerList(response);
  const reply: Reply = { status: response.status, headers };
  if (body instanceof Promise) {
    return body.then((bytes) => {
      reply.body = bytes;
      return reply;
    });
  }
  if (body !== null) reply.body = body;
  return reply;
}

function headerList(response: Response): [string, string][] {
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push([name, value]);
  });
  // Set-Cookie may not be joined with commas; each goes on its own line.
  const cookies =
    (response.headers as Headers & { getSetCookie?: () => string[] }).getSetCookie?.() ?? [];
  for (const cookie of cookies) headers.push(["set-cookie", cookie]);
  return headers;
}

const BAD_TARGET = new StaticReply(
  400,
  { "Content-Type": "text/plain", "Connection": "close" },
  "400\n",
);

/** Bodies larger than this are streamed even when they are ready at once, not copied whole. */
const GATHER_LIMIT = 1024 * 1024;
/**
 * Nor when they come in more pieces than this: each ready piece is read in a microtask, and a
 * producer that always has a small one ready (a line per pull) would hold the event loop, and
 * every other connection, for as long as its first mebibyte takes to gather.
 */
const GATHER_PIECES = 1024;
const EMPTY = new Uint8Array(0);
const NOT_READY = Symbol("not ready");
/**
 * How many microtask turns a ready read may take to settle: runtimes pass a chunk that is
 * already queued through a promise or two of their own (undici needs one), while a producer
 * still at work needs I/O or a timer, which no number of microtasks brings.
 */
const READY_TURNS = 4;

/** The read's result if the stream had it ready, else NOT_READY. */
async function readyNow<T>(read: Promise<T>): Promise<T | typeof NOT_READY> {
  // A flag and a few awaited turns, rather than racing a chain of promises: with a body read
  // per response this is hot, and it allocates far less (Deno: about 0.9 µs less per response).
  let state: number = PENDING;
  let result: unknown = undefined;
  read.then(
    (value) => {
      state = SETTLED;
      result = value;
    },
    (error) => {
      state = FAILED;
      result = error;
    },
  );
  for (let i = 0; i < READY_TURNS && state === PENDING; i++) await null;
  if (state === FAILED) throw result;
  return state === SETTLED ? result as T : NOT_READY;
}

const PENDING = 0;
const SETTLED = 1;
const FAILED = 2;

/** Cancels the stream; stands for it as a body that is never sent (framed as a stream still). */
function cancelled(reader: ReadableStreamDefaultReader<Uint8Array>): StreamBody {
  void reader.cancel().catch(() => {});
  return NOTHING_STREAMED;
}

const NOTHING_STREAMED: StreamBody = {
  [Symbol.asyncIterator]: () => ({
    next: () => Promise.resolve({ done: true, value: undefined }),
  }),
};

/**
 * A chunk of a `Response` body, which must be a `Uint8Array` (the Fetch standard: anything
 * else is a TypeError): other values, written as bytes, would send altered data as a success.
 */
function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError(`a Response body chunk must be a Uint8Array, not ${kindOf(chunk)}`);
}

function joined(pieces: Uint8Array[], size: number): Uint8Array {
  return pieces.length === 0 ? EMPTY : concatBytes(pieces, size);
}

/**
 * `body`, whose stream is cancelled also when the body is given up before its first piece is
 * asked for (an answer dropped while it waited behind another, its client gone): a generator
 * returned before it starts runs none of its code, its `finally` neither.
 */
function unstarted(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  body: AsyncGenerator<Uint8Array, void, undefined>,
): StreamBody {
  let started = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        started = true;
        return body.next();
      },
      return: async () => {
        if (!started) await reader.cancel().catch(() => {});
        return body.return();
      },
    }),
  };
}

async function* rest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ready: Uint8Array,
  pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]> | null,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  let finished = false;
  // The producer may wait on something else than our reads: cancel it as soon as its client
  // is gone, which also ends a read it has not answered.
  const cancel = () => void reader.cancel(signal!.reason).catch(() => {});
  // A client that left while the handler ran (a FIN) aborted the signal before this answer
  // went out: no abort is coming to wait for.
  if (signal?.aborted) cancel();
  else signal?.addEventListener("abort", cancel, { once: true });
  try {
    // What was gathered goes out as one piece: one chunk, not one per piece it came in.
    if (ready.length !== 0) yield ready;
    for (let next = pending ?? reader.read();; next = reader.read()) {
      const step = await next;
      if (step.done) break;
      yield bytesOf(step.value);
    }
    // Cancelled for a client gone, the stream ends as if done: it must not go out as whole.
    if (signal?.aborted) throw signal.reason;
    finished = true;
  } finally {
    signal?.removeEventListener("abort", cancel);
    // The client left mid-stream: let the producer know.
    if (!finished) await reader.cancel().catch(() => {});
  }
}
