/**
 * The core stays runtime-agnostic: nothing in src/ may import a runtime's
 * modules or touch its globals. Only adapters/ and main.ts may.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

const FORBIDDEN: [RegExp, string][] = [
  [/from\s+["']node:/, "a node: import"],
  [/import\(\s*["']node:/, "a node: import"],
  [/from\s+["']bun["']/, "an import of bun"],
  [/\bDeno\s*\./, "the Deno global"],
  [/\bBun\s*\./, "the Bun global"],
  [/\bprocess\s*\./, "the process global"],
  [/\bBuffer\s*\./, "Node's Buffer"],
  [/\brequire\s*\(/, "require()"],
];

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

describe("core boundary", () => {
  const src = join(repoRoot(), "src");
  const files = readdirSync(src).filter((f) => f.endsWith(".ts"));

  it("has source files to check", () => {
    assert.ok(files.length >= 10, `only ${files.length} files in src/`);
  });

  it("src/ uses no runtime-specific module or global", () => {
    const found: string[] = [];
    for (const f of files) {
      const code = stripComments(readFileSync(join(src, f), "utf8"));
      for (const [re, what] of FORBIDDEN) if (re.test(code)) found.push(`src/${f}: ${what}`);
    }
    assert.deepEqual(found, []);
  });
});
