/**
 * The properties the fuzz tests check, as fast-check properties, shared by
 * the bounded runs in test/fuzz.test.ts and the long run in fuzz.ts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { defaultLimits, type Limits } from "../../src/limits.ts";
import {
  allowedStatus,
  bytesOf,
  bytewise,
  cut,
  NEED_MORE,
  type Outcome,
  replay,
  show,
  SMALL_LIMITS,
} from "./harness.ts";
import {
  dictionaryInputArb,
  mutate,
  mutatedArb,
  pipelineArb,
  splitsArb,
  tokenArb,
} from "./arbitraries.ts";

/** Bytes the buffer past the received end is filled with: line ends, separators, garbage. */
const POISONS = [0x00, 0x0a, 0x0d, 0x20, 0x3a, 0x30, 0xa5, 0xff];

const limitsArb = fc.constantFrom<Readonly<Limits>>(defaultLimits, SMALL_LIMITS);

function piecesOf(bytes: Uint8Array, splits: number[] | "bytewise"): Uint8Array[] {
  return splits === "bytewise"
    ? bytewise(bytes)
    : cut(bytes, splits.map((i) => i % (bytes.length + 1)));
}

/**
 * Any input: whole and split, it ends in complete requests followed by
 * nothing, a wait for more, or a refusal with a mapped status; never an
 * exception, never more steps than the bound. Split, it reads the same
 * requests; it may refuse with another status only where both refuse.
 */
export function checkAnyInput(
  bytes: Uint8Array,
  splits: number[] | "bytewise",
  limits: Readonly<Limits>,
  poison: number,
): void {
  const whole = replay([bytes], limits, poison);
  assert.ok(allowedStatus(whole.status), `status ${whole.status} for ${show(bytes)}`);
  const split = replay(piecesOf(bytes, splits), limits, poison);
  assert.ok(allowedStatus(split.status), `status ${split.status} split, for ${show(bytes)}`);
  assert.deepEqual(split.requests, whole.requests, `requests differ split, for ${show(bytes)}`);
  assert.ok(
    compatible(whole.status, split.status),
    `whole ends in ${whole.status}, split in ${split.status}, for ${show(bytes)}`,
  );
}

/**
 * Two outcomes of the same bytes fed differently agree: the same, or both
 * refusals (which check fires first may depend on where a read ended), or a
 * wait against a 414/431 (an unfinished head's length is checked when a read
 * ends inside it: the refusal then comes before the rest of the head).
 */
function compatible(a: number, b: number): boolean {
  if (a === b || (a > 0 && b > 0)) return true;
  const early = (x: number) => x === 414 || x === 431;
  return (a === NEED_MORE && early(b)) || (b === NEED_MORE && early(a));
}

/** Valid requests parse, whole and split, to exactly what was generated. */
const validProperty = fc.property(
  pipelineArb,
  splitsArb,
  fc.constantFrom(...POISONS),
  (p, splits, poison) => {
    const bytes = bytesOf(p.wire);
    const whole = replay([bytes], defaultLimits, poison);
    const expected: Outcome = { requests: p.seen, status: 0, steps: whole.steps };
    assert.deepEqual(whole, expected, `whole: ${show(bytes)}`);
    const split = replay(piecesOf(bytes, splits), defaultLimits, poison);
    assert.deepEqual(split.requests, p.seen, `split: ${show(bytes)}`);
    assert.equal(split.status, 0);
  },
);

const randomBytesProperty = fc.property(
  fc.uint8Array({ maxLength: 300 }),
  splitsArb,
  limitsArb,
  fc.constantFrom(...POISONS),
  checkAnyInput,
);

const dictionaryProperty = fc.property(
  dictionaryInputArb,
  splitsArb,
  limitsArb,
  fc.constantFrom(...POISONS),
  (text, splits, limits, poison) => checkAnyInput(bytesOf(text), splits, limits, poison),
);

const mutatedProperty = fc.property(
  mutatedArb,
  splitsArb,
  limitsArb,
  fc.constantFrom(...POISONS),
  (m, splits, limits, poison) =>
    checkAnyInput(mutate(bytesOf(m.original), m.mutations), splits, limits, poison),
);

/** What chunked bodies are made of. */
const CHUNK_PIECES = [
  "0",
  "1",
  "5",
  "a",
  "F",
  "10",
  "fffffff",
  ";",
  "x",
  "=",
  '"',
  " ",
  "\t",
  "\r\n",
  "\r",
  "\n",
  "hello",
  ":",
  "T: v\r\n",
  "\x00",
  "\xff",
  "0\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
];

/** A chunked request whose body is random chunk-ish text: the decoder's states, in any order. */
const chunkedBodyProperty = fc.property(
  fc.array(fc.oneof(fc.constantFrom(...CHUNK_PIECES), tokenArb(1, 4)), { maxLength: 40 }),
  splitsArb,
  limitsArb,
  fc.constantFrom(...POISONS),
  (parts, splits, limits, poison) => {
    const text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      parts.join("");
    checkAnyInput(bytesOf(text), splits, limits, poison);
  },
);

/** Every property, by name, for the long run. */
export const PROPERTIES: Readonly<Record<string, fc.IProperty<unknown[]>>> = {
  valid: validProperty,
  random: randomBytesProperty,
  dictionary: dictionaryProperty,
  mutated: mutatedProperty,
  chunked: chunkedBodyProperty,
};

/** The bytes a property's counterexample sent (whole), to save in the corpus. */
export function counterexampleBytes(name: string, example: readonly unknown[]): Uint8Array {
  const first = example[0];
  switch (name) {
    case "valid":
      return bytesOf((first as { wire: string }).wire);
    case "random":
      return first as Uint8Array;
    case "dictionary":
      return bytesOf(first as string);
    case "mutated": {
      const m = first as { original: string; mutations: Parameters<typeof mutate>[1] };
      return mutate(bytesOf(m.original), m.mutations);
    }
    case "chunked":
      return bytesOf(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
          (first as string[]).join(""),
      );
  }
  throw new Error(`unknown property ${name}`);
}
