/**
 * Static files that change while they are served: truncated, grown, rewritten or renamed over
 * between the look and the last byte, removed before the open, a directory and a file trading
 * places, a symlink swapped; and no descriptor left open on any path an answer can take. Real
 * files in a temporary directory, changed at a chosen point of the request by a file system
 * that wraps `nodeFileSystem`, served in this process on the runtime running the test.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server } from "../serve.ts";
import { type FileSystem, type OpenFile, serveStatic } from "../src/static.ts";
import type { Handler } from "../src/connection.ts";
import { nodeFileSystem } from "../adapters/fs.ts";
import { header, parseResponses, RawClient, request, text } from "./client.ts";

/** A streamed file: four pieces of 64 KiB and a bit, each byte telling where it is. */
const SIZE = 200 * 1024;
const PIECE = 64 * 1024;
const original = new Uint8Array(SIZE).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
/** The file's mtime, in s: long past, so any write moves it. */
const MTIME = 1_600_000_000.5;
const ETAG = `"${SIZE.toString(16)}-${(MTIME * 1000).toString(16)}"`;

let server: Server;
let root = "";
let outside = "";
let handler: Handler;
const errors: unknown[] = [];

/** When, in the course of one request, the test changes the files. */
interface Hooks {
  /**
   * After `stat(path)` answered, before the answer is used: true once it changed the files. Given
   * one, the file system looks at a path before it opens it; else it opens any path, as
   * `nodeFileSystem` does.
   */
  stat?(path: string): boolean;
  /** After `open(path)` answered. */
  open?(path: string): boolean;
  /** After `realpath(path)` answered `real`. */
  realpath?(path: string, real: string): boolean;
  /** Before the `n`th read (from 0) of an opened file. */
  read?(n: number): boolean;
}

/**
 * `nodeFileSystem`, with the test's change made at the point it names, once: a pipelined
 * request behind may be under way at the same time, and must find the files as they were left.
 */
function changing(hooks: Hooks, where = true): FileSystem {
  let done = false;
  const once = (change: () => boolean): void => {
    if (!done) done = change();
  };
  return {
    opensAnyPath: hooks.stat === undefined,
    stat: async (path) => {
      const info = await nodeFileSystem.stat(path);
      once(() => hooks.stat?.(path) ?? false);
      return info;
    },
    realpath: async (path) => {
      const real = await nodeFileSystem.realpath(path);
      once(() => hooks.realpath?.(path, real) ?? false);
      return real;
    },
    open: async (path): Promise<OpenFile> => {
      const file = await nodeFileSystem.open(path);
      once(() => hooks.open?.(path) ?? false);
      let reads = 0;
      return {
        info: file.info,
        read: (into, position) => {
          const n = reads++;
          once(() => hooks.read?.(n) ?? false);
          return file.read(into, position);
        },
        close: () => file.close(),
        ...(file.where === undefined || !where ? {} : { where: file.where }),
      };
    },
  };
}

/** Make `change` if `now`: whether it was made. */
function when(now: boolean, change: () => void): boolean {
  if (now) change();
  return now;
}

const FDS = "/proc/self/fd";
/** Open descriptors can be listed (Linux). */
const seesFds = existsSync(FDS);

/** This process's descriptors open on anything under `dir`. */
function fdsUnder(dir: string): string[] {
  const found: string[] = [];
  for (const fd of readdirSync(FDS)) {
    try {
      const target = readlinkSync(`${FDS}/${fd}`);
      if (target.startsWith(`${dir}/`)) found.push(target);
    } catch {
      // Closed while listed.
    }
  }
  return found;
}

async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A fresh copy of the streamed file at `name`, dated {@link MTIME}. */
function place(name: string, bytes: Uint8Array = original): string {
  const path = join(root, name);
  writeFileSync(path, bytes);
  utimesSync(path, MTIME, MTIME);
  return path;
}

const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const decoder = new TextDecoder("latin1");

/**
 * `first` and then `GET /next.txt` on one connection; everything the server sent, once it
 * closed the connection or answered both (or sent more than that).
 */
function exchange(first: string): Promise<{ bytes: Uint8Array; closed: boolean }> {
  return exchangeWith(server, first);
}

async function exchangeWith(
  on: Server,
  first: string,
): Promise<{ bytes: Uint8Array; closed: boolean }> {
  const c = await RawClient.connect(on.port);
  try {
    await c.send(first + GET("/next.txt"));
    await c.until(
      () => c.ended || c.closed || parseResponses(c.received()).responses.length >= 2,
      5000,
      "two answers or the end",
    );
    // Anything sent past two answers shows, as does a close right behind them.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { bytes: c.received(), closed: c.ended || c.closed };
  } finally {
    c.close();
  }
}

/** The head of the first answer in `bytes`, and what follows it. */
function split(bytes: Uint8Array): { head: string; rest: Uint8Array } {
  const end = decoder.decode(bytes).indexOf("\r\n\r\n") + 4;
  assert.ok(end >= 4, "no head");
  return { head: decoder.decode(bytes.subarray(0, end)), rest: bytes.subarray(end) };
}

/** `actual` is `expected`, or the first byte where they part is named (not 200 KiB of diff). */
function assertBytes(actual: Uint8Array, expected: Uint8Array): void {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.equal(
    `${actual.length} bytes, as expected up to ${i}`,
    `${expected.length} bytes, as expected up to ${expected.length}`,
  );
}

/** The head's field `name`. */
function field(head: string, name: string): string | undefined {
  const m = new RegExp(`\r\n${name}: ([^\r]*)\r\n`, "i").exec(head);
  return m?.[1];
}

describe("static files that change while served", () => {
  before(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "binks-change-")));
    outside = realpathSync(mkdtempSync(join(tmpdir(), "binks-change-outside-")));
    writeFileSync(join(root, "next.txt"), "next");
    server = await serve({
      port: 0,
      hostname: "127.0.0.1",
      handler: (req) => handler(req),
      onError: (err) => errors.push(err),
    });
  });
  after(async () => {
    await server.shutdown(100);
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("cuts the connection of a file truncated mid-stream, after the bytes it still had", async () => {
    const path = place("cut.bin");
    const kept = 100_000;
    handler = serveStatic(
      root,
      changing({ read: (n) => when(n === 1, () => truncateSync(path, kept)) }),
    );
    errors.length = 0;
    const { bytes, closed } = await exchange(GET("/cut.bin"));
    const { head, rest } = split(bytes);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(field(head, "content-length"), String(SIZE));
    assert.equal(field(head, "etag"), ETAG);
    // No more than the file held, and nothing behind it: the next request is never answered.
    assertBytes(rest, original.subarray(0, kept));
    assert.equal(closed, true);
    assert.deepEqual(errors.map((e) => String(e)), [
      "RangeError: stream shorter than its length",
    ]);
  });

  it("sends what it announced of a file that grew mid-stream, and goes on", async () => {
    const path = place("grow.bin");
    handler = serveStatic(
      root,
      changing({
        read: (n) => when(n === 1, () => appendFileSync(path, new Uint8Array(PIECE * 2))),
      }),
    );
    errors.length = 0;
    const { bytes, closed } = await exchange(GET("/grow.bin"));
    const [first, second] = parseResponses(bytes).responses;
    assert.equal(first!.status, 200);
    assert.equal(header(first!, "content-length"), String(SIZE));
    assert.equal(header(first!, "etag"), ETAG);
    assertBytes(first!.body, original);
    assert.equal(second!.status, 200);
    assert.equal(text(second!.body), "next");
    assert.equal(parseResponses(bytes).rest, bytes.length);
    assert.equal(closed, false);
    assert.deepEqual(errors, []);
  });

  it("sends the version it opened when another is renamed over it mid-stream", async () => {
    const path = place("swap.bin");
    const other = join(root, "swap.new");
    writeFileSync(other, "the new version");
    handler = serveStatic(
      root,
      changing({ read: (n) => when(n === 1, () => renameSync(other, path)) }),
    );
    const { bytes, closed } = await exchange(GET("/swap.bin"));
    const [old, second] = parseResponses(bytes).responses;
    assert.equal(header(old!, "etag"), ETAG);
    assertBytes(old!.body, original);
    assert.equal(text(second!.body), "next");
    const fresh = await request(server.port, GET("/swap.bin"));
    assert.equal(text(fresh.body), "the new version");
    assert.match(header(fresh!, "etag")!, /^"f-[0-9a-f]+"$/);
    assert.equal(closed, false);
  });

  it("cuts a range whose file was truncated under it, after the bytes it still had", async () => {
    const path = place("range-cut.bin");
    handler = serveStatic(
      root,
      changing({ read: (n) => when(n === 1, () => truncateSync(path, 100_000)) }),
    );
    errors.length = 0;
    const { bytes, closed } = await exchange(GET("/range-cut.bin", "Range: bytes=1000-150999\r\n"));
    const { head, rest } = split(bytes);
    assert.match(head, /^HTTP\/1\.1 206 Partial Content\r\n/);
    assert.equal(field(head, "content-range"), `bytes 1000-150999/${SIZE}`);
    assert.equal(field(head, "content-length"), "150000");
    assertBytes(rest, original.subarray(1000, 100_000));
    assert.equal(closed, true);
    assert.equal(errors.length, 1);
  });

  it("sends no more than a range of a file that grew mid-stream", async () => {
    const path = place("range-grow.bin");
    handler = serveStatic(
      root,
      changing({
        read: (n) => when(n === 1, () => appendFileSync(path, new Uint8Array(PIECE * 2))),
      }),
    );
    const { bytes, closed } = await exchange(GET("/range-grow.bin", "Range: bytes=100000-\r\n"));
    const [part, second] = parseResponses(bytes).responses;
    assert.equal(part!.status, 206);
    assert.equal(header(part!, "content-range"), `bytes 100000-${SIZE - 1}/${SIZE}`);
    assertBytes(part!.body, original.subarray(100_000));
    assert.equal(text(second!.body), "next");
    assert.equal(closed, false);
  });

  it("answers 500 for a small file truncated between its open and its read", async () => {
    const path = join(root, "small.txt");
    writeFileSync(path, "twenty bytes, or so.");
    handler = serveStatic(
      root,
      changing({ read: (n) => when(n === 0, () => truncateSync(path, 5)) }),
    );
    errors.length = 0;
    const r = await request(server.port, GET("/small.txt"));
    assert.equal(r.status, 500);
    assert.deepEqual(errors.map((e) => String(e)), ["Error: file shrank while being read"]);
  });

  it("answers 404 for a file removed between its lookup and its open", async () => {
    const path = join(root, "gone.txt");
    writeFileSync(path, "gone");
    handler = serveStatic(root, changing({ stat: (p) => when(p === path, () => rmSync(path)) }));
    const r = await request(server.port, GET("/gone.txt"));
    assert.equal(r.status, 404);
    assert.equal(text(r.body), "404\n");
  });

  it("answers 404 for a directory that became a file, and a file that became a directory", async () => {
    const dir = join(root, "flip");
    const makeDir = () => {
      mkdirSync(dir);
      writeFileSync(join(dir, "index.html"), "<p>dir</p>");
    };
    const makeFile = () => {
      rmSync(dir, { recursive: true });
      writeFileSync(dir, "now a file");
    };
    makeDir();
    handler = serveStatic(root, changing({ stat: (p) => when(p === dir, makeFile) }));
    assert.equal((await request(server.port, GET("/flip/"))).status, 404);
    // And back: the file named as a file turns into a directory before its open.
    handler = serveStatic(
      root,
      changing({
        stat: (p) =>
          when(p === dir, () => {
            rmSync(dir);
            makeDir();
          }),
      }),
    );
    const r = await request(server.port, GET("/flip"));
    assert.equal(`${r.status} ${text(r.body)}`, "404 404\n");
    assert.equal(text((await request(server.port, GET("/flip/"))).body), "<p>dir</p>");
    // A file system that opens any path: the directory turns into a file after its own open,
    // before its index's.
    handler = serveStatic(root, changing({ open: (p) => when(p === dir, makeFile) }));
    assert.equal((await request(server.port, GET("/flip/"))).status, 404);
    rmSync(dir);
  });

  it("refuses a symlink turned out of the root between its lookup and its open", async () => {
    writeFileSync(join(root, "inside.txt"), "inside");
    writeFileSync(join(outside, "secret.txt"), "secret");
    const link = join(root, "link.txt");
    symlinkSync("inside.txt", link);
    handler = serveStatic(
      root,
      changing({
        stat: (p) =>
          when(p === link, () => {
            rmSync(link);
            symlinkSync(join(outside, "secret.txt"), link);
          }),
      }),
    );
    const r = await request(server.port, GET("/link.txt"));
    assert.equal(`${r.status} ${text(r.body)}`, "403 403\n");
    rmSync(link);
  });

  // realpath vouched for the path, and the open followed it where a symlink then led: with sub/
  // renamed away and sub -> outside/sub put in its place, GET /sub/x.txt served the outside file.
  // And a file system that opens any path: a directory opened inside the root, then turned to a
  // symlink out before its index is opened.
  const swaps = [
    { dir: "sub", file: "x.txt", target: "/sub/x.txt", hook: "stat", what: "a file" },
    { dir: "home", file: "index.html", target: "/home/", hook: "open", what: "an index" },
  ] as const;
  for (const { dir, file, target, hook, what } of swaps) {
    for (const where of [true, false]) {
      it(
        `refuses ${what} reached through a directory swapped for a symlink out after its ${hook}${
          where ? "" : " (a file system that cannot tell where its open landed)"
        }`,
        async () => {
          const sub = join(root, dir);
          mkdirSync(sub);
          writeFileSync(join(sub, file), "inside");
          mkdirSync(join(outside, dir));
          writeFileSync(join(outside, dir, file), "secret");
          const swap = (p: string) =>
            when(p === (hook === "stat" ? join(sub, file) : sub), () => {
              renameSync(sub, `${sub}.old`);
              symlinkSync(join(outside, dir), sub);
            });
          handler = serveStatic(
            root,
            changing(hook === "stat" ? { stat: swap } : { open: swap }, where),
          );
          const r = await request(server.port, GET(target));
          assert.equal(`${r.status} ${text(r.body)}`, "403 403\n");
          rmSync(sub);
          rmSync(`${sub}.old`, { recursive: true });
          rmSync(join(outside, dir), { recursive: true });
        },
      );
    }
  }

  it("follows a root that is a symlink where it points now, as a deploy turns it", async () => {
    const releases = join(root, "releases");
    for (const v of ["v1", "v2"]) {
      mkdirSync(join(releases, v), { recursive: true });
      writeFileSync(join(releases, v, "a.txt"), `release ${v}`);
    }
    symlinkSync(join(outside, "secret.txt"), join(releases, "v2", "escape.txt"));
    writeFileSync(join(outside, "secret.txt"), "secret");
    const current = join(releases, "current");
    symlinkSync("v1", current);
    handler = serveStatic(current, nodeFileSystem);
    const get = async (path: string) => {
      const r = await request(server.port, GET(path));
      return `${r.status} ${text(r.body)}`;
    };
    assert.equal(await get("/a.txt"), "200 release v1");
    // Turned at once, as deploys do: a new link renamed over the old.
    symlinkSync("v2", join(releases, "next"));
    renameSync(join(releases, "next"), current);
    assert.equal(await get("/a.txt"), "200 release v2");
    rmSync(join(releases, "v1"), { recursive: true });
    assert.equal(await get("/a.txt"), "200 release v2");
    // Out of the root's new target is out of the root.
    assert.equal(await get("/escape.txt"), "403 403\n");
    rmSync(releases, { recursive: true });
  });
});

describe("static files: descriptors", () => {
  let files: Server;
  let filesRoot = "";
  let filesHandler: Handler;
  const seen: unknown[] = [];
  const HUGE = 16 * 1024 * 1024;

  before(async () => {
    filesRoot = realpathSync(mkdtempSync(join(tmpdir(), "binks-fds-")));
    writeFileSync(join(filesRoot, "small.txt"), "small");
    writeFileSync(join(filesRoot, "big.bin"), original);
    // Sparse, and far more than socket buffers take in: a client that stops reading stops it.
    writeFileSync(join(filesRoot, "huge.bin"), "");
    truncateSync(join(filesRoot, "huge.bin"), HUGE);
    mkdirSync(join(filesRoot, "dir"));
    files = await serve({
      port: 0,
      hostname: "127.0.0.1",
      handler: (req) => filesHandler(req),
      onError: (err) => seen.push(err),
    });
  });
  after(async () => {
    await files.shutdown(100);
    rmSync(filesRoot, { recursive: true, force: true });
  });

  /** Start `path` and leave once its first bytes came: closed, or reset. */
  async function leave(path: string, reset: boolean): Promise<void> {
    const c = await RawClient.connect(files.port);
    await c.send(GET(path));
    await c.until(() => c.received().length > 0, 5000, "the first bytes");
    c.socket.pause();
    if (reset) c.socket.resetAndDestroy();
    else c.close();
  }

  it("keeps none open after any answer, whole, cut or given up", { skip: !seesFds }, async () => {
    filesHandler = serveStatic(filesRoot, nodeFileSystem);
    const etag = header(await request(files.port, GET("/big.bin")), "etag")!;
    await until(() => files.http.connections === 0, "the first connection to close");
    // Of the whole process: a descriptor on anything else (a socket, a pipe) counts too.
    const before = readdirSync(FDS).length;
    const answers: [string, number][] = [
      [GET("/small.txt"), 200],
      [GET("/big.bin"), 200],
      [`HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n`, 200],
      [GET("/big.bin", `If-None-Match: ${etag}\r\n`), 304],
      [GET("/big.bin", 'If-Match: "other"\r\n'), 412],
      [GET("/big.bin", `Range: bytes=${SIZE}-\r\n`), 416],
      [GET("/big.bin", "Range: bytes=10-100009\r\n"), 206],
      [GET("/big.bin", "Range: bytes=-10\r\n"), 206],
      [GET("/dir/"), 404],
      [GET("/dir"), 301],
      [GET("/small.txt/"), 404],
      [GET("/missing"), 404],
    ];
    for (let round = 0; round < 10; round++) {
      for (const [raw, status] of answers) {
        const r = await request(files.port, raw, raw.startsWith("HEAD"));
        assert.equal(r.status, status, raw);
        // At once, not at the end: Node closes a file handle it collects, hiding a leak.
        await until(() => fdsUnder(filesRoot).length === 0, `the file of ${raw} to close`, 1000);
      }
      await leave("/huge.bin", false);
      await leave("/huge.bin", true);
      await until(() => fdsUnder(filesRoot).length === 0, "the file given up to close", 1000);
    }
    await until(() => fdsUnder(filesRoot).length === 0, "every file to be closed");
    await until(() => files.http.connections === 0, "every connection to close");
    assert.deepEqual(fdsUnder(filesRoot), []);
    await until(() => readdirSync(FDS).length <= before, `${before} descriptors open, as before`);
  });

  it("keeps none open after a read that fails, an open that fails, or a directory opened", {
    skip: !seesFds,
  }, async () => {
    const path = join(filesRoot, "flip");
    writeFileSync(path, "a file");
    let flips = 0;
    filesHandler = serveStatic(filesRoot, {
      stat: async (p) => {
        const info = await nodeFileSystem.stat(p);
        // Looked at as a file, opened as a directory.
        if (p === path) {
          rmSync(path, { recursive: true });
          mkdirSync(path);
          flips++;
        }
        return info;
      },
      realpath: nodeFileSystem.realpath,
      open: async (p) => {
        if (p.endsWith("/small.txt")) {
          throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
        }
        const file = await nodeFileSystem.open(p);
        let reads = 0;
        return {
          info: file.info,
          read: (into, position) =>
            reads++ === 1
              ? Promise.reject(Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" }))
              : file.read(into, position),
          close: () => file.close(),
        };
      },
    });
    seen.length = 0;
    for (let round = 0; round < 10; round++) {
      writeFileSync(join(filesRoot, "flip.tmp"), "a file");
      rmSync(path, { recursive: true });
      renameSync(join(filesRoot, "flip.tmp"), path);
      assert.equal((await request(files.port, GET("/flip"))).status, 404);
      assert.equal((await request(files.port, GET("/small.txt"))).status, 403);
      const { bytes, closed } = await exchangeWith(files, GET("/big.bin"));
      assert.equal(split(bytes).rest.length, PIECE);
      assert.equal(closed, true);
    }
    assert.equal(flips, 10);
    assert.equal(seen.length, 10);
    await until(() => fdsUnder(filesRoot).length === 0, "every file to be closed");
  });

  it("keeps none open after a shutdown cuts a file short", { skip: !seesFds }, async () => {
    const other = await serve({
      port: 0,
      hostname: "127.0.0.1",
      handler: serveStatic(filesRoot, nodeFileSystem),
    });
    const clients: RawClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await RawClient.connect(other.port);
      await c.send(GET("/huge.bin"));
      await c.until(() => c.received().length > 0, 5000, "the first bytes");
      c.socket.pause();
      clients.push(c);
    }
    assert.ok(fdsUnder(filesRoot).length >= 4);
    await other.shutdown(50);
    await until(() => fdsUnder(filesRoot).length === 0, "every file to be closed");
    for (const c of clients) c.close();
  });
});
