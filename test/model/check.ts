/**
 * What the model tests share: the two sets of deadlines they run under, and the assertions that
 * turn a run's violations, or a property's counterexample, into a failure that says what broke.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { defaultTimeouts } from "../../src/limits.ts";
import type { ModelOptions } from "./harness.ts";

/** Deadlines far beyond what a schedule lets pass: none of them runs out. */
export const CALM: ModelOptions = { timeouts: { ...defaultTimeouts }, lingerMs: 2000 };

/** Deadlines a schedule runs past: idle, head, body, handler and send timeouts all fire. */
export const HURRIED: ModelOptions = {
  timeouts: { keepAliveMs: 300, headMs: 150, bodyMs: 120, handlerMs: 100, sendMs: 80 },
  lingerMs: 40,
};

/** A run's findings: what it violated, the events that led there, and what came out. */
export interface Findings {
  violations: string[];
  log: string[];
}

/** Fail with `outcome`'s violations, its trace and `output` (what was sent), if it has any. */
export function holdsIn(outcome: Findings, output: unknown): void {
  if (outcome.violations.length === 0) return;
  assert.fail(
    `${outcome.violations.join("\n")}\n-- events: ${outcome.log.join(", ")}\n-- output: ${
      JSON.stringify(output)
    }`,
  );
}

/**
 * The seeds to check a property with: its fixed one, or those the MODEL_SEEDS variable names
 * (`21814`, or `1..200`), to look for what the fixed seeds miss without editing each test.
 */
function seedsFor(fixed: number): number[] {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
    ?.env;
  const spec = env?.MODEL_SEEDS;
  if (spec === undefined || spec === "") return [fixed];
  const [from, to = from] = spec.split("..").map(Number) as [number, number?];
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) {
    throw new RangeError(`MODEL_SEEDS takes N or FROM..TO, not ${JSON.stringify(spec)}`);
  }
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * Check `property` with fixed `params` (or the seeds MODEL_SEEDS names); a failure says what
 * was violated, not only where, for every seed that failed.
 */
export async function check<T>(
  property: fc.IAsyncProperty<[T]>,
  params: { seed: number; numRuns: number },
): Promise<void> {
  const failures: string[] = [];
  for (const seed of seedsFor(params.seed)) {
    const details = await fc.check(property, { ...params, seed });
    if (!details.failed) continue;
    const error = details.errorInstance as Error | null;
    // Long strings (bodies) shown by their start and length.
    const shown = JSON.stringify(
      details.counterexample?.[0],
      (_, v) => typeof v === "string" && v.length > 200 ? `${v.slice(0, 40)}…(${v.length})` : v,
    );
    failures.push(
      `seed ${details.seed}, path ${
        JSON.stringify(details.counterexamplePath)
      }, after ${details.numRuns} runs\ncounterexample: ${shown}\n${error?.message ?? error}`,
    );
  }
  if (failures.length > 0) assert.fail(failures.join("\n\n"));
}
