/**
 * `npm run difftest`: the same raw requests to binks (node dist/main.js) and
 * to a node:http server (llhttp) on loopback; prints where they disagree,
 * classified, with counts per class.
 *
 *   npm run difftest -- [--seed N] [--cases N] [--concurrency N] [--quiet MS] [--verbose]
 *
 * Exits 1 on any desync (class c) or unclassified disagreement.
 */
import process from "node:process";
import { startMain } from "../client.ts";
import { generate } from "./cases.ts";
import { Peer } from "./engine.ts";
import { counts, runCases, table } from "./session.ts";
import { CLASSES } from "./classify.ts";

interface Options {
  seed: number;
  cases: number;
  concurrency: number;
  quiet: number;
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seed: 1, cases: 1000, concurrency: 8, quiet: 150, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const num = (): number => {
      const v = Number(inline ?? argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${flag} takes a whole number`);
      return v;
    };
    if (flag === "--seed") o.seed = num();
    else if (flag === "--cases") o.cases = num();
    else if (flag === "--concurrency") o.concurrency = num();
    else if (flag === "--quiet") o.quiet = num();
    else if (flag === "--verbose") o.verbose = true;
    else throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const peer = await Peer.start();
  const binks = await startMain();
  const started = Date.now();
  try {
    const cases = generate(o.seed, o.cases);
    const outcomes = await runCases(binks.port, peer, cases, {
      concurrency: o.concurrency,
      quietMs: o.quiet,
      recheckQuietMs: 1000,
    });
    const c = counts(outcomes);
    console.log(
      `difftest: ${o.cases} cases from seed ${o.seed}, binks (node ${process.version}) ` +
        `vs node:http (${peer.banner}), ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    console.log(table(outcomes));
    console.log("");
    for (const [cls, what] of Object.entries(CLASSES)) {
      console.log(`${cls.padEnd(6)} ${String(c[cls] ?? 0).padStart(5)}  ${what}`);
    }
    const bad = outcomes.filter((x) => x.verdict?.cls === "c" || x.verdict?.cls === "?");
    if (o.verbose || bad.length > 0) {
      console.log("");
      for (const x of o.verbose ? outcomes.filter((y) => y.verdict) : bad) {
        console.log(`#${x.case.id} [${x.verdict!.cls}] ${x.verdict!.rule}`);
        console.log(`  ${x.case.family}: ${x.case.what}`);
        console.log(`  wire  ${JSON.stringify(x.case.wire)}`);
        console.log(`  part  ${JSON.stringify(x.parting)}`);
        console.log(`  binks ${JSON.stringify(x.binks)}`);
        console.log(`  peer  ${JSON.stringify(x.peer)}`);
      }
    }
    process.exitCode = c.c! > 0 || c["?"]! > 0 ? 1 : 0;
  } finally {
    await binks.stop();
    await peer.stop();
  }
}

await main();
