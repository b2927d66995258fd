/**
 * Which runtime is this, and which adapter serves it.
 *
 * @module
 */
import type { ListenFn, RuntimeName } from "../src/transport.ts";
import { useNativeLatin1 } from "./latin1.ts";

interface RuntimeGlobals {
  Deno?: { version?: { deno?: unknown } };
  Bun?: { version?: unknown };
}

/**
 * The runtime executing this code. Deno goes first because Deno 2 also defines `process`, and
 * Bun before Node because Bun reports `process.versions.node` too.
 */
export function detectRuntime(): RuntimeName {
  const g = globalThis as unknown as RuntimeGlobals;
  if (typeof g.Deno?.version?.deno === "string") return "deno";
  if (typeof g.Bun?.version === "string") return "bun";
  return "node";
}

/**
 * Whether the adapter of `wanted` runs on `running`: its own, or `node` anywhere (Deno and Bun
 * run it through their `node:net`).
 */
export function canRunAs(wanted: RuntimeName, running: RuntimeName): boolean {
  return wanted === running || wanted === "node";
}

/**
 * Loads the adapter for `name` (the running runtime by default). Only that module is imported,
 * so no other runtime's global is touched. The `node` adapter may be forced under Deno and Bun,
 * whose `node:net` compat runs it; any other mismatch throws.
 */
export async function loadAdapter(name?: RuntimeName): Promise<ListenFn> {
  const running = detectRuntime();
  const wanted = name ?? running;
  if (wanted !== "node" && wanted !== "deno" && wanted !== "bun") {
    // An unchecked string (a CLI flag, say) slipped past the type.
    throw new Error(`unknown runtime "${String(wanted)}" (expected node, deno or bun)`);
  }
  if (!canRunAs(wanted, running)) {
    throw new Error(`runtime ${wanted} was asked for, but this is ${running}`);
  }
  useNativeLatin1();
  if (wanted === "deno") return (await import("./deno.ts")).listen;
  if (wanted === "bun") return (await import("./bun.ts")).listen;
  return (await import("./node.ts")).listen;
}
