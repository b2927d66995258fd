/**
 * A `Response` that keeps the body it was made from.
 *
 * A fetch handler's answer is a standard `Response`, and the only portable way to
 * read its body is its `ReadableStream`: made on demand, read through a reader and
 * promises, which costs more than the rest of the response (Deno and Bun: about 1.5 µs
 * for a short text). Most answers are made from a string (Hono's `c.json`, `c.text`,
 * `c.html`), from bytes, or from nothing, and those can be sent as they were given.
 *
 * {@link ReadyResponse} is a real `Response` (a subclass: every method, brand check and
 * runtime API works on it) that keeps that body: a string as it is (strings do not
 * change), bytes up to a size as a copy taken when it is made (as the `Response`
 * takes its own, so later writes to the caller's array change neither), or none. Code
 * that names the global `Response` makes one once {@link installReadyResponse} has put
 * it in place; `instanceof Response` stays true for every `Response`, the runtime's own
 * included. Where making the runtime's `Response` with a body is dear (Node), a lazy
 * one makes it without, and a full one only when something reads the body.
 *
 * It also knows its header fields without its `headers` when it was given a `Content-Type` at
 * most (Hono's `c.json`, `c.text`, `c.html`), until something asks for them: made for the
 * answer and read, a `Headers` allocated 1.4 KB of every such answer on Deno, and took 0.04 µs
 * (Bun), 0.07 µs (Deno) and 0.2–0.5 µs (Node) more than these fields.
 *
 * @module
 */
import { withoutHttpWhitespace } from "./bytes.ts";
import { keepAfterWrite, releaseWhenWritten } from "./release.ts";

/** The runtime's `Response`, before anything replaced it. */
type ResponseClass = typeof Response;

/** What a ReadyResponse keeps: its body as given, null for none. */
export type KeptBody = string | Uint8Array | null;

/**
 * A kept body as the sender gets it: bytes left in the runtime's `Response` come as the
 * promise of them, taken out of it whole (see {@link ReadyResponseOptions.takeBytes}).
 */
export type SentBody = KeptBody | Promise<Uint8Array>;

/** In #body: the bytes are in the runtime's Response, to be taken out when sent. */
const TAKE = Symbol("take");

interface ReadyResponseClass extends ResponseClass {
  /**
   * The body `response` was made from, if it is a ReadyResponse that kept one and nothing
   * else has read its body. With `release`, bytes taken out of the runtime's Response for this
   * one answer are released once written (see {@link keptBody}).
   */
  keptBody(response: Response, release: boolean): SentBody | undefined;
  /** Its header fields, if it is a ReadyResponse that knows them without its `headers`. */
  keptFields(response: Response): [string, string][] | undefined;
}

/** The type the Fetch standard gives a body made from a string. */
const TEXT_TYPE = "text/plain;charset=UTF-8";
/**
 * By default bytes up to this size are copied and kept; a larger body goes through its
 * stream. Past it the copy costs more than the stream saves: on Deno a 64 KiB copy made
 * `GET /64k` 25% dearer (the runtime hands its own copy to the stream whole), and memory
 * outside the heap brings on collections. Where the kept copy is the only one (`lazy`) or
 * the runtime's can be taken out whole (`takeBytes`), larger bytes gain too.
 */
const KEEP_BYTES_DEFAULT = 16 * 1024;

/** How the ReadyResponse works on this runtime. */
export interface ReadyResponseOptions {
  /**
   * Make the runtime's `Response` without the body it keeps, and a full one only when
   * something reads the body through it: for a runtime whose `Response` is dear to make
   * with a body (Node's: a stream per body, 7–10 µs) and that has no server of its own
   * to hand responses to, which would not see the body. Default false.
   */
  lazy?: boolean;
  /** The largest bytes body that is copied and kept. Default 16 KiB. */
  keepBytes?: number;
  /**
   * Bytes larger than `keepBytes` are not copied but left in the runtime's `Response`, and
   * taken out whole when sent (its `bytes()`), rather than read through its stream: for a
   * runtime whose `Response` hands over the copy it took without another (Bun). Its
   * `bodyUsed` is true from then on, as after the runtime's own server sent it. The copy is
   * the server's alone: once written it is released (`release.ts`), and a `Response` sent
   * again after that is refused as a used one, as `Bun.serve` and `Deno.serve` refuse it; one
   * given to several answers before its bytes were taken out (pipelined requests) goes out
   * whole to each, and is not released. No effect with `lazy`. Default false.
   */
  takeBytes?: boolean;
}

/** The bytes of `body` if it is an `ArrayBuffer` or a view, else null. */
function bytesOf(body: unknown): Uint8Array | null {
  if (body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return null;
}

/** The methods of a Response that read or copy its body. */
const BODY_METHODS = ["arrayBuffer", "blob", "bytes", "clone", "formData", "json", "text"];

/** `name`'s property descriptor on `proto` or the nearest prototype above it. */
function findDescriptor(proto: object | null, name: string): PropertyDescriptor | undefined {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const found = Object.getOwnPropertyDescriptor(p, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Statuses whose responses have no body (Fetch: "null body status"). */
function nullBodyStatus(status: number): boolean {
  return status === 101 || status === 103 || status === 204 || status === 205 || status === 304;
}

let readyResponseClass: ReadyResponseClass | null = null;

/**
 * A ReadyResponse class over `Native`, working as `options` say: what {@link installReadyResponse}
 * puts in place (exported so that a test can make one apart from the global one).
 */
export function defineReadyResponse(
  Native: ResponseClass,
  options: ReadyResponseOptions,
): ReadyResponseClass {
  const lazy = options.lazy === true;
  const keepBytes = options.keepBytes ?? KEEP_BYTES_DEFAULT;
  const take = !lazy && options.takeBytes === true;
  const bytesMethod = findDescriptor(Native.prototype, "bytes")?.value as
    | ((this: Response) => Promise<Uint8Array>)
    | undefined;
  const arrayBufferMethod = findDescriptor(Native.prototype, "arrayBuffer")?.value as (
    this: Response,
  ) => Promise<ArrayBuffer>;
  // Bun leaves a text body's Content-Type out of `headers` (Bun.serve adds it when it
  // sends); a ReadyResponse has it, as on Deno and Node, whoever sends it. So does a lazy
  // one, whose runtime Response never saw the text.
  const typesText = !lazy && new Native("").headers.has("content-type");
  return class ReadyResponse extends Native {
    readonly #body: KeptBody | typeof TAKE | undefined;
    /** With TAKE: the bytes, once the sender took them out. */
    #taken: Promise<Uint8Array> | null = null;
    /** With TAKE: the bytes taken out, once they came. */
    #takenBytes: Uint8Array | null = null;
    /**
     * With TAKE: the bytes go to more than one answer, or to a caller: they are not released.
     */
    #shared = false;
    /** With `lazy`: the body is only in #body until something reads it from here. */
    readonly #lazy: boolean;
    /** With `lazy`: the runtime's Response with the body, once something wanted it. */
    #full: Response | null = null;
    /**
     * Its header fields, known without its `headers`: the one `Content-Type` it has (null:
     * none), or undefined when it was given others or its `headers` were asked for.
     */
    #type: string | null | undefined;
    /**
     * With `lazy`: the `Content-Type` given as the only field is in #type alone, not yet in the
     * runtime's Response, which gets it when its `headers` are asked for.
     */
    #typeLater = false;

    constructor(body?: ConstructorParameters<ResponseClass>[0], init?: ResponseInit) {
      const kept = keep(body, keepBytes, take);
      const defer = lazy && kept !== undefined &&
        !(kept !== null && nullBodyStatus(init?.status ?? 200));
      const given = kept === undefined ? undefined : givenType(init?.headers);
      // Handing the runtime's Response a field costs Node 0.5 µs of every answer: lazy, a type
      // it would take (a value with no NUL, CR or LF) waits until the headers are asked for.
      const typeLater = defer && typeof given === "string" && !NOT_IN_VALUE.test(given);
      super(defer ? null : body, typeLater ? statusOf(init!) : init);
      this.#typeLater = typeLater;
      this.#body = kept;
      this.#lazy = defer;
      // A type given as the only field is in the headers already: not asked of them, which
      // costs Bun a `Headers` made for nothing (0.1 µs of every Hono `c.json` answer).
      if (
        typeof kept === "string" && !typesText && typeof given !== "string" &&
        !this.headers.has("content-type")
      ) {
        this.headers.set("content-type", TEXT_TYPE);
      }
      this.#type = given === null ? (typeof kept === "string" ? TEXT_TYPE : null) : given;
    }

    static keptFields(response: Response): [string, string][] | undefined {
      if (!(#type in response)) return undefined;
      const type = response.#type;
      if (type === undefined) return undefined;
      return type === null ? [] : [["content-type", type]];
    }

    static keptBody(response: Response, release: boolean): SentBody | undefined {
      if (!(#body in response)) return undefined;
      const body = response.#body;
      if (body !== TAKE) return body === undefined || response.bodyUsed ? undefined : body;
      if (response.#taken !== null) return response.#again();
      if (response.bodyUsed) return undefined;
      response.#shared = !release;
      const taken = bytesMethod !== undefined
        ? bytesMethod.call(response)
        : arrayBufferMethod.call(response).then((buffer) => new Uint8Array(buffer));
      return response.#taken = taken.then((bytes) => {
        response.#takenBytes = bytes;
        if (!response.#shared) releaseWhenWritten(bytes);
        return bytes;
      });
    }

    /**
     * The bytes taken out before, for the same Response answering again: not released while
     * they are to be written twice; once released (written and given back), none, and the
     * Response is a used one.
     */
    #again(): SentBody | undefined {
      const bytes = this.#takenBytes;
      if (bytes === null) {
        this.#shared = true;
        return this.#taken!;
      }
      // Released: their buffer is detached (only release detaches it).
      if ((bytes.buffer as { detached?: boolean }).detached === true) return undefined;
      this.#shared = true;
      keepAfterWrite(bytes);
      return this.#taken!;
    }

    /** `Response.json()`, made as a ReadyResponse, so that it too is sent from its text. */
    static override json(data: unknown, init?: ResponseInit): Response {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the value is not JSON");
      if (init?.headers === undefined) {
        return new ReadyResponse(text, {
          status: init?.status,
          statusText: init?.statusText,
          headers: { "content-type": "application/json" },
        });
      }
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new ReadyResponse(text, {
        status: init?.status,
        statusText: init?.statusText,
        headers,
      });
    }

    /** Every `Response` is one, so that `x instanceof Response` means what it did. */
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof Native;
    }

    /** The runtime's Response with the body, made on first need. */
    #withBody(): Response {
      return this.#full ??= new Native(this.#body as ConstructorParameters<ResponseClass>[0], {
        status: this.status,
        statusText: this.statusText,
        headers: this.headers,
      });
    }

    /**
     * A lazy one answers every use of its body from the full Response (the runtime's
     * methods and getters, called on it); `bodyUsed` is false until that exists.
     */
    static {
      const proto = ReadyResponse.prototype;
      for (const name of BODY_METHODS) {
        const method = findDescriptor(Native.prototype, name)?.value;
        if (typeof method !== "function") continue;
        Object.defineProperty(proto, name, {
          value(this: ReadyResponse, ...args: unknown[]): unknown {
            return method.apply(this.#lazy ? this.#withBody() : this, args);
          },
          writable: true,
          configurable: true,
        });
      }
      const body = findDescriptor(Native.prototype, "body")?.get;
      const bodyUsed = findDescriptor(Native.prototype, "bodyUsed")?.get;
      const headers = findDescriptor(Native.prototype, "headers")?.get;
      if (body === undefined || bodyUsed === undefined) throw new Error("Response has no body");
      if (headers === undefined) throw new Error("Response has no headers");
      // Once asked for, the fields may be changed: from then on they are read from there.
      Object.defineProperty(proto, "headers", {
        get(this: ReadyResponse): unknown {
          const fields = headers.call(this) as Headers;
          if (this.#typeLater) {
            this.#typeLater = false;
            fields.set("content-type", this.#type as string);
          }
          this.#type = undefined;
          return fields;
        },
        configurable: true,
      });
      Object.defineProperty(proto, "body", {
        get(this: ReadyResponse): unknown {
          return body.call(this.#lazy ? this.#withBody() : this);
        },
        configurable: true,
      });
      Object.defineProperty(proto, "bodyUsed", {
        get(this: ReadyResponse): boolean {
          if (!this.#lazy) return bodyUsed.call(this);
          return this.#full !== null && bodyUsed.call(this.#full);
        },
        configurable: true,
      });
    }
  } as unknown as ReadyResponseClass;
}

/** What a header field value may not hold (the Fetch standard's "header value"). */
const NOT_IN_VALUE = /[\0\r\n]/;

/** The status and status text of `init`, read as the runtime would read them. */
function statusOf(init: ResponseInit): ResponseInit {
  return { status: init.status, statusText: init.statusText };
}

/**
 * What a ReadyResponse keeps of `body`: undefined for a body it does not keep, TAKE for bytes
 * left in the runtime's Response.
 */
function keep(body: unknown, keepBytes: number, take: boolean): KeptBody | typeof TAKE | undefined {
  if (body === null || body === undefined) return null;
  if (typeof body === "string") return body;
  // A number, boolean or bigint is its text to the Fetch standard (WebIDL makes it a string):
  // kept as one, it has the text type on Bun too, whose own Response leaves it out.
  if (typeof body === "number" || typeof body === "boolean" || typeof body === "bigint") {
    return String(body);
  }
  const bytes = bytesOf(body);
  if (bytes === null) return undefined;
  if (bytes.length <= keepBytes) return bytes.slice();
  return take ? TAKE : undefined;
}

/**
 * The `Content-Type` given in `headers` as its only field, as a `Headers` would keep it: a plain
 * object with that one field (Hono's `c.json`, `c.text`, `c.html`). Null when `headers` gives no
 * field at all (left out, or an empty plain object), undefined for anything else. The runtime's
 * constructor has checked the value; its `Headers` would trim it.
 */
function givenType(headers: ResponseInit["headers"]): string | null | undefined {
  if (headers === undefined) return null;
  if (typeof headers !== "object" || headers === null) return undefined;
  const proto = Object.getPrototypeOf(headers);
  if (proto !== Object.prototype && proto !== null) return undefined;
  let type: string | undefined = undefined;
  for (const name in headers) {
    if (type !== undefined || name.length !== 12 || name.toLowerCase() !== "content-type") {
      return undefined;
    }
    // A value, not a getter, which might answer otherwise than it did to the constructor.
    const value = Object.getOwnPropertyDescriptor(headers, name)?.value;
    if (typeof value !== "string") return undefined;
    type = withoutHttpWhitespace(value);
  }
  return type ?? null;
}

/**
 * Make the global `Response` a {@link ReadyResponse}, once (later calls change nothing).
 * Called by `serve({ fetch })` unless told not to.
 */
export function installReadyResponse(options: ReadyResponseOptions = {}): void {
  if (readyResponseClass !== null) return;
  const cls = defineReadyResponse(globalThis.Response, options);
  readyResponseClass = cls;
  Object.defineProperty(globalThis, "Response", {
    value: cls,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * The body `response` still has as it was given, if it was made as a {@link ReadyResponse}
 * that kept it and nothing else has read its body since; else undefined. Bytes left in the
 * runtime's Response are taken out of it by this call.
 */
export function keptBody(response: Response, release = false): SentBody | undefined {
  return readyResponseClass === null ? undefined : readyResponseClass.keptBody(response, release);
}

/**
 * The header fields of `response`, names lowercased, if it was made as a
 * {@link ReadyResponse} with a `Content-Type` at most and its `headers` were never asked for
 * since; else undefined.
 */
export function keptFields(response: Response): [string, string][] | undefined {
  return readyResponseClass === null ? undefined : readyResponseClass.keptFields(response);
}
