/**
 * Command-line flags of the `binks` executable, parsed without any runtime
 * global so the same code (and its tests) runs everywhere.
 *
 * @module
 */
import {
  defaultLimits,
  defaultTimeouts,
  limitRanges,
  type Limits,
  timeoutRange,
  type Timeouts,
} from "./limits.ts";
import type { RuntimeName } from "./transport.ts";
import type { ProxyHeader } from "./request.ts";
import { configuredAddress } from "./address.ts";

/** The port the original binks listened on. */
export const DEFAULT_PORT = 5555;
export const DEFAULT_HOST = "0.0.0.0";

/** What the flags ask for. */
export interface CliOptions {
  port: number;
  hostname: string;
  runtime: RuntimeName | undefined;
  limits: Limits;
  timeouts: Timeouts;
  /** On SIGTERM/SIGINT, how long requests in flight may take before connections are cut. */
  graceMs: number;
  /** Serve the files of this directory for GET paths the demo app does not route. */
  staticDir: string | undefined;
  /** With staticDir: serve its dotfiles (`.env`, `.git/`) too. */
  staticDotfiles: boolean;
  /** Worker processes sharing the port; 1 serves from this process. "auto" is resolved by the caller. */
  workers: number | "auto";
  /** Log each response as a JSON line on stdout. */
  accessLog: boolean;
  /** Proxy addresses whose forwarding field is believed. */
  trustProxy: string[];
  /** The field those proxies set. */
  proxyHeader: ProxyHeader;
  /** Path answering 200 while serving and 503 once draining. */
  health: string | undefined;
  help: boolean;
  /** Print the version and exit. */
  version: boolean;
}

/** Default shutdown grace period, in ms. */
export const DEFAULT_GRACE_MS = 10_000;

interface Flag {
  name: string;
  value: string;
  help: string;
  apply(options: CliOptions, value: string): void;
}

/** A whole number within [min, max]; `word` is the one other value the flag takes, if any. */
function integer(flag: string, text: string, min: number, max: number, word?: string): number {
  const or = word === undefined ? "" : ` or ${word}`;
  if (!/^\d+$/.test(text)) throw new CliError(`${flag} takes a whole number${or}, not "${text}"`);
  const n = Number(text);
  // The text as given: Number() would show 070000 as 70000 and a long one as 1e+23.
  if (n < min || n > max) {
    throw new CliError(`${flag} must be between ${min} and ${max}${or}, not ${text}`);
  }
  return n;
}

/** How a limit that may be Infinity (`maxInflight`) is set back to it, as --help shows it. */
const UNLIMITED = "unlimited";

function limitFlag(name: string, key: keyof Limits, help: string): Flag {
  const [min, max] = limitRanges[key];
  // The one limit checkLimits() takes Infinity for.
  const mayBeUnlimited = key === "maxInflight";
  return {
    name,
    value: "N",
    help: `${help} (default ${defaultLimits[key] === Infinity ? UNLIMITED : defaultLimits[key]})`,
    apply: (o, v) => {
      o.limits[key] = mayBeUnlimited && v === UNLIMITED
        ? Infinity
        : integer(name, v, min, max, mayBeUnlimited ? UNLIMITED : undefined);
    },
  };
}

function timeoutFlag(name: string, key: keyof Timeouts, help: string): Flag {
  return {
    name,
    value: "MS",
    help: `${help} (default ${defaultTimeouts[key]})`,
    apply: (o, v) => {
      o.timeouts[key] = integer(name, v, timeoutRange[0], timeoutRange[1]);
    },
  };
}

/**
 * Spaces and tabs off both ends, as written around a list's commas; trim() would take U+00A0 and
 * other Unicode spaces too, and make an address of "<U+00A0>10.0.0.1".
 */
function withoutBlanks(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** `--host` or `$HOST`: an IPv6 address may come in brackets, as in a URL. */
function bindAddress(name: string, text: string): string {
  const bracketed = text.startsWith("[") && text.endsWith("]");
  const bare = bracketed ? text.slice(1, -1) : text;
  if (bare === "") {
    throw new CliError(`${name} needs an address${text === "" ? "" : `, not "${text}"`}`);
  }
  // Brackets are for IPv6 alone (RFC 3986 §3.2.2), as --trust-proxy has them: "[10.0.0.1]" is
  // no address literal, and --host should not take what --trust-proxy refuses.
  if (bracketed && !bare.includes(":")) {
    throw new CliError(`${name} takes brackets around an IPv6 address only, not "${text}"`);
  }
  return bare;
}

/** RFC 3986's path-absolute: pchar (percent-encoded beyond it) and "/". */
const PATH_ABSOLUTE = /^(?:\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+$/;

/** `.` or `..`, a dot possibly written `%2e`. */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * A path a request can name, meaning only itself: routed as a pattern, a segment `:x` or `*`
 * would answer other paths too, a space or `?` is refused by the router, and a dot-segment by
 * the parser (every probe a 400).
 */
function isLiteralPath(text: string): boolean {
  if (!PATH_ABSOLUTE.test(text)) return false;
  return text.split("/").every((segment) =>
    !segment.startsWith(":") && segment !== "*" && !DOT_SEGMENT.test(segment)
  );
}

const FLAGS: readonly Flag[] = [
  {
    name: "--port",
    value: "N",
    help: `TCP port; 0 picks a free one (default ${DEFAULT_PORT}, or $PORT)`,
    apply: (o, v) => {
      o.port = integer("--port", v, 0, 65535);
    },
  },
  {
    name: "--host",
    value: "ADDR",
    help: `address to bind (default ${DEFAULT_HOST}, or $HOST)`,
    apply: (o, v) => {
      o.hostname = bindAddress("--host", v);
    },
  },
  {
    name: "--runtime",
    value: "NAME",
    help: "transport: node, deno or bun (default: the running runtime)",
    apply: (o, v) => {
      if (v !== "node" && v !== "deno" && v !== "bun") {
        throw new CliError(`--runtime must be node, deno or bun, not "${v}"`);
      }
      o.runtime = v;
    },
  },
  limitFlag("--max-request-line", "maxRequestLine", "longest request line in bytes, else 414"),
  limitFlag("--max-head", "maxHeadBytes", "largest request head in bytes, else 431"),
  limitFlag("--max-headers", "maxHeaders", "most header fields, else 431"),
  limitFlag("--max-body", "maxBodyBytes", "largest request body in bytes, else 413"),
  limitFlag("--max-pipelined", "maxPipelined", "requests read ahead of their answers"),
  limitFlag("--max-connections", "maxConnections", "open connections; past it 503 and close"),
  limitFlag(
    "--max-inflight",
    "maxInflight",
    `handlers running at once, or ${UNLIMITED}; past it reading waits`,
  ),
  timeoutFlag("--keep-alive-timeout", "keepAliveMs", "ms a connection may idle between requests"),
  timeoutFlag("--head-timeout", "headMs", "ms to receive a whole request head, else 408"),
  timeoutFlag("--body-timeout", "bodyMs", "ms of silence allowed inside a body, else 408"),
  timeoutFlag(
    "--handler-timeout",
    "handlerMs",
    "ms from a request head to its answer, else 503 (408 if its body is still coming)",
  ),
  timeoutFlag("--send-timeout", "sendMs", "ms a client may leave an answer unread, else close"),
  {
    name: "--access-log",
    value: "",
    help: "log each response as one JSON line on stdout (default off)",
    apply: (o) => {
      o.accessLog = true;
    },
  },
  {
    name: "--trust-proxy",
    value: "ADDRS",
    help:
      "comma-separated proxy addresses whose X-Forwarded-For/Forwarded count; may be repeated (default none)",
    apply: (o, v) => {
      const addresses = v.split(",").map(withoutBlanks).filter((a) => a !== "");
      if (addresses.length === 0) throw new CliError("--trust-proxy needs addresses");
      for (const a of addresses) {
        if (configuredAddress(a) === null) {
          throw new CliError(`--trust-proxy takes IP addresses, not "${a}"`);
        }
      }
      o.trustProxy.push(...addresses);
    },
  },
  {
    name: "--proxy-header",
    value: "NAME",
    help:
      "the field the trusted proxies set: x-forwarded-for or forwarded (default x-forwarded-for)",
    apply: (o, v) => {
      const name = v.toLowerCase();
      if (name !== "x-forwarded-for" && name !== "forwarded") {
        throw new CliError(`--proxy-header must be x-forwarded-for or forwarded, not "${v}"`);
      }
      o.proxyHeader = name;
    },
  },
  {
    name: "--health",
    value: "PATH",
    help: "answer PATH with 200, and 503 once shutting down (default off)",
    apply: (o, v) => {
      if (!isLiteralPath(v)) {
        throw new CliError(`--health takes a path starting with "/", as requested, not "${v}"`);
      }
      o.health = v;
    },
  },
  {
    name: "--workers",
    value: "N",
    help: "worker processes sharing the port, or auto for one per core (default 1)",
    apply: (o, v) => {
      o.workers = v === "auto" ? "auto" : integer("--workers", v, 1, 1024, "auto");
    },
  },
  {
    name: "--static",
    value: "DIR",
    help: "serve the files of DIR instead of the demo app (GET/HEAD, ranges, ETags)",
    apply: (o, v) => {
      if (v === "") throw new CliError("--static needs a directory");
      o.staticDir = v;
    },
  },
  {
    name: "--static-dotfiles",
    value: "",
    help: "with --static, serve dotfiles too (default off: 404 but for /.well-known/)",
    apply: (o) => {
      o.staticDotfiles = true;
    },
  },
  {
    name: "--grace",
    value: "MS",
    help: `on SIGTERM/SIGINT, ms to finish requests in flight (default ${DEFAULT_GRACE_MS})`,
    apply: (o, v) => {
      o.graceMs = integer("--grace", v, 0, 2 ** 31 - 1);
    },
  },
];

/** Ends the options: every argument after it is positional. */
const END_OF_OPTIONS = "--";

/** Where `--` ends the options of `argv`, or -1: the first one that is no flag's value. */
function optionsEnd(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === END_OF_OPTIONS) return i;
    const flag = FLAGS.find((f) => f.name === arg);
    if (flag !== undefined && flag.value !== "") i++;
  }
  return -1;
}

/**
 * A worker's command line: the primary's `argv`, which {@link parseCli} took, with the port the
 * primary bound put where it wins. After a `--` it would be read as a positional, and a positional
 * port would come after it: the `--` goes, as what follows it is digits, positional anyway.
 */
export function workerArgs(argv: readonly string[], port: number): string[] {
  const end = optionsEnd(argv);
  const options = end < 0 ? argv : [...argv.slice(0, end), ...argv.slice(end + 1)];
  return [...options, "--port", String(port)];
}

/** The flags that print something and exit, besides the options in {@link FLAGS}. */
const SWITCHES = ["--help", "-h", "--version", "-v"];

function noValue(name: string, value: string): CliError {
  return new CliError(`${name} takes no value, not "${value}"`);
}

/** A flag was wrong: the message is one line for the user. */
export class CliError extends Error {
  override name = "CliError";
}

/** The `--help` text. */
export function usage(): string {
  const lines = [
    "Usage: binks [options] [--] [PORT [MAX_CONNECTIONS]]",
    "",
    'A minimal, fast HTTP/1.1 server. Serves the demo app: GET / → {"hello":"world"},',
    "/echo, /inspect and /sleep?ms=N.",
    "",
    "Options:",
  ];
  for (const f of FLAGS) lines.push(`  ${`${f.name} ${f.value}`.padEnd(24)} ${f.help}`);
  lines.push(`  ${"-v, --version".padEnd(24)} print the version`);
  lines.push(`  ${"-h, --help".padEnd(24)} show this text`);
  return lines.join("\n");
}

/**
 * Parse flags (`--name value`, `--name=value`, and a first positional port). A `--` that is no
 * flag's value ends the options, as getopt's does: what follows is positional.
 */
export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): CliOptions {
  const options: CliOptions = {
    port: DEFAULT_PORT,
    hostname: DEFAULT_HOST,
    runtime: undefined,
    limits: { ...defaultLimits },
    timeouts: { ...defaultTimeouts },
    graceMs: DEFAULT_GRACE_MS,
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
  let portGiven = false;
  let hostGiven = false;
  let positional = 0;
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === END_OF_OPTIONS && !optionsEnded) {
      optionsEnded = true;
      continue;
    }
    if (optionsEnded || !arg.startsWith("-")) {
      // As the original `dsock-n-server 5555 10`: the port, then how many clients at once.
      if (positional === 0) {
        options.port = integer("port", arg, 0, 65535);
        portGiven = true;
      } else if (positional === 1) {
        options.limits.maxConnections = integer("max-connections", arg, 1, 1 << 24);
      } else throw new CliError(`unexpected argument "${arg}"`);
      positional++;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (SWITCHES.includes(name)) {
      if (eq >= 0) throw noValue(name, arg.slice(eq + 1));
      if (name === "--help" || name === "-h") options.help = true;
      else options.version = true;
      continue;
    }
    const flag = FLAGS.find((f) => f.name === name);
    if (flag === undefined) throw new CliError(`unknown option ${name} (see --help)`);
    let value: string;
    if (flag.value === "") {
      if (eq >= 0) throw noValue(name, arg.slice(eq + 1));
      value = "";
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new CliError(`${name} needs a value`);
      value = argv[++i]!;
    }
    flag.apply(options, value);
    if (flag.name === "--port") portGiven = true;
    if (flag.name === "--host") hostGiven = true;
  }
  // Alone it would do nothing, silently: --static was more likely forgotten.
  if (options.staticDotfiles && options.staticDir === undefined) {
    throw new CliError("--static-dotfiles needs --static DIR");
  }
  // Flags win over the environment: $PORT and $HOST are read (and can be wrong) only when no flag
  // set them.
  if (!portGiven && env.PORT) options.port = integer("PORT", env.PORT, 0, 65535);
  if (!hostGiven && env.HOST) options.hostname = bindAddress("HOST", env.HOST);
  return options;
}
