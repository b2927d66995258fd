/**
 * The standard `Request` a fetch handler receives, made lazily.
 *
 * Building a real `Request` costs more than answering most requests does: a
 * URL parse, a `Headers` filled field by field, an `AbortController` and, on
 * Node, the bookkeeping that follows a passed signal. Most handlers read the
 * method and the URL and little else. So a fetch handler gets a
 * {@link WebRequest}: an object whose prototype chain runs through
 * `Request.prototype` (so `instanceof Request` holds) and whose own getters
 * answer from the binks request, making each piece on first use. Anything
 * rare (`clone()`, `formData()`, `cache`, …) is answered by a real `Request`,
 * built once on demand.
 *
 * The one difference from a real `Request`: `new Request(webRequest)` sees a
 * plain object, not a request to copy. Use `webRequest.clone()`, or pass the
 * fields (`new Request(r.url, r)`).
 *
 * @module
 */
import type { IncomingRequest } from "./request.ts";

function bodyAllowed(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

function usedError(): TypeError {
  return new TypeError("the request body has already been read");
}

/** A `Request` over an {@link IncomingRequest}, made piece by piece on first use. */
export class WebRequest {
  readonly #req: IncomingRequest;
  #url: string | null = null;
  #headers: Headers | null = null;
  #real: Request | null = null;
  /** The body as a stream, once someone asked for `body`. */
  #stream: ReadableStream<Uint8Array> | null = null;
  /** The body was taken whole (text(), json(), …). */
  #taken = false;

  constructor(req: IncomingRequest) {
    this.#req = req;
  }

  /** The standard `Request` for `req` (typed as one: it is one to every caller but `new Request`). */
  static of(req: IncomingRequest): Request {
    return new WebRequest(req) as unknown as Request;
  }

  get method(): string {
    return this.#req.method;
  }

  get url(): string {
    if (this.#url === null) {
      const target = this.#req.url;
      this.#url = target.startsWith("/")
        ? `http://${this.#req.header("host") ?? "localhost"}${target}`
        : target;
    }
    return this.#url;
  }

  get headers(): Headers {
    if (this.#headers === null) {
      const headers = new Headers();
      for (const [name, value] of this.#req.headerList()) headers.append(name, value);
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** Aborts when the client goes away, the handler times out, or the server is forced down. */
  get signal(): AbortSignal {
    return this.#req.signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real !== null) return this.#real.body;
    const source = this.#req.body;
    if (source === null || !bodyAllowed(this.method)) return null;
    if (this.#stream === null) {
      if (this.#taken) return null;
      const iterator = source[Symbol.asyncIterator]();
      this.#stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const step = await iterator.next();
          if (step.done) controller.close();
          else controller.enqueue(step.value);
        },
        async cancel() {
          await iterator.return?.();
        },
      });
    }
    return this.#stream;
  }

  get bodyUsed(): boolean {
    if (this.#taken) return true;
    if (this.#real !== null) return this.#real.bodyUsed;
    return this.#stream !== null && this.#stream.locked;
  }

  /** The whole body, read from the connection directly (no stream in between). */
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#taken) throw usedError();
    if (this.#real !== null || this.#stream !== null) {
      return new Uint8Array(await this.real().arrayBuffer());
    }
    this.#taken = true;
    if (!bodyAllowed(this.method)) return new Uint8Array(0);
    const bytes = await this.#req.bytes() as Uint8Array<ArrayBuffer>;
    // A view into a larger buffer (a read chunk) is copied: arrayBuffer() must be exact. Not
    // with slice(): on a Node Buffer that makes another view.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    return whole ? bytes : new Uint8Array(bytes);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer;
  }

  async text(): Promise<string> {
    if (this.#taken) throw usedError();
    if (this.#real !== null || this.#stream !== null) return await this.real().text();
    this.#taken = true;
    if (!bodyAllowed(this.method)) return "";
    return await this.#req.text();
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  blob(): Promise<Blob> {
    return this.#taken ? Promise.reject(usedError()) : this.real().blob();
  }

  formData(): Promise<FormData> {
    return this.#taken ? Promise.reject(usedError()) : this.real().formData();
  }

  clone(): Request {
    return this.real().clone();
  }

  // The rarely read fields come from a real Request.
  get cache(): Request["cache"] {
    return this.real().cache;
  }
  get credentials(): Request["credentials"] {
    return this.real().credentials;
  }
  get destination(): Request["destination"] {
    return this.real().destination;
  }
  get integrity(): string {
    return this.real().integrity;
  }
  get keepalive(): boolean {
    return this.real().keepalive;
  }
  get mode(): Request["mode"] {
    return this.real().mode;
  }
  get redirect(): Request["redirect"] {
    return this.real().redirect;
  }
  get referrer(): string {
    return this.real().referrer;
  }
  get referrerPolicy(): Request["referrerPolicy"] {
    return this.real().referrerPolicy;
  }
  get duplex(): string {
    return "half";
  }

  /** @internal The real `Request`, built once; it takes over the body unless that was read already. */
  real(): Request {
    if (this.#real === null) {
      const init: RequestInit & { duplex?: "half" } = {
        method: this.method,
        headers: this.headers,
        signal: this.signal,
      };
      const body = this.#taken ? null : this.body;
      if (body !== null) {
        init.body = body;
        init.duplex = "half";
      }
      this.#real = new Request(this.url, init);
    }
    return this.#real;
  }
}

Object.setPrototypeOf(WebRequest.prototype, Request.prototype);
// Request.prototype's own inspection would read internal slots this object has not got.
Object.defineProperty(WebRequest.prototype, Symbol.for("nodejs.util.inspect.custom"), {
  value: function inspect(this: WebRequest): Request {
    return this.real();
  },
});
