/**
 * The router: precedence, params, decoding, HEAD, OPTIONS, 405 with Allow,
 * middleware order and mounting.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Middleware, Router } from "../src/router.ts";
import { IncomingRequest } from "../src/request.ts";
import { findHeadEnd, parseHead, RequestHead } from "../src/parser.ts";
import { defaultLimits } from "../src/limits.ts";
import { type Reply, StaticReply, withHeaders } from "../src/response.ts";

function req(method: string, target: string): IncomingRequest {
  const bytes = new TextEncoder().encode(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const head = new RequestHead(defaultLimits.maxHeaders);
  const end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  assert.equal(parseHead(bytes, 0, end, head, defaultLimits), 0);
  return new IncomingRequest(head, null, { remoteAddress: "" });
}

/** Route and return [status, body or tag, params]. */
function call(
  router: Router,
  method: string,
  target: string,
): [number, unknown, Record<string, string>] {
  const r = req(method, target);
  const out = router.handler(r) as Reply | StaticReply;
  if (out instanceof StaticReply) {
    return [out.status, new TextDecoder().decode(out.body).trim(), r.params];
  }
  return [out.status ?? 200, out.body, r.params];
}

const tag = (name: string) => () => ({ body: name });

describe("router: matching", () => {
  const router = new Router()
    .get("/", tag("root"))
    .get("/users", tag("users"))
    .get("/users/me", tag("me"))
    .get("/users/:id", tag("user"))
    .get("/users/:id/posts/:post", tag("post"))
    .get("/files/*", tag("files"))
    .get("/files/readme", tag("readme"))
    .post("/users", tag("create"))
    .all("/any", tag("any"));

  it("prefers static segments over params, params over the wildcard", () => {
    assert.equal(call(router, "GET", "/users/me")[1], "me");
    assert.equal(call(router, "GET", "/users/7")[1], "user");
    assert.equal(call(router, "GET", "/files/readme")[1], "readme");
    assert.equal(call(router, "GET", "/files/a/b")[1], "files");
  });

  it("matches a trailing `*` from the slash before it: `/files/` and below, not `/files`", () => {
    // As in Fastify: `/files` is another path, which a route of its own would answer.
    assert.deepEqual(call(router, "GET", "/files"), [404, "404", {}]);
    assert.deepEqual(call(router, "GET", "/files/"), [200, "files", { "*": "" }]);
    assert.deepEqual(call(router, "GET", "/files/a/b"), [200, "files", { "*": "a/b" }]);
    assert.deepEqual(call(router, "GET", "/files?x=1"), [404, "404", {}]);
    assert.deepEqual(call(router, "GET", "/files/?x=1"), [200, "files", { "*": "" }]);
  });

  it("captures params and the wildcard rest, percent-decoded", () => {
    assert.deepEqual(call(router, "GET", "/users/a%20b/posts/9")[2], { id: "a b", post: "9" });
    assert.deepEqual(call(router, "GET", "/files/dir/x%2Fy.txt")[2], { "*": "dir/x/y.txt" });
  });

  it("answers 400 for bad percent-encoding in a param", () => {
    assert.equal(call(router, "GET", "/users/%E0%A4%A")[0], 400);
  });

  it("routes an absolute-form target by the path after its authority", () => {
    // RFC 9112 §3.2.2: servers accept the absolute-form; the empty path is `/`.
    assert.equal(call(router, "GET", "http://x/users/me")[1], "me");
    assert.deepEqual(call(router, "GET", "http://x:8080/users/7?a=1")[2], { id: "7" });
    assert.equal(call(router, "GET", "http://x")[1], "root");
    assert.equal(call(router, "GET", "http://x?q=1")[1], "root");
    assert.equal(call(router, "GET", "https://[::1]:8/files/a")[1], "files");
    assert.equal(call(router, "GET", "http://x/nope")[0], 404);
  });

  it("gives an absolute-form request its path and query, and its url as sent", () => {
    const r = req("GET", "http://x:8080/a/b?c=1&d=2");
    assert.equal(r.url, "http://x:8080/a/b?c=1&d=2");
    assert.equal(r.path, "/a/b");
    assert.equal(r.query.get("d"), "2");
    const bare = req("GET", "http://x?c=3");
    assert.equal(bare.path, "/");
    assert.equal(bare.query.get("c"), "3");
    assert.equal(req("GET", "http://x").path, "/");
  });

  it("gives the authority a request is for: the absolute-form target's over Host", () => {
    // req() sends `Host: x`.
    assert.equal(req("GET", "/a").host, "x");
    assert.equal(req("GET", "http://other:8080/a?b").host, "other:8080");
    assert.equal(req("GET", "https://[::1]:8").host, "[::1]:8");
    assert.equal(req("GET", "http://y?q").host, "y");
    assert.equal(req("CONNECT", "z:443").host, "z:443");
    const bytes = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
    const head = new RequestHead(defaultLimits.maxHeaders);
    assert.equal(parseHead(bytes, 0, bytes.length, head, defaultLimits), 0);
    assert.equal(new IncomingRequest(head, null, { remoteAddress: "" }).host, "");
  });

  it("reads the query as the URL standard does, a second `?` included", () => {
    assert.deepEqual([...req("GET", "/u??a=1").query], [["?a", "1"]]);
    assert.deepEqual([...req("GET", "/u?a=1&b=%20+c").query], [["a", "1"], ["b", "  c"]]);
    assert.deepEqual([...req("GET", "/u?").query], []);
    assert.deepEqual([...req("GET", "/u").query], []);
  });

  it("ignores the query string", () => {
    assert.equal(call(router, "GET", "/users?id=3")[1], "users");
    assert.equal(call(router, "GET", "/users/3?x=1")[1], "user");
  });

  it("answers 404 for unknown paths and empty params", () => {
    assert.equal(call(router, "GET", "/nope")[0], 404);
    assert.equal(call(router, "GET", "/users/7/posts")[0], 404);
    assert.equal(call(router, "GET", "/users//posts/1")[0], 404);
  });

  it("serves HEAD from the GET route", () => {
    assert.equal(call(router, "HEAD", "/users/7")[1], "user");
  });

  it("answers 405 with Allow when the path exists under other methods", () => {
    const r = req("DELETE", "/users");
    const out = router.handler(r) as Reply;
    assert.equal(out.status, 405);
    assert.deepEqual(out.headers, {
      Allow: "GET, POST, HEAD, OPTIONS",
      "Content-Type": "text/plain",
    });
  });

  it("answers OPTIONS with 204 and Allow", () => {
    const out = router.handler(req("OPTIONS", "/users/1")) as Reply;
    assert.equal(out.status, 204);
    assert.deepEqual(out.headers, { Allow: "GET, HEAD, OPTIONS" });
  });

  it("answers OPTIONS * (the server as a whole) with 204 and every method routed", () => {
    const out = router.handler(req("OPTIONS", "*")) as Reply;
    assert.equal(out.status, 204);
    assert.deepEqual(out.headers, { Allow: "GET, POST, HEAD, OPTIONS" });
    assert.equal(out.body, undefined);
    const later = new Router().put("/a", tag("a"));
    assert.deepEqual((later.handler(req("OPTIONS", "*")) as Reply).headers, {
      Allow: "PUT, OPTIONS",
    });
    later.delete("/b", tag("b"));
    assert.deepEqual((later.handler(req("OPTIONS", "*")) as Reply).headers, {
      Allow: "PUT, DELETE, OPTIONS",
    });
  });

  // Found by the router model: with no method routed, Allow was empty, though the router itself
  // answers OPTIONS.
  it("answers OPTIONS * with Allow: OPTIONS when no method is routed", () => {
    for (const r of [new Router(), new Router().all("/a", tag("a"))]) {
      assert.deepEqual(r.handler(req("OPTIONS", "*")), {
        status: 204,
        headers: { Allow: "OPTIONS" },
      });
    }
  });

  it("answers 501 to a method no route takes anywhere, never to GET, HEAD or OPTIONS", () => {
    const small = new Router().get("/a", tag("a")).post("/b", tag("b"));
    assert.equal(call(small, "PUT", "/a")[0], 501);
    assert.equal(call(small, "PUT", "/nope")[0], 501);
    assert.equal(call(small, "BREW", "/b")[0], 501);
    assert.equal(call(small, "POST", "/a")[0], 405);
    assert.equal(call(small, "POST", "/nope")[0], 404);
    assert.equal(call(small, "HEAD", "/b")[0], 405);
    assert.equal(call(new Router(), "GET", "/")[0], 404);
    assert.equal(call(new Router(), "HEAD", "/")[0], 404);
    assert.equal(call(new Router(), "OPTIONS", "/")[0], 404);
    // A route added later is seen; an all() route takes any method somewhere.
    small.put("/c", tag("c"));
    assert.equal(call(small, "PUT", "/a")[0], 405);
    assert.equal(call(router, "BREW", "/users")[0], 405);
    assert.equal(call(router, "BREW", "/nope")[0], 404);
  });

  it("routes any method to all()", () => {
    assert.equal(call(router, "PROPFIND", "/any")[1], "any");
  });

  it("refuses conflicting param names and misplaced wildcards", () => {
    assert.throws(() => new Router().get("/a/:x", tag("")).get("/a/:y/b", tag("")), /conflicting/);
    assert.throws(() => new Router().get("/a/*/b", tag("")), /must end/);
    assert.throws(() => new Router().get("a", tag("")), /must start/);
  });

  it("refuses a route twice, a nameless or repeated param, and paths no request can have", () => {
    const r = new Router().get("/a", tag("1")).get("/p/:id", tag("1")).get("/w/*", tag("1"));
    assert.throws(() => r.get("/a", tag("2")), /GET \/a is already routed/);
    assert.throws(() => r.get("/p/:id", tag("2")), /already routed/);
    assert.throws(() => r.get("/w/*", tag("2")), /already routed/);
    assert.throws(() => r.all("/x", tag("1")).all("/x", tag("2")), /all\(\) \/x is already/);
    assert.throws(() => r.get("/e/:", tag("")), /needs a name/);
    assert.throws(() => r.get("/d/:id/:id", tag("")), /named twice/);
    for (const bad of ["/café", "/a b", "/a?b", "/a#b", "/a\tb"]) {
      assert.throws(() => r.get(bad, tag("")), /a request path cannot/, bad);
    }
    // The first routes still answer as they did, and nothing refused was half added.
    assert.equal(call(r, "GET", "/a")[1], "1");
    assert.equal(call(r, "GET", "/p/3")[1], "1");
    assert.equal(call(r, "GET", "/e/")[0], 404);
    assert.equal(call(r, "GET", "/d/1/2")[0], 404);
    assert.equal(call(r, "GET", "/caf%C3%A9")[0], 404);
    r.get("/caf%C3%A9", tag("café"));
    assert.equal(call(r, "GET", "/caf%C3%A9")[1], "café");
  });

  it("leaves the router as it was when a route is refused", () => {
    const r = new Router().on("FOO", "/a/:x", tag("foo"));
    assert.throws(() => r.on("BAR", "/a/:y", tag("bar")), /conflicting/);
    assert.throws(() => r.on("BAR", "bad", tag("bar")), /must start/);
    // BAR was never routed: a method no route takes is a 501, and OPTIONS * does not list it.
    assert.equal(call(r, "BAR", "/a/1")[0], 501);
    assert.equal(call(r, "BAR", "/nope")[0], 501);
    assert.deepEqual((r.handler(req("OPTIONS", "*")) as Reply).headers, { Allow: "FOO, OPTIONS" });
    assert.doesNotThrow(() => new Router().mount("/p", r));
  });

  it("tries the next best route when the best match does not take the method", () => {
    const r = new Router()
      .get("/users/me", tag("me"))
      .post("/users/:id", tag("update"))
      .get("/s/readme", tag("readme"))
      .post("/s/*", tag("upload"))
      .post("/f/:id", tag("f-post"))
      .get("/f/*", tag("f-get"))
      .get("/a/b/:x", tag("abx"))
      .get("/a/:id/y/z", tag("aidyz"))
      .delete("/gone", tag("gone"));
    assert.deepEqual(call(r, "POST", "/users/me"), [200, "update", { id: "me" }]);
    assert.equal(call(r, "GET", "/users/me")[1], "me");
    assert.deepEqual(call(r, "POST", "/s/readme"), [200, "upload", { "*": "readme" }]);
    assert.deepEqual(call(r, "GET", "/f/abc"), [200, "f-get", { "*": "abc" }]);
    assert.equal(call(r, "HEAD", "/f/abc")[1], "f-get");
    assert.equal(call(r, "POST", "/f/abc")[1], "f-post");
    // A static segment that leads nowhere gives way to the param beside it.
    assert.deepEqual(call(r, "GET", "/a/b/y/z"), [200, "aidyz", { id: "b" }]);
    assert.deepEqual(call(r, "GET", "/a/b/q"), [200, "abx", { x: "q" }]);
    // Allow names every method some route takes for the path (RFC 9110 §10.2.1).
    const out = r.handler(req("DELETE", "/users/me")) as Reply;
    assert.equal(out.status, 405);
    assert.deepEqual(out.headers, {
      Allow: "GET, POST, HEAD, OPTIONS",
      "Content-Type": "text/plain",
    });
    assert.deepEqual((r.handler(req("OPTIONS", "/s/readme")) as Reply).headers, {
      Allow: "GET, POST, HEAD, OPTIONS",
    });
  });

  // Found by the router model: static segments were compared byte for byte, so a path that
  // RFC 3986 §6.2.2.1-2 counts as the same missed its route, and a param beside it took it.
  it("compares paths in normal form: hex digits in any case, unreserved characters encoded or not", () => {
    const r = new Router()
      .get("/caf%C3%A9", tag("café"))
      .get("/users/me", tag("me"))
      .put("/users/me", tag("put me"))
      .get("/users/:id", tag("user"))
      .get("/a/x%2Fy/:id", tag("slash"));
    assert.deepEqual(call(r, "GET", "/caf%c3%a9"), [200, "café", {}]);
    assert.deepEqual(call(r, "GET", "/users/m%65"), [200, "me", {}]);
    assert.deepEqual(call(r, "GET", "/%75sers/7"), [200, "user", { id: "7" }]);
    assert.deepEqual(call(r, "GET", "/a/x%2fy/%7E?q=%61"), [200, "slash", { id: "~" }]);
    assert.deepEqual(r.handler(req("OPTIONS", "/users/m%65")), {
      status: 204,
      headers: { Allow: "GET, PUT, HEAD, OPTIONS" },
    });
    // `%2F` stays data, never a `/`.
    assert.equal(call(r, "GET", "/users%2Fme")[0], 404);
    // A pattern written otherwise is the same route.
    assert.throws(() => r.get("/users/%6De", tag("")), /GET \/users\/%6De is already routed/);
    assert.throws(() => r.get("/caf%c3%a9", tag("")), /already routed/);
    assert.throws(() => r.get("/%61/x%2fy/:id", tag("")), /already routed/);
    // A path with a `%` that starts no `%HH` is no URI path: it is compared as sent.
    const s = new Router().get("/a/:id", tag("a"));
    assert.equal(call(s, "GET", "/a/%zz")[0], 400);
    assert.equal(call(s, "GET", "/%61/%zz")[0], 404);
  });

  it("compares a character a path may hold as it is and the same encoded as one path", () => {
    // What is behind the router reads `%40` as `@` (params, the files, a fetch handler's router);
    // before, the router did not: `/%40private/key` walked around the guard of `/@private/*` to
    // the handler of `/*`, which read `@private/key`.
    const guard = () => ({ status: 403, body: "guarded" });
    const r = new Router()
      .get("/@private/*", guard)
      .get("/(admin)", guard)
      .get("/a:b/*", guard)
      .get("/%3Ax/*", guard)
      .get("/%2A/*", guard)
      .get("/*", tag("open"));
    for (
      const target of [
        "/@private/key",
        "/%40private/key",
        "/(admin)",
        "/%28admin%29",
        "/(admin%29?x",
        "/a:b/c",
        "/a%3Ab/c",
        "/a%3ab/c",
        "/:x/c",
        "/%3ax/c",
        "/*/c",
        "/%2a/c",
      ]
    ) {
      assert.deepEqual(call(r, "GET", target).slice(0, 2), [403, "guarded"], target);
    }
    // `/`, `\`, `?`, `#` and `%` say something else sent as they are: encoded, they stay data.
    for (const target of ["/@private%2Fkey", "/%40private%5Ckey", "/(admin%3F", "/(admin%23"]) {
      assert.deepEqual(call(r, "GET", target).slice(0, 2), [200, "open"], target);
    }
    // A pattern spelled another way is the same route; params and `*` get what was meant.
    assert.throws(() => r.get("/%40private/*", tag("")), /already routed/);
    assert.throws(() => r.get("/%28admin%29", tag("")), /already routed/);
    const p = new Router().get("/u/:id", tag("u")).get("/w/*", tag("w"));
    assert.deepEqual(call(p, "GET", "/u/:x")[2], { id: ":x" });
    assert.deepEqual(call(p, "GET", "/u/%2A")[2], { id: "*" });
    assert.deepEqual(call(p, "GET", "/u/*")[2], { id: "*" });
    assert.deepEqual(call(p, "GET", "/w/%3a/%40(%21")[2], { "*": ":/@(!" });
  });

  it("routes no CONNECT authority as a path: `admin:80` is no `/dmin:80`", () => {
    // Before, the authority was walked as a path from its second byte: the param got `dmin:80`
    // and the wildcard `:1`, each a 200.
    const r = new Router()
      .all("/:page", tag("page"))
      .all("/a/*", tag("a"))
      .on("CONNECT", "/*", tag("tunnel"));
    assert.deepEqual(call(r, "CONNECT", "admin:80"), [404, "404", {}]);
    assert.deepEqual(call(r, "CONNECT", "a:1"), [404, "404", {}]);
    assert.deepEqual(call(r, "CONNECT", "[::1]:443"), [404, "404", {}]);
    // No route takes CONNECT: a method the server does not implement, as before.
    assert.deepEqual(call(new Router().get("/*", tag("x")), "CONNECT", "a:1"), [501, "501", {}]);
  });

  it("keeps no params from a branch it gave up", () => {
    const r = new Router().get("/w/*", tag("rest")).get("/w/:id/x", tag("x"));
    assert.deepEqual(call(r, "GET", "/w/5/q"), [200, "rest", { "*": "5/q" }]);
    assert.deepEqual(call(r, "GET", "/w/5/x"), [200, "x", { id: "5" }]);
    // A param that does not decode is a 400 only on the route chosen.
    const s = new Router().get("/v/:id/x", tag("x")).get("/v/*", tag("rest"));
    assert.equal(call(s, "GET", "/v/%zz/y")[0], 400);
    assert.equal(call(s, "GET", "/v/%zz/x")[0], 400);
  });
});

describe("router: middleware and mounting", () => {
  it("runs global, then route middleware, then the handler, and unwinds in reverse", () => {
    const log: string[] = [];
    const mw = (name: string): Middleware => (_req, next) => {
      log.push(`${name}>`);
      const out = next();
      log.push(`<${name}`);
      return out;
    };
    const router = new Router().use(mw("g1")).get("/", mw("r1"), mw("r2"), () => {
      log.push("handler");
      return { body: "ok" };
    }).use(mw("g2"));
    call(router, "GET", "/");
    assert.deepEqual(log, ["g1>", "g2>", "r1>", "r2>", "handler", "<r2", "<r1", "<g2", "<g1"]);
  });

  it("lets middleware answer without calling next, and see 404s", () => {
    const router = new Router()
      .use((req, next) => req.header("x-key") === undefined ? { status: 401 } : next())
      .get("/", tag("ok"));
    assert.equal(call(router, "GET", "/")[0], 401);
    const seen: number[] = [];
    const logging = new Router().use((_req, next) => {
      const out = next() as Reply | StaticReply;
      seen.push(out.status ?? 200);
      return out;
    });
    call(logging, "GET", "/missing");
    assert.deepEqual(seen, [404]);
  });

  it("mounts a router at the root", () => {
    const inner = new Router().get("/", tag("root")).get("/a/:id", tag("a"));
    const outer = new Router().mount("/", inner);
    assert.equal(call(outer, "GET", "/")[1], "root");
    assert.deepEqual(call(outer, "GET", "/a/1")[2], { id: "1" });
    assert.throws(() => new Router().mount("/p/", inner), /not end with it/);
  });

  it("mounts a router under a prefix with its middleware", () => {
    const api = new Router()
      .use((_r, next) => {
        const out = next() as Reply;
        return { ...out, headers: { "X-Api": "1" } };
      })
      .get("/", tag("api root"))
      .get("/items/:id", tag("item"));
    const app = new Router().get("/", tag("home")).mount("/api", api);
    assert.equal(call(app, "GET", "/")[1], "home");
    assert.equal(call(app, "GET", "/api")[1], "api root");
    const [, body, params] = call(app, "GET", "/api/items/5");
    assert.equal(body, "item");
    assert.deepEqual(params, { id: "5" });
    assert.deepEqual((app.handler(req("GET", "/api/items/5")) as Reply).headers, { "X-Api": "1" });
  });

  // From an API audit: a middleware could not add a field to a StaticReply (the router's own
  // 404 and 405 among them) without losing the fields it had.
  it("lets middleware add header fields to any answer, the router's own 404 and 405 too", () => {
    const cors: Middleware = (_req, next) =>
      withHeaders(next() as Reply | StaticReply, { "Access-Control-Allow-Origin": "*" });
    const hello = new StaticReply(200, { "Content-Type": "text/plain" }, "hi");
    const router = new Router()
      .use(cors)
      .get("/static", () => hello)
      .get("/reply", () => ({ status: 201, headers: new Map([["X-A", "1"]]), body: "made" }))
      .post("/only-post", () => ({ body: "" }));
    const answer = (method: string, target: string) => router.handler(req(method, target)) as Reply;
    assert.deepEqual(answer("GET", "/static"), {
      status: 200,
      headers: [["Content-Type", "text/plain"], ["Access-Control-Allow-Origin", "*"]],
      body: hello.body,
    });
    assert.deepEqual(answer("GET", "/reply"), {
      status: 201,
      headers: [["X-A", "1"], ["Access-Control-Allow-Origin", "*"]],
      body: "made",
    });
    const notFound = answer("GET", "/nowhere");
    assert.equal(notFound.status, 404);
    assert.deepEqual(notFound.headers, [
      ["Content-Type", "text/plain"],
      ["Access-Control-Allow-Origin", "*"],
    ]);
    const wrongMethod = answer("GET", "/only-post");
    assert.equal(wrongMethod.status, 405);
    assert.deepEqual(
      (wrongMethod.headers as [string, string][]).map(([name]) => name.toLowerCase()).sort(),
      ["access-control-allow-origin", "allow", "content-type"],
    );
    // The reply it was given is left as it was.
    assert.deepEqual(hello.headers, [["Content-Type", "text/plain"]]);
  });

  // Found by an API audit: routes and middleware added after mount() were silently missing.
  it("refuses routes and middleware added to a router after it was mounted", () => {
    const api = new Router().get("/a", tag("a"));
    const app = new Router().mount("/api", api);
    assert.throws(() => api.get("/b", tag("b")), {
      message: "GET /b on a router already mounted: add its routes before mount()",
    });
    assert.throws(() => api.use((_r, next) => next()), {
      message: "use() on a router already mounted: add its routes before mount()",
    });
    assert.equal(call(app, "GET", "/api/a")[1], "a");
    assert.equal(call(app, "GET", "/api/b")[0], 404);
    // The router it went into takes routes as before.
    app.get("/c", tag("c"));
    assert.equal(call(app, "GET", "/c")[1], "c");
  });

  // Found by the router model: the routes before the one refused stayed in, and the router
  // mounted was closed all the same.
  it("mounts all of a router's routes or, when one is refused, none", () => {
    const api = new Router().get("/a", tag("api a")).post("/health", tag("api health"));
    const app = new Router().post("/api/health", tag("health"));
    assert.throws(() => app.mount("/api", api), /POST \/api\/health is already routed/);
    assert.equal(call(app, "GET", "/api/a")[0], 404);
    assert.equal(call(app, "POST", "/api/health")[1], "health");
    // It was not mounted: it takes more routes, and can be mounted elsewhere.
    api.get("/c", tag("api c"));
    app.mount("/v1", api);
    assert.equal(call(app, "GET", "/v1/a")[1], "api a");
    assert.equal(call(app, "GET", "/v1/c")[1], "api c");
  });

  it("runs the rest of the chain once however often middleware calls next()", () => {
    let runs = 0;
    const twice: Middleware = (_req, next) => {
      next();
      return next();
    };
    const handler = () => {
      runs++;
      return { body: "ok" };
    };
    for (
      const router of [
        new Router().use(twice).get("/", handler),
        new Router().get("/", twice, handler),
      ]
    ) {
      runs = 0;
      assert.throws(() => router.handler(req("GET", "/")), {
        message: "middleware called next() twice",
      });
      assert.equal(runs, 1);
    }
  });

  it("refuses a standard method in lower case, which would be another method", () => {
    assert.throws(() => new Router().on("get", "/", tag("x")), {
      message: 'methods are case-sensitive: "get" is not GET (RFC 9110 §9.1)',
    });
    assert.throws(() => new Router().on("Delete", "/", tag("x")), /"Delete" is not DELETE/);
    // A method of one's own is taken as written.
    assert.equal(call(new Router().on("purge", "/", tag("p")), "purge", "/")[1], "p");
  });
});
