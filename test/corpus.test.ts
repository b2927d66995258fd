/**
 * Replays every input in test/corpus/ through the parser and the chunked
 * decoder (the connection model of test/fuzz/harness.ts): whole, split in
 * three, and a byte at a time. Each must end without an exception, in a
 * mapped status, the same requests however it is split; and where a `.json`
 * beside the `.bin` records an expected `status` (0: ended between requests,
 * -1: waiting for more) or number of `requests`, exactly that.
 *
 * The corpus holds hand-written smuggling shapes and whatever
 * `npm run fuzz` found (`found-*.bin`).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultLimits, type Limits } from "../src/limits.ts";
import { allowedStatus, bytewise, cut, NEED_MORE, replay } from "./fuzz/harness.ts";

interface Expectation {
  status?: number;
  requests?: number;
  limits?: Partial<Limits>;
  note?: string;
}

function corpusDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return join(dir, "test", "corpus");
}

const dir = corpusDir();
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".bin")).sort() : [];

describe("corpus replay", () => {
  it("has inputs to replay", () => {
    assert.ok(files.length >= 20, `only ${files.length} inputs in ${dir}`);
  });

  for (const file of files) {
    const sidecar = join(dir, file.replace(/\.bin$/, ".json"));
    const expect: Expectation = existsSync(sidecar)
      ? JSON.parse(readFileSync(sidecar, "utf8")) as Expectation
      : {};
    it(`${file}${expect.note ? `: ${expect.note}` : ""}`, () => {
      const bytes = new Uint8Array(readFileSync(join(dir, file)));
      const limits: Limits = { ...defaultLimits, ...expect.limits };
      const whole = replay([bytes], limits);
      assert.ok(allowedStatus(whole.status), `status ${whole.status}`);
      const n = bytes.length;
      const ways = [cut(bytes, [n / 3 | 0, (2 * n) / 3 | 0])];
      if (n <= 8192) ways.push(bytewise(bytes));
      for (const pieces of ways) {
        const split = replay(pieces, limits);
        assert.deepEqual(split.requests, whole.requests, `split in ${pieces.length}`);
        const early = (s: number) => s === 414 || s === 431;
        assert.ok(
          split.status === whole.status || (split.status > 0 && whole.status > 0) ||
            (whole.status === NEED_MORE && early(split.status)),
          `whole ends in ${whole.status}, split in ${pieces.length} in ${split.status}`,
        );
      }
      if (expect.status !== undefined) assert.equal(whole.status, expect.status);
      if (expect.requests !== undefined) assert.equal(whole.requests.length, expect.requests);
    });
  }
});
