/**
 * Web-standard handlers: `fetch(request: Request) => Response`, as written for
 * Hono, itty-router, `Deno.serve` or `Bun.serve`, served by binks.
 *
 * A `Request` is built only for these handlers (the native API never pays for
 * one): its body is a `ReadableStream` over the arriving bytes, and its
 * `signal` aborts when the client goes away. The `Response` body is sent with
 * a `Content-Length` when it turns out to be one piece, else streamed.
 *
 * @module
 */
import type { Handler } from "./connection.ts";
import type { IncomingRequest } from "./request.ts";
import type { Reply } from "./response.ts";

/** A standard fetch handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Turn a fetch handler into a binks handler. */
export function fetchHandler(fetch: FetchHandler): Handler {
  return (req) => {
    const request = toRequest(req);
    // Everything the head held now lives in `request`: no need to keep a copy of it.
    req.release();
    const response = fetch(request);
    return response instanceof Response ? toReply(response) : response.then(toReply);
  };
}

/** The standard `Request` for an incoming request. */
export function toRequest(req: IncomingRequest): Request {
  const target = req.url;
  const url = target.startsWith("/")
    ? `http://${req.header("host") ?? "localhost"}${target}`
    : target;
  const headers = new Headers();
  for (const [name, value] of req.headerList()) headers.append(name, value);
  const source = req.body;
  const init: RequestInit & { duplex?: "half" } = {
    method: req.method,
    headers,
    signal: req.signal,
  };
  if (source !== null && req.method !== "GET" && req.method !== "HEAD") {
    const iterator = source[Symbol.asyncIterator]();
    init.body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const step = await iterator.next();
        if (step.done) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    // Node's fetch types insist on this for stream bodies.
    init.duplex = "half";
  }
  return new Request(url, init);
}

/** The binks reply for a standard `Response`. */
export async function toReply(response: Response): Promise<Reply> {
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push([name, value]);
  });
  // Set-Cookie may not be joined with commas; each goes on its own line.
  const cookies =
    (response.headers as Headers & { getSetCookie?: () => string[] }).getSetCookie?.() ?? [];
  for (const cookie of cookies) headers.push(["set-cookie", cookie]);
  const status = response.status;
  const body = response.body;
  if (body === null) return { status, headers };
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) return { status, headers, body: EMPTY };
  const second = await reader.read();
  if (second.done) return { status, headers, body: first.value };
  return { status, headers, body: rest(reader, first.value, second.value) };
}

const EMPTY = new Uint8Array(0);

async function* rest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
  second: Uint8Array,
): AsyncGenerator<Uint8Array, void, undefined> {
  let finished = false;
  try {
    yield first;
    yield second;
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      yield step.value;
    }
    finished = true;
  } finally {
    // The client left mid-stream: let the producer know.
    if (!finished) await reader.cancel().catch(() => {});
  }
}
