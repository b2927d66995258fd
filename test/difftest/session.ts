/**
 * Run cases against binks and the peer and classify every disagreement;
 * shared by `npm run difftest` (run.ts) and test/difftest.test.ts.
 */
import { bytesOf } from "../fuzz/harness.ts";
import type { Case } from "./cases.ts";
import { binksTrace, exchange, part, type Parting, type Peer, type Trace } from "./engine.ts";
import { classify, type Verdict } from "./classify.ts";

export interface Outcome {
  case: Case;
  binks: Trace;
  peer: Trace;
  parting: Parting | null;
  verdict: Verdict | null;
}

export interface SessionOptions {
  /** Cases in flight at once. */
  concurrency: number;
  /** Silence after which a connection that stays open is taken to wait for more. */
  quietMs: number;
  /** Silence for the re-run of a case that looked like a desync. */
  recheckQuietMs: number;
}

async function runOne(binksPort: number, peer: Peer, c: Case, quietMs: number): Promise<Outcome> {
  const payload = bytesOf(c.wire);
  const [bw, pw] = await Promise.all([
    exchange(binksPort, payload, quietMs),
    exchange(peer.port, payload, quietMs),
  ]);
  await peer.closed(pw.clientPort, 3000);
  const binks = binksTrace(bw);
  const peerTrace = peer.trace(pw.clientPort, pw.closed);
  const parting = part(binks, peerTrace);
  const verdict = parting === null ? null : classify(c, binks, peerTrace, parting);
  return { case: c, binks, peer: peerTrace, parting, verdict };
}

/**
 * Every case, `concurrency` at a time. A case that looks like a desync (or
 * that nothing explains) is run again alone with a longer silence, so that a
 * slow answer is not taken for a server waiting for more bytes.
 */
export async function runCases(
  binksPort: number,
  peer: Peer,
  cases: readonly Case[],
  o: SessionOptions,
): Promise<Outcome[]> {
  const out: Outcome[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      out[i] = await runOne(binksPort, peer, cases[i]!, o.quietMs);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  for (let i = 0; i < out.length; i++) {
    const cls = out[i]!.verdict?.cls;
    if (cls === "c" || cls === "?") {
      out[i] = await runOne(binksPort, peer, cases[i]!, o.recheckQuietMs);
    }
  }
  return out;
}

/** The table of disagreements: one row per class and rule, with a count and an example. */
export function table(outcomes: readonly Outcome[]): string {
  const rows = new Map<string, { cls: string; rule: string; count: number; example: string }>();
  let agree = 0;
  for (const o of outcomes) {
    if (o.verdict === null) {
      agree++;
      continue;
    }
    const key = `${o.verdict.cls}\u0000${o.verdict.rule}`;
    const row = rows.get(key);
    if (row) row.count++;
    else {
      rows.set(key, {
        cls: o.verdict.cls,
        rule: o.verdict.rule,
        count: 1,
        example: `#${o.case.id} ${o.case.family}: ${o.case.what}`,
      });
    }
  }
  const sorted = [...rows.values()].sort((a, b) =>
    a.cls < b.cls ? -1 : a.cls > b.cls ? 1 : b.count - a.count
  );
  const lines = [`| class | rule | cases | example |`, `| --- | --- | --- | --- |`];
  for (const r of sorted) {
    lines.push(`| ${r.cls} | ${r.rule} | ${r.count} | ${r.example.replace(/\|/g, "\\|")} |`);
  }
  lines.push(`| — | agree | ${agree} | |`);
  return lines.join("\n");
}

/** Cases per class. */
export function counts(outcomes: readonly Outcome[]): Record<string, number> {
  const c: Record<string, number> = { agree: 0, a: 0, b: 0, c: 0, d: 0, s: 0, "?": 0 };
  for (const o of outcomes) c[o.verdict?.cls ?? "agree"]!++;
  return c;
}
