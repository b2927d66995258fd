/**
 * A `Request` made from its parts, without its constructor, where the runtime's `Request` keeps
 * its state the way Deno's does.
 *
 * Deno's constructor parses the URL, converts its init dictionary and keeps the request's
 * state in an object literal with accessors: 13% of what `new Request(url)` allocates in a loop
 * outlives the next young-generation collection, and the old generation fills with it (a plain
 * literal with a getter does the same, on Node as well). Made without the constructor, Hono's
 * `GET /` through binks on Deno takes 29% less CPU time per request and the server peaks at
 * about 95 MiB instead of 140; its `POST /echo` of 64 bytes 32% less. `Deno.serve` skips the
 * constructor for the requests it makes; this does the same from outside: the constructor
 * returns at once when handed the brand every `Request` carries, and the state goes in the slot
 * the constructor would have filled, as an instance of a class (its accessors on the
 * prototype), with its body (all of it, or a stream over it while it arrives) in the
 * constructor's own body class. The headers are made from the field list when first read, as for
 * `Deno.serve`'s requests.
 *
 * Nothing here names a runtime: the probe looks at what `new Request()` makes, and takes this
 * path only if its slots and its state are exactly the ones known, and a request made this
 * way then reads, copies and clones exactly as one made by the constructor. Anywhere else
 * (Node's and Bun's `Request`, or another Deno) it answers null and the constructor is used.
 *
 * @module
 */
import { ownBuffer } from "./bytes.ts";

/** The descriptions of the symbol-keyed own slots of a Deno `Request`. */
const SLOT_NAMES = [
  "request",
  "headers cache",
  "get headers",
  "headers guard",
  "signalCache",
  "url",
  "method",
  "[[webidl.brand]]",
];

/** The own properties, in order, of the state a Deno `Request` keeps in its "request" slot. */
const STATE_NAMES = [
  "methodInner",
  "method",
  "headerListInner",
  "headerList",
  "body",
  "redirectMode",
  "redirectCount",
  "urlList",
  "urlListProcessed",
  "clientRid",
  "blobUrlEntry",
  "url",
  "currentUrl",
];

/**
 * The methods a `Request` made from parts may have: those its constructor keeps as they are
 * (it would upper-case `get`, and refuses `CONNECT`), `GET` and `HEAD` without a body.
 */
export type SlotMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/** The state of a Deno `Request`'s body, own properties in order, and of its bytes. */
const BODY_NAMES = ["streamOrStatic", "source", "length"];
const STATIC_NAMES = ["body", "consumed"];

/** What a request's body is made with: its bytes, the constructor's own `InnerBody`. */
type BodyClass = new (
  held: { body: Uint8Array; consumed: boolean } | ReadableStream<Uint8Array>,
) => {
  source: Uint8Array | null;
  length: number | null;
};

/** How to make a `Request` from its parts on this runtime. */
export interface RequestSlots {
  /**
   * What to hand the `Request` constructor (a subclass's `super()`) for an empty request.
   * A symbol; typed as the string the constructor's signature asks for.
   */
  readonly brand: string;
  /**
   * Fill a request made from `brand`: `url` must be a parsed URL's `href`, and `fields` as
   * `Headers` would hold them (names lowercased tokens, values trimmed), since nothing checks
   * or normalises them here. The `body` bytes become the request's: no one may keep or write
   * them after (binks's own, taken whole from the request body, are no one else's). A body
   * still arriving is given as the stream over it.
   */
  fill(
    request: Request,
    method: SlotMethod,
    url: string,
    fields: [string, string][],
    body: Uint8Array | ReadableStream<Uint8Array> | null,
  ): void;
}

/**
 * A request's state, as the runtime's own code reads it: the method, the field list, the body,
 * the URL list a redirected `fetch()` appends to, and the rest at their defaults.
 */
class SlotState {
  methodInner: string;
  headerListInner: [string, string][];
  body: unknown;
  redirectMode = "follow";
  redirectCount = 0;
  urlList: (() => string)[];
  urlListProcessed: string[];
  clientRid: null = null;
  blobUrlEntry: null = null;

  constructor(method: string, url: string, fields: [string, string][], body: unknown) {
    this.methodInner = method;
    this.headerListInner = fields;
    this.body = body;
    this.urlList = [() => url];
    this.urlListProcessed = [url];
  }

  get method(): string {
    return this.methodInner;
  }

  set method(value: string) {
    this.methodInner = value;
  }

  get headerList(): [string, string][] {
    return this.headerListInner;
  }

  set headerList(value: [string, string][]) {
    this.headerListInner = value;
  }

  url(): string {
    return this.processed(0);
  }

  currentUrl(): string {
    return this.processed(this.urlList.length - 1);
  }

  private processed(index: number): string {
    return this.urlListProcessed[index] ??= this.urlList[index]!();
  }
}

type Slotted = Record<symbol, unknown>;

/**
 * The slots of `make` (by default the runtime's `Request`), or null where it is not built as
 * Deno's is.
 */
export function requestSlots(make: typeof Request = Request): RequestSlots | null {
  try {
    return probe(make);
  } catch {
    return null;
  }
}

function probe(make: typeof Request): RequestSlots | null {
  const sample = new make("http://probe.test/", { headers: [["x-probe", "1"]] }) as
    & Request
    & Slotted;
  const symbols = new Map<string | undefined, symbol>();
  for (const symbol of Object.getOwnPropertySymbols(sample)) {
    symbols.set(symbol.description, symbol);
  }
  if (symbols.size !== SLOT_NAMES.length || !SLOT_NAMES.every((name) => symbols.has(name))) {
    return null;
  }
  const stateSlot = symbols.get("request")!;
  const guardSlot = symbols.get("headers guard")!;
  const state = sample[stateSlot];
  if (typeof state !== "object" || state === null) return null;
  if (Object.getOwnPropertyNames(state).join() !== STATE_NAMES.join()) return null;
  const brand = sample[symbols.get("[[webidl.brand]]")!];
  if (typeof brand !== "symbol") return null;
  const Body = bodyClass(make, stateSlot);
  if (Body === null) return null;
  const slots: RequestSlots = {
    brand: brand as unknown as string,
    fill(request, method, url, fields, body) {
      let inner = null;
      // As the constructor keeps a stream: no source, no length.
      if (body instanceof ReadableStream) inner = new Body(body);
      else if (body !== null) {
        // Not copied as the constructor copies what it is given: these are the request's
        // already. Only a view of a larger buffer is, which reading it would hand out whole.
        const own = ownBuffer(body);
        inner = new Body({ body: own, consumed: false });
        inner.source = own;
        inner.length = own.length;
      }
      const slotted = request as Request & Slotted;
      slotted[stateSlot] = new SlotState(method, url, fields, inner);
      // What the constructor gives a request's headers: they may be changed by the handler.
      slotted[guardSlot] = "request";
    },
  };
  return agreesWithConstructor(make, slots) ? slots : null;
}

/**
 * The class of the state a request made with bytes keeps of its body, if that state is exactly
 * the one known (the bytes, their source and length), else null.
 */
function bodyClass(make: typeof Request, stateSlot: symbol): BodyClass | null {
  const bytes = new Uint8Array([0x61]);
  const sample = new make("http://probe.test/", { method: "POST", body: bytes }) as
    & Request
    & Slotted;
  const body = (sample[stateSlot] as { body?: unknown }).body;
  if (typeof body !== "object" || body === null) return null;
  if (Object.getOwnPropertyNames(body).join() !== BODY_NAMES.join()) return null;
  const held = (body as { streamOrStatic: unknown }).streamOrStatic;
  if (typeof held !== "object" || held === null) return null;
  if (Object.getOwnPropertyNames(held).join() !== STATIC_NAMES.join()) return null;
  return body.constructor as BodyClass;
}

/**
 * Whether requests made from `slots` read, copy and clone as the constructor's do, for a
 * `GET` with several fields, a `HEAD`, a `POST` with a body and a `PUT` with a stream, down to a
 * field set after the request was made and a body being read (its text is not awaited: a probe
 * that waits would hold up the first request).
 */
function agreesWithConstructor(make: typeof Request, slots: RequestSlots): boolean {
  const fields: [string, string][] = [["host", "probe.test:8"], ["accept", "*/*"], ["x-a", "1"]];
  const bytes = new TextEncoder().encode("body");
  const stream = () =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes.slice());
        controller.close();
      },
    });
  for (const method of ["GET", "HEAD", "POST", "PUT"] as const) {
    const body = method === "POST" ? bytes : null;
    const url = new URL("http://probe.test:8/a?b=c").href;
    const made = new make(url, {
      method,
      headers: fields,
      body: method === "PUT" ? stream() : body,
      duplex: "half",
    } as RequestInit);
    const filled = new make(slots.brand);
    slots.fill(
      filled,
      method,
      url,
      fields.map(([name, value]) => [name, value]),
      method === "PUT" ? stream() : body?.slice() ?? null,
    );
    if (!(filled instanceof make) || described(filled) !== described(made)) return false;
    filled.headers.set("x-late", "2");
    made.headers.set("x-late", "2");
    if (described(filled.clone()) !== described(made.clone())) return false;
    if (described(new make(filled)) !== described(new make(made))) return false;
    // The copies took the bodies over (made them used), as `new Request(request)` does.
    if (described(filled) !== described(made)) return false;
    const posted = new make(filled, { method: "PUT", body: "x" });
    if (posted.method !== "PUT" || posted.headers.get("x-late") !== "2") return false;
  }
  const filled = new make(slots.brand);
  slots.fill(filled, "POST", "http://probe.test/", [], bytes.slice());
  const made = new make("http://probe.test/", { method: "POST", body: bytes });
  void filled.text().catch(() => {});
  void made.text().catch(() => {});
  return described(filled) === described(made);
}

/** What a handler can read of a request without awaiting. */
function described(request: Request): string {
  return JSON.stringify([
    request.method,
    request.url,
    [...request.headers],
    request.body === null ? null : Object.prototype.toString.call(request.body),
    request.bodyUsed,
    request.redirect,
    request.cache,
    request.credentials,
    request.mode,
  ]);
}
