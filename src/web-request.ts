/**
 * The standard `Request` a fetch handler receives.
 *
 * It is a real `Request` (a subclass), so that everything the platform does
 * with one works on it, down to `new Request(request, init)`, which copies
 * the runtime's internal state and would refuse any stand-in (Hono's body
 * limit and method override middleware do exactly that). What it does not
 * make up front is its `signal`: following a passed signal is most of what a
 * `Request` costs on Node (undici links the two with weak references), so
 * `signal` is the binks request's own, made only when someone reads it, and
 * it aborts when the client goes away, the handler times out or the server is
 * forced down. A copy made with `new Request(request)` and a `clone()` follow it, as the
 * Fetch standard has them follow their original's signal.
 *
 * Where the runtime's `Request` is dear to make with a body and to read it from (Node:
 * undici makes a byte stream over a copy of the bytes, then reads them back through a
 * reader and promises), the body can be held: the `Request` gets a stream that would hand
 * over the body when read, and its `arrayBuffer()`, `bytes()`, `text()` and `json()` take
 * the body without it (all there, or gathered as it arrives), as long as nothing else has
 * read or locked that stream (`body`, `clone()`, a copy made with `new Request(request)`,
 * `fetch()`).
 *
 * @module
 */
import type { IncomingRequest } from "./request.ts";
import type { RequestBody } from "./body.ts";
import { ASTERISK, ownBuffer, SLASH, withoutOws } from "./bytes.ts";
import { requestSlots, type SlotMethod } from "./request-slots.ts";
import {
  clonesFollowLent,
  followingController,
  lend,
  lendsController,
  signalSlot,
  unlend,
} from "./request-signal.ts";

function bodyAllowed(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

/**
 * The target URI (RFC 9112 §3.3): an absolute-form target as it is; otherwise `http://`, the
 * request's authority (the `Host` of its `fields`), and the path and query of an origin-form one.
 */
function absoluteUrl(req: IncomingRequest, fields: [string, string][]): string {
  const target = req.url;
  const first = target.charCodeAt(0);
  let url = isAbsoluteForm(req)
    ? target
    : `http://${hostOf(fields) || "localhost"}${first === SLASH ? target : ""}`;
  if (url.includes("^")) url = caretsEncoded(url);
  // Bun's `Request` takes a host with a Punycode label the URL standard refuses (`xn--a`, also
  // when a byte of it is percent-encoded: `%78n--a`, `xn%2D-a`), and `new URL(request.url)` in
  // the handler would then throw: such a host is checked here.
  if ((url.includes("--") || url.includes("%")) && PUNYCODE.test(url) && !URL.canParse(url)) {
    throw new TypeError(`invalid URL: ${url}`);
  }
  return url;
}

/**
 * The `Host` among `fields`, "" for none: `req.host` of a request that is not in absolute-form
 * (the parser takes one `Host` at most), without decoding its value a second time.
 */
function hostOf(fields: [string, string][]): string {
  for (const field of fields) if (field[0] === "host") return field[1];
  return "";
}

/**
 * `url` with each `^` of its path written `%5E`, as the URL standard has it since 2025 (the
 * path percent-encode set): Bun's and Node 24's `URL` do, Node 20's and 22's and Deno's keep
 * the `^`, so a fetch handler was told `/a%5Eb` on one runtime and `/a^b` on another. No
 * authority holds a `^` (the parser refuses one), and in the query every runtime keeps it.
 */
function caretsEncoded(url: string): string {
  const query = url.indexOf("?");
  const pathEnd = query < 0 ? url.length : query;
  return url.slice(0, pathEnd).replaceAll("^", "%5E") + url.slice(pathEnd);
}

/** A Punycode label (`xn--`) in a URL's authority, or a `%` that may hide one. */
const PUNYCODE = /^[^:]*:\/\/[^/?]*(?:xn--|%)/i;

/**
 * A request body and the `ReadableStream` over it, pulled piece by piece as the handler reads:
 * all of it if it came whole, else its source as it arrives. Held (see the module's notes), the
 * `Request` may also take it without the stream, until that is read or locked. The stream is a
 * byte stream, as the Fetch standard makes a request's body: it takes the buffer of what it
 * hands over, so that gets one of its own.
 */
class HeldBody {
  readonly type = "bytes";
  /** The whole body, until it is handed out one way or the other. */
  private bytes: Uint8Array | null;
  /** Or the body still arriving, read through the stream or gathered by the `Request`. */
  private source: RequestBody | null;
  /** Reading `source` through the stream, once that has begun. */
  private pieces: AsyncIterator<Uint8Array> | null = null;
  /** The `Request` took the body itself: it is used, though its stream was never read. */
  taken = false;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(body: Uint8Array | RequestBody) {
    const whole = body instanceof Uint8Array;
    this.bytes = whole ? body : null;
    this.source = whole ? null : body;
    // Nothing is pulled before the handler reads: asking for the body is what sends a
    // `100 Continue` (RFC 9110 §10.1.1), and a handler that answers without it must not.
    this.stream = new ReadableStream(this, { highWaterMark: 0 });
  }

  async pull(controller: ReadableByteStreamController): Promise<void> {
    const bytes = this.bytes;
    if (bytes !== null) {
      this.bytes = null;
      if (bytes.length !== 0) controller.enqueue(ownBuffer(bytes));
      return closed(controller);
    }
    const source = this.source;
    if (source === null) return closed(controller);
    const pieces = this.pieces ??= source[Symbol.asyncIterator]();
    // A byte stream refuses an empty chunk.
    for (;;) {
      const step = await pieces.next();
      if (step.done) return closed(controller);
      if (step.value.length !== 0) return controller.enqueue(ownBuffer(step.value));
    }
  }

  async cancel(): Promise<void> {
    // Given up (and the stream disturbed): the `Request` cannot take the body any more.
    this.bytes = null;
    this.source = null;
    await this.pieces?.return?.();
  }

  /**
   * The body for the `Request`'s own reading (or the promise of it, while it arrives), unless
   * its stream was read or locked.
   */
  take(): Uint8Array | Promise<Uint8Array> | null {
    const bytes = this.bytes;
    const source = this.source;
    if (this.taken || this.stream.locked || (bytes === null && source === null)) return null;
    this.bytes = null;
    this.taken = true;
    // Locked for good, as reading it would have left it: `body` can no longer be read, and
    // `clone()` or a copy made from the request refuses it as used.
    this.stream.getReader();
    return bytes ?? source!.bytes();
  }
}

/**
 * Close a byte stream: a BYOB read waiting for more is then answered (done) only once its
 * request is responded to with nothing (Deno and Bun wait for that; Node does not).
 */
function closed(controller: ReadableByteStreamController): void {
  controller.close();
  controller.byobRequest?.respond(0);
}

const utf8 = new TextDecoder();

/**
 * The body the handler gets of `req`: none (a `GET` or `HEAD` has none for the handler), all of
 * it, taken now if it came whole, or its source while it arrives.
 */
function bodyOf(req: IncomingRequest): Uint8Array | RequestBody | null {
  const source = bodyAllowed(req.method) ? req.body : null;
  return source === null ? null : source.wholeNow() ?? source;
}

/**
 * What the `Request` constructor needs besides the URL and the header fields, or undefined for
 * a GET. The fields are appended to the new request's `headers`, which costs less than the same
 * list handed to the constructor (4 fields: Deno 0.5 µs, Bun 0.25, Node 22 0.7, Node 24 1.0,
 * for every request).
 */
function requestInit(
  method: string,
  body: Uint8Array | ReadableStream<Uint8Array> | null,
): (RequestInit & { duplex?: "half" }) | undefined {
  if (body === null) return method === "GET" ? undefined : { method };
  if (body instanceof Uint8Array) return { method, body: body as NonNullable<RequestInit["body"]> };
  // Node's fetch types insist on `duplex` for stream bodies.
  return { method, body, duplex: "half" };
}

/**
 * The request's fields for a `Headers`, with several `Cookie` fields made one, joined by `; `
 * (RFC 9113 §8.2.3 and browsers do the same): `Headers` would join them with `, `, which cookie
 * parsers read as part of the first cookie's value (Deno's does; Node's and Bun's use `; `).
 */
function fieldList(req: IncomingRequest): [string, string][] {
  let list = req.headerList();
  if (isAbsoluteForm(req)) list = withTargetHost(list, req.host);
  let cookies = 0;
  for (const field of list) if (field[0] === "cookie") cookies++;
  if (cookies < 2) return list;
  const merged = list.filter((field) => field[0] !== "cookie");
  // Trimmed as `Headers` trims what it is given: an empty cookie field at either end would
  // leave a space there.
  const cookie = list.filter((f) => f[0] === "cookie").map((f) => f[1]).join("; ");
  merged.push(["cookie", withoutOws(cookie)]);
  return merged;
}

/** The target is `http://authority/path`: the URL's host is the target's, not `Host`'s. */
function isAbsoluteForm(req: IncomingRequest): boolean {
  const first = req.url.charCodeAt(0);
  return first !== SLASH && first !== ASTERISK && req.method !== "CONNECT";
}

/**
 * `list` with its `Host` saying `authority`: an origin server ignores the `Host` of a request
 * with an absolute-form target and takes the target's (RFC 9112 §3.2.2), and a handler reading
 * `request.headers.get("host")` must not be told another host than its URL's.
 */
function withTargetHost(list: [string, string][], authority: string): [string, string][] {
  const out: [string, string][] = [["host", authority]];
  for (const field of list) if (field[0] !== "host") out.push(field);
  return out;
}

/** The methods a request made from its parts may have, with a body or not. */
const SLOT_METHODS: ReadonlySet<string> = new Set<SlotMethod>([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
]);

/** A `Request` whose `signal` is the binks request's, made on first use. */
type WebRequestClass = new (req: IncomingRequest, holdBody: boolean) => Request;

let webRequestClass: WebRequestClass | null = null;

/**
 * The standard `Request` for `req`; with `holdBody`, a body that came whole is held (see the
 * module's notes). The class is made on first use, not when this module loads: on Node,
 * touching `Request` loads the whole fetch implementation (undici), 8 MiB of memory that a
 * server without fetch handlers should not pay.
 */
export function webRequest(req: IncomingRequest, holdBody = false): Request {
  const WebRequest = webRequestClass ??= defineWebRequest();
  if (!controllerLent) return new WebRequest(req, holdBody);
  lend(req);
  try {
    return new WebRequest(req, holdBody);
  } finally {
    unlend();
  }
}

/**
 * Whether the runtime's `Request` constructor makes its signal with the global `AbortController`
 * (Node's, undici: one per request, which on Node 20 cost 2.8 µs of the 4.1 that a `new
 * Request(url)` took; on Node 22 and 24 0.05–0.1 µs). The binks request has a signal of its
 * own, made when first asked for, so while a `Request` is made its constructor is lent one
 * whose signal is that (see `request-signal.ts`). Checked once ({@link lendsController}).
 */
let controllerLent = false;

/** The body methods a held body answers, with what each makes of the bytes. */
const HELD_READERS: ReadonlyArray<readonly [string, (bytes: Uint8Array) => unknown]> = [
  ["arrayBuffer", (bytes) => ownBuffer(bytes).buffer],
  ["bytes", (bytes) => ownBuffer(bytes)],
  ["text", (bytes) => utf8.decode(bytes)],
  ["json", (bytes) => JSON.parse(utf8.decode(bytes))],
];

function defineWebRequest(): WebRequestClass {
  // Where the runtime allows it (Deno), a request is made from its parts.
  const slots = requestSlots(Request);
  controllerLent = lendsController();
  const slot = signalSlot();
  const nativeClone = Request.prototype.clone;
  const Following = followingController(AbortController);
  const cloneLent = slot === null && clonesFollowLent(Following);
  const nativeBodyUsed = Object.getOwnPropertyDescriptor(Request.prototype, "bodyUsed")?.get;
  return class WebRequest extends Request {
    readonly #req: IncomingRequest;
    /** Its body, held (see the module's notes), or null. */
    readonly #held: HeldBody | null;

    /** Reads what it needs of `req` now: the head may be reused once the handler has returned. */
    constructor(req: IncomingRequest, holdBody: boolean) {
      const body = bodyOf(req);
      const fromParts = slots !== null && SLOT_METHODS.has(req.method);
      const held = holdBody && !fromParts && body !== null ? new HeldBody(body) : null;
      // Bytes that came whole as they are (Deno: 2 µs less to read for a 4 KiB POST, Bun
      // 1.5 µs), a body still arriving as the stream over it.
      const given = held !== null
        ? held.stream
        : body === null || body instanceof Uint8Array
        ? body
        : new HeldBody(body).stream;
      const fields = fieldList(req);
      const url = absoluteUrl(req, fields);
      super(fromParts ? slots!.brand : url, fromParts ? undefined : requestInit(req.method, given));
      this.#req = req;
      this.#held = held;
      if (fromParts) {
        const method = req.method as SlotMethod;
        slots!.fill(this, method, new URL(url).href, fields, given);
      } else {
        const headers = this.headers;
        for (const [name, value] of fields) headers.append(name, value);
      }
    }

    static {
      // `signal` is a property to TypeScript's Request type, so it is redefined here rather
      // than declared: the binks request's signal aborts when the client goes away, the
      // handler times out, or the server is forced down.
      Object.defineProperty(WebRequest.prototype, "signal", {
        get(this: WebRequest): AbortSignal {
          return this.#req.signal;
        },
        configurable: true,
      });
      const proto = WebRequest.prototype;
      // A copy and a clone follow the client too, as the Fetch standard has them follow their
      // original's signal: where the runtime's code reads it through a slot of its own (Deno),
      // that answers the binks request's; where `clone()` makes the clone's with the global
      // `AbortController` (Node), it is lent one that follows. (Node's copies follow the signal
      // its constructor was lent, Bun's read `signal`.)
      if (slot !== null) {
        Object.defineProperty(proto, slot, {
          get(this: WebRequest): AbortSignal {
            return this.#req.signal;
          },
          configurable: true,
        });
      } else {
        // Elsewhere (Bun) the clone is copied with the signal given, as a copy's own follows it.
        Object.defineProperty(proto, "clone", {
          value(this: WebRequest): Request {
            const signal = this.#req.signal;
            if (!cloneLent) return new Request(nativeClone.call(this), { signal });
            // The binks request's signal made before lending: it is made with the global.
            lend({ signal }, Following);
            try {
              return nativeClone.call(this);
            } finally {
              unlend();
            }
          },
          writable: true,
          configurable: true,
        });
      }
      for (const [name, read] of HELD_READERS) {
        const method = Object.getOwnPropertyDescriptor(Request.prototype, name)?.value;
        if (typeof method !== "function") continue;
        Object.defineProperty(proto, name, {
          value(this: WebRequest, ...args: unknown[]): Promise<unknown> {
            const body = #held in this && this.#held !== null ? this.#held.take() : null;
            if (body === null) return method.apply(this, args);
            if (body instanceof Promise) return body.then(read);
            // Settled as the runtime's would be: a body that is no JSON rejects.
            try {
              return Promise.resolve(read(body));
            } catch (error) {
              return Promise.reject(error);
            }
          },
          writable: true,
          configurable: true,
        });
      }
      if (nativeBodyUsed === undefined) throw new Error("Request has no bodyUsed");
      // A held body taken by the request itself leaves its stream locked, not read from.
      Object.defineProperty(proto, "bodyUsed", {
        get(this: WebRequest): boolean {
          return (#held in this && this.#held?.taken === true) || nativeBodyUsed.call(this);
        },
        configurable: true,
      });
    }
  };
}
