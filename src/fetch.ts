/**
 * Web-standard handlers: `fetch(request: Request) => Response`, as written for
 * Hono, itty-router, `Deno.serve` or `Bun.serve`, served by binks.
 *
 * A `Request` is made only for these handlers (the native API never pays for
 * one), and lazily (see {@link WebRequest}): its body is a `ReadableStream`
 * over the arriving bytes, and its `signal` aborts when the client goes away. The `Response` body is sent with
 * a `Content-Length` when it turns out to be one piece, else streamed.
 *
 * @module
 */
import type { Handler } from "./connection.ts";
import type { IncomingRequest } from "./request.ts";
import type { Reply } from "./response.ts";
import { WebRequest } from "./web-request.ts";

/** A standard fetch handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Turn a fetch handler into a binks handler. */
export function fetchHandler(fetch: FetchHandler): Handler {
  return (req) => {
    const response = fetch(WebRequest.of(req));
    return response instanceof Response ? toReply(response) : response.then(toReply);
  };
}

/** A real, eagerly built standard `Request` for an incoming request (fetch handlers get a lazy one). */
export function toRequest(req: IncomingRequest): Request {
  return new WebRequest(req).real();
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
