/**
 * What the `binks` command line should make of an argv and an environment, written from the
 * README's Configuration section (its table, and the text above it) rather than from src/cli.ts.
 *
 * Ranges the README leaves to "the range its flag takes" are the ones `serve()` refuses past (the
 * README's own example: `limits.maxHeaders` 1 to 10,000; timeouts 1 ms to 2^31−1 ms).
 *
 * @module
 */
import type { CliOptions } from "../src/cli.ts";

/** A refused command line: the flag (or variable) at fault and the text the message must show. */
export interface Refusal {
  name: string;
  /** What the user gave, to be quoted in the message; null when there is nothing to show. */
  shown: string | null;
}

export type Expected = { options: CliOptions } | { refused: Refusal };

class Refused extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.name);
    this.refusal = refusal;
  }
}

function refuse(name: string, value: string): never {
  throw new Refused({ name, shown: value === "" ? null : value });
}

/** A decimal whole number within [min, max], else refused naming `name` and the text. */
function whole(name: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text)) refuse(name, text);
  const n = BigInt(text);
  if (n < BigInt(min) || n > BigInt(max)) refuse(name, text);
  return Number(n);
}

const MS_MAX = 2 ** 31 - 1;

/**
 * Addresses the generator writes, and whether each is an IP address as `--trust-proxy` takes; what
 * else it writes there (numbers, paths) is none.
 */
export const PROXY_ADDRESSES: Readonly<Record<string, boolean>> = {
  "10.0.0.1": true,
  "0.0.0.0": true,
  "127.0.0.1": true,
  "192.0.2.8": true,
  "::1": true,
  "[::1]": true,
  "0:0::1": true,
  "2001:db8::1": true,
  "[2001:DB8::1]": true,
  "::ffff:10.0.0.1": true,
  "proxy.local": false,
  "localhost": false,
  "10.0.0.256": false,
  "1.2.3": false,
  "[10.0.0.1]": false,
  "[::1": false,
  "::1]": false,
  "fe80::1%eth0": false,
};

/** RFC 3986 path-absolute, as a request carries it: pchar, "/" and %HH. */
const LITERAL_PATH = /^(?:\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+$/;

/** `--host` and `$HOST`: an address, an IPv6 one with or without brackets; not empty. */
function address(name: string, text: string): string {
  const bracketed = text.startsWith("[") && text.endsWith("]");
  const bare = bracketed ? text.slice(1, -1) : text;
  if (bare === "" || (bracketed && !bare.includes(":"))) refuse(name, text);
  return bare;
}

interface OracleFlag {
  /** Null for a flag that takes no value. */
  apply: ((o: CliOptions, value: string) => void) | null;
  set?: (o: CliOptions) => void;
}

function limit(key: keyof CliOptions["limits"], name: string, min: number, max: number) {
  return [name, {
    apply: (o: CliOptions, v: string) => {
      o.limits[key] = whole(name, v, min, max);
    },
  }] as const;
}

function timeout(key: keyof CliOptions["timeouts"], name: string) {
  return [name, {
    apply: (o: CliOptions, v: string) => {
      o.timeouts[key] = whole(name, v, 1, MS_MAX);
    },
  }] as const;
}

/** Every flag of the README's table, and `--help`/`-h`, `--version`/`-v` from its text. */
export const ORACLE_FLAGS: ReadonlyMap<string, OracleFlag> = new Map<string, OracleFlag>([
  ["--port", {
    apply: (o, v) => {
      o.port = whole("--port", v, 0, 65535);
    },
  }],
  ["--host", {
    apply: (o, v) => {
      o.hostname = address("--host", v);
    },
  }],
  ["--runtime", {
    apply: (o, v) => {
      if (v !== "node" && v !== "deno" && v !== "bun") refuse("--runtime", v);
      o.runtime = v;
    },
  }],
  limit("maxRequestLine", "--max-request-line", 16, 2 ** 20),
  limit("maxHeadBytes", "--max-head", 16, 2 ** 24),
  limit("maxHeaders", "--max-headers", 1, 10_000),
  limit("maxBodyBytes", "--max-body", 0, 2 ** 50),
  limit("maxPipelined", "--max-pipelined", 1, 10_000),
  limit("maxConnections", "--max-connections", 1, 2 ** 24),
  ["--max-inflight", {
    apply: (o, v) => {
      // Its default, unlimited, can be asked for again by name.
      o.limits.maxInflight = v === "unlimited" ? Infinity : whole("--max-inflight", v, 1, 2 ** 24);
    },
  }],
  timeout("keepAliveMs", "--keep-alive-timeout"),
  timeout("headMs", "--head-timeout"),
  timeout("bodyMs", "--body-timeout"),
  timeout("handlerMs", "--handler-timeout"),
  timeout("sendMs", "--send-timeout"),
  ["--grace", {
    apply: (o, v) => {
      o.graceMs = whole("--grace", v, 0, MS_MAX);
    },
  }],
  ["--workers", {
    apply: (o, v) => {
      o.workers = v === "auto" ? "auto" : whole("--workers", v, 1, 1024);
    },
  }],
  ["--static", {
    apply: (o, v) => {
      if (v === "") refuse("--static", v);
      o.staticDir = v;
    },
  }],
  ["--static-dotfiles", { apply: null, set: (o) => void (o.staticDotfiles = true) }],
  ["--access-log", { apply: null, set: (o) => void (o.accessLog = true) }],
  ["--trust-proxy", {
    apply: (o, v) => {
      // Comma-separated, spaces around the commas ignored.
      const entries = v.split(",").map((a) => a.replace(/^[ \t]+|[ \t]+$/g, "")).filter((a) =>
        a !== ""
      );
      if (entries.length === 0) refuse("--trust-proxy", "");
      for (const a of entries) if (PROXY_ADDRESSES[a] !== true) refuse("--trust-proxy", a);
      o.trustProxy.push(...entries);
    },
  }],
  ["--proxy-header", {
    apply: (o, v) => {
      // A field name: any case.
      const name = v.toLowerCase();
      if (name !== "x-forwarded-for" && name !== "forwarded") refuse("--proxy-header", v);
      o.proxyHeader = name;
    },
  }],
  ["--health", {
    apply: (o, v) => {
      // A path a probe can request, as written: a segment starting with ":" or a "*" would be a
      // route pattern matching other paths; `.` and `..` (dots also as %2e) a request refused.
      const segments = v.split("/").slice(1);
      const dots = (s: string) => /^(?:\.|%2e){1,2}$/i.test(s);
      if (
        !LITERAL_PATH.test(v) || segments.some((s) => s.startsWith(":") || s === "*" || dots(s))
      ) {
        refuse("--health", v);
      }
      o.health = v;
    },
  }],
  ["--help", { apply: null, set: (o) => void (o.help = true) }],
  ["-h", { apply: null, set: (o) => void (o.help = true) }],
  ["--version", { apply: null, set: (o) => void (o.version = true) }],
  ["-v", { apply: null, set: (o) => void (o.version = true) }],
]);

function defaults(): CliOptions {
  return {
    port: 5555,
    hostname: "0.0.0.0",
    runtime: undefined,
    limits: {
      maxRequestLine: 8192,
      maxHeadBytes: 16384,
      maxHeaders: 100,
      maxBodyBytes: 16 * 1024 * 1024,
      // Not flags: the library's defaults.
      maxChunkExtension: 1024,
      maxTrailerBytes: 8192,
      maxPipelined: 64,
      maxConnections: 10_000,
      maxInflight: Infinity,
    },
    timeouts: {
      keepAliveMs: 5000,
      headMs: 20_000,
      bodyMs: 30_000,
      handlerMs: 60_000,
      sendMs: 60_000,
    },
    graceMs: 10_000,
    staticDir: undefined,
    staticDotfiles: false,
    workers: 1,
    accessLog: false,
    trustProxy: [],
    proxyHeader: "x-forwarded-for",
    health: undefined,
    help: false,
    version: false,
  };
}

/** The options `argv` and `env` ask for, or the first thing wrong with them. */
export function expected(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Expected {
  try {
    return { options: interpret(argv, env) };
  } catch (err) {
    if (err instanceof Refused) return { refused: err.refusal };
    throw err;
  }
}

function interpret(argv: readonly string[], env: Record<string, string | undefined>): CliOptions {
  const o = defaults();
  let portSet = false;
  let hostSet = false;
  let positionals = 0;
  let ended = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // The first `--` read where a flag could be ends the flags; after it all is positional.
    if (arg === "--" && !ended) {
      ended = true;
      continue;
    }
    if (ended || !arg.startsWith("-")) {
      // `binks 5555 10`: the port, then at most that many connections.
      if (positionals === 0) {
        o.port = whole("port", arg, 0, 65535);
        portSet = true;
      } else if (positionals === 1) {
        o.limits.maxConnections = whole("max-connections", arg, 1, 2 ** 24);
      } else refuse("unexpected argument", arg);
      positionals++;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const flag = ORACLE_FLAGS.get(name);
    if (flag === undefined) refuse("unknown option", name);
    if (flag.apply === null) {
      if (eq >= 0) refuse(name, arg.slice(eq + 1));
      flag.set!(o);
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i]!;
    else refuse(name, "");
    flag.apply(o, value);
    if (name === "--port") portSet = true;
    if (name === "--host") hostSet = true;
  }
  if (o.staticDotfiles && o.staticDir === undefined) refuse("--static-dotfiles", "");
  // The environment only where no flag spoke; an empty variable is as good as unset.
  if (!portSet && env.PORT) o.port = whole("PORT", env.PORT, 0, 65535);
  if (!hostSet && env.HOST) o.hostname = address("HOST", env.HOST);
  return o;
}

/** The flag names in the first column of the README's Configuration table. */
export function readmeFlags(readme: string): string[] {
  const start = readme.indexOf("## Configuration");
  const end = readme.indexOf("\n## ", start + 1);
  const names: string[] = [];
  for (const line of readme.slice(start, end).split("\n")) {
    // The first cell, where `\|` is a bar inside it (`--workers N\|auto`).
    const cell = /^\|((?:\\\||[^|])*)\|/.exec(line);
    if (cell === null) continue;
    for (const m of cell[1]!.matchAll(/`(-[-a-z]*)/g)) names.push(m[1]!);
  }
  return names;
}
