/**
 * A `Response` that keeps the body it was made from.
 *
 * A fetch handler's answer is a standard `Response`, and the only portable way to
 * read its body is its `ReadableStream`: made on demand, read through a reader and
 * promises, which costs more than the rest of the response (Deno and Bun: about 1.5 µs
 * for a short text). Most answers are made from a string
 * (Hono's `c.json`, `c.text`, `c.html`), from bytes, or from nothing, and those can be
 * sent as they were given.
 *
 * {@link ReadyResponse} is a real `Response` (a subclass: every method, brand check and
 * runtime API works on it) that keeps that body: a string as it is (strings do not
 * change), up to 16 KiB of bytes as a copy taken when it is made (as the `Response`
 * takes its own, so later writes to the caller's array change neither). Code that names the global
 * `Response` makes one once {@link installReadyResponse} has put it in place;
 * `instanceof Response` stays true for every `Response`, the runtime's own included.
 *
 * @module
 */

/** The runtime's `Response`, before anything replaced it. */
type ResponseClass = typeof Response;

/** What a ReadyResponse keeps: its body as given, null for none. */
export type KeptBody = string | Uint8Array | null;

interface ReadyResponseClass extends ResponseClass {
  /** The body `response` was made from, if it is a ReadyResponse that kept one. */
  keptBody(response: Response): KeptBody | undefined;
}

/** The type the Fetch standard gives a body made from a string. */
const TEXT_TYPE = "text/plain;charset=UTF-8";
/**
 * Bytes up to this size are copied and kept; a larger body goes through its stream. Past
 * it the copy costs more than the stream saves: on Deno a 64 KiB copy made `GET /64k` 25%
 * dearer (the runtime hands its own copy to the stream whole), and memory outside the
 * heap brings on collections. Bun would gain at any size (it hands 64 KiB out in pieces
 * that have to be joined).
 */
const KEEP_BYTES_MAX = 16 * 1024;

/** The bytes of `body` if it is an `ArrayBuffer` or a view, else null. */
function bytesOf(body: unknown): Uint8Array | null {
  if (body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return null;
}

let readyResponseClass: ReadyResponseClass | null = null;

function defineReadyResponse(Native: ResponseClass): ReadyResponseClass {
  // Bun leaves a text body's Content-Type out of `headers` (Bun.serve adds it when it
  // sends); a ReadyResponse has it, as on Deno and Node, whoever sends it.
  const typesText = new Native("").headers.has("content-type");
  return class ReadyResponse extends Native {
    readonly #body: KeptBody | undefined;

    constructor(body?: ConstructorParameters<ResponseClass>[0], init?: ResponseInit) {
      super(body, init);
      if (body === null || body === undefined) {
        this.#body = null;
      } else if (typeof body === "string") {
        this.#body = body;
        if (!typesText && !this.headers.has("content-type")) {
          this.headers.set("content-type", TEXT_TYPE);
        }
      } else {
        const bytes = bytesOf(body);
        this.#body = bytes !== null && bytes.length <= KEEP_BYTES_MAX ? bytes.slice() : undefined;
      }
    }

    static keptBody(response: Response): KeptBody | undefined {
      return #body in response ? response.#body : undefined;
    }

    /** Every `Response` is one, so that `x instanceof Response` means what it did. */
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof Native;
    }
  };
}

/**
 * Make the global `Response` a {@link ReadyResponse}, once (later calls change nothing).
 * Called by `serve({ fetch })` unless told not to.
 */
export function installReadyResponse(): void {
  if (readyResponseClass !== null) return;
  const cls = defineReadyResponse(globalThis.Response);
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
 * that kept it and nothing has read its body since; else undefined.
 */
export function keptBody(response: Response): KeptBody | undefined {
  if (readyResponseClass === null) return undefined;
  const body = readyResponseClass.keptBody(response);
  return body === undefined || response.bodyUsed ? undefined : body;
}
