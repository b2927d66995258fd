/**
 * The long fuzz run: the properties of test/fuzz.test.ts, with fresh seeds,
 * for as long as asked. Every failing input (shrunk by fast-check) is saved
 * to test/corpus/ as `found-<property>-<hash>.bin` (the raw bytes) with a
 * `.json` beside it saying what failed, so test/corpus.test.ts replays it
 * from then on.
 *
 *   npm run fuzz -- --seconds 60 [--seed N] [--only valid,mutated] [--runs 200]
 *
 * Exits 1 if anything failed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { counterexampleBytes, PROPERTIES } from "./properties.ts";
import { FlagError, flagsOrExit, readFlags } from "../flags.ts";

interface Options {
  seconds: number;
  seed: number;
  only: string[];
  runs: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    seconds: 30,
    seed: Date.now() % 0x7fffffff,
    only: Object.keys(PROPERTIES),
    runs: 200,
  };
  readFlags(argv, (flag, value) => {
    if (flag === "--seconds") o.seconds = Number(value());
    else if (flag === "--seed") o.seed = Number(value());
    else if (flag === "--runs") o.runs = Number(value());
    else if (flag === "--only") o.only = value().split(",");
    else if (flag === "--help") {
      console.log("npm run fuzz -- [--seconds N] [--seed N] [--runs N] [--only a,b]");
      console.log(`properties: ${Object.keys(PROPERTIES).join(", ")}`);
      process.exit(0);
    } else throw new FlagError(`unknown flag ${flag}`);
  });
  for (const name of o.only) {
    if (!(name in PROPERTIES)) throw new FlagError(`unknown property ${name}`);
  }
  if (!(o.seconds > 0) || !(o.runs > 0) || !Number.isInteger(o.seed)) {
    throw new FlagError("--seconds and --runs must be positive, --seed an integer");
  }
  return o;
}

function corpusDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no package.json above this script");
    dir = up;
  }
  return join(dir, "test", "corpus");
}

interface Tally {
  runs: number;
  batches: number;
  failures: number;
  ms: number;
}

function save(name: string, bytes: Uint8Array, details: fc.RunDetails<unknown[]>): string {
  const dir = corpusDir();
  mkdirSync(dir, { recursive: true });
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
  const base = join(dir, `found-${name}-${hash}`);
  if (!existsSync(`${base}.bin`)) {
    writeFileSync(`${base}.bin`, bytes);
    const error = details.errorInstance instanceof Error
      ? details.errorInstance.message
      : String(details.errorInstance);
    writeFileSync(
      `${base}.json`,
      JSON.stringify(
        {
          note: `found by npm run fuzz (${name}); no expected status recorded`,
          property: name,
          seed: details.seed,
          path: details.counterexamplePath,
          error: error.slice(0, 2000),
        },
        null,
        2,
      ) + "\n",
    );
  }
  return `${base}.bin`;
}

function main(): void {
  const o = flagsOrExit("fuzz", parseArgs);
  const tallies = new Map<string, Tally>(
    o.only.map((n) => [n, { runs: 0, batches: 0, failures: 0, ms: 0 }]),
  );
  const started = Date.now();
  const deadline = started + o.seconds * 1000;
  let seed = o.seed;
  let lastReport = started;
  const saved: string[] = [];
  console.log(`fuzzing ${o.only.join(", ")} for ${o.seconds} s from seed ${o.seed}`);
  while (Date.now() < deadline) {
    for (const name of o.only) {
      const t = tallies.get(name)!;
      const before = Date.now();
      const details = fc.check(PROPERTIES[name]!, { seed, numRuns: o.runs });
      t.ms += Date.now() - before;
      t.batches++;
      t.runs += details.numRuns;
      if (details.failed) {
        t.failures++;
        const example = details.counterexample ?? [];
        const file = save(name, counterexampleBytes(name, example), details);
        saved.push(file);
        console.log(`FAIL ${name} seed ${details.seed}: saved ${file}`);
        console.log(
          `  ${
            String((details.errorInstance as Error)?.message ?? details.errorInstance)
              .split("\n")[0]
          }`,
        );
      }
      seed = (seed + 1) % 0x7fffffff;
    }
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      const runs = [...tallies.values()].reduce((n, t) => n + t.runs, 0);
      console.log(`  ${((lastReport - started) / 1000).toFixed(0)} s: ${runs} runs`);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n${"property".padEnd(12)} ${"runs".padStart(9)} ${"runs/s".padStart(8)} failures`);
  let failures = 0;
  for (const [name, t] of tallies) {
    failures += t.failures;
    const rate = t.ms > 0 ? Math.round(t.runs / (t.ms / 1000)) : 0;
    console.log(
      `${name.padEnd(12)} ${String(t.runs).padStart(9)} ${String(rate).padStart(8)} ${t.failures}`,
    );
  }
  console.log(
    `\n${seconds.toFixed(0)} s, seeds ${o.seed}..${seed - 1}, ${failures} failing batch(es)` +
      (saved.length > 0 ? `; saved:\n  ${saved.join("\n  ")}` : ""),
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

main();
