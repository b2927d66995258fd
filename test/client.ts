/**
 * Test helpers: a raw-socket HTTP/1.1 client that reads responses exactly as
 * they come, and a way to start the binks executable under the runtime that
 * runs the tests.
 */
import * as net from "node:net";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { detectRuntime } from "../adapters/detect.ts";
import { concatBytes } from "../src/bytes.ts";

/** A parsed response. */
export interface Parsed {
  status: number;
  reason: string;
  /** Header fields in order, names as sent. */
  headers: [string, string][];
  body: Uint8Array;
  /** The exact bytes of the head, through the blank line. */
  rawHead: string;
}

const decoder = new TextDecoder("latin1");

/** Parse as many complete responses as `bytes` holds. `headOnly[i]`: response i answers a HEAD. */
export function parseResponses(
  bytes: Uint8Array,
  headOnly: boolean[] = [],
): { responses: Parsed[]; rest: number } {
  const responses: Parsed[] = [];
  let pos = 0;
  for (;;) {
    const text = decoder.decode(bytes.subarray(pos, Math.min(bytes.length, pos + 65536)));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) break;
    const rawHead = text.slice(0, end + 4);
    const lines = rawHead.slice(0, -4).split("\r\n");
    const m = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers = lines.slice(1).map((l): [string, string] => {
      const i = l.indexOf(":");
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let bodyStart = pos + end + 4;
    let body: Uint8Array;
    const noBody = headOnly[responses.length] === true || status < 200 || status === 204 ||
      status === 304;
    if (noBody) {
      body = new Uint8Array(0);
    } else if (get("transfer-encoding") === "chunked") {
      const parts: Uint8Array[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = indexOfCrlf(bytes, p);
        if (lineEnd < 0) break;
        const size = parseInt(decoder.decode(bytes.subarray(p, lineEnd)), 16);
        p = lineEnd + 2;
        if (size === 0) {
          if (p + 2 > bytes.length) break;
          p += 2;
          complete = true;
          break;
        }
        if (p + size + 2 > bytes.length) break;
        parts.push(bytes.subarray(p, p + size));
        p += size + 2;
      }
      if (!complete) break;
      body = concat(parts);
      bodyStart = p;
      responses.push({ status, reason: m[2]!, headers, body, rawHead });
      pos = bodyStart;
      continue;
    } else {
      const length = Number(get("content-length") ?? "0");
      if (bodyStart + length > bytes.length) break;
      body = bytes.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    }
    responses.push({ status, reason: m[2]!, headers, body, rawHead });
    pos = bodyStart;
    if (status === 100) continue;
  }
  return { responses, rest: pos };
}

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

/** The parts one after another (the core's own concatenation, with the total worked out). */
export function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts, parts.reduce((n, p) => n + p.length, 0));
}

/** A raw connection that collects everything the server sends. */
export class RawClient {
  readonly socket: net.Socket;
  private chunks: Uint8Array[] = [];
  private size = 0;
  ended = false;
  closed = false;
  /** When (Date.now()) the last bytes came: the end of the last answer, once all are in. */
  lastDataAt = 0;
  /** When the server's FIN (or the close) was first seen; 0 until then. */
  closedAt = 0;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (d: Uint8Array) => {
      this.lastDataAt = Date.now();
      this.chunks.push(new Uint8Array(d));
      this.size += d.length;
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.closedAt ||= Date.now();
      this.wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.closedAt ||= Date.now();
      this.wake();
    });
  }

  static connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(
        { port, host, allowHalfOpen: true, localAddress },
        () => resolve(new RawClient(s)),
      );
      s.setNoDelay(true);
      s.once("error", reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  /** All bytes received so far. */
  received(): Uint8Array {
    if (this.chunks.length > 1) this.chunks = [concat(this.chunks)];
    return this.chunks[0] ?? new Uint8Array(0);
  }

  /** Wait until `done()` holds, or fail after `ms`. */
  async until(done: () => boolean, ms = 5000, what = "condition"): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.size} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Wait for `n` complete responses and return them. */
  async responses(n: number, headOnly: boolean[] = [], ms = 5000): Promise<Parsed[]> {
    let got: Parsed[] = [];
    await this.until(
      () => {
        got = parseResponses(this.received(), headOnly).responses;
        // Nothing more comes once the server has closed its side.
        return got.length >= n || this.closed || this.ended;
      },
      ms,
      `${n} responses`,
    );
    if (got.length < n) throw new Error(`connection closed after ${got.length} of ${n} responses`);
    return got;
  }

  /** Wait for the server to close (FIN or full close). */
  async closedByServer(ms = 5000): Promise<void> {
    await this.until(() => this.ended || this.closed, ms, "the server to close");
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request, one response, on a fresh connection. */
export async function request(
  port: number,
  raw: string | Uint8Array,
  headOnly = false,
): Promise<Parsed> {
  const c = await RawClient.connect(port);
  try {
    await c.send(raw);
    const [r] = await c.responses(1, [headOnly]);
    return r!;
  } finally {
    c.close();
  }
}

/**
 * An answer to HEAD, with the same request sent again right behind it on the connection: were
 * any byte of a body sent after the head, the second answer would start inside it. Fails unless
 * the second answer follows the first head at once, and has the same head but for Date.
 */
export async function requestHead(port: number, raw: string): Promise<Parsed> {
  const c = await RawClient.connect(port);
  try {
    await c.send(raw + raw);
    let first: Parsed | undefined;
    await c.until(
      () => {
        first = parseResponses(c.received(), [true]).responses[0];
        return first !== undefined && c.received().length >= first.rawHead.length + 9;
      },
      5000,
      "an answer to HEAD and the start of the next",
    );
    const end = first!.rawHead.length;
    const after = decoder.decode(c.received().subarray(end, end + 9));
    if (after !== "HTTP/1.1 ") {
      throw new Error(`after the head of an answer to HEAD came ${JSON.stringify(after)}`);
    }
    const [, second] = await c.responses(2, [true, true]);
    const dateless = (r: Parsed) => r.rawHead.replace(/^Date: [^\r]*\r\n/m, "");
    if (dateless(second!) !== dateless(first!)) {
      throw new Error(
        `two answers to one HEAD differ: ${JSON.stringify(first!.rawHead)} and ${
          JSON.stringify(second!.rawHead)
        }`,
      );
    }
    return first!;
  } finally {
    c.close();
  }
}

export function header(r: Parsed, name: string): string | undefined {
  return r.headers.find(([k]) => k.toLowerCase() === name)?.[1];
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The binks executable, started under the runtime running the tests. */
export interface Started {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

/**
 * The command that runs main under the current runtime; with `allowAll`, Deno's `--allow-all`
 * (reading /proc/self needs it).
 */
export function mainCommand(allowAll = false): { cmd: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const compiled = here.endsWith(".js");
  const main = fileURLToPath(new URL(compiled ? "../main.js" : "../main.ts", import.meta.url));
  const runtime = detectRuntime();
  const exec = (globalThis as unknown as { process: { execPath: string } }).process.execPath;
  if (runtime === "deno") {
    const allowed = allowAll
      ? ["--allow-all"]
      : ["--allow-net", "--allow-env", "--allow-read", "--allow-run"];
    return { cmd: exec, args: ["run", ...allowed, main] };
  }
  if (runtime === "bun") return { cmd: exec, args: ["run", main] };
  return { cmd: exec, args: [main] };
}

/**
 * How long a started `main` is given to exit after SIGTERM before it is killed: past the
 * default grace (10 s) and the time its output gets to drain (5 s).
 */
const STOP_MS = 30_000;

function hostProcess(): { kill(pid: number, sig: string): void } {
  return (globalThis as unknown as { process: { kill(pid: number, sig: string): void } }).process;
}

/**
 * `child`'s exit code once it has exited (null: ended by a signal). One still running after
 * `ms` is killed, and said so: a process whose exit hangs in the runtime (Node's platform
 * shutdown joining a compiler thread that waits for a collection: nodejs/node#54918, seen
 * here on Node 24) would hold the suite for good.
 */
export function exitOf(child: ChildProcess, ms: number = STOP_MS): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
    const hung = setTimeout(() => {
      console.error(`process ${child.pid} still running after ${ms} ms: killed`);
      hostProcess().kill(child.pid!, "SIGKILL");
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(hung);
      done(code);
    });
  });
}

/** Start `main` on a free port and wait for its banner. */
export function startMain(extra: string[] = []): Promise<Started> {
  return startMainWith(["--port", "0", "--host", "127.0.0.1", ...extra]);
}

/**
 * Start `main` with exactly these arguments (and this environment) and wait for its banner.
 * With a `prefix`, that command runs main (`bash -c '…; exec "$@"' bash`).
 */
export function startMainWith(
  argv: string[],
  env: Record<string, string | undefined> =
    (globalThis as unknown as { process: { env: Record<string, string> } }).process.env,
  { prefix = [], allowAll = false }: { prefix?: string[]; allowAll?: boolean } = {},
): Promise<Started> {
  const { cmd, args } = mainCommand(allowAll);
  const [first, ...rest] = [...prefix, cmd, ...args, ...argv];
  const child = spawn(first!, rest, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, NO_COLOR: "1" },
  });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 15000);
    const onData = (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const m = /listening on http:\/\/[^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          port: Number(m[1]),
          child,
          output: () => out,
          stop: () => {
            const exited = exitOf(child);
            // Not child.kill(): Deno's child_process then reports a signal death even
            // when the child handled the signal and exited on its own.
            if (child.exitCode === null && child.signalCode === null) {
              hostProcess().kill(child.pid!, "SIGTERM");
            }
            return exited;
          },
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${out}`));
    });
  });
}

/** Run `main` with arguments and collect its exit code and output. */
export function runMain(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { cmd, args: base } = mainCommand();
  const child = spawn(cmd, [...base, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Uint8Array) => (stdout += new TextDecoder().decode(d)));
  child.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
  return exitOf(child).then((code) => ({ code, stdout, stderr }));
}

/** The kernel's table of IPv4 TCP sockets (Linux); the helpers below need it. */
const TCP_TABLE = "/proc/net/tcp";
export const hasTcpTable: boolean = existsSync(TCP_TABLE);

/** One socket of {@link TCP_TABLE}: its state (01 established) and the bytes in its queues. */
export interface TcpSocket {
  state: number;
  /** Bytes sent and not yet acknowledged by the peer. */
  txQueue: number;
  /** Bytes received and not yet read by the process that holds the socket. */
  rxQueue: number;
}

export const TCP_ESTABLISHED = 1;

/**
 * The socket on 127.0.0.1 whose local port is `local` and whose peer is 127.0.0.1:`remote`
 * (for the server's side of a client's connection: the server's port, the client's), or null
 * when there is none: never opened, or closed and gone (a reset one goes at once).
 */
export function tcpSocket(local: number, remote: number): TcpSocket | null {
  for (const f of tcpTable()) {
    if (f[1] !== loopback(local) || f[2] !== loopback(remote)) continue;
    const [tx, rx] = f[4]!.split(":").map((n) => parseInt(n, 16));
    return { state: parseInt(f[3]!, 16), txQueue: tx!, rxQueue: rx! };
  }
  return null;
}

const TCP_LISTEN = "0A";

/**
 * Process `pid` holds a socket listening on 127.0.0.1:`port`: its descriptors' sockets against
 * {@link TCP_TABLE}. Unlike a connection attempt, this cannot be answered by another process that
 * took the port once it was free (test files run side by side).
 */
export function listensOn(pid: number, port: number): boolean {
  const fds = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  for (const fd of readdirSync(fds)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${fds}/${fd}`));
      if (socket !== null) inodes.add(socket[1]!);
    } catch {
      // Closed while we looked.
    }
  }
  return tcpTable().some((f) =>
    f[1] === loopback(port) && f[3] === TCP_LISTEN && inodes.has(f[9]!)
  );
}

/** 127.0.0.1:`port` as {@link TCP_TABLE} writes it. */
function loopback(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The rows of {@link TCP_TABLE}, each split into its fields (inode tenth). */
function tcpTable(): string[][] {
  return readFileSync(TCP_TABLE, "latin1").split("\n").slice(1)
    .filter((line) => line.trim() !== "")
    .map((line) => line.trim().split(/\s+/));
}
