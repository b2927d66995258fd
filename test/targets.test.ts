/**
 * The shoot-out's targets section (bench/shootout/targets.ts): which servers run next to each
 * other, and how a verdict is read off paired rounds. The README's targets table is taken from it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  evaluate,
  GROUPS,
  passOrder,
  type TargetCell,
  type TargetRound,
  type TargetRun,
  targetsMarkdown,
} from "../bench/shootout/targets.ts";

/** The shoot-out's servers in catalog order. */
const CATALOG = [
  "binks-node",
  "binks-deno",
  "binks-bun",
  "binks-main-node",
  "binks-main-deno",
  "binks-main-bun",
  "node-http",
  "deno-serve",
  "bun-serve",
  "hono-binks-node",
  "hono-node",
  "uws-node",
  "nginx",
  "raw-node",
  "raw-deno",
  "raw-bun",
  "raw-routes-node",
  "raw-routes-deno",
  "raw-routes-bun",
];

describe("targets: pass order", () => {
  it("runs each runtime's binks, demo app, own server and floor back to back, every round", () => {
    for (let round = 0; round < 7; round++) {
      const order = passOrder(CATALOG, round);
      assert.deepEqual([...order].sort(), [...CATALOG].sort(), `round ${round}: each once`);
      for (const g of GROUPS) {
        if (!CATALOG.includes(g.binks)) continue;
        const at = [g.binks, g.demo, g.own, g.floor].map((id) => order.indexOf(id)).sort((a, b) =>
          a - b
        );
        assert.equal(at[3]! - at[0]!, 3, `round ${round}, ${g.runtime}: ${order.join(" ")}`);
      }
    }
  });

  it("turns the blocks and the order inside them from round to round", () => {
    assert.deepEqual(passOrder(CATALOG, 0).slice(0, 4), [
      "binks-node",
      "binks-main-node",
      "node-http",
      "raw-routes-node",
    ]);
    assert.deepEqual(passOrder(CATALOG, 1).slice(0, 4), [
      "binks-main-deno",
      "deno-serve",
      "raw-routes-deno",
      "binks-deno",
    ]);
    // The servers outside the groups, one block each, turn with the rest.
    assert.equal(passOrder(CATALOG, 3)[0], "hono-binks-node");
    const firsts = new Set(Array.from({ length: 10 }, (_, r) => passOrder(CATALOG, r)[0]));
    assert.equal(firsts.size, 10);
  });

  it("runs another Node release's rows as a block of their own", () => {
    const ids = ["binks-node", "node-http", "binks-node24", "node-http24", "raw-routes-node24"];
    assert.deepEqual(passOrder(ids, 0), ids);
    assert.deepEqual(passOrder(ids, 1), [
      "node-http24",
      "raw-routes-node24",
      "binks-node24",
      "node-http",
      "binks-node",
    ]);
  });

  it("keeps a subset's order and blocks (the 5-round target run)", () => {
    const ids = ["binks-bun", "bun-serve", "raw-routes-bun", "nginx"];
    assert.deepEqual(passOrder(ids, 0), ["binks-bun", "bun-serve", "raw-routes-bun", "nginx"]);
    assert.deepEqual(passOrder(ids, 1), ["nginx", "bun-serve", "raw-routes-bun", "binks-bun"]);
    assert.deepEqual(passOrder(ids, 2), ["raw-routes-bun", "binks-bun", "bun-serve", "nginx"]);
  });
});

const round = (x: Partial<TargetRound>): TargetRound => ({ rps: null, cpuUsPerReq: null, ...x });
const cell = (rounds: TargetRound[]): TargetCell => ({ status: "ok", rounds });
const rps = (...v: number[]): TargetCell => cell(v.map((x) => round({ rps: x })));

function run(cells: TargetRun["cells"], grouped = true): TargetRun {
  return { cells, meta: grouped ? { settings: { order: "grouped" } } : {} };
}

describe("targets: verdicts", () => {
  it("reads the median of per-round ratios, not the ratio of the medians", () => {
    // Round 3 is a slow spell for node:http only as the medians see it: 105/90 = 1.17.
    const r = run({
      keepalive: {
        "binks-node": rps(150_000, 100_000, 105_000),
        "node-http": rps(100_000, 70_000, 90_000),
      },
    });
    const t = evaluate(r).find((x) => x.spec.metric === "rps" && x.spec.scenario === "keepalive")!;
    assert.equal(t.value, 105_000);
    assert.equal(t.against, 90_000);
    assert.deepEqual(t.perRound.map((x) => x.toFixed(3)), ["1.500", "1.429", "1.167"]);
    assert.equal(t.result!.toFixed(3), "1.429");
    assert.equal(t.met, true);
    assert.equal(t.floor, null);
  });

  it("leaves failed and contended rounds out of the pairs", () => {
    const r = run({
      close: {
        "binks-deno": cell([
          round({ rps: 10_000 }),
          round({ failed: "did not start" }),
          round({ rps: 30_000 }),
          round({ rps: 99_000, contended: true }),
        ]),
        "deno-serve": rps(20_000, 20_000, 20_000, 20_000),
      },
    });
    const t = evaluate(r).find((x) => x.group.runtime === "deno")!;
    assert.deepEqual(t.perRound, [0.5, 1.5]);
    assert.equal(t.result, 1);
    assert.equal(t.met, true);
  });

  it("falls back to the ratio of the medians when no round has both", () => {
    const r = run({
      close: {
        "binks-bun": cell([round({ rps: 17_000 }), round({ failed: "x" })]),
        "bun-serve": cell([round({ failed: "x" }), round({ rps: 20_000 })]),
      },
    });
    const t = evaluate(r)[0]!;
    assert.deepEqual(t.perRound, []);
    assert.equal(t.result, 0.85);
    assert.equal(t.met, false);
  });

  it("judges a fixed bound on the median, and says when the floor misses a target too", () => {
    const mib = (...v: number[]) => cell(v.map((x) => round({ rssMiB: x })));
    const cpu = (...v: number[]) => cell(v.map((x) => round({ cpuUsPerReq: x })));
    const r = run({
      keepalive: {
        "binks-node": cpu(8.2, 12, 9),
        "raw-routes-node": cpu(7, 7.5, 7.2),
      },
      echo: {
        "binks-node": mib(111, 110, 112),
        "node-http": mib(104, 100, 104),
        "raw-routes-node": mib(115, 114, 114),
      },
      big: {
        "binks-node": mib(110, 110, 110),
        "node-http": mib(100, 100, 100),
        "raw-routes-node": mib(100.4, 100.4, 100.4),
      },
    });
    const results = evaluate(r);
    const cpuTarget = results.find((x) => x.spec.against === 11)!;
    assert.deepEqual(cpuTarget.perRound, [8.2, 12, 9]);
    assert.equal(cpuTarget.result, 9);
    assert.equal(cpuTarget.met, true);
    assert.equal(cpuTarget.floor, 7.2);
    const lines = targetsMarkdown(r);
    assert.ok(lines.includes(
      "| Node | keep-alive CPU ≤ 11 µs per request | 9.0 µs | ≤ 11.0 µs | 8.2, 12.0, 9.0 | 9.0 µs | " +
        "7.2 µs | **met** |",
    ));
    assert.ok(lines.includes(
      "| Node | peak RSS, POST 4 KiB ≤ the runtime's server | 111 MiB | 104 MiB | 1.07×, 1.10×, " +
        "1.08× | 1.08× | 1.11× | not met; the floor misses it too |",
    ));
    // The floor at 1.004× is shown, and judged, as 1.00×: within the target.
    assert.ok(lines.includes(
      "| Node | peak RSS, 64 KiB reply ≤ the runtime's server | 110 MiB | 100 MiB | 1.10×, 1.10×, " +
        "1.10× | 1.10× | 1.00× | **not met** |",
    ));
    assert.ok(lines.some((l) => l.includes("the floor run next to each other in every round")));
  });

  it("holds binks on Node 24 to Node's targets, against node:http on Node 24", () => {
    const r = run({
      keepalive: {
        "binks-node": rps(100_000),
        "node-http": rps(60_000),
        "binks-node24": rps(100_000),
        "node-http24": rps(80_000),
      },
    });
    const ratio = (runtime: string) =>
      evaluate(r).find((x) => x.group.runtime === runtime && x.spec.against === "own")!;
    assert.equal(ratio("node").met, true);
    assert.equal(ratio("node24").result, 1.25);
    assert.equal(ratio("node24").met, false);
    assert.ok(targetsMarkdown(r).some((l) => l.startsWith("| Node 24 | keep-alive req/s ≥ 1.4×")));
  });

  it("says when a run's servers were not run next to each other", () => {
    const lines = targetsMarkdown(
      run({ close: { "binks-node": rps(1), "node-http": rps(1) } }, false),
    );
    assert.ok(lines.some((l) => l.includes("this run is older than that order")));
    assert.deepEqual(targetsMarkdown(run({ close: { "node-http": rps(1) } })), []);
  });
});
