/**
 * The performance targets of issue 8, read off one shoot-out run: on each runtime binks against
 * the runtime's own server (or uWebSockets.js, or a fixed bound), and the all-routes trivial
 * responder (the floor) against the same yardstick, so that a target the runtime's sockets put out
 * of reach shows as one the floor misses too.
 *
 * The machine has slow spells that last minutes and hit every server on it (keep-alive CPU per
 * request 15–25% higher, nginx's as well). Servers compared with each other therefore run next to
 * each other in every round ({@link passOrder}), and a verdict is the median of the per-round
 * ratios, each taken between two passes a minute or two apart, not the ratio of two medians taken
 * at different times.
 *
 * Compiled with the rest (`npm run build`); the harness imports `dist/bench/shootout/targets.js`.
 *
 * @module
 */

/** A measured round, as the harness keeps it (only what the targets read). */
export interface TargetRound {
  rps?: number | null;
  cpuUsPerReq?: number | null;
  rssMiB?: number | null;
  /** Why the round has no figures. */
  failed?: string;
  /** Other processes took a share of the CPUs: left out when a clean round exists. */
  contended?: boolean;
}

/** One server's rounds in one scenario. */
export interface TargetCell {
  status: string;
  rounds: readonly TargetRound[];
}

/** What the targets read of a run: cells by scenario id, then server id. */
export interface TargetRun {
  cells: Readonly<Record<string, Readonly<Record<string, TargetCell>>>>;
  /** `"grouped"` when the run used {@link passOrder} (older runs did not). */
  meta?: { settings?: { order?: string } };
}

/** The servers compared on one runtime. */
export interface TargetGroup {
  runtime: string;
  label: string;
  /** binks through its API, serving the three routes. */
  binks: string;
  /** binks as shipped: the demo app. */
  demo: string;
  /** The runtime's own HTTP server. */
  own: string;
  /** The all-routes trivial responder on the runtime's sockets. */
  floor: string;
  /** The trivial responder: scan for CR LF CR LF, write canned bytes. */
  trivial: string;
}

export const GROUPS: readonly TargetGroup[] = [
  {
    runtime: "node",
    label: "Node",
    binks: "binks-node",
    demo: "binks-main-node",
    own: "node-http",
    floor: "raw-routes-node",
    trivial: "raw-node",
  },
  {
    runtime: "deno",
    label: "Deno",
    binks: "binks-deno",
    demo: "binks-main-deno",
    own: "deno-serve",
    floor: "raw-routes-deno",
    trivial: "raw-deno",
  },
  {
    runtime: "bun",
    label: "Bun",
    binks: "binks-bun",
    demo: "binks-main-bun",
    own: "bun-serve",
    floor: "raw-routes-bun",
    trivial: "raw-bun",
  },
  // The same on the Node LTS releases users run besides the machine's (rows run when asked for).
  ...["22", "24"].map((major): TargetGroup => ({
    runtime: `node${major}`,
    label: `Node ${major}`,
    binks: `binks-node${major}`,
    demo: `binks-main-node${major}`,
    own: `node-http${major}`,
    floor: `raw-routes-node${major}`,
    trivial: `raw-node${major}`,
  })),
];

/** The runtimes whose own server is `node:http`: the targets set for Node hold on each. */
const NODES: readonly string[] = ["node", "node22", "node24"];

/** uWebSockets.js on Node: the pipelined yardstick for binks on every runtime. */
export const UWS = "uws-node";

type Metric = "rps" | "cpuUsPerReq" | "rssMiB";

/** One target: `who`'s `metric` in `scenario`, against a server of the group or a fixed bound. */
export interface TargetSpec {
  text: string;
  scenario: string;
  metric: Metric;
  who: "binks" | "demo";
  /** A server of the group, uWebSockets.js, or a fixed bound in the metric's unit. */
  against: "own" | "trivial" | "uws" | number;
  /** Higher is better (req/s) or lower is better (CPU, memory). */
  better: "higher" | "lower";
  /** The bound on the ratio, or on the value itself when `against` is a number. */
  bound: number;
  /** The runtimes it applies to (all when absent). */
  runtimes?: readonly string[];
}

const RSS_SCENARIOS: readonly [string, string][] = [
  ["keepalive", "keep-alive"],
  ["pipelined", "pipelined"],
  ["close", "connection per request"],
  ["echo", "POST 4 KiB"],
  ["big", "64 KiB reply"],
  ["idle", "1k connections"],
];

/** Issue 8's targets that one shoot-out run can show (the idle-memory and parser ones cannot). */
export const SPECS: readonly TargetSpec[] = [
  {
    text: "pipelined ×16 req/s ≥ uWebSockets.js",
    scenario: "pipelined",
    metric: "rps",
    who: "binks",
    against: "uws",
    better: "higher",
    bound: 1,
  },
  {
    text: "pipelined ×16 req/s ≥ 50% of the trivial responder",
    scenario: "pipelined",
    metric: "rps",
    who: "binks",
    against: "trivial",
    better: "higher",
    bound: 0.5,
  },
  ...(["binks", "demo"] as const).flatMap((who): TargetSpec[] => {
    const app = who === "demo" ? " (demo app)" : "";
    return [
      {
        text: `keep-alive CPU ≤ 11 µs per request${app}`,
        scenario: "keepalive",
        metric: "cpuUsPerReq",
        who,
        against: 11,
        better: "lower",
        bound: 11,
        runtimes: NODES,
      },
      {
        text: `keep-alive req/s ≥ 1.4× the runtime's server${app}`,
        scenario: "keepalive",
        metric: "rps",
        who,
        against: "own",
        better: "higher",
        bound: 1.4,
        runtimes: NODES,
      },
      {
        text: `keep-alive CPU per request ≤ 1.15× the runtime's server${app}`,
        scenario: "keepalive",
        metric: "cpuUsPerReq",
        who,
        against: "own",
        better: "lower",
        bound: 1.15,
        runtimes: ["deno", "bun"],
      },
    ];
  }),
  {
    text: "connection per request req/s ≥ 0.9× the runtime's server",
    scenario: "close",
    metric: "rps",
    who: "binks",
    against: "own",
    better: "higher",
    bound: 0.9,
  },
  ...RSS_SCENARIOS.map(([scenario, name]): TargetSpec => ({
    text: `peak RSS, ${name} ≤ the runtime's server`,
    scenario,
    metric: "rssMiB",
    who: "binks",
    against: "own",
    better: "lower",
    bound: 1,
  })),
];

/** How one target came out on one runtime. */
export interface TargetResult {
  group: TargetGroup;
  spec: TargetSpec;
  /** Median of the server's usable rounds; null when it did not run. */
  value: number | null;
  /** The yardstick's median (the bound itself for a fixed bound). */
  against: number | null;
  /** Per round: the ratio to the yardstick's round, or the value against a fixed bound. */
  perRound: number[];
  /** What the verdict is taken on: median of {@link perRound}, else the ratio of the medians. */
  result: number | null;
  /** The same for the floor in binks's place (null when it did not run). */
  floor: number | null;
  /** null: not measured in this run. */
  met: boolean | null;
}

/** Median of finite numbers; null for none. */
export function median(values: readonly number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** A round's figure, or null when the round failed or has none. */
function figure(round: TargetRound | undefined, metric: Metric): number | null {
  if (round === undefined || round.failed !== undefined) return null;
  const x = round[metric];
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** The rounds a median is taken over: the clean ones when there are any (as the tables do). */
function usable(cell: TargetCell): (TargetRound | undefined)[] {
  const clean = cell.rounds.some((r) => r.failed === undefined && r.contended !== true);
  return cell.rounds.map((r) => (clean && r.contended === true ? undefined : r));
}

function cellOf(run: TargetRun, scenario: string, id: string): TargetCell | null {
  const cell = run.cells[scenario]?.[id];
  return cell !== undefined && cell.status === "ok" ? cell : null;
}

/** Digits the report's tables keep of each median, so both say the same. */
const DIGITS: Readonly<Record<Metric, number>> = { rps: 0, cpuUsPerReq: 2, rssMiB: 1 };

function cellMedian(cell: TargetCell | null, metric: Metric): number | null {
  if (cell === null) return null;
  const values: number[] = [];
  for (const r of usable(cell)) {
    const x = figure(r, metric);
    if (x !== null) values.push(x);
  }
  const m = median(values);
  return m === null ? null : Number(m.toFixed(DIGITS[metric]));
}

/** `id`'s result for `spec`: per-round ratios (or values) and what the verdict reads. */
function measure(
  run: TargetRun,
  spec: TargetSpec,
  id: string,
  yardstick: string | null,
): { value: number | null; against: number | null; perRound: number[]; result: number | null } {
  const cell = cellOf(run, spec.scenario, id);
  const value = cellMedian(cell, spec.metric);
  if (yardstick === null) {
    const perRound: number[] = [];
    if (cell !== null) {
      for (const r of usable(cell)) {
        const x = figure(r, spec.metric);
        if (x !== null) perRound.push(x);
      }
    }
    return { value, against: spec.bound, perRound, result: value };
  }
  const other = cellOf(run, spec.scenario, yardstick);
  const against = cellMedian(other, spec.metric);
  const perRound: number[] = [];
  if (cell !== null && other !== null) {
    const mine = usable(cell);
    const theirs = usable(other);
    // Round k of both: the harness runs every server once per round, in round order.
    for (let k = 0; k < Math.min(mine.length, theirs.length); k++) {
      const a = figure(mine[k], spec.metric);
      const b = figure(theirs[k], spec.metric);
      if (a !== null && b !== null && b > 0) perRound.push(a / b);
    }
  }
  const ratio = value !== null && against !== null && against > 0 ? value / against : null;
  return { value, against, perRound, result: median(perRound) ?? ratio };
}

function yardstickOf(group: TargetGroup, spec: TargetSpec): string | null {
  if (typeof spec.against === "number") return null;
  if (spec.against === "uws") return UWS;
  return spec.against === "own" ? group.own : group.trivial;
}

/** Judged as shown: a ratio to two decimals, a figure to one. */
function meets(spec: TargetSpec, x: number | null): boolean | null {
  if (x === null) return null;
  const digits = typeof spec.against === "number" ? 10 : 100;
  const shown = Math.round(x * digits) / digits;
  return spec.better === "higher" ? shown >= spec.bound : shown <= spec.bound;
}

/** Every target on every runtime whose binks ran in `run`. */
export function evaluate(run: TargetRun): TargetResult[] {
  const out: TargetResult[] = [];
  for (const group of GROUPS) {
    for (const spec of SPECS) {
      if (spec.runtimes !== undefined && !spec.runtimes.includes(group.runtime)) continue;
      const id = spec.who === "demo" ? group.demo : group.binks;
      if (cellOf(run, spec.scenario, id) === null) continue;
      const yardstick = yardstickOf(group, spec);
      const m = measure(run, spec, id, yardstick);
      const f = cellOf(run, spec.scenario, group.floor) === null
        ? null
        : measure(run, spec, group.floor, yardstick).result;
      out.push({ group, spec, ...m, floor: f, met: meets(spec, m.result) });
    }
  }
  return out;
}

/**
 * The order of one round's server passes: each runtime's binks, demo app, own server and floor
 * next to each other (their order turning from round to round), the other servers after them;
 * the whole sequence also turns, so drift over the run reaches every server alike.
 */
export function passOrder(ids: readonly string[], round: number): string[] {
  const present = new Set(ids);
  const grouped = new Set<string>();
  const blocks: string[][] = [];
  for (const g of GROUPS) {
    const block = [g.binks, g.demo, g.own, g.floor].filter((id) => present.has(id));
    if (block.length === 0) continue;
    for (const id of block) grouped.add(id);
    blocks.push(block);
  }
  for (const id of ids) if (!grouped.has(id)) blocks.push([id]);
  const turn = <T>(list: readonly T[], by: number): T[] =>
    list.map((_, i) => list[(i + by) % list.length]!);
  return turn(blocks, round).flatMap((block) => turn(block, round));
}

// ---- Markdown

function show(metric: Metric, x: number | null): string {
  if (x === null) return "–";
  if (metric === "rps") return Math.round(x).toLocaleString("en-US");
  if (metric === "cpuUsPerReq") return `${x.toFixed(1)} µs`;
  return `${x.toFixed(0)} MiB`;
}

function showResult(r: TargetResult, x: number | null): string {
  if (x === null) return "–";
  return typeof r.spec.against === "number" ? show(r.spec.metric, x) : `${x.toFixed(2)}×`;
}

function verdict(r: TargetResult): string {
  if (r.met === null) return "not measured";
  if (r.met) return "**met**";
  const floorMeets = meets(r.spec, r.floor);
  return floorMeets === false ? "not met; the floor misses it too" : "**not met**";
}

/** The targets section of a run's report (empty when no binks server ran). */
export function targetsMarkdown(run: TargetRun): string[] {
  const results = evaluate(run);
  if (results.length === 0) return [];
  const adjacent = run.meta?.settings?.order === "grouped"
    ? "binks, its demo app, the runtime's server and the floor run next to each other in every round"
    : "this run is older than that order: the servers compared did not run next to each other";
  const rows = results.map((r) => {
    const against = typeof r.spec.against === "number"
      ? `≤ ${show(r.spec.metric, r.spec.bound)}`
      : show(r.spec.metric, r.against);
    const rounds = r.perRound.map((x) => showResult(r, x).replace(/ (µs|MiB)$/, "")).join(", ");
    return `| ${r.group.label} | ${r.spec.text} | ${show(r.spec.metric, r.value)} | ${against} | ` +
      `${rounds || "–"} | ${showResult(r, r.result)} | ${showResult(r, r.floor)} | ${verdict(r)} |`;
  });
  return [
    "## Targets",
    "",
    "Issue 8's targets as this run shows them. binks: binks through its API (the demo app where " +
    "the target says so); against: the yardstick's median (the runtime's own server, " +
    "uWebSockets.js on Node, the trivial responder, or a fixed bound); per round: binks's figure " +
    `over the yardstick's in the same round (${adjacent}); result: the median of those (the ratio of the ` +
    "medians when no round has both); floor: the same for the all-routes trivial responder in " +
    "binks's place, the least any server on that runtime's sockets can do. Idle memory per " +
    "connection and the parser are measured apart (`npm run bench:memory`, `npm run bench:micro`).",
    "",
    "| runtime | target | binks | against | per round | result | floor | verdict |",
    "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |",
    ...rows,
  ];
}
