/**
 * A `Response` that remembers its text.
 *
 * A fetch handler's answer is a standard `Response`, and the only portable way to
 * read its body is its `ReadableStream`: made on demand, read through a reader and
 * promises, which costs more than the rest of the response (Deno and Bun: about 1.5 µs
 * of a 2 µs conversion). Most answers are made from a string (Hono's `c.json`,
 * `c.text`, `c.html`), and a string cannot change after the fact, so a `Response`
 * made from one can be sent from that string directly.
 *
 * {@link TextResponse} is a real `Response` (a subclass: every method, brand check and
 * `new Response(response)` works on it) that keeps the string it was made from. Code
 * that names the global `Response` makes one once {@link installTextResponse} has put
 * it in place; `instanceof Response` stays true for every `Response`, the runtime's
 * own included.
 *
 * @module
 */

/** The runtime's `Response`, before anything replaced it. */
type ResponseClass = typeof Response;

interface TextResponseClass extends ResponseClass {
  /** The string `response` was made from, if it is a `TextResponse` made from one. */
  textOf(response: Response): string | undefined;
}

let textResponseClass: TextResponseClass | null = null;

/** The type the Fetch standard gives a body made from a string. */
const TEXT_TYPE = "text/plain;charset=UTF-8";

function defineTextResponse(Native: ResponseClass): TextResponseClass {
  // Bun leaves a text body's Content-Type out of `headers` (Bun.serve adds it when it
  // sends); a TextResponse has it, as on Deno and Node, whoever sends it.
  const typesText = new Native("").headers.has("content-type");
  return class TextResponse extends Native {
    readonly #text: string | undefined;

    constructor(body?: ConstructorParameters<ResponseClass>[0], init?: ResponseInit) {
      super(body, init);
      if (typeof body !== "string") {
        this.#text = undefined;
        return;
      }
      this.#text = body;
      if (!typesText && !this.headers.has("content-type")) {
        this.headers.set("content-type", TEXT_TYPE);
      }
    }

    static textOf(response: Response): string | undefined {
      return #text in response ? response.#text : undefined;
    }

    /** Every `Response` is one, so that `x instanceof Response` means what it did. */
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof Native;
    }
  };
}

/**
 * Make the global `Response` a {@link TextResponse}, once (later calls change nothing).
 * Called by `serve({ fetch })` unless told not to.
 */
export function installTextResponse(): void {
  if (textResponseClass !== null) return;
  const cls = defineTextResponse(globalThis.Response);
  textResponseClass = cls;
  Object.defineProperty(globalThis, "Response", {
    value: cls,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * The string `response`'s body still is, if it was made as a {@link TextResponse} from
 * one and nothing has read its body since.
 */
export function textBody(response: Response): string | undefined {
  if (textResponseClass === null) return undefined;
  const text = textResponseClass.textOf(response);
  return text === undefined || response.bodyUsed ? undefined : text;
}
