/**
 * The differential test's machinery: start the node:http peer, send one
 * case's bytes to binks and to the peer on fresh loopback connections, turn
 * what each did into a trace (the requests it read, in order, each with what
 * it saw, or the status it refused with, and whether it closed), and find
 * where two traces first part.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { header, parseResponses, text } from "../client.ts";

/** Statuses binks answers a request it refuses with (before the handler sees it). */
const REFUSALS = [400, 408, 413, 414, 417, 431, 501, 505];

/** One step of a trace: a request read (with what was seen, when known), or a refusal. */
export type Item =
  | {
    kind: "req";
    status: number;
    close: boolean;
    method?: string;
    url?: string;
    version?: string;
    headers?: [string, string][];
    body?: string;
  }
  | { kind: "err"; status: number; code?: string };

/** What one server did with one case's bytes. */
export interface Trace {
  items: Item[];
  /** The server closed (or half-closed) the connection before we gave up waiting. */
  closed: boolean;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

interface PeerEvent {
  conn: number;
  kind: "open" | "req" | "err" | "aborted" | "close";
  status?: number;
  code?: string;
  close?: boolean;
  method?: string;
  url?: string;
  version?: string;
  headers?: [string, string][];
  body?: string;
}

interface ConnLog {
  events: PeerEvent[];
  closed: boolean;
  wake: (() => void)[];
}

/** The node:http peer, run by the system `node`. */
export class Peer {
  readonly port: number;
  readonly banner: string;
  private readonly child: ChildProcess;
  private readonly conns = new Map<number, ConnLog>();

  private constructor(child: ChildProcess, port: number, banner: string) {
    this.child = child;
    this.port = port;
    this.banner = banner;
  }

  /** Spawn `node test/difftest/peer.mjs` and wait for it to listen. */
  static start(nodeBinary = "node"): Promise<Peer> {
    const script = join(repoRoot(), "test", "difftest", "peer.mjs");
    const child = spawn(nodeBinary, [script], { stdio: ["ignore", "pipe", "pipe"] });
    let peer: Peer | null = null;
    let pending = "";
    let errors = "";
    child.stderr!.on("data", (d: Uint8Array) => (errors += new TextDecoder().decode(d)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer did not start: ${errors}`)), 10000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        if (peer === null) reject(new Error(`peer exited with ${code}: ${errors}`));
      });
      child.stdout!.on("data", (d: Uint8Array) => {
        pending += new TextDecoder().decode(d);
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (peer === null) {
            const m = /listening on http:\/\/[^\s]+:(\d+) \((.*)\)/.exec(line);
            if (m) {
              clearTimeout(timer);
              peer = new Peer(child, Number(m[1]), m[2]!);
              resolve(peer);
            }
          } else {
            peer.record(JSON.parse(line) as PeerEvent);
          }
        }
      });
    });
  }

  private record(e: PeerEvent): void {
    let log = this.conns.get(e.conn);
    if (e.kind === "open" || log === undefined) {
      // A port is reused only once its last connection is gone.
      log = { events: [], closed: false, wake: [] };
      this.conns.set(e.conn, log);
    }
    if (e.kind === "close") log.closed = true;
    else if (e.kind !== "open") log.events.push(e);
    const wake = log.wake;
    log.wake = [];
    for (const w of wake) w();
  }

  /** Wait until the peer has logged the close of the connection from `clientPort`. */
  async closed(clientPort: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const log = this.conns.get(clientPort);
      if (log?.closed) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        if (log) {
          log.wake.push(() => {
            clearTimeout(t);
            resolve();
          });
        }
      });
    }
  }

  /** The trace of the connection from `clientPort`, and forget it. */
  trace(clientPort: number, closedByServer: boolean): Trace {
    const log = this.conns.get(clientPort);
    this.conns.delete(clientPort);
    const items: Item[] = [];
    for (const e of log?.events ?? []) {
      if (e.kind === "req") {
        items.push({
          kind: "req",
          status: e.status!,
          close: e.close!,
          method: e.method,
          url: e.url,
          version: e.version,
          headers: e.headers,
          body: e.body,
        });
      } else if (e.kind === "err" && e.code !== "HPE_INVALID_EOF_STATE") {
        // (The EOF error only comes once our side gave up and closed: it means "waiting".)
        items.push({ kind: "err", status: e.status!, code: e.code });
      }
    }
    return { items, closed: closedByServer };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once("exit", () => resolve());
      this.child.kill("SIGTERM");
    });
  }
}

/** What came back on one connection. */
export interface Wire {
  bytes: Uint8Array;
  closed: boolean;
  clientPort: number;
}

/**
 * Send `payload` on a fresh connection and collect the answer until the
 * server closes, or nothing has come for `quietMs`, or `capMs` passed.
 */
export function exchange(
  port: number,
  payload: Uint8Array,
  quietMs: number,
  capMs = 4000,
): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let closed = false;
    let clientPort = 0;
    let quiet: ReturnType<typeof setTimeout> | null = null;
    let done = false;
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(cap);
      if (quiet !== null) clearTimeout(quiet);
      socket.destroy();
      let n = 0;
      for (const c of chunks) n += c.length;
      const bytes = new Uint8Array(n);
      n = 0;
      for (const c of chunks) {
        bytes.set(c, n);
        n += c.length;
      }
      resolve({ bytes, closed, clientPort });
    };
    const rearm = () => {
      if (quiet !== null) clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    const cap = setTimeout(finish, capMs);
    socket.setNoDelay(true);
    socket.on("connect", () => {
      clientPort = socket.localPort ?? 0;
      socket.write(payload, () => rearm());
    });
    socket.on("data", (d: Uint8Array) => {
      chunks.push(new Uint8Array(d));
      if (quiet !== null) rearm();
    });
    socket.on("end", () => {
      closed = true;
      finish();
    });
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.on("error", (err) => {
      if (clientPort === 0) {
        clearTimeout(cap);
        reject(err);
      }
    });
  });
}

/** binks's trace, read from its responses. */
export function binksTrace(wire: Wire): Trace {
  const items: Item[] = [];
  for (const r of parseResponses(wire.bytes).responses) {
    if (r.status === 100) continue;
    const close = header(r, "connection") === "close";
    const body = text(r.body);
    if (REFUSALS.includes(r.status) && close && body === `${r.status}\n`) {
      items.push({ kind: "err", status: r.status });
    } else if (r.status === 200 && header(r, "content-type")?.startsWith("application/json")) {
      const seen = JSON.parse(body) as {
        method: string;
        url: string;
        version: string;
        headers: [string, string][];
        body: string;
      };
      // Only the contract's fields: the demo app may report more.
      const { method, url, version, headers, body: text } = seen;
      items.push({ kind: "req", status: 200, close, method, url, version, headers, body: text });
    } else {
      items.push({ kind: "req", status: r.status, close });
    }
  }
  return { items, closed: wire.closed };
}

/** Where two traces part, and how. */
export type Parting =
  /** binks refused a request the peer read (or the peer just waited, or closed). */
  | { kind: "binks-refuses"; at: number; status: number; peer: Item | "waits" | "closed" }
  /** The peer refused a request binks read. */
  | { kind: "peer-refuses"; at: number; code: string; binks: Item | "waits" | "closed" }
  /** Both refused, with different statuses. */
  | { kind: "statuses"; at: number; binks: number; peer: number }
  /** Both read request `at` but saw a different method, target, version or body. */
  | { kind: "framing"; at: number; what: string }
  /** Both read it alike, but one will close after it and the other will not. */
  | { kind: "persistence"; at: number; binksCloses: boolean }
  /** Both read it with the same framing but different header fields or route. */
  | { kind: "fields"; at: number; what: string }
  /** One server read a request the other still waits for, on a connection both keep open. */
  | { kind: "desync"; at: number; what: string }
  /** The same items, but one closed and the other did not. */
  | { kind: "close"; binksClosed: boolean };

function showItem(i: Item): string {
  if (i.kind === "err") return `refused ${i.status}${i.code ? ` (${i.code})` : ""}`;
  if (i.method === undefined) return `answered ${i.status}`;
  return `${i.method} ${JSON.stringify(i.url)} HTTP/${i.version} body ${JSON.stringify(i.body)}`;
}

export { showItem };

function framingOf(i: Item & { kind: "req" }): string | null {
  if (i.method === undefined) return null;
  return JSON.stringify([i.method, i.url, i.version, i.body]);
}

/** Compare two traces; null when they agree. */
export function part(b: Trace, p: Trace): Parting | null {
  let fields: Parting | null = null;
  const n = Math.max(b.items.length, p.items.length);
  for (let at = 0; at < n; at++) {
    const x = b.items[at];
    const y = p.items[at];
    if (x !== undefined && y !== undefined) {
      if (x.kind === "err" && y.kind === "err") {
        return x.status === y.status ? fields : {
          kind: "statuses",
          at,
          binks: x.status,
          peer: y.status,
        };
      }
      if (x.kind === "err") return { kind: "binks-refuses", at, status: x.status, peer: y };
      if (y.kind === "err") {
        return { kind: "peer-refuses", at, code: y.code ?? String(y.status), binks: x };
      }
      const fx = framingOf(x);
      const fy = framingOf(y as Item & { kind: "req" });
      if (fx !== null && fy !== null && fx !== fy) {
        return { kind: "framing", at, what: `binks ${showItem(x)}; peer ${showItem(y)}` };
      }
      if (x.close !== y.close) return { kind: "persistence", at, binksCloses: x.close };
      // Both close after this request: what follows is dropped (binks) or refused (llhttp's
      // HPE_CLOSED_CONNECTION), and is nobody's request.
      const bothClose = x.close;
      if (fields === null) {
        if (x.status !== y.status) {
          fields = { kind: "fields", at, what: `binks answered ${x.status}, peer ${y.status}` };
        } else if (
          x.headers !== undefined && JSON.stringify(x.headers) !== JSON.stringify(y.headers)
        ) {
          fields = {
            kind: "fields",
            at,
            what: `binks ${JSON.stringify(x.headers)}; peer ${JSON.stringify(y.headers)}`,
          };
        }
      }
      if (bothClose) return fields;
      continue;
    }
    if (x !== undefined) {
      if (x.kind === "err") {
        return { kind: "binks-refuses", at, status: x.status, peer: p.closed ? "closed" : "waits" };
      }
      if (p.closed) return { kind: "peer-refuses", at, code: "closed, no answer", binks: x };
      // Answered and closed (e.g. before reading a body): what follows is nobody's request.
      if (x.close && b.closed) return { kind: "persistence", at, binksCloses: true };
      return { kind: "desync", at, what: `binks read ${showItem(x)}; the peer waits for more` };
    }
    if (y!.kind === "err") {
      const code = (y as { code?: string }).code ?? String(y!.status);
      return { kind: "peer-refuses", at, code, binks: b.closed ? "closed" : "waits" };
    }
    if (b.closed) return { kind: "binks-refuses", at, status: 0, peer: y! };
    if (y!.close && p.closed) return { kind: "persistence", at, binksCloses: false };
    return { kind: "desync", at, what: `the peer read ${showItem(y!)}; binks waits for more` };
  }
  if (fields !== null) return fields;
  if (b.closed !== p.closed) return { kind: "close", binksClosed: b.closed };
  return null;
}
