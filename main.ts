#!/usr/bin/env node
/**
 * The `binks` executable: serves the demo app.
 *
 *   node dist/main.js [PORT] [options]
 *   deno run --allow-net --allow-env main.ts [PORT] [options]
 *   bun run main.ts [PORT] [options]
 *
 * @module
 */
import { CliError, parseCli, usage } from "./src/cli.ts";
import { demoApp } from "./src/demo.ts";
import { serve } from "./serve.ts";
import { serveStatic } from "./src/static.ts";
import { nodeFileSystem } from "./adapters/fs.ts";

interface Host {
  args: string[];
  env: Record<string, string | undefined>;
  exit(code: number): never;
  onSignal(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
}

/** The only place outside adapters/ that touches runtime globals. */
function host(): Host {
  const g = globalThis as unknown as {
    Deno?: {
      args: string[];
      exit(code: number): never;
      env: { toObject(): Record<string, string> };
      addSignalListener(signal: string, handler: () => void): void;
    };
    process?: {
      argv: string[];
      env: Record<string, string | undefined>;
      exit(code: number): never;
      on(signal: string, handler: () => void): void;
    };
  };
  if (g.Deno !== undefined) {
    let env: Record<string, string | undefined> = {};
    try {
      env = g.Deno.env.toObject();
    } catch {
      // Without --allow-env the defaults apply.
    }
    const deno = g.Deno;
    return {
      args: deno.args,
      env,
      exit: (code) => deno.exit(code),
      onSignal: (signal, handler) => deno.addSignalListener(signal, handler),
    };
  }
  const p = g.process!;
  return {
    args: p.argv.slice(2),
    env: p.env,
    exit: (code) => p.exit(code),
    onSignal: (signal, handler) => p.on(signal, handler),
  };
}

async function main(): Promise<void> {
  const h = host();
  let options;
  try {
    options = parseCli(h.args, h.env);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`binks: ${err.message}`);
      h.exit(2);
    }
    throw err;
  }
  if (options.help) {
    console.log(usage());
    h.exit(0);
  }
  const app = demoApp();
  if (options.staticDir !== undefined) {
    const files = serveStatic(options.staticDir, nodeFileSystem);
    app.get("/*", files);
  }
  try {
    const server = await serve({
      port: options.port,
      hostname: options.hostname,
      runtime: options.runtime,
      limits: options.limits,
      timeouts: options.timeouts,
      handler: app.handler,
    });
    console.log(`binks listening on http://${server.hostname}:${server.port} (${server.runtime})`);
    let stopping = false;
    const stop = (): void => {
      // A second signal means "now".
      if (stopping) h.exit(1);
      stopping = true;
      server.shutdown(options.graceMs).then(() => h.exit(0), () => h.exit(1));
    };
    h.onSignal("SIGTERM", stop);
    h.onSignal("SIGINT", stop);
  } catch (err) {
    console.error(`binks: ${err instanceof Error ? err.message : String(err)}`);
    h.exit(1);
  }
}

await main();
