/**
 * Model-based property test of the command line (src/cli.ts, and main.ts for what only the running
 * executable shows): random argv of every flag of the README's table, in `--flag value` and
 * `--flag=value` forms, repeated, lists, boolean flags given values, unknown flags, positional
 * PORT and MAX_CONNECTIONS, `--`, `-h`/`--help` and `-v`/`--version`, with values good and bad
 * (`1e3`, `0x10`, ` 5`, `+5`, `-1`, `1.5`, `Infinity`, huge, empty; hosts in and out of brackets;
 * paths with spaces; health paths that would be route patterns), and `$PORT`/`$HOST`, parsed by
 * parseCli and by test/cli-oracle.ts. A valid line must give exactly the oracle's options; a bad
 * one a CliError of one line naming the flag and quoting the value given. `--help`, the README's
 * table and the parser must know the same flags.
 *
 * Fixed seeds and bounded runs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import fc from "fast-check";
import { CliError, parseCli, usage, workerArgs } from "../src/cli.ts";
import { VERSION } from "../src/version.ts";
import { expected, ORACLE_FLAGS, PROXY_ADDRESSES, readmeFlags } from "./cli-oracle.ts";
import { startMainWith } from "./client.ts";

const NUMBERS = [
  "0",
  "1",
  "5",
  "007",
  "16",
  "80",
  "1024",
  "1025",
  "10000",
  "10001",
  "65535",
  "65536",
  "070000",
  "16777216",
  "16777217",
  "2147483647",
  "2147483648",
  "1125899906842624",
  "1125899906842625",
  "99999999999999999999999",
  "1e3",
  "0x10",
  " 5",
  "5 ",
  "+5",
  "-1",
  "1.5",
  "Infinity",
  "NaN",
  "",
  "auto",
  "unlimited",
  "Unlimited",
  "١٢",
];
const HOSTS = [
  "[::1]",
  "::1",
  "localhost",
  "0.0.0.0",
  "127.0.0.1",
  "",
  "[]",
  "[::1",
  "::1]",
  "[",
  "my host",
  "[127.0.0.1]",
  "[localhost]",
];
const DIRS = ["www", "my dir/with spaces", "", "/tmp/a b", "-x"];
const HEALTH = [
  "/healthz",
  "/",
  "/a/b",
  "/%41",
  "/a:b",
  "/a*",
  "//",
  "healthz",
  "",
  "/a b",
  "/:id",
  "/a/:b",
  "/*",
  "/x?y",
  "/a#b",
  "/a%zz",
  "/..",
  "/a/%2E",
  "/...",
  "/é",
  "/a\\b",
];
const RUNTIMES = ["node", "deno", "bun", "java", "Node", ""];
const PROXY_HEADERS = [
  "x-forwarded-for",
  "forwarded",
  "Forwarded",
  "X-FORWARDED-FOR",
  "x-real-ip",
  "",
];
const UNKNOWN = ["--nope", "--Port", "-p", "--=1", "-", "--max_body", "--port-x", "-1", "---port"];

const numberArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 1, arbitrary: fc.nat({ max: 70_000 }).map(String) },
);
const proxyListArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(
      fc.array(fc.constantFrom(...Object.keys(PROXY_ADDRESSES), ""), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.constantFrom(",", ", ", " ,", " , "),
    ).map(([entries, sep]) => entries.join(sep)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      " ",
      ",",
      " 10.0.0.1 ",
      "\t::1,\t10.0.0.1",
      "\u00a010.0.0.1",
      "::1\u3000",
    ),
  },
);

/** A value for `flag`: mostly of its own kind, now and then any other. */
function valueArb(flag: string): fc.Arbitrary<string> {
  const own = flag === "--host"
    ? fc.constantFrom(...HOSTS)
    : flag === "--static"
    ? fc.constantFrom(...DIRS)
    : flag === "--health"
    ? fc.constantFrom(...HEALTH)
    : flag === "--runtime"
    ? fc.constantFrom(...RUNTIMES)
    : flag === "--proxy-header"
    ? fc.constantFrom(...PROXY_HEADERS)
    : flag === "--trust-proxy"
    ? proxyListArb
    : numberArb;
  const any = fc.constantFrom(...NUMBERS, ...HOSTS, ...DIRS, ...HEALTH, "--port", "-h");
  return fc.oneof({ weight: 8, arbitrary: own }, { weight: 1, arbitrary: any });
}

const VALUED = [...ORACLE_FLAGS].filter(([, f]) => f.apply !== null).map(([name]) => name);
const BARE = [...ORACLE_FLAGS].filter(([, f]) => f.apply === null).map(([name]) => name);

/** One or two argv entries. */
const pieceArb: fc.Arbitrary<string[]> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.constantFrom(...VALUED).chain((flag) =>
      fc.tuple(valueArb(flag), fc.constantFrom("split", "joined", "alone")).map((
        [value, form],
      ) => form === "split" ? [flag, value] : form === "joined" ? [`${flag}=${value}`] : [flag])
    ),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...BARE), fc.option(fc.constantFrom("", "1", "yes"))).map((
      [flag, value],
    ) => value === null ? [flag] : [`${flag}=${value}`]),
  },
  { weight: 2, arbitrary: numberArb.map((n) => [n]) },
  { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN).map((u) => [u]) },
  { weight: 1, arbitrary: fc.constant<string[]>(["--"]) },
);

const envArb = fc.record({
  PORT: fc.option(numberArb, { nil: undefined }),
  HOST: fc.option(fc.constantFrom(...HOSTS), { nil: undefined }),
});

const argvArb = fc.array(pieceArb, { maxLength: 6 }).map((pieces) => pieces.flat());

/** What parseCli made of it: options, or the message of the CliError it threw. */
function parsed(
  argv: string[],
  env: Record<string, string | undefined>,
): { options: ReturnType<typeof parseCli> } | { message: string } {
  try {
    return { options: parseCli(argv, env) };
  } catch (err) {
    if (err instanceof CliError) return { message: err.message };
    throw err;
  }
}

function agrees(argv: string[], env: Record<string, string | undefined>): void {
  const want = expected(argv, env);
  const got = parsed(argv, env);
  const seen = JSON.stringify({ argv, env });
  if ("options" in want) {
    assert.ok("options" in got, `${seen}: refused: ${"message" in got ? got.message : ""}`);
    assert.deepEqual(got.options, want.options, seen);
    return;
  }
  assert.ok("message" in got, `${seen}: taken, but ${JSON.stringify(want.refused)} is wrong`);
  const { name, shown } = want.refused;
  assert.ok(!/[\r\n]/.test(got.message), `${seen}: not one line: ${got.message}`);
  assert.ok(got.message.includes(name), `${seen}: ${JSON.stringify(got.message)} names no ${name}`);
  if (shown !== null) {
    assert.ok(
      got.message.includes(shown),
      `${seen}: ${JSON.stringify(got.message)} does not show ${JSON.stringify(shown)}`,
    );
  }
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

/** Check `property` with fixed `params`; a failure says what broke for which command line. */
function holds<T extends unknown[]>(
  property: fc.IProperty<T>,
  params: { seed: number; numRuns: number },
): void {
  const details = fc.check(property, params);
  if (!details.failed) return;
  const error = details.errorInstance as Error | null;
  assert.fail(
    `seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)}: ${
      error?.message ?? "no error"
    }`,
  );
}

describe("command line against the README's oracle", () => {
  it("gives the oracle's options, or one line naming the flag and the value", () => {
    holds(
      fc.property(argvArb, envArb, (argv, env) => agrees(argv, env)),
      { seed: 0xc11, numRuns: 3000 },
    );
  });

  it("agrees on lines of one flag and its value, every flag", () => {
    for (const flag of VALUED) {
      holds(
        fc.property(valueArb(flag), fc.boolean(), (value, joined) => {
          agrees(joined ? [`${flag}=${value}`] : [flag, value], {});
          agrees(["--static", "www", ...(joined ? [`${flag}=${value}`] : [flag, value])], {});
        }),
        { seed: 0xc12, numRuns: 60 },
      );
    }
  });

  it("gives a worker the primary's options, with the port the primary bound", () => {
    holds(
      fc.property(argvArb, envArb, (argv, env) => {
        const primary = parsed(argv, env);
        if (!("options" in primary)) return;
        const worker = parsed(workerArgs(argv, 4321), env);
        assert.deepEqual(worker, { options: { ...primary.options, port: 4321 } }, argv.join(" "));
      }),
      { seed: 0xc13, numRuns: 1000 },
    );
  });

  it("knows the same flags in --help, in the README's table and in the parser", () => {
    const readme = readFileSync(join(repoRoot(), "README.md"), "utf8");
    const oracle = [...ORACLE_FLAGS.keys()].sort();
    assert.deepEqual([...new Set(readmeFlags(readme))].sort(), oracle);
    const options = usage().split("\n").filter((l) => /^ {2}-/.test(l));
    const inHelp = options.flatMap((
      l,
    ) => [...l.slice(0, 26).matchAll(/(?:^|[ ,])(--?[a-z][-a-z]*)/g)])
      .map((m) => m[1]!);
    assert.deepEqual([...new Set(inHelp)].sort(), oracle);
    for (const flag of oracle) {
      const got = parsed([flag], {});
      const message = "message" in got ? got.message : "";
      assert.ok(!message.startsWith("unknown option"), `${flag}: ${message}`);
    }
    // And what is in none of them is unknown to the parser.
    for (const flag of ["--verbose", "--hostname", "--max-chunk-extension", "-p", "-H"]) {
      const got = parsed([flag, "1"], {});
      assert.ok("message" in got && got.message === `unknown option ${flag} (see --help)`, flag);
    }
  });
});

/** The executable as this runtime runs it. */
function binks(): string[] {
  const root = repoRoot();
  const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
  const bun = (process.versions as { bun?: string }).bun !== undefined;
  if (deno) return [process.execPath, "run", "-A", join(root, "main.ts")];
  if (bun) return [process.execPath, join(root, "main.ts")];
  return [process.execPath, join(root, "dist", "main.js")];
}

function run(args: string[], env: Record<string, string> = {}) {
  const [cmd, ...pre] = binks();
  const environment: Record<string, string | undefined> = { ...process.env, ...env };
  delete environment.BINKS_WORKER;
  const r = spawnSync(cmd!, [...pre, ...args], {
    env: environment as Record<string, string>,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("command line of the running executable", () => {
  it("refuses a bad flag with one line on stderr and status 2, nothing else", () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--port", "1e3"], {}, /^binks: --port .*"1e3"\n$/],
      [["--health", "/a b"], {}, /^binks: --health .*"\/a b"\n$/],
      [["--health", "/"], {}, /^binks: --health .*"\/".*\n$/],
      // The demo routes these for every method: a GET health route took them over silently.
      [["--port", "0", "--health", "/echo"], {}, /^binks: --health .*"\/echo".*\n$/],
      [["--port", "0", "--health", "/%65cho"], {}, /^binks: --health .*"\/%65cho".*\n$/],
      [["--port", "0", "--health", "/inspect"], {}, /^binks: --health .*"\/inspect".*\n$/],
      [["--port", "0"], { HOST: "[]" }, /^binks: HOST .*"\[\]"\n$/],
      [["--access-log=yes"], {}, /^binks: --access-log takes no value, not "yes"\n$/],
    ];
    for (const [args, env, stderr] of cases) {
      const r = run(args, env);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, stderr, args.join(" "));
      assert.equal(r.stdout, "");
    }
  });

  it("prints --help and --version on stdout and exits 0", () => {
    const help = run(["-h"]);
    assert.equal(help.status, 0, help.stderr);
    assert.equal(help.stdout, `${usage()}\n`);
    const version = run(["-v"]);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout, `binks ${VERSION}\n`);
  });

  it("gives its workers the port it bound, also after --", async () => {
    // The port went after the primary's own flags: past a `--` a worker read it as a positional.
    const s = await startMainWith(["--host", "127.0.0.1", "--workers", "2", "--", "0"]);
    try {
      assert.match(s.output(), /listening on http:\/\/127\.0\.0\.1:\d+ \(.*; 2 workers, /);
      const answer = await fetch(`http://127.0.0.1:${s.port}/`);
      assert.equal(`${answer.status} ${await answer.text()}`, '200 {"hello":"world"}');
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it("refuses a --runtime that cannot run here as a bad flag", () => {
    const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
    const other = deno ? "bun" : "deno";
    const r = run(["--runtime", other]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^binks: --runtime ${other} cannot run on \\w+ .*\n$`));
  });
});
