/**
 * The core stays runtime-agnostic: nothing in src/ may import a runtime's
 * modules or touch its globals. Only adapters/ and main.ts may. And loading
 * binks loads no `node:` module that serving does not need.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

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

/** Specifiers a module loads when it is evaluated: `import type` and `export type` load nothing. */
function staticImports(code: string): string[] {
  const found: string[] = [];
  const re = /^(?:import|export)\s+(?!type\b)(?:[^;'"]*?\sfrom\s+)?["']([^"']+)["']/gm;
  for (const m of stripComments(code).matchAll(re)) found.push(m[1]!);
  return found;
}

/** Every `node:` module reached by static imports from `entry`, with the file importing it. */
function nodeModulesLoadedBy(root: string, entry: string): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(readFileSync(file, "utf8"))) {
      if (spec.startsWith("node:")) found.push(`${spec} (from ${file.slice(root.length + 1)})`);
      else if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
    }
  };
  visit(join(root, entry));
  return found;
}

describe("what loading binks loads", () => {
  const root = repoRoot();

  it("finds static imports, and only those", () => {
    const code = [
      'import { a } from "./a.ts";',
      'import type { B } from "./b.ts";',
      'export { c } from "./c.ts";',
      'export type { D } from "./d.ts";',
      'import {\n  type E,\n  f,\n} from "node:f";',
      'import "./g.ts";',
      'const h = await import("node:h");',
    ].join("\n");
    assert.deepEqual(staticImports(code), ["./a.ts", "./c.ts", "node:f", "./g.ts"]);
  });

  // node:fs costs Deno about 12 MiB and Bun about 4 MiB just to load; the
  // adapters and the worker plumbing load theirs when they are used.
  for (const entry of ["mod.ts", "main.ts"]) {
    it(`${entry} loads no node: module until one is needed`, () => {
      assert.deepEqual(nodeModulesLoadedBy(root, entry), []);
    });
  }
});

describe("what loading binks touches", () => {
  // On Node, the first touch of the global Request or Response loads the fetch implementation
  // (undici): 8 MiB of memory that only servers with fetch handlers should pay. Checked in a
  // fresh Node (the system's) on the built module, whichever runtime runs this suite.
  const built = join(repoRoot(), "dist", "mod.js");
  function touches(options: string): Record<string, unknown> {
    const script = `
      const touched = { Request: 0, Response: 0 };
      for (const name of ["Request", "Response"]) {
        const real = globalThis[name];
        Object.defineProperty(globalThis, name, {
          configurable: true,
          get() { touched[name]++; return real; },
        });
      }
      const binks = await import(${JSON.stringify(pathToFileURL(built).href)});
      const imported = { ...touched };
      binks.toRequest;
      const handler = binks.fetchHandler(() => new Response("x"), ${options});
      console.log(JSON.stringify({
        imported,
        handlerMade: touched,
        type: typeof handler,
        response: Object.getOwnPropertyDescriptor(globalThis, "Response").value?.name ?? "native",
      }));
    `;
    const run = spawnSync("node", ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout);
  }

  it("importing mod.ts touches neither Request nor Response", () => {
    assert.deepEqual(touches("{ globalResponse: false }"), {
      imported: { Request: 0, Response: 0 },
      handlerMade: { Request: 0, Response: 0 },
      type: "function",
      response: "native",
    });
  });

  it("a fetch handler puts the ReadyResponse in place, and only that", () => {
    assert.deepEqual(touches("{}"), {
      imported: { Request: 0, Response: 0 },
      handlerMade: { Request: 0, Response: 1 },
      type: "function",
      response: "ReadyResponse",
    });
  });
});
