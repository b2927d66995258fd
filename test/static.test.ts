/**
 * Static files: types, validators, ranges, HEAD, index files, and no way out
 * of the root — served in this process on the runtime running the test.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server } from "../serve.ts";
import { type FileSystem, serveStatic } from "../src/static.ts";
import type { Handler } from "../src/connection.ts";
import { nodeFileSystem } from "../adapters/fs.ts";
import { Router } from "../src/router.ts";
import { header, type Parsed, RawClient, request, requestHead, text } from "./client.ts";

let server: Server;
let port = 0;
let dir = "";
let outside = "";
const big = new Uint8Array(200 * 1024).map((_, i) => (i * 31 + (i >> 10)) & 0xff);
/** a.txt's mtime, in s: long settled, and half a second in (exact in binary, and in ms). */
const A_MTIME = 1_700_000_000.5;
/** Its tags: the size, and the mtime in µs, in hex. */
const A_ETAG = `"b-${(1_700_000_000_500).toString(16)}"`;
const A_LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT";
/** Sparse, and far more than socket buffers take in: a client that stops reading stops it. */
const HUGE_SIZE = 64 * 1024 * 1024;
/** A second server, whose handler each test sets (over a file system of its own). */
let fakeServer: Server;
let fakeHandler: Handler;
const errors: unknown[] = [];

const get = (path: string, extra = "") =>
  request(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);

/** The header fields of `r` but Date, which changes. */
const fields = (r: Parsed) => r.headers.filter(([name]) => name !== "Date");

/** `nodeFileSystem` with another `open`. */
function withOpen(open: FileSystem["open"]): FileSystem {
  return { stat: nodeFileSystem.stat, realpath: nodeFileSystem.realpath, open };
}

/**
 * An error as `open` from `node:fs` fails with on Node, Deno and Bun alike (seen on each
 * as an unprivileged user opening a root-owned file of mode 0600, a missing one, one under a
 * file): a plain Error with `code`, `errno` and `syscall`.
 */
function fsError(code: string, errno: number, what: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${what}, open '${path}'`), {
    errno,
    code,
    syscall: "open",
    path,
  });
}

const FDS = "/proc/self/fd";
/** Open descriptors can be listed (Linux): the tests that count them run. */
const seesFds = existsSync(FDS);

/** How many of this process's descriptors are open on `file`. */
function fdsOn(file: string): number {
  let n = 0;
  for (const fd of readdirSync(FDS)) {
    try {
      if (readlinkSync(`${FDS}/${fd}`) === file) n++;
    } catch {
      // Closed while listed.
    }
  }
  return n;
}

async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("static files", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "binks-static-"));
    outside = mkdtempSync(join(tmpdir(), "binks-outside-"));
    writeFileSync(join(outside, "secret.txt"), "secret");
    writeFileSync(join(dir, "index.html"), "<h1>home</h1>");
    writeFileSync(join(dir, "a.txt"), "hello world");
    utimesSync(join(dir, "a.txt"), A_MTIME, A_MTIME);
    writeFileSync(join(dir, "my file.json"), "{}");
    writeFileSync(join(dir, "empty.txt"), "");
    writeFileSync(join(dir, "big.bin"), big);
    writeFileSync(join(dir, "future.txt"), "later");
    const y2099 = new Date(Date.UTC(2099, 0, 1));
    utimesSync(join(dir, "future.txt"), y2099, y2099);
    mkdirSync(join(dir, "sub"));
    mkdirSync(join(dir, "evil.example"));
    writeFileSync(join(dir, ".env"), "SECRET=1");
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, ".git", "config"), "[core]");
    writeFileSync(join(dir, "sub", ".secret"), "s");
    mkdirSync(join(dir, ".well-known"));
    writeFileSync(join(dir, ".well-known", "security.txt"), "Contact: x");
    writeFileSync(join(dir, ".well-known", ".hidden"), "h");
    writeFileSync(join(dir, "sub", "index.html"), "<p>sub</p>");
    symlinkSync(join(outside, "secret.txt"), join(dir, "escape.txt"));
    symlinkSync(join(dir, "a.txt"), join(dir, "inside.txt"));
    symlinkSync("a.txt", join(dir, "alias.html"));
    symlinkSync("big.bin", join(dir, "latest.zip"));
    symlinkSync("index.html", join(dir, "home"));
    symlinkSync("sub", join(dir, "docs"));
    mkdirSync(join(dir, "page"));
    symlinkSync("../a.txt", join(dir, "page", "index.html"));
    const huge = openSync(join(dir, "huge.bin"), "w");
    ftruncateSync(huge, HUGE_SIZE);
    closeSync(huge);
    server = await serve({
      port: 0,
      hostname: "127.0.0.1",
      handler: serveStatic(dir, nodeFileSystem),
    });
    port = server.port;
    fakeServer = await serve({
      port: 0,
      hostname: "127.0.0.1",
      handler: (req) => fakeHandler(req),
      onError: (err) => errors.push(err),
    });
  });
  after(async () => {
    await server.shutdown(100);
    await fakeServer.shutdown(100);
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("serves a file with its type, length and validators", async () => {
    const r = await get("/a.txt");
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "hello world");
    assert.equal(header(r, "content-type"), "text/plain; charset=utf-8");
    assert.equal(header(r, "content-length"), "11");
    assert.deepEqual(fields(r), [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["ETag", A_ETAG],
      ["Last-Modified", A_LAST_MODIFIED],
      ["Accept-Ranges", "bytes"],
      ["Content-Length", "11"],
    ]);
  });

  it("tags a file strongly, by its size and its mtime to the ms, alike on every runtime", async () => {
    const path = join(dir, "tagged.txt");
    writeFileSync(path, "v1");
    const tagAt = async (seconds: number) => {
      utimesSync(path, seconds, seconds);
      const r = await get("/tagged.txt");
      return [header(r, "etag"), header(r, "last-modified")];
    };
    // Two changes within one second: one date, two tags.
    const [early, earlyDate] = await tagAt(1_600_000_000.25);
    const [late, lateDate] = await tagAt(1_600_000_000.75);
    assert.equal(early, `"2-${(1_600_000_000_250).toString(16)}"`);
    assert.equal(late, `"2-${(1_600_000_000_750).toString(16)}"`);
    assert.equal(earlyDate, "Sun, 13 Sep 2020 12:26:40 GMT");
    assert.equal(lateDate, earlyDate);
    // The µs Node and Bun read are left out: Deno's stat has none, and one file must have one
    // tag whichever runtime serves it (before, Node's and Bun's tags never matched Deno's).
    const [fine] = await tagAt(1_600_000_000.123456);
    assert.equal(fine, `"2-${(1_600_000_000_123).toString(16)}"`);
    rmSync(path);
  });

  it("serves index.html for the root and for directories", async () => {
    assert.equal(text((await get("/")).body), "<h1>home</h1>");
    const sub = await get("/sub/");
    assert.equal(text(sub.body), "<p>sub</p>");
    assert.equal(header(sub, "content-type"), "text/html; charset=utf-8");
  });

  it("redirects a directory named without its slash, with the query, as it was written", async () => {
    const r = await get("/sub?x=1&y=%20");
    assert.equal(r.status, 301);
    assert.deepEqual(fields(r), [
      ["Location", "/sub/?x=1&y=%20"],
      ["Content-Type", "text/plain"],
      ["Content-Length", "4"],
    ]);
    assert.equal(text(r.body), "301\n");
    assert.equal(header(await get("/s%75b"), "location"), "/s%75b/");
    assert.equal(header(await get("http://x/sub?q"), "location"), "/sub/?q");
    const head = await requestHead(port, "HEAD /sub HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(head.status, 301);
    assert.equal(header(head, "location"), "/sub/");
    // No `Location: //evil.example/`, which names another site: an empty segment names no file.
    const other = await get("//evil.example");
    assert.equal(other.status, 404);
    assert.equal(header(other, "location"), undefined);
  });

  it("redirects under its prefix, the mount point itself too", async () => {
    fakeHandler = serveStatic(dir, nodeFileSystem, { prefix: "/files" });
    const at = (path: string) =>
      request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(header(await at("/files/sub?a"), "location"), "/files/sub/?a");
    assert.equal(header(await at("/files"), "location"), "/files/");
    assert.equal(text((await at("/files/")).body), "<h1>home</h1>");
    assert.equal(text((await at("/files/sub/")).body), "<p>sub</p>");
  });

  it("serves only what is under its prefix, in whole segments", async () => {
    for (const prefix of ["/files", "/files/"]) {
      fakeHandler = serveStatic(dir, nodeFileSystem, { prefix });
      const at = (path: string) =>
        request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(text((await at("/files/a.txt")).body), "hello world", prefix);
      // Before, `/filesa.txt` was `a.txt` and `/a.txt` was served as it is.
      for (const outside of ["/filesa.txt", "/a.txt", "/file/a.txt"]) {
        const r = await at(outside);
        assert.equal(r.status, 404, `${prefix} ${outside}`);
        assert.equal(text(r.body), "404\n", `${prefix} ${outside}`);
      }
    }
  });

  it("finds its prefix in the router's normal form: %65 is e, %c3 is %C3", async () => {
    const app = new Router();
    app.get("/files/*", serveStatic(dir, nodeFileSystem, { prefix: "/files" }));
    app.get("/caf%C3%A9/*", serveStatic(dir, nodeFileSystem, { prefix: "/caf%c3%a9/" }));
    fakeHandler = app.handler;
    const at = (path: string) =>
      request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    // The router sent each of these to the files; before, the files said 404 to all but one.
    for (
      const path of ["/fil%65s/a.txt", "/%66iles/a.txt", "/caf%c3%a9/a.txt", "/caf%C3%A9/a.txt"]
    ) {
      const r = await at(path);
      assert.equal(r.status, 200, path);
      assert.equal(text(r.body), "hello world", path);
    }
    assert.equal(header(await at("/fil%65s/sub?q"), "location"), "/fil%65s/sub/?q");
    // Still whole segments, and %2F is no slash of the path.
    for (const path of ["/fil%65sa.txt", "/files%2Fa.txt"]) {
      assert.equal((await at(path)).status, 404, path);
    }
  });

  it("takes an encoded slash for no separator: a route's own guard is not walked around", async () => {
    const app = new Router();
    // A guard on the directory, and the files of the whole tree for every other path.
    app.get("/sub/*", () => ({ status: 401, body: "401\n" }));
    app.get("/*", serveStatic(dir, nodeFileSystem));
    fakeHandler = app.handler;
    const at = (path: string) =>
      request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await at("/sub/index.html")).status, 401);
    // The router reads `sub%2Findex.html` as one segment, not /sub/; before, the files read two
    // and served sub/index.html past its guard with a 200.
    for (const path of ["/sub%2Findex.html", "/sub%2findex.html", "/sub%5Cindex.html", "/%2f"]) {
      const r = await at(path);
      assert.equal(r.status, 404, path);
      assert.equal(text(r.body), "404\n", path);
    }
    // Encoded `..` between them is still refused as a way out.
    assert.equal((await at("/sub%2F..%2F..%2Fetc")).status, 403);
  });

  it("takes an empty segment for a segment: `//sub/` walks around no route's guard", async () => {
    const guard = () => ({ status: 401, body: "401\n" });
    const app = new Router();
    // The guard of a directory, and the whole tree's files at the root and under a prefix.
    app.get("/sub/*", guard);
    app.get("/files/sub/*", guard);
    app.get("/files/*", serveStatic(dir, nodeFileSystem, { prefix: "/files" }));
    app.get("/*", serveStatic(dir, nodeFileSystem));
    fakeHandler = app.handler;
    const at = (path: string) =>
      request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal((await at("/sub/index.html")).status, 401);
    assert.equal((await at("/files/sub/index.html")).status, 401);
    // The router matches `//sub/index.html` to no `/sub/*` (its first segment is empty); before,
    // the files skipped the empty segment and served sub/index.html past the guard with a 200.
    for (
      const path of [
        "//sub/index.html",
        "///sub/",
        "/files//sub/index.html",
        "/fil%65s//sub/",
        "/files///sub/index.html",
      ]
    ) {
      const r = await at(path);
      assert.equal(r.status, 404, path);
      assert.equal(text(r.body), "404\n", path);
    }
    // Nowhere else either: one name is reached by one path.
    for (const path of ["/a.txt//", "/files/a.txt//", "/sub//index.html"]) {
      assert.equal((await at(path)).status, path.startsWith("/sub") ? 401 : 404, path);
    }
    assert.equal(text((await at("/files/a.txt")).body), "hello world");
  });

  it("takes a character sent as it is and encoded for one: `/%40sub/` walks around no guard", async () => {
    for (const name of ["@sub", "(sub)"]) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, "key.txt"), "key");
    }
    try {
      const guard = () => ({ status: 401, body: "401\n" });
      const app = new Router();
      app.get("/@sub/*", guard);
      app.get("/(sub)/*", guard);
      app.get("/files/@sub/*", guard);
      app.get("/files/*", serveStatic(dir, nodeFileSystem, { prefix: "/files" }));
      app.get("/*", serveStatic(dir, nodeFileSystem));
      fakeHandler = app.handler;
      const at = (path: string) =>
        request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      // The router took `%40sub` for another segment than `@sub`, the files for the same: before,
      // each encoded path here got the key with a 200.
      for (
        const path of [
          "/@sub/key.txt",
          "/%40sub/key.txt",
          "/(sub)/key.txt",
          "/%28sub%29/key.txt",
          "/(sub%29/key.txt",
          "/files/%40sub/key.txt",
          "/fil%65s/%40sub/key.txt",
        ]
      ) {
        const r = await at(path);
        assert.equal(r.status, 401, path);
        assert.equal(text(r.body), "401\n", path);
      }
      assert.equal(text((await at("/files/(sub)/key.txt")).body), "key");
    } finally {
      for (const name of ["@sub", "(sub)"]) rmSync(join(dir, name), { recursive: true });
    }
  });

  it("says which root it cannot open, and serves it once it is there", async () => {
    const later = join(dir, "later");
    fakeHandler = serveStatic(later, nodeFileSystem);
    const at = (path: string) =>
      request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    errors.length = 0;
    assert.equal((await at("/x.txt")).status, 500);
    assert.equal(
      String((errors[0] as Error).message),
      `serveStatic: cannot open its root ${later}`,
    );
    mkdirSync(later);
    writeFileSync(join(later, "x.txt"), "now");
    const r = await at("/x.txt");
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "now");
    rmSync(later, { recursive: true });
    errors.length = 0;
  });

  it("answers 404 for a file named with a trailing slash", async () => {
    for (const path of ["/a.txt/", "/inside.txt/", "/sub/index.html/", "/big.bin//"]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(text(r.body), "404\n");
    }
  });

  it("types a file by the name asked for, not its symlink's target", async () => {
    const cases: [string, string, string | Uint8Array][] = [
      ["/alias.html", "text/html; charset=utf-8", "hello world"],
      ["/latest.zip", "application/zip", big],
      ["/home", "application/octet-stream", "<h1>home</h1>"],
      ["/docs/", "text/html; charset=utf-8", "<p>sub</p>"],
      // A directory's index file by its own name.
      ["/page/", "text/html; charset=utf-8", "hello world"],
    ];
    for (const [path, type, body] of cases) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      assert.equal(header(r, "content-type"), type, path);
      if (typeof body === "string") assert.equal(text(r.body), body, path);
      else assert.deepEqual(r.body, body, path);
    }
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

  it("reads a streamed file in pieces of pieceBytes (64 KiB unless told), from 4 KiB to 4 MiB", async () => {
    /** The length of each read, for a handler made with `options`. */
    const reads = async (options: { pieceBytes?: number }): Promise<number[]> => {
      const lengths: number[] = [];
      fakeHandler = serveStatic(
        dir,
        withOpen(async (path) => {
          const file = await nodeFileSystem.open(path);
          return {
            info: file.info,
            read: (into, position) => (lengths.push(into.length), file.read(into, position)),
            close: () => file.close(),
          };
        }),
        options,
      );
      const r = await request(fakeServer.port, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.deepEqual(r.body, big);
      return lengths;
    };
    const KiB = 1024;
    assert.deepEqual(await reads({}), [64 * KiB, 64 * KiB, 64 * KiB, 8 * KiB]);
    assert.deepEqual(await reads({ pieceBytes: 128 * KiB }), [128 * KiB, 72 * KiB]);
    assert.deepEqual(await reads({ pieceBytes: 4 * KiB }), new Array(50).fill(4 * KiB));
    for (const wrong of [4 * KiB - 1, 4 * KiB * KiB + 1, 8000.5, "65536"]) {
      assert.throws(
        () => serveStatic(dir, nodeFileSystem, { pieceBytes: wrong as number }),
        new RegExp(`^RangeError: pieceBytes must be a whole number from 4096 to 4194304, not `),
      );
    }
  });

  it("answers HEAD with the length and no body", async () => {
    // The same again behind it: a body after the head would come before the second answer.
    const r = await requestHead(port, "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
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
    // Compared weakly: the weak form of the tag matches too.
    assert.equal((await get("/a.txt", `If-None-Match: W/${etag}\r\n`)).status, 304);
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
    // Compared strongly: the tag matches, its weak form never does.
    assert.equal(await status(`If-Match: ${etag}\r\n`), 200);
    assert.equal(await status(`If-Match: "x", ${etag}\r\n`), 200);
    assert.equal(await status(`If-Match: W/${etag}\r\n`), 412);
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
    const r = await requestHead(
      port,
      "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n",
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

  it("reads the range set as a list: whitespace around its element, empty ones ignored", async () => {
    // RFC 9110 §14.2 (range-set is 1#range-spec) and §5.6.1.2 (empty list elements).
    for (const range of ["bytes= 0-4", "bytes=0-4 ,", "bytes=,0-4", "bytes=\t0-4\t, ,"]) {
      const r = await get("/a.txt", `Range: ${range}\r\n`);
      assert.equal(r.status, 206, range);
      assert.equal(header(r, "content-range"), "bytes 0-4/11", range);
      assert.equal(text(r.body), "hello", range);
    }
    for (const ignored of ["bytes=0 -4", "bytes=,", "bytes=0-4,6-", "bytes =0-4"]) {
      assert.equal((await get("/a.txt", `Range: ${ignored}\r\n`)).status, 200, ignored);
    }
  });

  it("takes only spaces and tabs for the whitespace around Range and If-* values", async () => {
    // RFC 9110 §5.6.3; trim() also took the byte 0xA0 for whitespace.
    const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
    const ask = (field: string) =>
      request(port, latin1(`GET /a.txt HTTP/1.1\r\nHost: x\r\n${field}\r\n\r\n`));
    for (const field of ["Range: \xa0bytes=0-4", "If-None-Match: *\xa0"]) {
      const r = await ask(field);
      assert.equal(r.status, 200, field);
      assert.equal(text(r.body), "hello world", field);
    }
    assert.equal((await ask("Range: bytes=0-4\t")).status, 206);
    assert.equal((await ask("If-None-Match: *\t")).status, 304);
  });

  it("reads the range unit in any case (RFC 9110 §14.1)", async () => {
    const r = await get("/a.txt", "Range: BYTES=0-4\r\n");
    assert.equal(r.status, 206);
    assert.equal(header(r, "content-range"), "bytes 0-4/11");
    assert.equal(text(r.body), "hello");
    assert.equal(text((await get("/a.txt", "Range: Bytes=-3\r\n")).body), "rld");
  });

  it("sends an empty file whole for a suffix range, satisfiable but no 206 can say it", async () => {
    // RFC 9110 §14.1.2: on an empty representation a non-zero suffix-range is the one satisfiable
    // range-spec, and a 416 is for ranges that are not (§15.5.17).
    const r = await get("/empty.txt", "Range: bytes=-5\r\n");
    assert.equal(r.status, 200);
    assert.equal(header(r, "content-length"), "0");
    assert.equal(header(r, "content-range"), undefined);
    for (const unsatisfiable of ["bytes=-0", "bytes=0-", "bytes=0-0"]) {
      const no = await get("/empty.txt", `Range: ${unsatisfiable}\r\n`);
      assert.equal(no.status, 416, unsatisfiable);
      assert.equal(header(no, "content-range"), "bytes */0", unsatisfiable);
    }
  });

  it("ignores a range whose last byte comes before its first, also past 2^53", async () => {
    // Both numbers round to 2^53 as doubles: read as such, the range was a 416.
    const r = await get("/a.txt", "Range: bytes=9007199254740993-9007199254740992\r\n");
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "hello world");
    assert.equal((await get("/a.txt", "Range: bytes=9007199254740993-\r\n")).status, 416);
  });

  it("ignores a Range whose If-Range no longer matches", async () => {
    const r = await get("/a.txt", 'Range: bytes=0-4\r\nIf-Range: "stale"\r\n');
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "hello world");
  });

  it("applies a Range while If-Range holds its ETag, or its date a second after", async () => {
    const ranged = (ifRange: string) =>
      get("/a.txt", `Range: bytes=0-4\r\nIf-Range: ${ifRange}\r\n`);
    for (const holds of [A_ETAG, A_LAST_MODIFIED]) {
      const r = await ranged(holds);
      assert.equal(r.status, 206, holds);
      assert.equal(text(r.body), "hello");
    }
    // A weak tag never holds (§13.1.5), nor another date.
    for (const fails of [`W/${A_ETAG}`, "Tue, 14 Nov 2023 22:13:21 GMT"]) {
      const r = await ranged(fails);
      assert.equal(r.status, 200, fails);
      assert.equal(text(r.body), "hello world");
    }
  });

  it("takes no date as proof for a file changed less than a second ago", async () => {
    // Every file opened was changed just now: it may change again within its second.
    fakeHandler = serveStatic(
      dir,
      withOpen(async (path) => {
        const file = await nodeFileSystem.open(path);
        return {
          info: { ...file.info, mtimeMs: Date.now() },
          read: (into, position) => file.read(into, position),
          close: () => file.close(),
        };
      }),
    );
    const at = (fields: string) =>
      request(fakeServer.port, `GET /a.txt HTTP/1.1\r\nHost: x\r\n${fields}\r\n`);
    // Asked with the date the file has as it is answered: both within one second (else again).
    const withItsDate = async (field: (date: string) => string): Promise<Parsed> => {
      for (;;) {
        const second = Math.floor(Date.now() / 1000);
        const date = header(await at(""), "last-modified")!;
        const r = await at(field(date));
        if (Math.floor(Date.now() / 1000) === second) return r;
      }
    };
    const resumed = await withItsDate((date) => `Range: bytes=6-\r\nIf-Range: ${date}\r\n`);
    assert.equal(resumed.status, 200);
    assert.equal(text(resumed.body), "hello world");
    assert.equal((await withItsDate((date) => `If-Modified-Since: ${date}\r\n`)).status, 200);
    assert.equal((await withItsDate((date) => `If-Unmodified-Since: ${date}\r\n`)).status, 412);
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

  it("answers 403 or 404 for a file it cannot open, before any status line", async () => {
    const cases: [Error, number][] = [
      [fsError("EACCES", -13, "permission denied", "x"), 403],
      [fsError("EPERM", -1, "operation not permitted", "x"), 403],
      [fsError("ENOENT", -2, "no such file or directory", "x"), 404],
      [fsError("ENOTDIR", -20, "not a directory", "x"), 404],
      // Deno's own errors, by name: NotCapable is a path its --allow-read does not cover.
      [Object.assign(new Error("Requires read access"), { name: "NotCapable" }), 403],
      [Object.assign(new Error("Permission denied"), { name: "PermissionDenied" }), 403],
      [Object.assign(new Error("No such file"), { name: "NotFound" }), 404],
    ];
    for (const [error, status] of cases) {
      // Only the one file fails (also through the symlink to it): the next request, on the same
      // connection, still gets its file.
      fakeHandler = serveStatic(
        dir,
        withOpen((path) =>
          realpathSync(path).endsWith("/a.txt") ? Promise.reject(error) : nodeFileSystem.open(path)
        ),
      );
      for (const target of ["/a.txt", "/inside.txt"]) {
        for (const method of ["GET", "HEAD"]) {
          const c = await RawClient.connect(fakeServer.port);
          await c.send(
            `${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\nGET /my%20file.json HTTP/1.1\r\nHost: x\r\n\r\n`,
          );
          const [r, next] = await c.responses(2, [method === "HEAD"]);
          c.close();
          const what = `${error.name} ${(error as { code?: string }).code} ${method} ${target}`;
          assert.equal(r!.status, status, what);
          assert.deepEqual(fields(r!), [["Content-Type", "text/plain"], ["Content-Length", "4"]]);
          assert.equal(text(r!.body), method === "HEAD" ? "" : `${status}\n`);
          assert.equal(next!.status, 200, what);
          assert.equal(text(next!.body), "{}");
        }
      }
    }
    assert.deepEqual(errors, []);
  });

  it("answers a large file it cannot open likewise, not a 200 cut short", async () => {
    fakeHandler = serveStatic(
      dir,
      withOpen(() => Promise.reject(fsError("EACCES", -13, "permission denied", "x"))),
    );
    const r = await request(fakeServer.port, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(r.status, 403);
    assert.equal(text(r.body), "403\n");
  });

  it("answers 500 for any other failure to open, and reports it", async () => {
    const failure = fsError("EIO", -5, "i/o error", "x");
    fakeHandler = serveStatic(dir, withOpen(() => Promise.reject(failure)));
    errors.length = 0;
    const r = await request(fakeServer.port, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(r.status, 500);
    assert.deepEqual(fields(r), [["Content-Type", "text/plain"], ["Content-Length", "4"]]);
    assert.equal(text(r.body), "500\n");
    assert.deepEqual(errors, [failure]);
    errors.length = 0;
  });

  it("answers 404 for a file removed between its stat and its open", async () => {
    for (const name of ["gone.txt", "gone.bin"]) {
      const path = join(dir, name);
      writeFileSync(path, name === "gone.txt" ? "soon gone" : big);
      // The real file system, with the file removed just after it was looked at (looked at
      // first, as a file system that cannot open any path is).
      fakeHandler = serveStatic(dir, {
        ...nodeFileSystem,
        opensAnyPath: false,
        stat: async (p) => {
          const info = await nodeFileSystem.stat(p);
          if (p.endsWith(`/${name}`)) rmSync(p);
          return info;
        },
      });
      const r = await request(fakeServer.port, `GET /${name} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(r.status, 404, name);
      assert.equal(text(r.body), "404\n");
      assert.equal(existsSync(path), false);
    }
  });

  it("describes the file it opened, not what its path names by then", async () => {
    const path = join(dir, "swapped.txt");
    writeFileSync(path, "old");
    fakeHandler = serveStatic(dir, {
      ...nodeFileSystem,
      opensAnyPath: false,
      stat: async (p) => {
        const info = await nodeFileSystem.stat(p);
        // A deploy puts a new version in place between the look and the open.
        if (p.endsWith("/swapped.txt")) {
          rmSync(p);
          writeFileSync(p, "new and longer");
        }
        return info;
      },
    });
    const r = await request(fakeServer.port, "GET /swapped.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(r.status, 200);
    assert.equal(header(r, "content-length"), "14");
    assert.equal(text(r.body), "new and longer");
    rmSync(path);
  });

  for (const opensAnyPath of [true, false]) {
    it(
      `answers 404 at once for a FIFO, a socket, a symlink loop, a FIFO as an index${
        opensAnyPath ? "" : " (each looked at before its open)"
      }`,
      async () => {
        const odd = join(dir, "odd");
        mkdirSync(odd);
        // A FIFO's open waits for a writer unless told not to: no answer, a pool thread held.
        execFileSync("mkfifo", [join(odd, "pipe")]);
        mkdirSync(join(odd, "piped"));
        execFileSync("mkfifo", [join(odd, "piped", "index.html")]);
        symlinkSync("loop-b", join(odd, "loop-a"));
        symlinkSync("loop-a", join(odd, "loop-b"));
        const socket = createServer();
        await new Promise<void>((resolve) => socket.listen(join(odd, "socket"), resolve));
        fakeHandler = serveStatic(dir, { ...nodeFileSystem, opensAnyPath });
        errors.length = 0;
        try {
          for (
            const path of ["/odd/pipe", "/odd/piped/", "/odd/loop-a", "/odd/socket", "/odd/pipe/"]
          ) {
            const r = await request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
            assert.equal(`${r.status} ${text(r.body)}`, "404 404\n", path);
          }
          // And the directory holding them is still a directory.
          const r = await request(fakeServer.port, "GET /odd HTTP/1.1\r\nHost: x\r\n\r\n");
          assert.equal(`${r.status} ${header(r, "location")}`, "301 /odd/");
          assert.deepEqual(errors, []);
        } finally {
          await new Promise<void>((resolve) => socket.close(() => resolve()));
          rmSync(odd, { recursive: true, force: true });
        }
      },
    );
  }

  it("closes the file when the client leaves mid-stream", { skip: !seesFds }, async () => {
    const huge = realpathSync(join(dir, "huge.bin"));
    const c = await RawClient.connect(port);
    await c.send("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.until(() => c.received().length > 0, 5000, "the first bytes");
    c.socket.pause();
    // Open (Deno holds a second descriptor while a read is in flight).
    assert.ok(fdsOn(huge) >= 1);
    c.close();
    await until(() => fdsOn(huge) === 0, "the file to be closed");
  });

  it(
    "keeps no file open after HEAD, 304, 412, 416 or a whole answer",
    { skip: !seesFds },
    async () => {
      const file = realpathSync(join(dir, "a.txt"));
      const etag = header(await get("/a.txt"), "etag")!;
      assert.equal(fdsOn(file), 0);
      const head = await requestHead(port, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(head.status, 200);
      assert.equal(fdsOn(file), 0);
      assert.equal((await get("/a.txt", `If-None-Match: ${etag}\r\n`)).status, 304);
      assert.equal(fdsOn(file), 0);
      assert.equal((await get("/a.txt", 'If-Match: "nope"\r\n')).status, 412);
      assert.equal(fdsOn(file), 0);
      assert.equal((await get("/a.txt", "Range: bytes=50-\r\n")).status, 416);
      assert.equal(fdsOn(file), 0);
      const bigFile = realpathSync(join(dir, "big.bin"));
      const r = await get("/big.bin");
      assert.deepEqual(r.body, big);
      await until(() => fdsOn(bigFile) === 0, "the streamed file to be closed");
    },
  );

  it("closes a file whose read is under way only once the read is done", async () => {
    const events: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fakeHandler = serveStatic(
      dir,
      withOpen(async (path) => {
        const file = await nodeFileSystem.open(path);
        events.push("open");
        return {
          info: file.info,
          read: async (into, position) => {
            events.push("read");
            await gate;
            const n = await file.read(into, position);
            events.push("read done");
            return n;
          },
          close: () => {
            events.push("close");
            return file.close();
          },
        };
      }),
    );
    const c = await RawClient.connect(fakeServer.port);
    await c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.until(() => c.received().length > 0, 5000, "the head");
    await until(() => events.includes("read"), "the first read");
    // A reset: a FIN alone is a half-close, which a server that is not writing does not notice.
    c.socket.resetAndDestroy();
    // The server has seen the client leave (and given up the stream) while the read waits.
    await until(() => fakeServer.http.connections === 0, "the connection to close");
    release();
    await until(() => events.includes("close"), "the file to be closed");
    assert.deepEqual(events, ["open", "read", "read done", "close"]);
  });

  it("closes the file of an answer whose client left before it was ready", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let closed = 0;
    fakeHandler = serveStatic(
      dir,
      withOpen(async (path) => {
        await gate;
        const file = await nodeFileSystem.open(path);
        return {
          info: file.info,
          read: (into, position) => file.read(into, position),
          close: () => {
            closed++;
            return file.close();
          },
        };
      }),
    );
    const c = await RawClient.connect(fakeServer.port);
    await c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => fakeServer.http.running === 1, "the handler to start");
    c.socket.resetAndDestroy();
    await until(() => fakeServer.http.connections === 0, "the connection to close");
    // The handler goes on, opens the file and answers with its stream: nobody will send it.
    release();
    await until(() => closed === 1, "the file to be closed");
  });

  it("answers 404 for dotfiles, as for a file that is not there, but /.well-known/", async () => {
    const missing = await get("/missing.txt");
    for (
      const path of [
        "/.env",
        "/%2eenv",
        "/.git",
        "/.git/",
        "/.git/config",
        "/sub/.secret",
        "/.well-known/.hidden",
        "/sub/.well-known",
      ]
    ) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.deepEqual(fields(r), fields(missing));
      assert.equal(text(r.body), "404\n");
    }
    const r = await get("/.well-known/security.txt");
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "Contact: x");
    assert.equal(header(await get("/.well-known"), "location"), "/.well-known/");
  });

  it("serves dotfiles when asked to", async () => {
    fakeHandler = serveStatic(dir, nodeFileSystem, { dotfiles: true });
    const at = (path: string) =>
      request(fakeServer.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(text((await at("/.env")).body), "SECRET=1");
    assert.equal(text((await at("/.git/config")).body), "[core]");
    assert.equal(text((await at("/.well-known/.hidden")).body), "h");
  });

  it("answers 405 with Allow for other methods, and keeps the connection", async () => {
    for (const method of ["POST", "PUT", "DELETE", "BREW"]) {
      const c = await RawClient.connect(port);
      await c.send(
        `${method} /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi` +
          "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
      );
      const [r, next] = await c.responses(2);
      c.close();
      assert.equal(r!.status, 405, method);
      assert.deepEqual(fields(r!), [
        ["Allow", "GET, HEAD, OPTIONS"],
        ["Content-Type", "text/plain"],
        ["Content-Length", "4"],
      ]);
      assert.equal(text(r!.body), "405\n");
      assert.equal(text(next!.body), "hello world");
    }
  });

  it("answers OPTIONS with 204 and Allow, for a file and for the server", async () => {
    for (const target of ["/a.txt", "/missing", "*"]) {
      const r = await request(port, `OPTIONS ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(r.status, 204, target);
      assert.deepEqual(fields(r), [["Allow", "GET, HEAD, OPTIONS"]]);
      assert.equal(r.body.length, 0);
    }
  });
});
