/**
 * Flag parsing (pure: no runtime globals), and versions that must agree.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, parseCli, usage, workerArgs } from "../src/cli.ts";
import {
  defaultLimits,
  defaultTimeouts,
  limitRanges,
  type Limits,
  type Timeouts,
} from "../src/limits.ts";
import { VERSION } from "../src/version.ts";
import { canonicalAddress } from "../src/address.ts";
import { HttpServer } from "../src/server.ts";

describe("command-line flags", () => {
  it("has the defaults of the original: port 5555 on all addresses", () => {
    const o = parseCli([]);
    assert.equal(o.port, 5555);
    assert.equal(o.hostname, "0.0.0.0");
    assert.deepEqual(o.limits, defaultLimits);
    assert.deepEqual(o.timeouts, defaultTimeouts);
    assert.equal(o.workers, 1);
    assert.equal(o.accessLog, false);
  });

  it("takes PORT and HOST from the environment, flags over them", () => {
    assert.equal(parseCli([], { PORT: "8080", HOST: "::1" }).port, 8080);
    assert.equal(parseCli([], { PORT: "8080", HOST: "::1" }).hostname, "::1");
    assert.equal(parseCli(["--port", "9"], { PORT: "8080" }).port, 9);
    // A flag wins so far that a $PORT it overrides is not even read.
    assert.equal(parseCli(["--port", "9"], { PORT: "abc" }).port, 9);
    assert.equal(parseCli(["7"], { PORT: "abc" }).port, 7);
    assert.throws(() => parseCli([], { PORT: "abc" }), /PORT takes a whole number, not "abc"/);
  });

  it("reads $HOST as --host takes it, and not at all when --host is given", () => {
    // It was taken as it came: [::1] kept its brackets (with --workers, the primary could not
    // bind [[::1]]), and a "[]" that --host refuses ended in serve()'s TypeError.
    assert.equal(parseCli([], { HOST: "[::1]" }).hostname, "::1");
    assert.equal(parseCli(["--host", "127.0.0.1"], { HOST: "[]" }).hostname, "127.0.0.1");
    assert.equal(parseCli([], { HOST: "" }).hostname, "0.0.0.0");
    assert.throws(
      () => parseCli([], { HOST: "[]" }),
      (err: unknown) =>
        err instanceof CliError && err.message === 'HOST needs an address, not "[]"',
    );
  });

  it("takes for --health only a path that a request names, meaning itself alone", () => {
    // A pattern answered other paths (`/*` every GET the app did not route), and what the router
    // refuses (a space, `?`) ended the executable in a stack trace rather than one line.
    // A dot-segment, encoded or not, is a request refused with a 400 (parser.ts): every probe of
    // such a path failed.
    const dotted = ["/..", "/.", "/a/./b", "/a/..", "/%2e%2E", "/.%2e/x", "/%2E"];
    for (
      const path of ["/a b", "/x?y", "/:id", "/a/*", "/*", "/é", "/a%zz", "healthz", "", ...dotted]
    ) {
      assert.throws(
        () => parseCli(["--health", path]),
        (err: unknown) =>
          err instanceof CliError &&
          err.message === `--health takes a path starting with "/", as requested, not "${path}"`,
        path,
      );
    }
    for (
      const path of ["/healthz", "/a:b", "/a*", "/%41", "/-/ready", "//", "/...", "/.a", "/a."]
    ) {
      assert.equal(parseCli(["--health", path]).health, path);
    }
  });

  it("shows the value given in a refusal, as it was given", () => {
    const cases: [string[], string][] = [
      [["--port", "070000"], "--port must be between 0 and 65535, not 070000"],
      [
        ["--max-body", "99999999999999999999"],
        "--max-body must be between 0 and 1125899906842624, not 99999999999999999999",
      ],
      [["--access-log=yes"], '--access-log takes no value, not "yes"'],
      [["--help=1"], '--help takes no value, not "1"'],
      [["-h=1"], '-h takes no value, not "1"'],
      [["-v="], '-v takes no value, not ""'],
      [["--host", "[]"], '--host needs an address, not "[]"'],
      [["--host="], "--host needs an address"],
      // Not JSON-escaped as "a\\b": as it was typed, as every other flag shows its value.
      [["--trust-proxy", "10.0.0.1,a\\b"], '--trust-proxy takes IP addresses, not "a\\b"'],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCli(argv),
        (err: unknown) => err instanceof CliError && err.message === message,
        argv.join(" "),
      );
    }
  });

  it("takes an IPv6 --host in brackets too, and --version", () => {
    assert.equal(parseCli(["--host", "[::1]"]).hostname, "::1");
    assert.equal(parseCli(["--host=::1"]).hostname, "::1");
    assert.throws(() => parseCli(["--host", "[]"]), /--host needs an address/);
    // Brackets are for IPv6 alone (RFC 3986 §3.2.2); they were stripped from any address.
    assert.throws(
      () => parseCli(["--host", "[127.0.0.1]"]),
      /^CliError: --host takes brackets around an IPv6 address only, not "\[127\.0\.0\.1\]"$/,
    );
    assert.throws(() => parseCli([], { HOST: "[localhost]" }), /HOST takes brackets around/);
    assert.equal(parseCli(["--version"]).version, true);
    assert.equal(parseCli(["-v"]).version, true);
    assert.equal(parseCli([]).version, false);
    assert.throws(() => parseCli(["--help=1"]), /--help takes no value/);
    assert.throws(() => parseCli(["--version=x"]), /--version takes no value/);
  });

  it("reads `PORT MAX_CONNECTIONS` positionally, like dsock-n-server 5555 10", () => {
    const o = parseCli(["5555", "10"]);
    assert.equal(o.port, 5555);
    assert.equal(o.limits.maxConnections, 10);
    assert.throws(() => parseCli(["1", "2", "3"]), /unexpected argument "3"/);
  });

  it("ends the options at --: what follows is PORT and MAX_CONNECTIONS", () => {
    const o = parseCli(["--max-body", "9", "--", "8080", "10"]);
    assert.deepEqual([o.port, o.limits.maxConnections, o.limits.maxBodyBytes], [8080, 10, 9]);
    assert.deepEqual(parseCli(["--"]), parseCli([]));
    assert.equal(parseCli(["--"], { PORT: "81" }).port, 81);
    // Only the first ends them, and only where it is no flag's value.
    assert.equal(parseCli(["--static", "--"]).staticDir, "--");
    assert.equal(parseCli(["--static", "--", "--", "7"]).port, 7);
    const cases: [string[], string][] = [
      [["--", "--port", "1"], 'port takes a whole number, not "--port"'],
      [["--", "-1"], 'port takes a whole number, not "-1"'],
      [["--", "1", "--"], 'max-connections takes a whole number, not "--"'],
      [["1", "--", "2", "3"], 'unexpected argument "3"'],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCli(argv),
        (err: unknown) => err instanceof CliError && err.message === message,
        argv.join(" "),
      );
    }
  });

  it("gives a worker the primary's options with the port it bound, after -- too", () => {
    const cases = [
      [],
      ["7"],
      ["--port", "7", "--workers", "2"],
      ["--", "7", "9"],
      ["--workers", "2", "--", "0"],
      ["5", "--", "9"],
      ["--static", "--", "--", "5"],
    ];
    for (const argv of cases) {
      assert.deepEqual(
        parseCli(workerArgs(argv, 4321)),
        { ...parseCli(argv), port: 4321 },
        argv.join(" "),
      );
    }
  });

  it("sets --max-inflight back to unlimited by name, and names it when refusing", () => {
    assert.equal(
      parseCli(["--max-inflight", "8", "--max-inflight=unlimited"]).limits.maxInflight,
      Infinity,
    );
    assert.equal(
      parseCli(["--max-inflight", "unlimited", "--max-inflight", "8"]).limits.maxInflight,
      8,
    );
    const cases: [string[], string][] = [
      [
        ["--max-inflight", "0"],
        "--max-inflight must be between 1 and 16777216 or unlimited, not 0",
      ],
      [
        ["--max-inflight", "Infinity"],
        '--max-inflight takes a whole number or unlimited, not "Infinity"',
      ],
      [
        ["--max-inflight", "Unlimited"],
        '--max-inflight takes a whole number or unlimited, not "Unlimited"',
      ],
      [["--max-inflight="], '--max-inflight takes a whole number or unlimited, not ""'],
      [
        ["--max-connections", "unlimited"],
        '--max-connections takes a whole number, not "unlimited"',
      ],
      [["--workers", "x"], '--workers takes a whole number or auto, not "x"'],
      [["--workers", "0"], "--workers must be between 1 and 1024 or auto, not 0"],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCli(argv),
        (err: unknown) => err instanceof CliError && err.message === message,
        argv.join(" "),
      );
    }
  });

  it("accepts --name value and --name=value, the last one winning", () => {
    const o = parseCli([
      "--max-body=100",
      "--max-body",
      "200",
      "--head-timeout",
      "50",
      "--workers",
      "auto",
    ]);
    assert.equal(o.limits.maxBodyBytes, 200);
    assert.equal(o.timeouts.headMs, 50);
    assert.equal(o.workers, "auto");
  });

  it("takes boolean and list flags", () => {
    const o = parseCli(["--access-log", "--trust-proxy", "10.0.0.1, ::1", "--health", "/healthz"]);
    assert.equal(o.accessLog, true);
    assert.deepEqual(o.trustProxy, ["10.0.0.1", "::1"]);
    // IPv6 also in brackets, as --host takes it.
    assert.deepEqual(parseCli(["--trust-proxy", "[::1],[::ffff:10.0.0.1]"]).trustProxy, [
      "[::1]",
      "[::ffff:10.0.0.1]",
    ]);
    assert.deepEqual(parseCli(["--trust-proxy", "\t10.0.0.1 ,\t::1\t"]).trustProxy, [
      "10.0.0.1",
      "::1",
    ]);
    // Only spaces and tabs: U+00A0 and U+3000 are no part of an address, nor blanks around one.
    for (const list of ["\u00a010.0.0.1", "::1\u3000", "10.0.0.1,\ufeff::1"]) {
      assert.throws(
        () => parseCli(["--trust-proxy", list]),
        (err: unknown) =>
          err instanceof CliError && /^--trust-proxy takes IP addresses, not "/.test(err.message),
        JSON.stringify(list),
      );
    }
    const repeated = parseCli(["--trust-proxy", "10.0.0.1", "--trust-proxy=10.0.0.2,10.0.0.3"]);
    assert.deepEqual(repeated.trustProxy, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    assert.equal(o.health, "/healthz");
    assert.throws(() => parseCli(["--access-log=yes"]), /takes no value/);
  });

  it("serves dotfiles only with --static-dotfiles, which needs --static", () => {
    assert.equal(parseCli(["--static", "www"]).staticDotfiles, false);
    const o = parseCli(["--static-dotfiles", "--static", "www"]);
    assert.equal(o.staticDir, "www");
    assert.equal(o.staticDotfiles, true);
    assert.throws(
      () => parseCli(["--static-dotfiles"]),
      (err: unknown) =>
        err instanceof CliError && err.message === "--static-dotfiles needs --static DIR",
    );
    assert.throws(
      () => parseCli(["--static", "www", "--static-dotfiles=yes"]),
      /--static-dotfiles takes no value/,
    );
  });

  it("refuses bad flags with one clear line", () => {
    const cases: [string[], RegExp][] = [
      [["--nope"], /unknown option --nope/],
      [["--port"], /--port needs a value/],
      [["--port", "70000"], /between 0 and 65535/],
      [["--max-body", "-1"], /whole number/],
      [["--runtime", "java"], /node, deno or bun/],
      [["--health", "healthz"], /starting with/],
      [["--workers", "0"], /between 1 and 1024/],
      [["--trust-proxy", "10.0.0.1,proxy.local"], /IP addresses, not "proxy.local"/],
      [["--trust-proxy", "10.0.0.256"], /IP addresses, not "10.0.0.256"/],
      [["--trust-proxy", "[10.0.0.1]"], /IP addresses, not "\[10.0.0.1\]"/],
      [["--trust-proxy", "[::1"], /IP addresses, not "\[::1"/],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCli(argv),
        (err: unknown) => err instanceof CliError && message.test(err.message),
      );
    }
  });

  it("lists every flag with its default in --help", () => {
    const text = usage();
    for (
      const flag of [
        "--port",
        "--host",
        "--runtime",
        "--max-body",
        "--max-connections",
        "--max-inflight",
        "--keep-alive-timeout",
        "--head-timeout",
        "--body-timeout",
        "--handler-timeout",
        "--grace",
        "--workers",
        "--static",
        "--static-dotfiles",
        "--access-log",
        "--trust-proxy",
        "--health",
      ]
    ) {
      assert.ok(text.includes(flag), `${flag} missing from --help`);
    }
    assert.match(text, /--max-inflight N .*\(default unlimited\)\n/);
    assert.doesNotMatch(text, /Infinity/);
    assert.match(text, /\n {2}-v, --version +print the version\n/);
    assert.match(text, /\n {2}-h, --help +show this text$/);
  });
});

describe("trusted proxy addresses", () => {
  it("are written as sockets report peers, or refused", () => {
    const cases: [string, string | null][] = [
      ["192.0.2.1", "192.0.2.1"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["2001:DB8:0:0::1", "2001:db8::1"],
      ["::ffff:192.0.2.1", "192.0.2.1"],
      ["::ffff:c000:201", "192.0.2.1"],
      ["::", "::"],
      // RFC 3986's IPv6address, not what a URL parser takes: Bun's refused the first two and
      // took the last as `::`.
      ["::1:2:3:4:192.0.2.1", "::1:2:3:4:c000:201"],
      ["::0:0:0:0:192.0.2.1", "::c000:201"],
      ["1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:c000:201"],
      ["::192.0.2.01", null],
      ["1:2:3:4:5:6:7:192.0.2.1", null],
      ["192.0.2.1::", null],
      ["::0:0:0:0:0:0:", null],
      ["192.0.2.256", null],
      ["192.0.02.1", null],
      ["192.0.2", null],
      ["1::2::3", null],
      ["[::1]", null],
      ["fe80::1%eth0", null],
      ["proxy.local", null],
      ["", null],
    ];
    for (const [text, canonical] of cases) assert.equal(canonicalAddress(text), canonical, text);
  });

  it("are matched however they were written, and a server refuses what is no address", () => {
    const server = new HttpServer({
      handler: () => ({}),
      trustProxy: ["0:0:0:0:0:0:0:1", "[2001:DB8::1]", "[::ffff:192.0.2.1]"],
    });
    assert.deepEqual([...server.proxies.addresses], ["::1", "2001:db8::1", "192.0.2.1"]);
    assert.throws(
      () => new HttpServer({ handler: () => ({}), trustProxy: ["[192.0.2.1]"] }),
      /not an IP address: "\[192\.0\.2\.1\]"/,
    );
    assert.throws(
      () => new HttpServer({ handler: () => ({}), trustProxy: ["proxy.local"] }),
      /not an IP address: "proxy\.local"/,
    );
    // A number failed in the address parser ("text.startsWith is not a function"), a string
    // was read letter by letter.
    const given = (trustProxy: unknown) => () =>
      new HttpServer({ handler: () => ({}), trustProxy: trustProxy as string[] });
    assert.throws(given([123]), /^TypeError: trustProxy: not an IP address: 123$/);
    assert.throws(given([null]), /^TypeError: trustProxy: not an IP address: null$/);
    assert.throws(
      given("10.0.0.1"),
      /^TypeError: trustProxy must be an array of IP addresses, not a string$/,
    );
  });
});

describe("limits and timeouts given to the server", () => {
  it("are refused with a RangeError naming the first one out of range", () => {
    const handler = () => ({});
    const cases: [Partial<Limits>, Partial<Timeouts>, RegExp][] = [
      [{ maxHeaders: 0 }, {}, /limits\.maxHeaders must be a whole number from 1 to 10000, not 0/],
      [{ maxHeaders: 1e6 }, {}, /limits\.maxHeaders .* not 1000000/],
      [{ maxBodyBytes: -1 }, {}, /limits\.maxBodyBytes .* from 0 /],
      [{ maxPipelined: 1.5 }, {}, /limits\.maxPipelined .* not 1\.5/],
      [{ maxConnections: NaN }, {}, /limits\.maxConnections .* not NaN/],
      [{ maxRequestLine: 8 }, {}, /limits\.maxRequestLine .* from 16 /],
      [
        {},
        { keepAliveMs: 0 },
        /timeouts\.keepAliveMs must be whole ms from 1 to 2147483647, not 0/,
      ],
      [{}, { handlerMs: Infinity }, /timeouts\.handlerMs .* not Infinity/],
    ];
    for (const [limits, timeouts, message] of cases) {
      assert.throws(() => new HttpServer({ handler, limits, timeouts }), message);
      assert.throws(() => new HttpServer({ handler, limits, timeouts }), RangeError);
    }
    const ok = new HttpServer({ handler, limits: { maxInflight: Infinity, maxBodyBytes: 0 } });
    assert.equal(ok.limits.maxInflight, Infinity);
  });

  it("take the same ranges on the command line", () => {
    for (const key of Object.keys(limitRanges) as (keyof Limits)[]) {
      const [min, max] = limitRanges[key];
      const value = defaultLimits[key];
      assert.ok(min <= value && (value <= max || value === Infinity), key);
    }
    assert.throws(() => parseCli(["--max-headers", "10001"]), /between 1 and 10000/);
    assert.throws(() => parseCli(["--max-request-line", "15"]), /between 16 and 1048576/);
    assert.equal(parseCli(["--max-body", "0"]).limits.maxBodyBytes, 0);
  });
});

describe("versions", () => {
  it("package.json, deno.json and the banner agree", () => {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const deno = JSON.parse(readFileSync(join(dir, "deno.json"), "utf8"));
    assert.equal(pkg.version, VERSION);
    assert.equal(deno.version, VERSION);
  });
});
