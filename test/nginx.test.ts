/**
 * binks behind a real nginx (Debian's), as `proxy_pass` with upstream
 * keep-alive: the demo contract, large bodies both ways, and the client
 * address seen through `--trust-proxy`. Skipped, saying why, where nginx is
 * not installed (`npm test` installs it when it can).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { header, RawClient, type Started, startMain, text } from "./client.ts";
import { writeProxyConfig } from "./nginx-proxy.ts";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
const skip = NGINX === undefined ? "nginx is not installed (apt-get install nginx)" : false;

let binks: Started;
let nginx: ChildProcess;
let dir = "";
let port = 0;
/** Between nginx and binks: passes the bytes through, counting the connections. */
let relay: Server | undefined;
const relayed = new Set<Socket>();
/** Connections nginx opened to binks (through the relay). */
let upstreamConnections = 0;

/** Listen on a free port of 127.0.0.1 with a relay to binks; resolves to the port. */
function startRelay(to: number): Promise<number> {
  relay = createServer((down) => {
    upstreamConnections++;
    const up = connect({ port: to, host: "127.0.0.1" });
    for (const s of [down, up]) {
      relayed.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        relayed.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  return new Promise((resolve) => {
    relay!.listen(0, "127.0.0.1", () => resolve((relay!.address() as AddressInfo).port));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function through(raw: string | Uint8Array, from = "127.0.0.2") {
  const c = await RawClient.connect(port, "127.0.0.1", from);
  try {
    await c.send(raw);
    return (await c.responses(1, [], 15000))[0]!;
  } finally {
    c.close();
  }
}

describe("behind nginx", { skip }, () => {
  before(async () => {
    binks = await startMain(["--trust-proxy", "127.0.0.1"]);
    const upstream = await startRelay(binks.port);
    port = await freePort();
    dir = writeProxyConfig({
      port,
      upstreams: [`127.0.0.1:${upstream}`],
      keepalive: 8,
      workerConnections: 256,
      server: ["client_max_body_size 64m;"],
      location: ["proxy_set_header Host $host;"],
    });
    nginx = spawn(NGINX!, ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" });
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        (await RawClient.connect(port)).close();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error("nginx did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  after(async () => {
    nginx?.kill("SIGTERM");
    for (const s of relayed) s.destroy();
    relay?.close();
    await binks?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves the demo contract through the proxy", async () => {
    const r = await through("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n");
    assert.equal(r.status, 200);
    assert.equal(header(r, "content-type"), "application/json");
    assert.equal(text(r.body), '{"hello":"world"}');
    assert.equal((await through("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")).status, 404);
  });

  it("passes a 4 MiB body through and back, exactly", async () => {
    const body = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 13) & 0xff);
    const head = new TextEncoder().encode(
      `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const all = new Uint8Array(head.length + body.length);
    all.set(head);
    all.set(body, head.length);
    const r = await through(all);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, body.length);
    assert.deepEqual(r.body, body);
  });

  it("sees the client's address through --trust-proxy, and ignores a spoofed one", async () => {
    // A client's own X-Forwarded-For (replaced by nginx) and Forwarded (passed on as it is).
    for (const spoof of ["X-Forwarded-For: 203.0.113.66", "Forwarded: for=203.0.113.66"]) {
      const r = await through(`GET /inspect HTTP/1.1\r\nHost: x\r\n${spoof}\r\n\r\n`, "127.0.0.3");
      assert.equal(JSON.parse(text(r.body)).ip, "127.0.0.3", spoof);
    }
  });

  it("keeps upstream connections alive across requests", async () => {
    const before = upstreamConnections;
    for (let i = 0; i < 20; i++) {
      assert.equal((await through("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).status, 200);
    }
    const r = await through("GET /inspect HTTP/1.1\r\nHost: x\r\n\r\n");
    const headers: [string, string][] = JSON.parse(text(r.body)).headers;
    assert.deepEqual(headers.find(([k]) => k === "connection"), undefined);
    // One after the other, 21 requests from 21 clients take one kept connection to binks: a new
    // one if none was kept from the tests before, and one more should binks have closed a kept
    // one for its idle timeout just as nginx took it.
    const opened = upstreamConnections - before;
    assert.ok(opened <= 2, `${opened} connections to binks for 21 requests`);
  });
});
