/**
 * Static files: types, validators, ranges, HEAD, index files, and no way out
 * of the root — served in this process on the runtime running the test.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server } from "../serve.ts";
import { serveStatic } from "../src/static.ts";
import { nodeFileSystem } from "../adapters/fs.ts";
import { header, RawClient, request, text } from "./client.ts";

let server: Server;
let port = 0;
let dir = "";
let outside = "";
const big = new Uint8Array(200 * 1024).map((_, i) => (i * 31 + (i >> 10)) & 0xff);

const get = (path: string, extra = "") =>
  request(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);

describe("static files", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "binks-static-"));
    outside = mkdtempSync(join(tmpdir(), "binks-outside-"));
    writeFileSync(join(outside, "secret.txt"), "secret");
    writeFileSync(join(dir, "index.html"), "<h1>home</h1>");
    writeFileSync(join(dir, "a.txt"), "hello world");
    writeFileSync(join(dir, "my file.json"), "{}");
    writeFileSync(join(dir, "big.bin"), big);
    writeFileSync(join(dir, "future.txt"), "later");
    const y2099 = new Date(Date.UTC(2099, 0, 1));
    utimesSync(join(dir, "future.txt"), y2099, y2099);
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "index.html"), "<p>sub</p>");
    symlinkSync(join(outside, "secret.txt"), join(dir, "escape.txt"));
    symlinkSync(join(dir, "a.txt"), join(dir, "inside.txt"));
    server = await serve({
      port: 0,
      hostname: "127.0.0.1",
      handler: serveStatic(dir, nodeFileSystem),
    });
    port = server.port;
  });
  after(async () => {
    await server.shutdown(100);
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("serves a file with its type, length and validators", async () => {
    const r = await get("/a.txt");
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "hello world");
    assert.equal(header(r, "content-type"), "text/plain; charset=utf-8");
    assert.equal(header(r, "content-length"), "11");
    assert.equal(header(r, "accept-ranges"), "bytes");
    assert.match(header(r, "etag")!, /^W\/"b-[0-9a-f]+"$/);
    assert.match(header(r, "last-modified")!, /GMT$/);
  });

  it("serves index.html for the root and for directories", async () => {
    assert.equal(text((await get("/")).body), "<h1>home</h1>");
    const sub = await get("/sub/");
    assert.equal(text(sub.body), "<p>sub</p>");
    assert.equal(header(sub, "content-type"), "text/html; charset=utf-8");
  });

  it("decodes percent-encoded names", async () => {
    const r = await get("/my%20file.json");
    assert.equal(r.status, 200);
    assert.equal(header(r, "content-type"), "application/json");
  });

  it("streams a large file with Content-Length, not chunked", async () => {
    const c = await RawClient.connect(port);
    await c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    const [r, next] = await c.responses(2);
    c.close();
    assert.equal(header(r!, "content-length"), String(big.length));
    assert.equal(header(r!, "transfer-encoding"), undefined);
    assert.deepEqual(r!.body, big);
    assert.equal(text(next!.body), "hello world");
  });

  it("answers HEAD with the length and no body", async () => {
    const r = await request(port, "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", true);
    assert.equal(r.status, 200);
    assert.equal(header(r, "content-length"), String(big.length));
    assert.equal(r.body.length, 0);
  });

  it("answers 304 to a matching If-None-Match or a later If-Modified-Since", async () => {
    const first = await get("/a.txt");
    const etag = header(first, "etag")!;
    const r = await get("/a.txt", `If-None-Match: "x", ${etag}\r\n`);
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    assert.equal(header(r, "etag"), etag);
    const lm = header(first, "last-modified")!;
    assert.equal((await get("/a.txt", `If-Modified-Since: ${lm}\r\n`)).status, 304);
    assert.equal(
      (await get("/a.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n")).status,
      200,
    );
  });

  it("sends a 304 with the validators only (RFC 9110 §15.4.5)", async () => {
    const etag = header(await get("/a.txt"), "etag")!;
    const r = await get("/a.txt", `If-None-Match: ${etag}\r\n`);
    assert.equal(r.status, 304);
    assert.deepEqual(r.headers.map(([n]) => n), ["ETag", "Last-Modified", "Date"]);
  });

  it("answers 412 when If-Match or If-Unmodified-Since fails (RFC 9110 §13.2.2)", async () => {
    const first = await get("/a.txt");
    const etag = header(first, "etag")!;
    const lm = header(first, "last-modified")!;
    const status = async (fields: string) => (await get("/a.txt", fields)).status;
    assert.equal(await status('If-Match: "nope"\r\n'), 412);
    // binks's ETag is weak, and If-Match compares strongly: it never matches.
    assert.equal(await status(`If-Match: ${etag}\r\n`), 412);
    assert.equal(await status("If-Match: nope\r\n"), 412);
    assert.equal(await status("If-Match: *\r\n"), 200);
    assert.equal(await status("If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"), 412);
    assert.equal(await status(`If-Unmodified-Since: ${lm}\r\n`), 200);
    assert.equal(await status("If-Unmodified-Since: 1970\r\n"), 200);
    // If-Match decides alone when it is there; 412 comes before 304.
    assert.equal(
      await status("If-Match: *\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"),
      200,
    );
    assert.equal(await status(`If-Match: "nope"\r\nIf-None-Match: ${etag}\r\n`), 412);
    const r = await get("/a.txt", 'If-Match: "nope"\r\n');
    assert.equal(text(r.body), "412\n");
  });

  it("reads If-Modified-Since only as a valid HTTP-date, in any of its forms", async () => {
    const status = async (value: string) =>
      (await get("/a.txt", `If-Modified-Since: ${value}\r\n`)).status;
    for (const late of ["2099", "3000-01-01", "Fri, 01 Jan 2099 00:00:00 PST"]) {
      assert.equal(await status(late), 200, late);
    }
    assert.equal(await status("Thu, 01 Jan 2099 00:00:00 GMT"), 304);
    assert.equal(await status("Thursday, 01-Jan-60 00:00:00 GMT"), 304);
    assert.equal(await status("Thu Jan  1 00:00:00 2099"), 304);
    assert.equal(await status("Tuesday, 01-Jan-80 00:00:00 GMT"), 200);
  });

  it("never dates a file later than the response (RFC 9110 §8.8.2.1)", async () => {
    const r = await get("/future.txt");
    assert.equal(r.status, 200);
    const lm = Date.parse(header(r, "last-modified")!);
    assert.ok(lm <= Date.parse(header(r, "date")!) + 1000, header(r, "last-modified"));
    assert.ok(lm >= Date.now() - 60_000);
  });

  it("serves byte ranges with 206 and Content-Range", async () => {
    const r = await get("/a.txt", "Range: bytes=0-4\r\n");
    assert.equal(r.status, 206);
    assert.equal(text(r.body), "hello");
    assert.equal(header(r, "content-range"), "bytes 0-4/11");
    assert.equal(text((await get("/a.txt", "Range: bytes=6-\r\n")).body), "world");
    assert.equal(text((await get("/a.txt", "Range: bytes=-3\r\n")).body), "rld");
    const tail = await get("/big.bin", "Range: bytes=100000-\r\n");
    assert.deepEqual(tail.body, big.subarray(100000));
  });

  it("ignores Range on HEAD: ranges are defined for GET only (RFC 9110 §14.2)", async () => {
    const r = await request(
      port,
      "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n",
      true,
    );
    assert.equal(r.status, 200);
    assert.equal(header(r, "content-length"), "11");
    assert.equal(header(r, "content-range"), undefined);
  });

  it("answers 416 for a range past the end, and ignores ranges it does not do", async () => {
    const r = await get("/a.txt", "Range: bytes=50-60\r\n");
    assert.equal(r.status, 416);
    assert.equal(header(r, "content-range"), "bytes */11");
    assert.equal((await get("/a.txt", "Range: bytes=0-1,3-4\r\n")).status, 200);
    assert.equal((await get("/a.txt", "Range: lines=1-2\r\n")).status, 200);
  });

  it("ignores a Range whose If-Range no longer matches", async () => {
    const r = await get("/a.txt", 'Range: bytes=0-4\r\nIf-Range: "stale"\r\n');
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "hello world");
  });

  it("never leaves the root: .., encoded .., backslashes, NUL, symlinks out", async () => {
    // Dot-segments never reach it: the parser refuses them (400); encoded slashes and
    // backslashes inside a segment do, and the file server's own guard refuses them.
    assert.equal((await get("/../etc/passwd")).status, 400);
    assert.equal((await get("/%2e%2e/%2e%2e/etc/passwd")).status, 400);
    assert.equal((await get("/sub/..%2f..%2fetc%2fpasswd")).status, 403);
    assert.equal((await get("/..%5c..%5cetc%5cpasswd")).status, 403);
    assert.equal((await get("/a.txt%00.html")).status, 404);
    assert.equal((await get("/%E0%A4%A")).status, 404);
    assert.equal((await get("/escape.txt")).status, 403);
    assert.equal(text((await get("/inside.txt")).body), "hello world");
    assert.equal((await get("/missing.txt")).status, 404);
  });

  it("answers 405 with Allow for other methods", async () => {
    const r = await request(port, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert.equal(r.status, 405);
    assert.equal(header(r, "allow"), "GET, HEAD");
  });
});
