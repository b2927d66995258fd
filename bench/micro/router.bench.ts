/**
 * Router lookup: static paths (one hash map), `:params` and `*` wildcards
 * (the segment tree), a miss, with 10 and with 1,000 routes.
 *
 *   node dist/bench/micro/router.bench.js
 *   deno run -A bench/micro/router.bench.ts
 *   bun run bench/micro/router.bench.ts
 *
 * Requests are built as the server builds them: a real head parsed into a
 * `RequestHead`, wrapped in an `IncomingRequest`. The lookup cases reuse one
 * request (its URL string is made once), so they time the router alone; the
 * "request view + lookup" case makes a fresh request per op, as the server
 * does, which adds the URL string.
 *
 * @module
 */
import { defaultLimits } from "../../src/limits.ts";
import { findHeadEnd, parseHead, RequestHead } from "../../src/parser.ts";
import { IncomingRequest } from "../../src/request.ts";
import { StaticReply } from "../../src/response.ts";
import { Router } from "../../src/router.ts";
import { Suite } from "./suite.ts";

const OK = new StaticReply(200, { "Content-Type": "text/plain" }, "ok");
const handler = (): StaticReply => OK;
const enc = new TextEncoder();

/**
 * `n` routes in groups of ten, each shaped like a small REST API:
 * four static, four with params, two wildcards.
 */
function buildRouter(n: number): Router {
  const router = new Router();
  for (let g = 0; g < n / 10; g++) {
    const base = `/api/g${g}`;
    router
      .get(`${base}`, handler)
      .get(`${base}/about`, handler)
      .get(`${base}/users`, handler)
      .post(`${base}/users`, handler)
      .get(`${base}/users/:id`, handler)
      .get(`${base}/users/:id/posts`, handler)
      .get(`${base}/users/:id/posts/:post`, handler)
      .get(`${base}/orgs/:org`, handler)
      .get(`${base}/files/*`, handler)
      .get(`${base}/assets/*`, handler);
  }
  return router;
}

/** Parse a GET for `target` into its own head, as the connection would. */
function parsedHead(target: string): RequestHead {
  const bytes = enc.encode(`GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  const head = new RequestHead(defaultLimits.maxHeaders);
  const end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  const status = parseHead(bytes, 0, end, head, defaultLimits);
  if (status !== 0) throw new Error(`could not parse GET ${target}: ${status}`);
  return head;
}

function check(router: Router, req: IncomingRequest, status: number, what: string): void {
  const reply = router.handler(req);
  const got = reply instanceof StaticReply ? reply.status : (reply as { status?: number }).status;
  if (got !== status) throw new Error(`${what}: status ${String(got)}, expected ${status}`);
}

/** Lookups are a few tens of ns: time them 32 at a time so the timer is not the measure. */
const BATCH = 32;

const suite = new Suite("router", "one lookup");

for (const size of [10, 1000]) {
  const router = buildRouter(size);
  const last = size / 10 - 1;
  const cases: [string, string, number][] = [
    ["static", `/api/g${last}/about`, 200],
    ["1 param", `/api/g${last}/users/42`, 200],
    ["2 params", `/api/g${last}/users/42/posts/7`, 200],
    ["wildcard", `/api/g${last}/files/css/site/main.css`, 200],
    ["miss (404)", `/api/g${last}/nothing/here`, 404],
  ];
  for (const [label, target, status] of cases) {
    const req = new IncomingRequest(parsedHead(target), null, { remoteAddress: "" });
    check(router, req, status, `${size} routes, ${label}`);
    const route = router.handler;
    suite.add(`${size} routes: ${label}`, () => {
      for (let i = 0; i < BATCH; i++) route(req);
    }, BATCH);
  }
  const head = parsedHead(`/api/g${last}/users/42?fields=name`);
  check(
    router,
    new IncomingRequest(head, null, { remoteAddress: "" }),
    200,
    `${size} routes, fresh request`,
  );
  suite.add(`${size} routes: request view + lookup (1 param, query)`, () => {
    for (let i = 0; i < BATCH; i++) {
      router.handler(new IncomingRequest(head, null, { remoteAddress: "" }));
    }
  }, BATCH);
}

await suite.run();
