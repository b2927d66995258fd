/**
 * A thin layer over tinybench shared by the micro-benchmarks: cases that do
 * several operations per call, cases skipped with a reason, and two ways to
 * report (a table for people; one JSON line for `bench/micro/run.mjs`).
 *
 * Environment:
 * - `BINKS_BENCH_TIME_MS`: time budget per case (default 300 ms)
 * - `BINKS_BENCH_JSON=1`: print one `##binks-bench## {…}` line instead of a table
 *
 * @module
 */
import { Bench } from "tinybench";

import { envVar, runtimeLabel } from "../runtime.ts";

/** Prefix of the machine-readable line. */
export const JSON_MARKER = "##binks-bench## ";

/** One measured case. */
export interface CaseResult {
  name: string;
  /** Operations per second (an operation is the suite's unit, e.g. one request). */
  opsPerSec: number;
  /** Mean nanoseconds per operation. */
  nsPerOp: number;
  /** Relative margin of error of the mean call time, in percent. */
  rme: number;
  /** Calls sampled. */
  samples: number;
  /** Operations per call (a pipelined batch of 16 counts 16). */
  opsPerCall: number;
}

/** What one bench file reports. */
export interface SuiteResult {
  suite: string;
  runtime: string;
  /** What one operation is. */
  unit: string;
  cases: CaseResult[];
  skipped: { name: string; reason: string }[];
}

const DEFAULT_TIME_MS = 300;

/** The time budget per case, from `BINKS_BENCH_TIME_MS`. */
export function timePerCase(): number {
  const raw = envVar("BINKS_BENCH_TIME_MS");
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_TIME_MS;
}

/** A named group of cases, run by tinybench and reported together. */
export class Suite {
  readonly name: string;
  readonly unit: string;
  private readonly bench: Bench;
  private readonly perCall = new Map<string, number>();
  private readonly skipped: { name: string; reason: string }[] = [];

  constructor(name: string, unit: string) {
    this.name = name;
    this.unit = unit;
    const time = timePerCase();
    this.bench = new Bench({ time, warmupTime: Math.min(100, time / 2) });
  }

  /** Add a case whose every call performs `opsPerCall` operations. */
  add(name: string, fn: () => unknown, opsPerCall = 1): this {
    this.perCall.set(name, opsPerCall);
    this.bench.add(name, fn);
    return this;
  }

  /** Record a case that cannot run here, and why. */
  skip(name: string, reason: string): this {
    this.skipped.push({ name, reason });
    return this;
  }

  /** Run every case, then print the table (or the JSON line). */
  async run(): Promise<SuiteResult> {
    await this.bench.run();
    const cases: CaseResult[] = [];
    for (const task of this.bench.tasks) {
      const r = task.result;
      if (r.state !== "completed") {
        const reason = r.state === "errored" ? `errored: ${String(r.error)}` : r.state;
        this.skipped.push({ name: task.name, reason });
        continue;
      }
      const opsPerCall = this.perCall.get(task.name) ?? 1;
      cases.push({
        name: task.name,
        opsPerSec: (opsPerCall * 1000) / r.period,
        nsPerOp: (r.period * 1e6) / opsPerCall,
        rme: r.latency.rme,
        samples: r.latency.samplesCount,
        opsPerCall,
      });
    }
    const result: SuiteResult = {
      suite: this.name,
      runtime: runtimeLabel(),
      unit: this.unit,
      cases,
      skipped: this.skipped,
    };
    if (envVar("BINKS_BENCH_JSON") === "1") {
      console.log(JSON_MARKER + JSON.stringify(result));
    } else {
      printSuite(result);
    }
    return result;
  }
}

/** The human-readable report: one table, then the skipped cases. */
export function printSuite(result: SuiteResult): void {
  console.log(`\n${result.suite} on ${result.runtime} (one op = ${result.unit})`);
  console.table(result.cases.map((c) => ({
    case: c.name,
    "ops/s": Math.round(c.opsPerSec).toLocaleString("en-US"),
    "ns/op": c.nsPerOp.toFixed(1),
    "±%": c.rme.toFixed(2),
    samples: c.samples,
  })));
  for (const s of result.skipped) console.log(`${s.name}: skipped: ${s.reason}`);
}
