/**
 * The access log as the model runs see it: a writer that keeps every line the server hands it,
 * and the check of one connection's lines against what went out on its transport.
 *
 * What must hold (README, the `--access-log` row): one line per request the server dispatched
 * or refused, none for input it never read as a request, in the order the answers went (or
 * would have gone) out; `method` and `path` as sent (null for a request refused before its head
 * was read); `status` the one on the wire (null when no answer went out); `bytes` exactly what
 * of that answer the transport was handed; `complete` true exactly when it all was; `remote`
 * the transport's address. Every expectation here is worked out from the output and the
 * scenario, not from what binks says.
 */

/** One line as the log writes it. */
export interface AccessLine {
  method: string | null;
  path: string | null;
  status: number | null;
  bytes: number;
  complete: boolean;
  ms: number;
  remote: string;
}

/** The address of a model transport: connections on one server each have their own. */
export function remoteOf(conn: number | undefined): string {
  return conn === undefined ? "192.0.2.7" : `192.0.2.${10 + conn}`;
}

/** Takes what the server writes as its access log; lines it cannot read are kept as faults. */
export class AccessSink {
  readonly lines: AccessLine[] = [];
  readonly faults: string[] = [];

  readonly write = (text: string): void => {
    if (!text.endsWith("\n")) {
      this.faults.push(`a write ends inside a line: ${JSON.stringify(text)}`);
    }
    for (const raw of text.split("\n")) {
      if (raw === "") continue;
      let line: unknown;
      try {
        line = JSON.parse(raw);
      } catch {
        this.faults.push(`a line that is no JSON: ${JSON.stringify(raw)}`);
        continue;
      }
      if (!isLine(line)) this.faults.push(`a line of the wrong shape: ${raw}`);
      else this.lines.push(line);
    }
  };

  /** The lines of the connection whose transport has `remote`. */
  of(remote: string): AccessLine[] {
    return this.lines.filter((line) => line.remote === remote);
  }
}

function isLine(v: unknown): v is AccessLine {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  const stringOrNull = (x: unknown) => x === null || typeof x === "string";
  return typeof o.time === "string" && !Number.isNaN(Date.parse(o.time)) &&
    stringOrNull(o.method) && stringOrNull(o.path) &&
    (o.status === null || Number.isInteger(o.status)) &&
    Number.isInteger(o.bytes) && typeof o.complete === "boolean" &&
    typeof o.ms === "number" && Number.isFinite(o.ms) && o.ms >= 0 &&
    typeof o.remote === "string";
}

/** An answer found in a connection's output: where it starts and ends, and whether it is whole. */
export interface Answer {
  at: number;
  /** Where it ends (for one cut short, where the output does). */
  end: number;
  /**
   * Not all of it went out: cut short, or a body delimited by the close (all there, as far as
   * the bytes tell) that the server did not end with a FIN before its client left.
   */
  partial: boolean;
}

/** One request of a connection, as the client sent it. */
export interface SentRequest {
  method: string;
  target: string;
  /** Its handler was called: the server dispatched it. */
  called: boolean;
}

/** What one connection's lines are checked against. */
export interface AccessCase {
  lines: AccessLine[];
  remote: string;
  /** All the bytes the transport received (Latin-1). */
  output: string;
  requests: SentRequest[];
  /** The answers in the output, in request order (answer k is request k's). */
  answers: Answer[];
  /**
   * Input past the last request dispatched reached the server: it may have refused it (a bad
   * head, a head too slow) with an answer that never went out (a stream before it, cut).
   */
  mayRefuseUnanswered: boolean;
}

const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) /;

/** The lines a connection must have logged, in order; a last one that may be missing. */
function expected(c: AccessCase): { must: AccessLine[]; may: AccessLine | null } {
  const must: AccessLine[] = [];
  const line = (k: number, status: number | null, bytes: number, complete: boolean) => {
    const r = c.requests[k]!;
    must.push({
      method: r.called ? r.method : null,
      path: r.called ? r.target : null,
      status,
      bytes,
      complete,
      ms: 0,
      remote: c.remote,
    });
  };
  c.answers.forEach((a, k) => {
    const m = STATUS_LINE.exec(c.output.slice(a.at, a.at + 13));
    line(k, m === null ? null : Number(m[1]), a.end - a.at, !a.partial);
  });
  // Dispatched and never answered: given up on.
  let k = c.answers.length;
  for (; k < c.requests.length && c.requests[k]!.called; k++) line(k, null, 0, false);
  const may: AccessLine | null = c.mayRefuseUnanswered && k < c.requests.length
    ? {
      method: null,
      path: null,
      status: null,
      bytes: 0,
      complete: false,
      ms: 0,
      remote: c.remote,
    }
    : null;
  return { must, may };
}

/** A line without what the model does not check exactly (`time`, `ms`). */
function shown(line: AccessLine): string {
  const { method, path, status, bytes, complete, remote } = line;
  return JSON.stringify({ method, path, status, bytes, complete, remote });
}

function same(a: AccessLine, b: AccessLine): boolean {
  return a.method === b.method && a.path === b.path && a.status === b.status &&
    a.bytes === b.bytes && a.complete === b.complete && a.remote === b.remote;
}

/** Check one connection's lines; each mismatch goes to `violation`. */
export function checkAccess(c: AccessCase, violation: (what: string) => void): void {
  const { must, may } = expected(c);
  const got = c.lines;
  const n = Math.max(got.length, must.length);
  for (let i = 0; i < n; i++) {
    const want = must[i] ?? (i === must.length ? may : null);
    const line = got[i];
    if (line === undefined) {
      if (want !== null && want !== may) violation(`access log: line ${i} missing: ${shown(want)}`);
      continue;
    }
    if (want === null) {
      violation(`access log: line ${i} is one too many: ${shown(line)}`);
      continue;
    }
    if (!same(line, want)) {
      violation(`access log: line ${i} is ${shown(line)}, expected ${shown(want)}`);
    }
  }
}

/** A connection refused before it was read (too many open): one line, its 503. */
export function checkRefused(
  lines: AccessLine[],
  remote: string,
  output: string,
  violation: (what: string) => void,
): void {
  const want: AccessLine = {
    method: null,
    path: null,
    status: 503,
    bytes: output.length,
    complete: true,
    ms: 0,
    remote,
  };
  if (lines.length !== 1 || !same(lines[0]!, want)) {
    violation(
      `access log of a refused connection: ${lines.map(shown).join(", ")}, expected ${shown(want)}`,
    );
  }
}
