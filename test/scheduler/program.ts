/**
 * Random programs for the scheduler model (test/scheduler-model.test.ts): tasks in nested scopes
 * that send, receive, choose and sleep on a few channels, with the driver closing channels,
 * cancelling tasks, closing and waiting on scopes, and moving a virtual clock on.
 *
 * Steps name their targets by plain numbers; the model picks the target among those it knows of
 * (a task at its gate, a scope ever opened) by that number modulo their count, so any list of
 * steps is a valid program and shrinking keeps it one.
 */
import fc from "fast-check";

/**
 * When a blocking call gives up: never, at once (a poll), a few ms from now (the wheel keeps
 * those exact), or on a later 128 ms boundary (exact too: the wheel's slack for delays under
 * 4 s divides 128). Or, for the late programs, any whole ms from 32 ms to 6 s away: the wheel
 * then fires up to 1/16 of the delay late, and what comes in between meets a call whose deadline
 * has passed.
 */
export type DeadlineSpec =
  | { readonly kind: "inf" }
  | { readonly kind: "poll" }
  | { readonly kind: "short"; readonly ms: number }
  | { readonly kind: "slot"; readonly n: number }
  | { readonly kind: "odd"; readonly ms: number };

/** What an operation is handed as its cancellation: the task, the task's signal, or nothing. */
export type CancelKind = "cx" | "signal" | "none";

/** One clause of a choose over the program's channels. */
export interface ClauseSpec {
  readonly op: "send" | "recv";
  readonly ch: number;
}

/** A call a task may block in. */
export type BlockingSpec =
  | {
    readonly kind: "send";
    readonly ch: number;
    readonly deadline: DeadlineSpec;
    readonly cancel: CancelKind;
  }
  | {
    readonly kind: "recv";
    readonly ch: number;
    readonly deadline: DeadlineSpec;
    readonly cancel: CancelKind;
  }
  | {
    readonly kind: "choose";
    readonly clauses: readonly ClauseSpec[];
    readonly deadline: DeadlineSpec;
    readonly cancel: CancelKind;
  }
  | { readonly kind: "sleep"; readonly deadline: DeadlineSpec; readonly cancel: CancelKind };

/**
 * What a task at its gate is told to do next: a call it awaits, or one it starts and leaves
 * pending as it returns or throws (its context ends with it), or just returning or throwing.
 */
export type OpSpec =
  | BlockingSpec
  | { readonly kind: "leave"; readonly op: BlockingSpec; readonly throws: boolean }
  | { readonly kind: "throw"; readonly canceled: boolean }
  | { readonly kind: "return" };

/**
 * What a task does with a `Canceled` from an operation, and at its gate once cancelled:
 * rethrow it, return, or carry on (then only the driver ends it).
 */
export type Policy = "rethrow" | "return" | "continue";

/**
 * What a task registers with `onCancel` as it starts, before anything else: nothing, closing a
 * channel (which may fail calls, its own too, before their own cancellation reaches them), or
 * throwing (reported to the scope's handler).
 */
export type CancelHook =
  | { readonly kind: "none" }
  | { readonly kind: "close"; readonly ch: number }
  | { readonly kind: "throw" };

/** Something the driver does synchronously; a burst runs a few with no turn of the loop between. */
export type SyncAct =
  | { readonly kind: "trySend"; readonly ch: number }
  | { readonly kind: "tryRecv"; readonly ch: number }
  | { readonly kind: "closeCh"; readonly ch: number }
  | { readonly kind: "cancel"; readonly task: number }
  | { readonly kind: "close"; readonly scope: number; readonly deadline: DeadlineSpec };

/** One step of a program; the loop runs its course after each. */
export type Step =
  | {
    readonly kind: "spawn";
    readonly scope: number;
    readonly policy: Policy;
    readonly hook: CancelHook;
  }
  | { readonly kind: "op"; readonly task: number; readonly op: OpSpec }
  | { readonly kind: "open"; readonly parent: number; readonly handler: boolean }
  | { readonly kind: "wait"; readonly scope: number; readonly deadline: DeadlineSpec }
  | { readonly kind: "advance"; readonly ms: number }
  /** To 1 ms past a deadline the wheel fires late (the `timer`-th such), before it fires. */
  | { readonly kind: "advancePast"; readonly timer: number }
  | { readonly kind: "burst"; readonly acts: readonly SyncAct[] };

/** Channel capacities (0 = rendezvous) and the steps run on them. */
export interface Program {
  readonly caps: readonly number[];
  readonly steps: readonly Step[];
}

/** Channels per program: enough to choose among, few enough that tasks meet. */
const MAX_CHANNELS = 3;
const MAX_STEPS = 60;

const exactDeadlineArb: fc.Arbitrary<DeadlineSpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: "inf" } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: "poll" } as const) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("short" as const),
      ms: fc.integer({ min: 1, max: 31 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("slot" as const),
      n: fc.integer({ min: 0, max: 20 }),
    }),
  },
);

const cancelArb: fc.Arbitrary<CancelKind> = fc.constantFrom("cx", "cx", "signal", "none");
const chArb = fc.nat({ max: MAX_CHANNELS - 1 });
const pick = fc.nat({ max: 50 });

const hookArb: fc.Arbitrary<CancelHook> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" } as const) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("close" as const), ch: chArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: "throw" } as const) },
);

/** Programs whose deadlines are drawn by `deadlineArb`. */
function programs(deadlineArb: fc.Arbitrary<DeadlineSpec>): fc.Arbitrary<Program> {
  const blockingArb: fc.Arbitrary<BlockingSpec> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("send" as const),
        ch: chArb,
        deadline: deadlineArb,
        cancel: cancelArb,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("recv" as const),
        ch: chArb,
        deadline: deadlineArb,
        cancel: cancelArb,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("choose" as const),
        clauses: fc.array(
          fc.record({ op: fc.constantFrom("send" as const, "recv" as const), ch: chArb }),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        deadline: deadlineArb,
        cancel: cancelArb,
      }),
    },
    {
      weight: 2,
      // A sleep until Infinity that nothing can cancel would never end: it gets a slot instead.
      arbitrary: fc.record({
        kind: fc.constant("sleep" as const),
        deadline: deadlineArb,
        cancel: cancelArb,
      }).map((s) =>
        s.deadline.kind === "inf" && s.cancel === "none"
          ? { ...s, deadline: { kind: "slot", n: 3 } as const }
          : s
      ),
    },
  );

  const opArb: fc.Arbitrary<OpSpec> = fc.oneof(
    { weight: 13, arbitrary: blockingArb },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("leave" as const),
        op: blockingArb,
        throws: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("throw" as const), canceled: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: "return" } as const) },
  );

  const actArb: fc.Arbitrary<SyncAct> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("trySend" as const), ch: chArb }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("tryRecv" as const), ch: chArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("closeCh" as const), ch: chArb }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), task: pick }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("close" as const),
        scope: pick,
        deadline: deadlineArb,
      }),
    },
  );

  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("spawn" as const),
        scope: pick,
        policy: fc.constantFrom<Policy>("rethrow", "return", "continue"),
        hook: hookArb,
      }),
    },
    {
      weight: 12,
      arbitrary: fc.record({ kind: fc.constant("op" as const), task: pick, op: opArb }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("open" as const),
        parent: pick,
        handler: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("wait" as const),
        scope: pick,
        deadline: deadlineArb,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("advance" as const),
        ms: fc.integer({ min: 1, max: 400 }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("advancePast" as const), timer: pick }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("burst" as const),
        acts: fc.array(actArb, { minLength: 1, maxLength: 3 }),
      }),
    },
  );

  return fc.record({
    caps: fc.array(fc.constantFrom(0, 0, 1, 2, 3), { minLength: 2, maxLength: MAX_CHANNELS }),
    steps: fc.array(stepArb, { minLength: 10, maxLength: MAX_STEPS, size: "max" }),
  });
}

/** A program: 2 or 3 channels of capacity 0 to 3, and up to MAX_STEPS steps, every deadline exact. */
export const programArb: fc.Arbitrary<Program> = programs(exactDeadlineArb);

/** The same with deadlines the wheel fires late, too. */
export const lateProgramArb: fc.Arbitrary<Program> = programs(
  fc.oneof(
    { weight: 1, arbitrary: exactDeadlineArb },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("odd" as const),
        ms: fc.integer({ min: 32, max: 6000 }),
      }),
    },
  ),
);
