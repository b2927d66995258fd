/**
 * The few runtime facts the benchmarks need (name, version, arguments,
 * environment), read from whichever global the running runtime has. Typed by
 * hand so that plain `tsc` with `@types/node` checks it.
 *
 * @module
 */

/** The runtimes the benchmarks run on. */
export type BenchRuntime = "node" | "deno" | "bun";

interface Globals {
  Deno?: {
    version: { deno: string };
    args: string[];
    env: { get(name: string): string | undefined };
  };
  Bun?: { version: string };
  process?: {
    argv: string[];
    env: Record<string, string | undefined>;
    versions: Record<string, string | undefined>;
  };
}

const g = globalThis as unknown as Globals;

/** Which runtime runs this code (Deno first: it defines `process` too; Bun before Node). */
export function runtimeName(): BenchRuntime {
  if (typeof g.Deno?.version?.deno === "string") return "deno";
  if (typeof g.Bun?.version === "string") return "bun";
  return "node";
}

/** `node 20.20.2`, `deno 2.9.6` or `bun 1.4.5`. */
export function runtimeLabel(): string {
  const name = runtimeName();
  if (name === "deno") return `deno ${g.Deno!.version.deno}`;
  if (name === "bun") return `bun ${g.Bun!.version}`;
  return `node ${g.process?.versions.node ?? "?"}`;
}

/** The script's own arguments (after the script path). */
export function scriptArgs(): string[] {
  if (g.Deno !== undefined) return [...g.Deno.args];
  return g.process?.argv.slice(2) ?? [];
}

/** An environment variable, or undefined (also when Deno was not given --allow-env). */
export function envVar(name: string): string | undefined {
  if (g.Deno !== undefined) {
    try {
      return g.Deno.env.get(name);
    } catch {
      return undefined;
    }
  }
  return g.process?.env[name];
}
