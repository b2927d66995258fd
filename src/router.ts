/**
 * Method + path routing.
 *
 * Patterns are made of `/`-separated segments: static text, `:name` (one
 * segment, captured) and a final `*` (the rest of the path, captured as
 * `params["*"]`). The `*` stands for what follows the slash before it, even
 * nothing: `/files/*` matches `/files/` (`*` is `""`) and `/files/a/b` (`"a/b"`),
 * but not `/files`; route `/files` as well to answer for it.
 * Static segments win over params, params over the wildcard,
 * and a route that takes the request's method over one that does not: when the
 * best match of a path has no handler for the method, the next best is tried
 * (`GET /users/me` and `POST /users/:id` both answer for `/users/me`). Routes
 * without params are looked up in one hash map.
 *
 * A pattern is checked when it is added, before anything changes: one that
 * could never match (bytes a request path cannot hold), a param without a name
 * or twice in one pattern, a param named differently from one already at that
 * place, and a method and pattern already routed are errors.
 *
 * Paths are compared in the normal form of RFC 3986 §6.2.2.1-2, in patterns and requests
 * alike: `%c3%a9` is `%C3%A9`, and `%61` is `a` (an unreserved character, §2.3), so
 * `/caf%c3%a9` finds the route `/caf%C3%A9` and `/%61` the route `/a`; so is any other character
 * a path may hold as it is (`/%40a` finds `/@a`), but `%2F`, `%5C`, `%3F`, `%23` and `%25`: see
 * `normalPath`. A path with a `%` that starts no `%HH` is compared as it is.
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
import { BACKSLASH, normalPath, normalPattern, QUESTION, SLASH, TARGET } from "./bytes.ts";
import { discardStream, type Reply, StaticReply, type StreamBody } from "./response.ts";

/** What a handler or middleware gives back: a reply, or a promise of one. */
export type RouteResult = Reply | StaticReply | Promise<Reply | StaticReply>;

/**
 * Runs around a handler: do something before, call `next()` for the rest of
 * the chain, do something after (with its result), or answer without calling
 * it. Global middleware (`use`) runs first, in the order added, then the
 * route's own, then the handler. `next()` runs the rest once, and only until the middleware has
 * answered; a stream reply it gave that the answer does not carry on is closed.
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
  return (req) => runChain(middleware, req, 0, handler);
}

/**
 * Middleware `i` onwards, then `last`. Each `next` runs the rest once: a second call would run
 * the handler again (a second write, a second charge), and so would a call after the middleware
 * gave its answer (from a timer), for a request answered already.
 */
function runChain(
  middleware: readonly Middleware[],
  req: IncomingRequest,
  i: number,
  last: Handler,
): RouteResult {
  if (i === middleware.length) return last(req);
  const link = new Link();
  let out: RouteResult;
  try {
    out = middleware[i]!(req, () => link.next(middleware, req, i + 1, last));
  } catch (error) {
    link.settle(FAILED);
    throw error;
  }
  if (out instanceof Promise) link.answered(out);
  else if (!isForeignThenable(out)) link.settle(out);
  return out;
}

/**
 * A thenable that is no Promise, which the connection awaits too: it is left alone (its then()
 * called once, by the connection), its answer unknown here.
 */
function isForeignThenable(out: unknown): boolean {
  return typeof out === "object" && out !== null && !(out instanceof StaticReply) &&
    typeof (out as { then?: unknown }).then === "function";
}

/** A middleware's answer that is a failure (thrown, or rejected): nothing of next()'s goes out. */
const FAILED = Symbol("failed");

/**
 * One middleware's call: whether its `next` ran, what it gave, and the middleware's own answer.
 * A stream reply `next()` gave that the answer does not carry on (replaced by text, a failure,
 * no reply) would never be closed by the connection, which sees only the answer: its producer
 * may hold an open file, so it is closed here.
 */
class Link {
  private called = false;
  private settled = false;
  private given: Reply | StaticReply | undefined = undefined;
  private answer: unknown = undefined;
  /** The middleware's answer, a promise not watched (yet): see {@link answered}. */
  private unwatched: Promise<Reply | StaticReply> | null = null;

  next(
    middleware: readonly Middleware[],
    req: IncomingRequest,
    i: number,
    last: Handler,
  ): RouteResult {
    if (this.settled) throw new Error("middleware called next() after its answer was given");
    if (this.called) throw new Error("middleware called next() twice");
    this.called = true;
    const result = runChain(middleware, req, i, last);
    if (!(result instanceof Promise)) {
      this.gave(result);
      return result;
    }
    // The middleware gets a promise that settles as the handler's does, so one it ignores is
    // an unhandled rejection as before.
    return result.then((reply) => {
      this.gave(reply);
      return reply;
    });
  }

  /**
   * The middleware answered with a promise. Its outcome matters only while `next()` may still be
   * called late, or once a stream was given that it may drop: most middleware calls `next()`
   * before its first `await`, and most handlers give no stream, so it is watched only then.
   */
  answered(out: Promise<Reply | StaticReply>): void {
    if (!this.called || streamOf(this.given) !== null) this.watch(out);
    else this.unwatched = out;
  }

  private watch(out: Promise<Reply | StaticReply>): void {
    out.then((reply) => this.settle(reply), () => this.settle(FAILED));
  }

  settle(answer: unknown): void {
    this.settled = true;
    this.answer = answer;
    this.closeLost();
  }

  private gave(reply: Reply | StaticReply): void {
    this.given = reply;
    if (this.settled) this.closeLost();
    else if (this.unwatched !== null && streamOf(reply) !== null) {
      this.watch(this.unwatched);
      this.unwatched = null;
    }
  }

  private closeLost(): void {
    const given = streamOf(this.given);
    if (given === null) return;
    this.given = undefined;
    if (this.answer === FAILED || streamOf(this.answer) === null) discardStream(given);
  }
}

/** The stream body of what a handler or middleware gave, or null when it carries none. */
function streamOf(reply: unknown): StreamBody | null {
  if (typeof reply !== "object" || reply === null || reply instanceof StaticReply) return null;
  try {
    const body = (reply as Reply).body;
    return typeof body === "object" && body !== null && Symbol.asyncIterator in body
      ? body as StreamBody
      : null;
  } catch {
    // A getter that throws: no stream that binks could reach.
    return null;
  }
}

/** The methods RFC 9110 and RFC 5789 define: `get` is another method, and surely a typo. */
const STANDARD_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/** Handlers of one path, by method. */
class Methods {
  readonly byMethod = new Map<string, Handler>();
  any: Handler | null = null;
  allow = "";

  set(method: string, handler: Handler): void {
    if (method === "*") this.any = handler;
    else this.byMethod.set(method, handler);
    this.allow = allowOf([this]);
  }

  /** A handler for `method` was added here (`"*"`: an `all()` one). */
  has(method: string): boolean {
    return method === "*" ? this.any !== null : this.byMethod.has(method);
  }

  find(method: string): Handler | null {
    return this.byMethod.get(method) ??
      (method === "HEAD" ? this.byMethod.get("GET") : undefined) ??
      this.any;
  }
}

/** `Allow` for a resource the routes in `all` answer for: their methods, HEAD with GET, OPTIONS. */
function allowOf(all: readonly Methods[]): string {
  const names: string[] = [];
  for (const methods of all) {
    for (const name of methods.byMethod.keys()) if (!names.includes(name)) names.push(name);
  }
  if (names.includes("GET") && !names.includes("HEAD")) names.push("HEAD");
  if (!names.includes("OPTIONS")) names.push("OPTIONS");
  return names.join(", ");
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
  /** Mounted into another router, which took a copy of its routes: it takes no more. */
  private mounted = false;
  /** The server-facing handler; bound, so it can be passed around. */
  readonly handler: Handler;
  /** {@link route}, bound once: the last step of the global middleware. */
  private readonly routeBound: Handler;

  /** An empty router: add routes with {@link Router.get} and the like, or {@link Router.on}. */
  constructor() {
    this.routeBound = (req) => this.route(req);
    this.handler = (req) =>
      this.middleware.length === 0
        ? this.route(req)
        : runChain(this.middleware, req, 0, this.routeBound);
  }

  /** Add global middleware: it sees every request, routed or not (404s and 405s too). */
  use(middleware: Middleware): this {
    this.notMounted("use()");
    this.middleware.push(middleware);
    return this;
  }

  /** What is added after mount() would be silently missing from the router it went into. */
  private notMounted(what: string): void {
    if (this.mounted) {
      throw new Error(`${what} on a router already mounted: add its routes before mount()`);
    }
  }

  /**
   * Add every route of `router` under `prefix` (e.g. `/api`), with that
   * router's global middleware in front of each. `router` takes no more routes
   * or middleware after this (they would not be seen): adding any throws. A route
   * refused here (already routed, a param named otherwise) throws, and then none is
   * added and `router` stays open.
   */
  mount(prefix: string, router: Router): this {
    this.notMounted(`mount(${prefix})`);
    if (!prefix.startsWith("/") || (prefix.endsWith("/") && prefix !== "/")) {
      throw new Error(`mount prefix must start with "/" and not end with it: ${prefix}`);
    }
    const added = router.routes.map((r): RouteRecord => ({
      method: r.method,
      pattern: prefix === "/" ? r.pattern : r.pattern === "/" ? prefix : prefix + r.pattern,
      handler: chain(router.middleware, r.handler),
    }));
    // All or nothing, as for one route: a route refused halfway would leave those before it in.
    const trial = new Router();
    for (const r of [...this.routes, ...added]) trial.on(r.method, r.pattern, r.handler);
    router.mounted = true;
    for (const r of added) this.on(r.method, r.pattern, r.handler);
    return this;
  }

  /**
   * @internal Whether a route has exactly the path `path` (in normal form), whatever its methods:
   * one more route there would take some of them over.
   */
  routesPath(path: string): boolean {
    return this.exact.has(normalPath(path));
  }

  /**
   * Add a route for one method (`"*"` for any). Middleware given before the
   * handler runs, in order, for this route only.
   */
  on(method: string, pattern: string, ...handlers: [...Middleware[], Handler]): this {
    this.notMounted(`${method} ${pattern}`);
    if (method !== method.toUpperCase() && STANDARD_METHODS.has(method.toUpperCase())) {
      throw new Error(
        `methods are case-sensitive: "${method}" is not ${method.toUpperCase()} (RFC 9110 §9.1)`,
      );
    }
    const handler = chain(
      handlers.slice(0, -1) as Middleware[],
      handlers[handlers.length - 1] as Handler,
    );
    checkPattern(pattern);
    const normal = normalPattern(pattern);
    const segments = normal.split("/").slice(1);
    if (!segments.some((s) => s.startsWith(":") || s === "*")) {
      let methods = this.exact.get(normal);
      if (methods?.has(method)) throw taken(method, pattern);
      if (methods === undefined) {
        this.exact.set(normal, methods = new Methods());
        const bytes = encoder.encode(normal);
        const key = hashPath(bytes);
        const bucket = this.exactBytes.get(key);
        if (bucket === undefined) this.exactBytes.set(key, [[bytes, methods]]);
        else bucket.push([bytes, methods]);
      }
      methods.set(method, handler);
    } else {
      this.placeFor(method, pattern, segments).set(method, handler);
    }
    this.routes.push({ method, pattern, handler });
    this.serverAllow = null;
    this.implemented = undefined;
    return this;
  }

  /**
   * The handlers of a tree pattern, nodes made as needed; checked all the way first, so a
   * pattern refused leaves the tree as it was.
   */
  private placeFor(method: string, pattern: string, segments: readonly string[]): Methods {
    let node: Node | null = this.root;
    // A dry walk: the clash of param names, or the route itself, may be there already.
    for (const seg of segments) {
      if (node === null || seg === "*") break;
      if (seg.startsWith(":")) {
        const name = seg.slice(1);
        if (node.param !== null && node.paramName !== name) {
          throw new Error(
            `conflicting parameter names :${node.paramName} and :${name} in ${pattern}`,
          );
        }
        node = node.param;
      } else node = node.children.get(seg) ?? null;
    }
    if (node !== null) {
      const last = segments[segments.length - 1] === "*" ? node.wildcard : node.methods;
      if (last?.has(method)) throw taken(method, pattern);
    }
    node = this.root;
    for (const seg of segments) {
      if (seg === "*") return node.wildcard ??= new Methods();
      if (seg.startsWith(":")) {
        if (node.param === null) {
          node.param = new Node();
          node.paramName = seg.slice(1);
        }
        node = node.param;
      } else {
        let next = node.children.get(seg);
        if (next === undefined) node.children.set(seg, next = new Node());
        node = next;
      }
    }
    return node.methods ??= new Methods();
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

  /**
   * Find the route of `req` and run it: the best match whose handlers take its method
   * (static paths first, by hash); when none does, `OPTIONS`, `405` or `404` for the path.
   */
  private route(req: IncomingRequest): RouteResult {
    const method = req.method;
    let exact: Methods | null = null;
    const bucket = this.exactBytes.get(req.pathHash());
    if (bucket !== undefined) {
      for (let i = 0; i < bucket.length; i++) {
        const entry = bucket[i]!;
        if (req.pathEquals(entry[0])) {
          exact = entry[1];
          const handler = exact.find(method);
          if (handler !== null) return handler(req);
          break;
        }
      }
    }
    let path = req.path;
    // Only OPTIONS may have the asterisk-form target (the parser sees to it).
    if (path === "*") return { status: 204, headers: { Allow: this.allowAll() } };
    if (path.charCodeAt(0) !== SLASH) {
      // A CONNECT's authority (`host:443`) is no path: walked as one from its second byte, it
      // found `/dmin:80` for `admin:80`, and gave a param or `*` what no route had matched.
      pathSeen = false;
      return this.unrouted(method, path, null);
    }
    const normal = normalPath(path);
    if (normal !== path) {
      // Its bytes matched no static route as sent: their normal form may.
      path = normal;
      exact = this.exact.get(path) ?? null;
      const handler = exact?.find(method) ?? null;
      if (handler !== null) return handler(req);
    }
    pathSeen = exact !== null;
    badParam = false;
    const params: Record<string, string> = {};
    const handler = walk(this.root, path, 1, method, params);
    if (handler !== null) {
      if (badParam) return errorReply(400);
      req.params = params;
      return handler(req);
    }
    return this.unrouted(method, path, exact);
  }

  /**
   * The answer when no route for `path` takes `method`: `404` (or `501`) when none matches it
   * at all, else `OPTIONS` or `405` with what the routes that match allow. (`exact`: the static
   * route of the path, if any.)
   */
  private unrouted(method: string, path: string, exact: Methods | null): RouteResult {
    if (!pathSeen) return this.implements(method) ? errorReply(404) : errorReply(501);
    // The routes that answer for the path say what it allows.
    const all: Methods[] = exact === null ? [] : [exact];
    collect(this.root, path, 1, all);
    const allow = all.length === 1 ? all[0]!.allow : allowOf(all);
    if (method === "OPTIONS") return { status: 204, headers: { Allow: allow } };
    if (!this.implements(method)) return errorReply(501);
    return {
      status: 405,
      headers: { Allow: allow, "Content-Type": "text/plain" },
      body: "405\n",
    };
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
      // Not `all.allow`: with no method routed that is "", where the router still answers OPTIONS.
      this.serverAllow = allowOf([all]);
    }
    return this.serverAllow;
  }
}

const encoder = new TextEncoder();

/**
 * What the last walk saw besides its result (routing is synchronous, so these serve every
 * request): it passed a route for the path, whatever its methods; a param of the route it
 * found does not decode.
 */
let pathSeen = false;
let badParam = false;
/**
 * The handler of the route under `node` for `path` from `start` (just after a `/`; past the
 * end once the path is used up) that takes `method`: static child first, then the param, then
 * this node's wildcard, going back when a branch has none. Params are captured on the way back,
 * so a branch given up leaves none behind.
 */
function walk(
  node: Node,
  path: string,
  start: number,
  method: string,
  params: Record<string, string>,
): Handler | null {
  if (start > path.length) {
    const methods = node.methods;
    if (methods === null) return null;
    pathSeen = true;
    return methods.find(method);
  }
  const end = segmentEnd(path, start);
  const segment = path.slice(start, end);
  const child = node.children.get(segment);
  if (child !== undefined) {
    const found = walk(child, path, end + 1, method, params);
    if (found !== null) return found;
  }
  if (node.param !== null && end > start) {
    const found = walk(node.param, path, end + 1, method, params);
    if (found !== null) {
      params[node.paramName] = decodeParam(segment);
      return found;
    }
  }
  const wildcard = node.wildcard;
  if (wildcard === null) return null;
  pathSeen = true;
  const handler = wildcard.find(method);
  if (handler === null) return null;
  params["*"] = decodeParam(path.slice(start));
  return handler;
}

/** Every route whose pattern matches `path` from `start`, whatever its methods. */
function collect(node: Node, path: string, start: number, out: Methods[]): void {
  if (start > path.length) {
    if (node.methods !== null && !out.includes(node.methods)) out.push(node.methods);
    return;
  }
  const end = segmentEnd(path, start);
  const child = node.children.get(path.slice(start, end));
  if (child !== undefined) collect(child, path, end + 1, out);
  if (node.param !== null && end > start) collect(node.param, path, end + 1, out);
  if (node.wildcard !== null && !out.includes(node.wildcard)) out.push(node.wildcard);
}

/** Where the path segment starting at `start` ends: the next `/`, or the end of the path. */
function segmentEnd(path: string, start: number): number {
  const end = path.indexOf("/", start);
  return end < 0 ? path.length : end;
}

/** A param percent-decoded; one that does not decode sets {@link badParam}. */
function decodeParam(text: string): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    badParam = true;
    return text;
  }
}

function taken(method: string, pattern: string): Error {
  return new Error(`route ${method === "*" ? "all()" : method} ${pattern} is already routed`);
}

/**
 * An error for a `pattern` that cannot be routed: not starting with
 * `/`; holding what a request path cannot (requests carry their paths percent-encoded:
 * `/caf%C3%A9`, not `/café`); a `*` that does not end it; a param with no name, or one name
 * twice.
 */
function checkPattern(pattern: string): void {
  if (!pattern.startsWith("/")) throw new Error(`route pattern must start with "/": ${pattern}`);
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c > 0xff || TARGET[c] === 0 || c === QUESTION || c === BACKSLASH) {
      throw new Error(
        `route pattern holds ${
          JSON.stringify(pattern[i])
        }, which a request path cannot (percent-encode it): ${pattern}`,
      );
    }
  }
  const segments = pattern.split("/").slice(1);
  const names: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === "*" && i !== segments.length - 1) {
      throw new Error(`"*" must end the pattern: ${pattern}`);
    }
    if (!seg.startsWith(":")) continue;
    const name = seg.slice(1);
    if (name === "") throw new Error(`a parameter needs a name: ${pattern}`);
    if (names.includes(name)) throw new Error(`parameter :${name} is named twice in ${pattern}`);
    names.push(name);
  }
}
