/**
 * The shoot-out's three routes as a plain fetch handler (`Request` in,
 * `Response` out), for `Deno.serve` and `Bun.serve`: no framework, the path
 * cut out of the URL by hand.
 *
 * @module
 */
import { bigBody, HELLO_BODY, OCTETS } from "./common.ts";
import type { FetchHandler } from "./types.ts";

/** The path of an absolute URL, without the query. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** Build the handler. */
export function plainFetch(): FetchHandler {
  const big = bigBody();
  const json = { "Content-Type": "application/json" };
  const octets = { "Content-Type": OCTETS };
  return async (req: Request): Promise<Response> => {
    const path = pathOf(req.url);
    if (path === "/" && req.method === "GET") return new Response(HELLO_BODY, { headers: json });
    if (path === "/64k" && req.method === "GET") return new Response(big, { headers: octets });
    if (path === "/echo" && req.method === "POST") {
      const type = req.headers.get("content-type") ?? OCTETS;
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(body, { headers: { "Content-Type": type } });
    }
    return new Response(null, { status: 404 });
  };
}
