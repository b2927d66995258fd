/**
 * Every example starts under the runtime running the test and answers.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { detectRuntime } from "../adapters/detect.ts";
import { request, text } from "./client.ts";

const proc =
  (globalThis as unknown as { process: { execPath: string; kill(pid: number, s: string): void } })
    .process;

function start(
  name: string,
  args: string[] = [],
): Promise<{ port: number; output(): string; stop(): Promise<void> }> {
  const compiled = import.meta.url.endsWith(".js");
  const file = fileURLToPath(
    new URL(`../examples/${name}.${compiled ? "js" : "ts"}`, import.meta.url),
  );
  const runtime = detectRuntime();
  const argv = runtime === "deno"
    ? ["run", "--allow-net", "--allow-read", file, ...args]
    : runtime === "bun"
    ? ["run", file, ...args]
    : [file, ...args];
  const child = spawn(proc.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 15000);
    const onData = (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          port: Number(m[1]),
          output: () => out,
          stop: () =>
            new Promise((done) => {
              child.once("exit", () => done());
              proc.kill(child.pid!, "SIGKILL");
            }),
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${out}`));
    });
  });
}

describe("examples", () => {
  it("hello answers the benchmark JSON", async () => {
    const s = await start("hello");
    try {
      const r = await request(s.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(text(r.body), '{"hello":"world"}');
    } finally {
      await s.stop();
    }
  });

  it("rest creates and reads a todo", async () => {
    const s = await start("rest");
    try {
      const body = '{"title":"write tests"}';
      const created = await request(
        s.port,
        `POST /api/todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      assert.equal(created.status, 201);
      const r = await request(s.port, "GET /api/todos/1 HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.deepEqual(JSON.parse(text(r.body)), { id: 1, title: "write tests", done: false });
      // Its logging middleware logs after a synchronous handler has returned, and the server
      // lives on to answer the next request (it once read the request too late and died).
      const again = await request(s.port, "GET /api/todos HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(again.status, 200);
      for (let i = 0; i < 50 && !/GET \/api\/todos \d+ ms/.test(s.output()); i++) {
        await new Promise((done) => setTimeout(done, 20));
      }
      const logged = s.output().split("\n").filter((line) => / ms$/.test(line));
      assert.deepEqual(logged.map((line) => line.replace(/\d+ ms$/, "N ms")), [
        "POST /api/todos N ms",
        "GET /api/todos/1 N ms",
        "GET /api/todos N ms",
      ]);
    } finally {
      await s.stop();
    }
  });

  it("hono runs unchanged", async () => {
    const s = await start("hono");
    try {
      const r = await request(s.port, "GET /hello/binks HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(text(r.body), "hello binks");
    } finally {
      await s.stop();
    }
  });

  it("static serves a directory", async () => {
    const dir = fileURLToPath(new URL("../examples/", import.meta.url));
    const s = await start("static", [dir]);
    try {
      const r = await request(
        s.port,
        `GET /hello.${import.meta.url.endsWith(".js") ? "js" : "ts"} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      assert.equal(r.status, 200);
      assert.match(text(r.body), /smallest binks server/);
    } finally {
      await s.stop();
    }
  });
});
