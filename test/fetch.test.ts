/**
 * Web-standard fetch handlers on binks: a real Hono app (from npm) served by
 * `serve({ fetch })` in this process, on the runtime running the test.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { serve, type Server } from "../serve.ts";
import { header, RawClient, request, text } from "./client.ts";

let server: Server;
let port = 0;
let aborted = false;

function app(): Hono {
  const hono = new Hono();
  hono.get("/", (c) => c.json({ hello: "world" }));
  hono.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null }));
  hono.post(
    "/echo",
    async (c) => c.text(await c.req.text(), 201, { "X-Seen": c.req.header("x-in") ?? "" }),
  );
  hono.get("/stream", () => {
    const enc = new TextEncoder();
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 5));
        if (i === 3) controller.close();
        else controller.enqueue(enc.encode(`part${i++};`));
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  });
  hono.get("/cookies", (c) => {
    c.header("Set-Cookie", "a=1; Path=/", { append: true });
    c.header("Set-Cookie", "b=2, c=3; Path=/", { append: true });
    return c.body(null, 204);
  });
  hono.get("/wait", (c) =>
    new Promise<Response>((resolve) => {
      c.req.raw.signal.addEventListener("abort", () => {
        aborted = true;
        resolve(c.text("gone"));
      });
    }));
  return hono;
}

describe("fetch handlers (Hono on binks)", () => {
  before(async () => {
    server = await serve({ port: 0, hostname: "127.0.0.1", fetch: app().fetch, onError: () => {} });
    port = server.port;
  });
  after(async () => {
    await server.shutdown(100);
  });

  it("answers JSON with Content-Length", async () => {
    const r = await request(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(r.status, 200);
    assert.match(header(r, "content-type")!, /^application\/json/);
    assert.equal(header(r, "content-length"), "17");
    assert.equal(text(r.body), '{"hello":"world"}');
  });

  it("routes params and query through the standard Request URL", async () => {
    const r = await request(port, "GET /users/42?q=a%20b HTTP/1.1\r\nHost: example.test\r\n\r\n");
    assert.deepEqual(JSON.parse(text(r.body)), { id: "42", q: "a b" });
  });

  it("streams the request body in and reads headers", async () => {
    const c = await RawClient.connect(port);
    await c.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nX-In: yes\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    await c.send("3\r\nabc\r\n");
    await new Promise((r) => setTimeout(r, 20));
    await c.send("2\r\nde\r\n0\r\n\r\n");
    const [r] = await c.responses(1);
    c.close();
    assert.equal(r!.status, 201);
    assert.equal(header(r!, "x-seen"), "yes");
    assert.equal(text(r!.body), "abcde");
  });

  it("streams a ReadableStream response chunked", async () => {
    const r = await request(port, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(header(r, "transfer-encoding"), "chunked");
    assert.equal(text(r.body), "part0;part1;part2;");
  });

  it("sends each Set-Cookie on its own line", async () => {
    const r = await request(port, "GET /cookies HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(r.status, 204);
    const cookies = r.headers.filter(([k]) => k.toLowerCase() === "set-cookie").map(([, v]) => v);
    assert.deepEqual(cookies, ["a=1; Path=/", "b=2, c=3; Path=/"]);
  });

  it("answers HEAD without a body and unknown paths with Hono's 404", async () => {
    const h = await request(port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", true);
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    const nf = await request(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(nf.status, 404);
  });

  // A FIN alone is a half-close (the client may still read its answer), so the
  // disconnect that aborts is a reset.
  it("aborts request.signal when the client disconnects", async () => {
    const c = await RawClient.connect(port);
    await c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(aborted, false);
    c.socket.resetAndDestroy();
    const deadline = Date.now() + 3000;
    while (!aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(aborted, true);
  });
});
