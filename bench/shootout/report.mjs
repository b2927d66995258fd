// Turning a shoot-out's measurements into files: a compact JSON record, a
// Markdown report, and one hand-written SVG bar chart per scenario.
import { existsSync } from "node:fs";
import { FAMILIES, TOOLS } from "./catalog.mjs";

// The targets are TypeScript, compiled with the rest (`npm run bench` builds first).
const targets = await import("../../dist/bench/shootout/targets.js").catch(() => null);

/** Other processes' share of the server's CPU above which a run is marked contended (%). */
export const CONTENDED_PCT = 15;

// ---- numbers

export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const round = (x, digits) => x === null ? null : Number(x.toFixed(digits));

export const fmt = {
  int: (n) => n === null ? "–" : Math.round(n).toLocaleString("en-US"),
  ms: (n) => n === null ? "–" : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0),
  us: (n) => n === null ? "–" : n < 100 ? n.toFixed(1) : n.toFixed(0),
  pct: (n) => n === null ? "–" : `${n.toFixed(0)}%`,
  mib: (n) => n === null ? "–" : n.toFixed(0),
  /** 61234 → "61k", 1234567 → "1.23M": for axis ticks. */
  short: (n) =>
    n >= 1e6
      ? `${+(n / 1e6).toFixed(2)}M`
      : n >= 1e3
      ? `${+(n / 1e3).toFixed(1)}k`
      : String(Math.round(n)),
};

/**
 * The medians over a cell's rounds (each metric on its own). Rounds that other
 * processes disturbed (`contended`) are left out when at least one clean round
 * exists; `allContended` says none did.
 */
export function summarise(rounds) {
  const clean = rounds.filter((r) => !r.contended);
  const used = clean.length > 0 ? clean : rounds;
  const pick = (k) => median(used.map((r) => r[k]));
  return {
    rps: round(pick("rps"), 0),
    p50: round(pick("p50"), 3),
    p99: round(pick("p99"), 3),
    avg: round(pick("avg"), 3),
    stdev: round(pick("stdev"), 3),
    cpuUsPerReq: round(pick("cpuUsPerReq"), 2),
    cpuPct: round(pick("cpuPct"), 1),
    rssMiB: round(pick("rssMiB"), 1),
    clientCorePct: round(pick("clientCorePct"), 0),
    keptAlive: round(pick("keptAlive"), 3),
    errors: rounds.reduce((sum, r) => sum + r.errorTotal, 0),
    roundsWithErrors: rounds.filter((r) => r.errorTotal > 0).length,
    roundsUsed: used.length,
    roundsLeftOut: rounds.length - used.length,
    allContended: clean.length === 0,
  };
}

// ---- JSON

/**
 * `base`, or `base-2`, `base-3`, … : the first whose `.json` is not there yet, so that a second
 * run on the same day (results are named by date) keeps the first one's files, committed or not.
 */
export function unusedBase(base) {
  if (!existsSync(`${base}.json`)) return base;
  let n = 2;
  while (existsSync(`${base}-${n}.json`)) n++;
  return `${base}-${n}`;
}

/**
 * JSON.stringify, but objects and arrays that fit on their line (100 columns,
 * deno fmt's width here) stay on one line, as deno fmt leaves them.
 */
export function compactJson(value, indent = "", lead = 0) {
  const flat = inlineJson(value);
  if (typeof value !== "object" || value === null || indent.length + lead + flat.length < 100) {
    return flat;
  }
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => inner + compactJson(v, inner, 1)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return `{\n${
    entries.map(([k, v]) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + compactJson(v, inner, key.length + 1);
    }).join(",\n")
  }\n${indent}}`;
}

function inlineJson(value) {
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value) ?? "null";
}

// ---- Markdown

/**
 * Below this share of requests on reused connections, an ab -k figure is
 * marked: the server did not keep ab's HTTP/1.0 connections alive, so ab
 * opened one per request.
 */
export const KEPT_ALIVE_MIN = 0.9;

function fewKeptAlive(summary) {
  return typeof summary.keptAlive === "number" && summary.keptAlive < KEPT_ALIVE_MIN;
}

function marks(summary) {
  return (summary.errors > 0 ? " †" : "") + (summary.allContended ? " ‡" : "") +
    (fewKeptAlive(summary) ? " §" : "");
}

/** The legend of § (for reports that have such a cell). */
const KEPT_ALIVE_NOTE = "§ ab -k sent few requests on a kept-alive connection: the server does " +
  "not say `Connection: keep-alive` to HTTP/1.0 requests, so ab opened a connection per request.";

function anyFewKeptAlive(run) {
  return Object.values(run.cells).some((byServer) =>
    Object.values(byServer).some((c) => c.summary !== undefined && fewKeptAlive(c.summary))
  );
}

function cellText(cell) {
  if (cell === undefined) return "";
  if (cell.status === "n/a") return "–";
  if (cell.status !== "ok") return "✗";
  return fmt.int(cell.summary.rps) + marks(cell.summary);
}

/** The req/s table: servers × scenarios. */
export function summaryTable(run) {
  const scenarios = run.scenarios;
  const head = `| server | ${scenarios.map((s) => s.short).join(" | ")} |`;
  const rule = `| --- | ${scenarios.map(() => "---:").join(" | ")} |`;
  const rows = run.servers.filter((s) => s.status === "ok").map((server) =>
    `| ${server.label} | ${
      scenarios.map((s) => cellText(run.cells[s.id]?.[server.id])).join(" | ")
    } |`
  );
  return [head, rule, ...rows].join("\n");
}

/**
 * The full table of one scenario. Mean and standard deviation of latency get
 * columns when some server has them (runs before they were recorded have none).
 */
export function scenarioTable(run, scenario) {
  const withAvg = run.servers.some((server) => {
    const s = run.cells[scenario.id]?.[server.id]?.summary;
    return typeof s?.avg === "number";
  });
  const avgHead = withAvg ? " avg ms | stdev ms |" : "";
  const lines = [
    `| server | req/s |${avgHead} p50 ms | p99 ms | CPU µs/req | CPU | peak RSS MiB | client CPU busy | errors, notes |`,
    `| --- | ---: |${
      withAvg ? " ---: | ---: |" : ""
    } ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
  ];
  for (const server of run.servers) {
    const cell = run.cells[scenario.id]?.[server.id];
    if (server.status !== "ok" || cell === undefined || cell.status === "n/a") continue;
    if (cell.status !== "ok") {
      const blanks = withAvg ? " | | | | | | | | |" : " | | | | | | |";
      lines.push(`| ${server.label} | ✗${blanks} ${escapeMd(cell.reason)} |`);
      continue;
    }
    const s = cell.summary;
    const notes = [];
    if (s.errors > 0) notes.push(`† ${describeErrors(cell)}`);
    if (s.allContended) notes.push("‡ other load in every round");
    if (fewKeptAlive(s)) {
      notes.push(`§ ${fmt.pct(s.keptAlive * 100)} of requests on kept-alive connections`);
    } else if (s.roundsLeftOut > 0) {
      notes.push(`${s.roundsLeftOut} of ${cell.rounds.length} rounds left out (other load)`);
    }
    const avg = withAvg ? ` ${fmt.ms(s.avg ?? null)} | ${fmt.ms(s.stdev ?? null)} |` : "";
    lines.push(
      `| ${server.label} | ${fmt.int(s.rps)} |${avg} ${fmt.ms(s.p50)} | ${fmt.ms(s.p99)} | ${
        fmt.us(s.cpuUsPerReq)
      } | ${fmt.pct(s.cpuPct)} | ${fmt.mib(s.rssMiB)} | ${fmt.pct(s.clientCorePct)} | ${
        notes.length > 0 ? notes.join("; ") : "0"
      } |`,
    );
  }
  return lines.join("\n");
}

function describeErrors(cell) {
  const totals = { connect: 0, read: 0, write: 0, timeout: 0, non2xx: 0, other: 0 };
  for (const r of cell.rounds) for (const k of Object.keys(totals)) totals[k] += r.errors[k] ?? 0;
  const parts = Object.entries(totals).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return `${parts.join(", ")} (${cell.summary.roundsWithErrors}/${cell.rounds.length} rounds)`;
}

function escapeMd(text) {
  return String(text ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Notes on what did not run, for the report. */
export function skippedLines(run) {
  const lines = [];
  for (const s of run.servers) {
    if (s.status !== "ok") lines.push(`- ${s.label}: skipped: ${s.reason}`);
  }
  const na = new Map();
  for (const scenario of run.scenarios) {
    for (const server of run.servers) {
      const cell = run.cells[scenario.id]?.[server.id];
      if (server.status !== "ok" || cell === undefined || cell.status !== "n/a") continue;
      const key = `${server.label}: ${cell.reason}`;
      na.set(key, [...(na.get(key) ?? []), scenario.short]);
    }
  }
  // Servers with the same reason for the same scenarios share a line.
  const grouped = new Map();
  for (const [key, list] of na) {
    const at = key.indexOf(": ");
    const label = key.slice(0, at);
    const what = `${key.slice(at + 2)} (${list.join(", ")})`;
    grouped.set(what, [...(grouped.get(what) ?? []), label]);
  }
  for (const [what, labels] of grouped) lines.push(`- ${labels.join(", ")}: ${what}`);
  return lines;
}

export function machineLine(meta) {
  const m = meta.machine;
  const v = meta.versions;
  const some = (parts) => parts.filter((x) => x).map((x) => `; ${x}`).join("");
  return `${m.nproc} CPUs (\`nproc\`), ${m.cpu}, Linux ${m.kernel}, ${m.memGiB} GiB RAM; ` +
    `Node ${v.node}${v.node22 ? ` and ${v.node22}` : ""}${v.node24 ? ` and ${v.node24}` : ""}, ` +
    `Deno ${v.deno}, Bun ${v.bun}; ${v.wrk}` +
    some([v.ab, v.h2load, v.nginx && `nginx ${v.nginx}`]) +
    `; Hono ${v.hono}; uWebSockets.js ${v.uws}` +
    some([
      v.h2o && `h2o ${v.h2o}`,
      v.fasthttp && `fasthttp ${v.fasthttp} (Go ${v.go ?? "?"})`,
      v.python && `Python ${v.python} with uvloop ${v.uvloop} and httptools ${v.httptools}`,
    ]);
}

/** The load generators a run used, e.g. "wrk, ab -k and h2load --h1". */
function toolsUsed(run) {
  const labels = [...new Set(run.scenarios.map((s) => TOOLS[s.tool ?? "wrk"].label))];
  return labels.length === 1 ? labels[0] : `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}`;
}

export function methodLine(meta, tools = "wrk") {
  const s = meta.settings;
  return `Each server pinned to CPU ${s.serverCpu} (\`taskset\`), ${tools} (1 thread) on CPU ${s.clientCpu}; ` +
    `per server and round: start, check every route's answer, ${s.warmupS} s warm-up over all ` +
    `its routes, then each scenario for ${s.durationS} s. ${s.rounds} round${
      s.rounds === 1 ? "" : "s"
    }, servers in a rotated order each round${
      s.order === "grouped"
        ? " (each runtime's binks, binks's demo app, the runtime's own server and its floor next " +
          "to each other)"
        : ""
    }; every figure is the median over rounds. A round ` +
    `in which other processes took over ${CONTENDED_PCT}% of the server's or the load generator's CPU is left ` +
    "out when the cell has a clean one; a cell with none gets one extra round at the end.";
}

export const SOURCES = "req/s, p50, p99: wrk (`--latency`); avg and stdev: wrk's Thread Stats " +
  "line (ab -k: its mean time per request; h2load: its time for request). " +
  "CPU µs/req and CPU (% of one core): the server's utime+stime from `/proc/<pid>/stat` " +
  "(children included) over the run, divided by the requests answered. Peak RSS: `VmHWM` from " +
  "`/proc/<pid>/status`, reset before each scenario (`/proc/<pid>/clear_refs`). Client CPU " +
  "busy: how busy the CPU that wrk ran on was (`/proc/stat`, all processes); near 100% the " +
  "load generator, not the server, may be the limit.";

/** Title, machine, method, sources and command: how every report starts. */
function preamble(run, title) {
  return [
    `# ${title}`,
    "",
    `Machine: ${machineLine(run.meta)}.`,
    "",
    `Method: ${methodLine(run.meta, toolsUsed(run))}`,
    "",
    `Sources: ${SOURCES}`,
    "",
    `Command: \`${run.meta.command}\``,
    "",
  ];
}

/** The whole Markdown report. */
export function markdown(run, files) {
  const out = [
    ...preamble(run, `binks shoot-out: ${run.meta.date}, ${run.meta.host}`),
    "## Requests per second",
    "",
    summaryTable(run),
    "",
    "– not run (see below); ✗ failed; † socket errors or non-2xx responses in some round (kept, " +
    `and listed in the scenario's table); ‡ in every round, other processes took over ` +
    `${CONTENDED_PCT}% of the server's or wrk's CPU (such rounds are otherwise left out of the ` +
    "median).",
    ...(anyFewKeptAlive(run) ? [KEPT_ALIVE_NOTE] : []),
    "",
  ];
  if (targets === null) {
    out.push("(No targets section: `dist/bench/shootout/targets.js` is missing; `npm run build`.)");
    out.push("");
  } else {
    const section = targets.targetsMarkdown(run);
    if (section.length > 0) out.push(...section, "");
  }
  out.push(...detailSections(run, files));
  return out.join("\n");
}

/** What did not run, then one section per scenario: its table, its chart, its notes. */
function detailSections(run, files) {
  const out = [];
  const skipped = skippedLines(run);
  if (skipped.length > 0) out.push("Not run:", "", ...skipped, "");
  for (const scenario of run.scenarios) {
    out.push(`## ${scenario.title}`, "", `${scenario.description}.`, "");
    if (scenario.latency === false) {
      out.push(
        "No latency is given: wrk corrects for coordinated omission assuming one response per " +
          "request written, which corrupts its histogram when it pipelines (p99 comes out as 0).",
        "",
      );
    }
    out.push(scenarioTable(run, scenario), "");
    if (files[scenario.id]) out.push(`![${scenario.title}](${files[scenario.id]})`, "");
    const idle = idleNotes(run, scenario);
    if (idle.length > 0) out.push(...idle, "");
  }
  return out;
}

function idleNotes(run, scenario) {
  if (!scenario.idle) return [];
  const notes = [];
  for (const server of run.servers) {
    const cell = run.cells[scenario.id]?.[server.id];
    if (cell?.status !== "ok") continue;
    const reopened = cell.rounds.reduce((n, r) => n + (r.idle?.reopened ?? 0), 0);
    if (reopened > 0) {
      notes.push(`- ${server.label} closed ${reopened} idle connections (reopened by the client).`);
    }
  }
  return notes;
}

// ---- SVG

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function niceStep(max) {
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

/** One horizontal bar chart: servers by req/s, best first. */
export function svgChart(run, scenario) {
  const rows = [];
  for (const server of run.servers) {
    if (server.status !== "ok") continue;
    const cell = run.cells[scenario.id]?.[server.id];
    if (cell === undefined || cell.status === "n/a") continue;
    rows.push({ server, cell, value: cell.status === "ok" ? cell.summary.rps : null });
  }
  rows.sort((a, b) => (b.value ?? -1) - (a.value ?? -1));

  const BAR_MAX = 430, ROW = 26, TOP = 78;
  // Room for the longest server name left of the bars (12 px text: about 6.6 px a character).
  const longest = Math.max(0, ...rows.map((r) => r.server.label.length));
  const LEFT = Math.max(190, Math.ceil(24 + 6.6 * longest));
  const W = Math.max(880, LEFT + BAR_MAX + 260);
  const max = Math.max(1, ...rows.map((r) => r.value ?? 0));
  const step = niceStep(max);
  const axisMax = Math.ceil(max / step) * step;
  const x = (v) => LEFT + (v / axisMax) * BAR_MAX;
  const families = Object.keys(FAMILIES).filter((f) => rows.some((r) => r.server.family === f));
  const anyErrors = rows.some((r) => r.cell.status === "ok" && r.cell.summary.errors > 0);
  const anyContended = rows.some((r) => r.cell.status === "ok" && r.cell.summary.allContended);
  const H = TOP + rows.length * ROW + 28 + 26 + (anyErrors ? 18 : 0) + (anyContended ? 18 : 0);
  const s = run.meta.settings;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${
      esc(FONT)
    }" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="17" font-weight="600" fill="#212529">${
      esc(`${scenario.title}: requests per second (higher is better)`)
    }</text>`,
    `<text x="16" y="45" fill="#495057">${esc(scenario.description)}</text>`,
    `<text x="16" y="62" fill="#868e96">${
      esc(
        `${
          TOOLS[scenario.tool ?? "wrk"].label
        }, 1 thread on CPU ${s.clientCpu}; server on CPU ${s.serverCpu}; median of ${s.rounds} × ${s.durationS} s; ${run.meta.date}, ${run.meta.host}`,
      )
    }</text>`,
  ];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const gx = x(v).toFixed(1);
    parts.push(
      `<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${
        TOP + rows.length * ROW
      }" stroke="#e9ecef"/>`,
      `<text x="${gx}" y="${
        TOP + rows.length * ROW + 14
      }" text-anchor="middle" fill="#868e96" font-size="11">${esc(fmt.short(v))}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW;
    const color = FAMILIES[r.server.family]?.color ?? "#868e96";
    parts.push(
      `<text x="${LEFT - 8}" y="${y + 14}" text-anchor="end" fill="#212529">${
        esc(r.server.label)
      }</text>`,
    );
    if (r.value === null) {
      parts.push(
        `<text x="${LEFT + 4}" y="${y + 14}" fill="#c92a2a">${
          esc(`failed: ${String(r.cell.reason).slice(0, 90)}`)
        }</text>`,
      );
      return;
    }
    const sum = r.cell.summary;
    const end = x(r.value);
    parts.push(
      `<rect x="${LEFT}" y="${y + 2}" width="${
        Math.max(1, end - LEFT).toFixed(1)
      }" height="18" rx="2" fill="${color}"/>`,
      `<text x="${(end + 6).toFixed(1)}" y="${y + 15}" fill="#212529" font-weight="600">${
        esc(fmt.int(r.value))
      }${sum.errors > 0 ? '<tspan dx="3" fill="#c92a2a">†</tspan>' : ""}${
        sum.allContended ? '<tspan dx="3" fill="#e67700">‡</tspan>' : ""
      }<tspan dx="10" font-weight="400" fill="#868e96" font-size="11">${
        esc(
          [
            typeof sum.p99 === "number"
              ? `p99 ${fmt.ms(sum.p99)} ms`
              : typeof sum.avg === "number"
              ? `avg ${fmt.ms(sum.avg)} ms`
              : null,
            `${fmt.us(sum.cpuUsPerReq)} µs CPU/req`,
          ].filter((x) => x !== null).join(" · "),
        )
      }</tspan></text>`,
    );
  });
  let ly = TOP + rows.length * ROW + 40;
  let lx = 16;
  for (const f of families) {
    const fam = FAMILIES[f];
    parts.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" rx="2" fill="${fam.color}"/>`,
      `<text x="${lx + 17}" y="${ly}" fill="#495057">${esc(fam.label)}</text>`,
    );
    lx += 30 + fam.label.length * 6.6;
  }
  if (anyErrors) {
    ly += 18;
    parts.push(
      `<text x="16" y="${ly}" fill="#c92a2a">† socket errors or non-2xx responses in some round</text>`,
    );
  }
  if (anyContended) {
    ly += 18;
    parts.push(
      `<text x="16" y="${ly}" fill="#e67700">‡ other processes took over ${CONTENDED_PCT}% of the server's or wrk's CPU in every round</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

// ---- the original table (--table original)

/** The columns of one connection mode in the seed's order, then p99 and peak RSS. */
function modeCells(cell) {
  if (cell === undefined) return null;
  if (cell.status !== "ok") {
    const mark = cell.status === "n/a" ? "–" : "✗";
    return [mark, mark, mark, mark, mark, mark];
  }
  const s = cell.summary;
  return [
    fmt.ms(s.avg ?? null),
    fmt.ms(s.stdev ?? null),
    fmt.ms(s.p99),
    fmt.pct(s.cpuPct),
    fmt.int(s.rps) + marks(s),
    fmt.mib(s.rssMiB),
  ];
}

const MODE_HEAD = ["avg latency ms", "stdev ms", "p99 ms", "CPU %", "req/s", "peak RSS MiB"];

/**
 * The seed README's table, filled: for keep-alive and for a new connection per
 * request, average latency, its standard deviation, CPU % and requests/s (wrk),
 * plus p99 and peak RSS; keep-alive also gets pipelined ×16 and the other load
 * generators' requests/s. One Markdown table per connection mode.
 */
export function originalTables(run) {
  const has = (id) => run.scenarios.find((s) => s.id === id);
  const servers = run.servers.filter((s) => s.status === "ok");
  const cell = (scenario, server) => run.cells[scenario]?.[server.id];
  const out = [];
  const table = (title, scenario, extras) => {
    const head = ["server", ...MODE_HEAD, ...extras.map((s) => `${s.short} req/s`)];
    const rows = servers.map((server) => [
      server.label,
      ...modeCells(cell(scenario, server)),
      ...extras.map((s) => cellText(cell(s.id, server))),
    ]);
    out.push(
      `**${title}**`,
      "",
      `| ${head.join(" | ")} |`,
      `| --- | ${head.slice(1).map(() => "---:").join(" | ")} |`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
      "",
    );
  };
  if (has("keepalive")) {
    const extras = ["pipelined", "ab-keepalive", "h2load-keepalive"].map(has).filter((s) => s);
    table(`Keep-alive (wrk, ${run.meta.settings.connections} connections)`, "keepalive", extras);
  }
  if (has("close")) {
    table(
      `New connection per request (wrk, Connection: close, ${run.meta.settings.connections} at a time)`,
      "close",
      [],
    );
  }
  return out.join("\n").trimEnd();
}

/** The report of a `--table original` run: the filled table first, then each scenario's details. */
export function originalMarkdown(run, files) {
  const title =
    `binks against the seed's peers (the original table): ${run.meta.date}, ${run.meta.host}`;
  const out = [
    ...preamble(run, title),
    'Every server answers `GET /` with `200`, `application/json`, `{"hello":"world"}`, on one ' +
    "core. The seed's table was to be measured with wrk, weighttp, ab and vegeta; weighttp and " +
    "vegeta are not packaged for Debian: `h2load --h1` (nghttp2's load generator, like weighttp " +
    "a libev-style event loop keeping a fixed number of keep-alive connections busy) stands in " +
    "for weighttp, and `ab -k` for vegeta as the third opinion on requests/s (closed-loop: " +
    "vegeta's fixed-rate mode has no packaged equivalent, so latency comes from wrk). sanic is " +
    "not packaged either: its stack, uvloop + httptools under a plain asyncio protocol server, " +
    "stands in (an upper bound for sanic, which adds its framework on top).",
    "",
    "## The table",
    "",
    originalTables(run),
    "",
    "– not run (see below); ✗ failed; † socket errors or non-2xx responses in some round (kept, " +
    "and listed in the scenario's table); ‡ in every round, other processes took over " +
    `${CONTENDED_PCT}% of the server's or the load generator's CPU. Latency is not given for ` +
    "ab's and h2load's columns (requests/s only) nor for pipelining (see below).",
    ...(anyFewKeptAlive(run) ? [KEPT_ALIVE_NOTE] : []),
    "",
  ];
  out.push(...detailSections(run, files));
  return out.join("\n");
}
