/**
 * The npm package: `npm pack`, install the tarball in a fresh folder, then
 * `npx binks --help` and `import { serve } from "binks"` work.
 *
 * Runs under Node only: it checks what npm ships (built dist/), which does
 * not depend on the runtime running the test; Deno and Bun skip it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { detectRuntime } from "../adapters/detect.ts";
import { request } from "./client.ts";

const onNode = detectRuntime() === "node";
const onBun = detectRuntime() === "bun";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

describe("npm package", () => {
  it("installs from its tarball and runs as `npx binks` and as a module", {
    skip: onNode ? false : "npm packaging is checked under Node",
  }, () => {
    const root = repoRoot();
    const work = mkdtempSync(join(tmpdir(), "binks-pack-"));
    try {
      const env = {
        ...process.env,
        npm_config_audit: "false",
        npm_config_fund: "false",
        npm_config_update_notifier: "false",
      };
      const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], {
        cwd: root,
        env,
      }).toString().trim().split("\n").pop()!;
      const app = join(work, "app");
      execFileSync("mkdir", ["-p", app]);
      writeFileSync(
        join(app, "package.json"),
        JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }),
      );
      execFileSync("npm", ["install", "--offline", "--no-save", join(work, tarball)], {
        cwd: app,
        env,
        stdio: "pipe",
      });
      const help = execFileSync("npx", ["--no-install", "binks", "--help"], { cwd: app, env })
        .toString();
      assert.match(help, /^Usage: binks/);
      const probe =
        'import { serve, Router, StaticReply, fetchHandler } from "binks"; console.log([serve, Router, StaticReply, fetchHandler].map((x) => typeof x).join(","));';
      writeFileSync(join(app, "probe.mjs"), probe);
      const out = execFileSync(process.execPath, ["probe.mjs"], { cwd: app, env }).toString()
        .trim();
      assert.equal(out, "function,function,function,function");
      assert.ok(
        existsSync(join(app, "node_modules", "binks", "dist", "mod.d.ts")),
        "types shipped",
      );
      assert.ok(
        !existsSync(join(app, "node_modules", "binks", "dist", "test")),
        "tests not shipped",
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("compiles to one executable with bun build --compile", {
    skip: onBun ? false : "bun build is Bun's",
  }, async () => {
    const root = repoRoot();
    const work = mkdtempSync(join(tmpdir(), "binks-compile-"));
    try {
      const exe = join(work, "binks");
      execFileSync(process.execPath, [
        "build",
        "--compile",
        join(root, "main.ts"),
        "--outfile",
        exe,
      ], { stdio: "pipe" });
      const help = execFileSync(exe, ["--help"]).toString();
      assert.match(help, /^Usage: binks/);
      const child = spawn(exe, ["--port", "0", "--host", "127.0.0.1"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const port = await new Promise<number>((resolve, reject) => {
          let out = "";
          child.stdout!.on("data", (d: Uint8Array) => {
            out += new TextDecoder().decode(d);
            const m = /:(\d+) \(/.exec(out);
            if (m) resolve(Number(m[1]));
          });
          child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
        });
        const r = await request(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.equal(new TextDecoder().decode(r.body), '{"hello":"world"}');
      } finally {
        child.kill("SIGKILL");
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
