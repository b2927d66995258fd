/**
 * Model-based property tests of the scheduler (src/scope.ts, src/channel.ts, src/clock.ts):
 * random programs of tasks in nested scopes that send, receive, choose and sleep on a few
 * channels with deadlines and cancellation (or start such a call and return or throw with it
 * left pending), while the driver closes channels, cancels tasks,
 * closes and waits on scopes and moves a virtual clock on, compared step by step with a model
 * of the documented semantics (test/scheduler/model.ts).
 *
 * Fixed seeds and bounded runs keep this to a few seconds; a failure prints the seed, path and
 * counterexample fast-check found, and the steps of that run.
 */
import { describe, it } from "node:test";
import fc from "fast-check";
import { check, holdsIn } from "./model/check.ts";
import { lateProgramArb, type Program, programArb } from "./scheduler/program.ts";
import { runProgram } from "./scheduler/run.ts";

async function holds(p: Program): Promise<void> {
  const findings = await runProgram(p);
  holdsIn(findings, p.caps);
}

describe("scheduler model", () => {
  it("channels, choose, sleeps and scopes behave as documented over random programs", async () => {
    await check(fc.asyncProperty(programArb, holds), { seed: 0x5c4ed, numRuns: 400 });
  });

  it("a call is over at its deadline, though the wheel fires it up to 1/16 of its delay late", async () => {
    await check(fc.asyncProperty(lateProgramArb, holds), { seed: 0x1a7e, numRuns: 300 });
  });
});
