/**
 * Method + path routing.
 *
 * Patterns are made of `/`-separated segments: static text, `:name` (one
 * segment, captured) and a final `*` (the rest of the path, captured as
 * `params["*"]`). Static segments win over params, params over the wildcard.
 * Routes without params are looked up in one hash map.
 *
 * `HEAD` falls back to the `GET` route (the server drops the body), `OPTIONS`
 * is answered with `Allow`, a path that exists under other methods gets `405`
 * with `Allow`, and anything else `404`. `OPTIONS *`, which asks about the
 * server as a whole (RFC 9110 §9.3.7), gets `204` with every method routed. A
 * method no route takes anywhere (nor an `all()` route) is one the server does
 * not implement: `501` for it, where a path would otherwise be a 404 or a 405
 * (RFC 9110 §9.1, §15.6.2).
 *
 * @module
 */
import type { Handler } from "./connection.ts";
import { errorReply } from "./connection.ts";
import { hashPath, type IncomingRequest } from "./request.ts";
import type { Reply, StaticReply } from "./response.ts";

/** What a handler or middleware gives back: a reply, or a promise of one. */
export type RouteResult = Reply | StaticReply | Promise<Reply | StaticReply>;

/**
 * Runs around a handler: do something before, call `next()` for the rest of
 * the chain, do something after (with its result), or answer without calling
 * it. Global middleware (`use`) runs first, in the order added, then the
 * route's own, then the handler.
 */
export type Middleware = (req: IncomingRequest, next: () => RouteResult) => RouteResult;

/** One route as registered, kept so a router can be mounted into another. */
interface RouteRecord {
  method: string;
  pattern: string;
  handler: Handler;
}

function chain(middleware: readonly Middleware[], handler: Handler): Handler {
  if (middleware.length === 0) return handler;
  return (req) => {
    const step = (i: number): RouteResult =>
      i === middleware.length ? handler(req) : middleware[i]!(req, () => step(i + 1));
    return step(0);
  };
}

/** Handlers of one path, by method. */
class Methods {
  readonly byMethod = new Map<string, Handler>();
  any: Handler | null = null;
  allow = "";

  set(method: string, handler: Handler): void {
    if (method === "*") this.any = handler;
    else this.byMethod.set(method, handler);
    const names = [...this.byMethod.keys()];
    if (this.byMethod.has("GET") && !this.byMethod.has("HEAD")) names.push("HEAD");
    if (!names.includes("OPTIONS")) names.push("OPTIONS");
    this.allow = names.join(", ");
  }

  find(method: string): Handler | null {
    return this.byMethod.get(method) ??
      (method === "HEAD" ? this.byMethod.get("GET") : undefined) ??
      this.any;
  }
}

class Node {
  readonly children = new Map<string, Node>();
  param: Node | null = null;
  paramName = "";
  wildcard: Methods | null = null;
  methods: Methods | null = null;
}

/** A router: register routes, then pass {@link Router.handler} to the server. */
export class Router {
  private readonly exact = new Map<string, Methods>();
  /** The same routes by the hash of their bytes: a static lookup makes no string. */
  private readonly exactBytes = new Map<number, [Uint8Array, Methods][]>();
  private readonly root = new Node();
  private readonly middleware: Middleware[] = [];
  private readonly routes: RouteRecord[] = [];
  /** Every method some route takes, for `OPTIONS *`; made when first asked. */
  private serverAllow: string | null = null;
  /** The methods some route takes (HEAD and OPTIONS too), or null when an `all()` route takes any. */
  private implemented: ReadonlySet<string> | null | undefined = undefined;
  /** The server-facing handler; bound, so it can be passed around. */
  readonly handler: Handler;

  constructor() {
    this.handler = (req) => this.middleware.length === 0 ? this.route(req) : this.guarded(req);
  }

  /** Route `req` behind the global middleware. */
  private guarded(req: IncomingRequest): RouteResult {
    const mw = this.middleware;
    const step = (i: number): RouteResult =>
      i === mw.length ? this.route(req) : mw[i]!(req, () => step(i + 1));
    return step(0);
  }

  /** Add global middleware: it sees every request, routed or not (404s and 405s too). */
  use(middleware: Middleware): this {
    this.middleware.push(middleware);
    return this;
  }

  /**
   * Add every route of `router` under `prefix` (e.g. `/api`), with that
   * router's global middleware in front of each. Routes added to `router`
   * later are not seen.
   */
  mount(prefix: string, router: Router): this {
    if (!prefix.startsWith("/") || prefix.endsWith("/")) {
      throw new Error(`mount prefix must start with "/" and not end with it: ${prefix}`);
    }
    for (const r of router.routes) {
      const pattern = r.pattern === "/" ? prefix : prefix + r.pattern;
      this.on(r.method, pattern, chain(router.middleware, r.handler));
    }
    return this;
  }

  /**
   * Add a route for one method (`"*"` for any). Middleware given before the
   * handler runs, in order, for this route only.
   */
  on(method: string, pattern: string, ...handlers: [...Middleware[], Handler]): this {
    const handler = chain(
      handlers.slice(0, -1) as Middleware[],
      handlers[handlers.length - 1] as Handler,
    );
    this.routes.push({ method, pattern, handler });
    this.serverAllow = null;
    this.implemented = undefined;
    if (!pattern.startsWith("/")) throw new Error(`route pattern must start with "/": ${pattern}`);
    const segments = pattern.split("/").slice(1);
    if (!segments.some((s) => s.startsWith(":") || s === "*")) {
      let methods = this.exact.get(pattern);
      if (methods === undefined) {
        this.exact.set(pattern, methods = new Methods());
        const bytes = encoder.encode(pattern);
        const key = hashPath(bytes);
        const bucket = this.exactBytes.get(key);
        if (bucket === undefined) this.exactBytes.set(key, [[bytes, methods]]);
        else bucket.push([bytes, methods]);
      }
      methods.set(method, handler);
      return this;
    }
    let node = this.root;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      if (seg === "*") {
        if (i !== segments.length - 1) throw new Error(`"*" must end the pattern: ${pattern}`);
        node.wildcard ??= new Methods();
        node.wildcard.set(method, handler);
        return this;
      }
      if (seg.startsWith(":")) {
        const name = seg.slice(1);
        if (node.param === null) {
          node.param = new Node();
          node.paramName = name;
        } else if (node.paramName !== name) {
          throw new Error(
            `conflicting parameter names :${node.paramName} and :${name} in ${pattern}`,
          );
        }
        node = node.param;
      } else {
        let next = node.children.get(seg);
        if (next === undefined) node.children.set(seg, next = new Node());
        node = next;
      }
    }
    node.methods ??= new Methods();
    node.methods.set(method, handler);
    return this;
  }

  /** Add a `GET` route (it answers `HEAD` too). */
  get(pattern: string, ...handlers: [...Middleware[], Handler]): this {
    return this.on("GET", pattern, ...handlers);
  }
  /** Add a `POST` route. */
  post(pattern: string, ...handlers: [...Middleware[], Handler]): this {
    return this.on("POST", pattern, ...handlers);
  }
  /** Add a `PUT` route. */
  put(pattern: string, ...handlers: [...Middleware[], Handler]): this {
    return this.on("PUT", pattern, ...handlers);
  }
  /** Add a `DELETE` route. */
  delete(pattern: string, ...handlers: [...Middleware[], Handler]): this {
    return this.on("DELETE", pattern, ...handlers);
  }
  /** Add a `PATCH` route. */
  patch(pattern: string, ...handlers: [...Middleware[], Handler]): this {
    return this.on("PATCH", pattern, ...handlers);
  }
  /** Any method. */
  all(pattern: string, ...handlers: [...Middleware[], Handler]): this {
    return this.on("*", pattern, ...handlers);
  }

  /** Find the route of `req` (static paths first, by hash) and run it; 404 when there is none. */
  private route(req: IncomingRequest): RouteResult {
    const bucket = this.exactBytes.get(req.pathHash());
    if (bucket !== undefined) {
      for (let i = 0; i < bucket.length; i++) {
        const entry = bucket[i]!;
        if (req.pathEquals(entry[0])) return this.dispatch(entry[1], req);
      }
    }
    const path = req.path;
    // Only OPTIONS may have the asterisk-form target (the parser sees to it).
    if (path === "*") return { status: 204, headers: { Allow: this.allowAll() } };
    const params: Record<string, string> = {};
    const methods = this.match(path, params);
    if (methods === null) return this.implements(req.method) ? errorReply(404) : errorReply(501);
    if (methods === BAD_ENCODING) return errorReply(400);
    req.params = params;
    return this.dispatch(methods, req);
  }

  /** Whether some route, somewhere, takes `method`. */
  private implements(method: string): boolean {
    if (this.implemented === undefined) {
      // GET and HEAD every general-purpose server supports (RFC 9110 §9.1); OPTIONS the
      // router answers itself.
      const names = new Set<string>(["GET", "HEAD", "OPTIONS"]);
      let any = false;
      for (const r of this.routes) {
        if (r.method === "*") any = true;
        names.add(r.method);
      }
      this.implemented = any ? null : names;
    }
    return this.implemented === null || this.implemented.has(method);
  }

  /** The methods of every route, as `Allow` lists them for one path. */
  private allowAll(): string {
    if (this.serverAllow === null) {
      const all = new Methods();
      for (const r of this.routes) if (r.method !== "*") all.set(r.method, r.handler);
      this.serverAllow = all.allow;
    }
    return this.serverAllow;
  }

  /** Run the handler for the request's method, or answer `OPTIONS` and `405` with `Allow`. */
  private dispatch(methods: Methods, req: IncomingRequest): RouteResult {
    const handler = methods.find(req.method);
    if (handler !== null) return handler(req);
    if (req.method === "OPTIONS") {
      return { status: 204, headers: { Allow: methods.allow } };
    }
    if (!this.implements(req.method)) return errorReply(501);
    return {
      status: 405,
      headers: { Allow: methods.allow, "Content-Type": "text/plain" },
      body: "405\n",
    };
  }

  /**
   * Walk the tree for `path`, filling `params`; the deepest wildcard catches
   * what nothing else does. `BAD_ENCODING` for a param that does not decode.
   */
  private match(path: string, params: Record<string, string>): Methods | null {
    let node = this.root;
    let start = 1;
    let fallback: Methods | null = null;
    let fallbackNode: Node | null = null;
    let fallbackStart = 0;
    for (;;) {
      if (node.wildcard !== null) {
        fallback = node.wildcard;
        fallbackNode = node;
        fallbackStart = start;
      }
      if (start > path.length) break;
      let end = path.indexOf("/", start);
      if (end < 0) end = path.length;
      const seg = path.slice(start, end);
      const next = node.children.get(seg);
      if (next !== undefined) {
        node = next;
      } else if (node.param !== null && seg.length > 0) {
        const value = decodeParam(seg);
        if (value === null) return BAD_ENCODING;
        params[node.paramName] = value;
        node = node.param;
      } else {
        node = NO_NODE;
        break;
      }
      start = end + 1;
      if (end === path.length) break;
    }
    if (node !== NO_NODE && node.methods !== null) return node.methods;
    if (fallback !== null && fallbackNode !== null) {
      const rest = decodeParam(path.slice(Math.min(fallbackStart, path.length)));
      if (rest === null) return BAD_ENCODING;
      params["*"] = rest;
      return fallback;
    }
    return null;
  }
}

const NO_NODE = new Node();
const encoder = new TextEncoder();
const BAD_ENCODING = new Methods();

function decodeParam(text: string): string | null {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
