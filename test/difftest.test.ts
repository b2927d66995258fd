/**
 * Differential test, bounded: 150 generated smuggling-shaped requests (fixed
 * seed) sent to binks, started under the runtime running this file, and to a
 * node:http server. The peer is always run by the system `node` binary (from
 * PATH), so it is always llhttp: Deno's and Bun's node:http are their own
 * parsers. `npm run difftest` runs more cases and prints the whole table.
 *
 * Asserted: no desync (class c) and nothing unclassified; every other
 * disagreement is binks refusing by a documented rule (a), the peer being
 * stricter where binks follows the RFC (d), or both refusing with different
 * statuses (s).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { type Started, startMain } from "./client.ts";
import { generate } from "./difftest/cases.ts";
import { type Item, Peer } from "./difftest/engine.ts";
import { classify } from "./difftest/classify.ts";
import { counts, type Outcome, runCases, table } from "./difftest/session.ts";

const SEED = 7;
const CASES = 150;

const hasNode = spawnSync("node", ["--version"]).status === 0;

describe(
  "differential test against node:http (llhttp)",
  { skip: !hasNode && "no node on PATH" },
  () => {
    let binks: Started;
    let peer: Peer;
    let outcomes: Outcome[] = [];

    before(async () => {
      [binks, peer] = await Promise.all([startMain(), Peer.start()]);
      outcomes = await runCases(binks.port, peer, generate(SEED, CASES), {
        concurrency: 8,
        quietMs: 150,
        recheckQuietMs: 1000,
      });
    });

    after(async () => {
      await Promise.all([binks?.stop(), peer?.stop()]);
    });

    it(`ran ${CASES} cases and most agree`, () => {
      assert.equal(outcomes.length, CASES);
      const c = counts(outcomes);
      console.log(`difftest seed ${SEED}: ${JSON.stringify(c)} (peer: ${peer.banner})`);
      assert.ok(c.agree! > CASES / 2, `only ${c.agree} of ${CASES} agree:\n${table(outcomes)}`);
    });

    it("never desyncs: no request one server reads that the other does not", () => {
      const bad = outcomes.filter((o) => o.verdict?.cls === "c");
      assert.deepEqual(
        bad.map((o) => `#${o.case.id} ${o.verdict!.rule}: ${JSON.stringify(o.case.wire)}`),
        [],
      );
    });

    it("explains every other disagreement by a rule", () => {
      const bad = outcomes.filter((o) => o.verdict?.cls === "?" || o.verdict?.cls === "b");
      assert.deepEqual(
        bad.map((o) =>
          `#${o.case.id} [${o.verdict!.cls}] ${o.verdict!.rule}: ${JSON.stringify(o.case.wire)}`
        ),
        [],
      );
    });
  },
);

describe("the difftest's classifier", () => {
  const wire = "GET /insp%65ct HTTP/1.1\r\nHost: x\r\n\r\n";
  const seen: Extract<Item, { kind: "req" }> = {
    kind: "req",
    status: 200,
    close: false,
    method: "GET",
    url: "/insp%65ct",
    version: "1.1",
    headers: [["host", "x"]],
    body: "",
  };
  const notFound: Item = { kind: "req", status: 404, close: false };
  const parting = { kind: "fields", at: 0, what: "binks answered 200, peer 404" } as const;
  const verdict = (url: string) =>
    classify(
      { id: 0, family: "target", what: "", wire: wire.replace("/insp%65ct", url) },
      { items: [{ ...seen, url }], closed: false },
      { items: [notFound], closed: false },
      parting,
    ).cls;

  it("takes a route binks found in the path's normal form, and the peer did not, for its rule", () => {
    // Found by seed 1100 (12 of 5,000 cases unclassified before).
    assert.equal(verdict("/insp%65ct"), "d");
    assert.equal(verdict("/%65cho?x"), "d");
    // The same route as sent, or one that is no route in either form: no such rule.
    assert.equal(verdict("/inspect"), "?");
    assert.equal(verdict("/insp%2Fct"), "?");
  });
});
