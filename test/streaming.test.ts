/**
 * Streaming both ways with bounded memory: a 256 MiB upload read piece by
 * piece, and 256 MiB downloads (chunked and sized) generated as they go, while
 * the server's peak RSS stays far below the data moved. Linux only (/proc).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { detectRuntime } from "../adapters/detect.ts";

const MIB = 1024 * 1024;
const TOTAL = 256 * MIB;
/**
 * Peak RSS may grow this much over a first transfer (the collector takes
 * headroom; keeping the data would cost all 256 MiB), and much less over a
 * second one: memory must not scale with the data moved. (Node 24 on a busy
 * machine once grew 63 MiB the second time, its collector running late; a leak
 * of the data would be 256 MiB.)
 */
const FIRST_KIB = 192 * 1024;
const AGAIN_KIB = 96 * 1024;
const skip = existsSync("/proc/self/status") ? false : "needs /proc to read the server's memory";

let child: ChildProcess;
let port = 0;

function peakKiB(): number {
  const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]);
}

function exchange(
  head: string,
  upload: number,
): Promise<{ head: string; bodyBytes: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    let headText = "";
    let bodyBytes = 0;
    let tail = "";
    let headDone = false;
    s.on("data", (d: Uint8Array) => {
      if (!headDone) {
        const text = new TextDecoder("latin1").decode(d);
        const end = (headText + text).indexOf("\r\n\r\n");
        if (end < 0) {
          headText += text;
          return;
        }
        const all = headText + text;
        headText = all.slice(0, end);
        headDone = true;
        bodyBytes += d.length - (end + 4 - (all.length - text.length));
        tail = all.slice(end + 4, end + 4 + 200);
      } else {
        bodyBytes += d.length;
        if (tail.length < 200) tail += new TextDecoder("latin1").decode(d.subarray(0, 200));
      }
      if (
        /\r\n0\r\n\r\n$/.test(
          new TextDecoder("latin1").decode(d.subarray(Math.max(0, d.length - 7))),
        )
      ) s.end();
      const cl = /content-length: (\d+)/i.exec(headText);
      if (cl && bodyBytes >= Number(cl[1])) s.end();
    });
    s.on("end", () => resolve({ head: headText, bodyBytes, body: tail }));
    s.on("error", reject);
    s.write(head);
    if (upload > 0) {
      const piece = new Uint8Array(256 * 1024).fill(0x61);
      let sent = 0;
      const pump = () => {
        while (sent < upload) {
          sent += piece.length;
          if (!s.write(piece)) {
            s.once("drain", pump);
            return;
          }
        }
      };
      pump();
    }
  });
}

describe("streaming with bounded memory", { skip }, () => {
  before(async () => {
    const compiled = import.meta.url.endsWith(".js");
    const file = fileURLToPath(
      new URL(`./fixtures/stream-server.${compiled ? "js" : "ts"}`, import.meta.url),
    );
    const runtime = detectRuntime();
    const exec = (globalThis as unknown as { process: { execPath: string } }).process.execPath;
    const args = runtime === "deno"
      ? ["run", "--allow-net", "--allow-env", file]
      : runtime === "bun"
      ? ["run", file]
      : [file];
    child = spawn(exec, args, { stdio: ["ignore", "pipe", "inherit"] });
    port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Uint8Array) => {
        out += new TextDecoder().decode(d);
        const m = /:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
    });
  });
  after(() => {
    child.kill("SIGKILL");
  });

  /** Run `transfer` twice; the peak RSS growth over each must stay under its bound. */
  async function bounded(what: string, transfer: () => Promise<void>): Promise<void> {
    const start = peakKiB();
    await transfer();
    const first = peakKiB();
    await transfer();
    const again = peakKiB() - first;
    assert.ok(first - start < FIRST_KIB, `${what}: peak RSS grew by ${first - start} KiB`);
    assert.ok(again < AGAIN_KIB, `${what}: peak RSS grew by ${again} KiB more the second time`);
  }

  it("reads a 256 MiB upload piece by piece", async () => {
    await bounded("upload", async () => {
      const r = await exchange(
        `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${TOTAL}\r\nConnection: close\r\n\r\n`,
        TOTAL,
      );
      assert.match(r.head, /^HTTP\/1\.1 200 /);
      assert.equal(JSON.parse(r.body).bytes, TOTAL);
    });
  });

  it("streams a 256 MiB chunked download generated as it goes", async () => {
    await bounded("download", async () => {
      const r = await exchange(
        "GET /download?mb=256 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        0,
      );
      assert.match(r.head, /Transfer-Encoding: chunked/);
      assert.ok(r.bodyBytes > TOTAL, `received ${r.bodyBytes} bytes`);
    });
  });

  it("streams a sized 256 MiB download with Content-Length", async () => {
    const r = await exchange(
      "GET /download?mb=256&sized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      0,
    );
    assert.match(r.head, new RegExp(`Content-Length: ${TOTAL}`));
    assert.equal(r.bodyBytes, TOTAL);
  });
});
