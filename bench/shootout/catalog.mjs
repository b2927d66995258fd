// The shoot-out's servers and scenarios.
//
// A server is a command that listens on 127.0.0.1:PORT and answers some of the
// three routes (hello: GET /, echo: POST /echo, big: GET /64k). A scenario is
// one load (wrk, or ab or h2load) on one route. Scenarios a server cannot
// answer are "n/a".
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { OTHER_NODES } from "../../scripts/node-releases.mjs";
import { buildFasthttp, fasthttpBinary } from "./peers/fasthttp.mjs";

/**
 * Hono rows run the scenarios that exercise the request path (routing,
 * Request/Response objects, bodies); connection handling is the underlying
 * server's, measured in its own row.
 */
const HONO_SCENARIOS = ["keepalive", "echo", "big"];
const HONO_WHY = "request-path scenarios only (connections are the underlying server's)";
/** The shipped executable runs keep-alive only: a check that it performs as the library does. */
const MAIN_WHY = "keep-alive only (a check that the executable matches the library)";

/** Routes every full server answers. */
const ALL_ROUTES = ["hello", "echo", "big"];

/**
 * Families colour the charts: binks; the runtimes' own servers; Hono; native
 * references (uWS, nginx); the servers the seed's README compared binks with
 * (h2o, fasthttp, sanic's stack); the trivial responders (the floor).
 */
export const FAMILIES = {
  binks: { label: "binks", color: "#e8590c" },
  runtime: { label: "runtime's own server", color: "#1c7ed6" },
  hono: { label: "Hono", color: "#9c36b5" },
  native: { label: "native reference", color: "#343a40" },
  seed: { label: "the seed's peers", color: "#2b8a3e" },
  floor: { label: "trivial responder (floor)", color: "#adb5bd" },
  jsPeer: { label: "pure-JS parser on raw sockets", color: "#f59f00" },
};

/** Debian's Python: Debian's python3-* packages are built for it, not for a pyenv shim on PATH. */
const DEBIAN_PYTHON = "/usr/bin/python3";
/** The uvloop + httptools server, relative to the repository (the servers' working directory). */
const PY_SERVER = join("bench", "shootout", "peers", "uvloop_httptools.py");

/** Null when Debian's Python imports uvloop and httptools, else why not. */
function pythonCheck() {
  if (!existsSync(DEBIAN_PYTHON)) return `${DEBIAN_PYTHON} is missing`;
  const r = spawnSync(DEBIAN_PYTHON, ["-c", "import uvloop, httptools"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (r.status === 0) return null;
  const last = `${r.stderr ?? ""}`.trim().split("\n").slice(-1)[0];
  return `${DEBIAN_PYTHON} cannot import uvloop and httptools: ${last || `status ${r.status}`}`;
}

/**
 * Every server, in table order. `cmd(ctx, port)` gives [command, args]; `env`
 * adds to its environment. ctx: { root, node, deno, bun, nginx, h2o, … }.
 * `packages` are the Debian packages it needs (the runner installs missing
 * ones); `check(ctx)` returns null or why the server cannot run here;
 * `prepare(ctx)` (async) builds what it runs and resolves to null or why it
 * cannot. `scenarios` limits a server to some scenarios, and `scenariosWhy`
 * says why.
 */
export function servers() {
  const dist = (ctx, file) => join(ctx.root, "dist", "bench", "shootout", "servers", file);
  const src = (file) => join("bench", "shootout", "servers", file);
  const hostArgs = (port) => ["--port", String(port), "--host", "127.0.0.1"];
  const needDist = (file) => (ctx) =>
    existsSync(dist(ctx, file))
      ? null
      : `dist/bench/shootout/servers/${file} missing (npm run build)`;
  const onNode = (file) => (ctx, port) => [ctx.node, [dist(ctx, file), ...hostArgs(port)]];
  const onDeno = (file, env = true) => (ctx, port) => [
    ctx.deno,
    ["run", "--allow-net", ...(env ? ["--allow-env"] : []), src(file), ...hostArgs(port)],
  ];
  const onBun = (file) => (ctx, port) => [ctx.bun, ["run", src(file), ...hostArgs(port)]];
  const fetchApi = (ctx) => {
    const text = readFileSync(join(ctx.root, "serve.ts"), "utf8");
    return /\bfetch\?\s*:/.test(text) ? null : "serve({ fetch }) is not in serve.ts yet";
  };
  const both = (a, b) => (ctx) => a(ctx) ?? b(ctx);
  const mainNode = (ctx) =>
    existsSync(join(ctx.root, "dist", "main.js")) ? null : "dist/main.js missing (npm run build)";

  return [
    {
      id: "binks-node",
      label: "binks (Node)",
      runtime: "node",
      family: "binks",
      routes: ALL_ROUTES,
      check: needDist("binks-bench.js"),
      cmd: onNode("binks-bench.js"),
    },
    {
      id: "binks-deno",
      label: "binks (Deno)",
      runtime: "deno",
      family: "binks",
      routes: ALL_ROUTES,
      cmd: onDeno("binks-bench.ts"),
    },
    {
      id: "binks-bun",
      label: "binks (Bun)",
      runtime: "bun",
      family: "binks",
      routes: ALL_ROUTES,
      cmd: onBun("binks-bench.ts"),
    },
    {
      // The shipped executable (demo app), to show it performs as the library does.
      id: "binks-main-node",
      label: "binks main.js (Node)",
      runtime: "node",
      family: "binks",
      routes: ["hello", "echo"],
      scenarios: ["keepalive"],
      scenariosWhy: MAIN_WHY,
      check: mainNode,
      cmd: (ctx, port) => [ctx.node, [join(ctx.root, "dist", "main.js"), ...hostArgs(port)]],
    },
    {
      id: "binks-main-deno",
      label: "binks main.ts (Deno)",
      runtime: "deno",
      family: "binks",
      routes: ["hello", "echo"],
      scenarios: ["keepalive"],
      scenariosWhy: MAIN_WHY,
      cmd: (ctx, port) => [
        ctx.deno,
        ["run", "--allow-net", "--allow-env", "main.ts", ...hostArgs(port)],
      ],
    },
    {
      id: "binks-main-bun",
      label: "binks main.ts (Bun)",
      runtime: "bun",
      family: "binks",
      routes: ["hello", "echo"],
      scenarios: ["keepalive"],
      scenariosWhy: MAIN_WHY,
      cmd: (ctx, port) => [ctx.bun, ["run", "main.ts", ...hostArgs(port)]],
    },
    {
      id: "node-http",
      label: "node:http",
      runtime: "node",
      family: "runtime",
      routes: ALL_ROUTES,
      check: needDist("node-http.js"),
      cmd: onNode("node-http.js"),
    },
    {
      id: "deno-serve",
      label: "Deno.serve",
      runtime: "deno",
      family: "runtime",
      routes: ALL_ROUTES,
      cmd: onDeno("deno-serve.ts", false),
    },
    {
      id: "bun-serve",
      label: "Bun.serve",
      runtime: "bun",
      family: "runtime",
      routes: ALL_ROUTES,
      cmd: onBun("bun-serve.ts"),
    },
    {
      id: "hono-binks-node",
      scenarios: HONO_SCENARIOS,
      scenariosWhy: HONO_WHY,
      label: "Hono on binks (Node)",
      runtime: "node",
      family: "hono",
      routes: ALL_ROUTES,
      check: both(fetchApi, needDist("hono-binks.js")),
      cmd: onNode("hono-binks.js"),
    },
    {
      id: "hono-binks-deno",
      scenarios: HONO_SCENARIOS,
      scenariosWhy: HONO_WHY,
      label: "Hono on binks (Deno)",
      runtime: "deno",
      family: "hono",
      routes: ALL_ROUTES,
      check: fetchApi,
      cmd: onDeno("hono-binks.ts"),
    },
    {
      id: "hono-binks-bun",
      scenarios: HONO_SCENARIOS,
      scenariosWhy: HONO_WHY,
      label: "Hono on binks (Bun)",
      runtime: "bun",
      family: "hono",
      routes: ALL_ROUTES,
      check: fetchApi,
      cmd: onBun("hono-binks.ts"),
    },
    {
      id: "hono-node",
      scenarios: HONO_SCENARIOS,
      scenariosWhy: HONO_WHY,
      label: "Hono on node:http",
      runtime: "node",
      family: "hono",
      routes: ALL_ROUTES,
      check: needDist("hono-node.js"),
      cmd: onNode("hono-node.js"),
    },
    {
      id: "hono-deno",
      scenarios: HONO_SCENARIOS,
      scenariosWhy: HONO_WHY,
      label: "Hono on Deno.serve",
      runtime: "deno",
      family: "hono",
      routes: ALL_ROUTES,
      cmd: onDeno("hono-deno.ts", false),
    },
    {
      id: "hono-bun",
      scenarios: HONO_SCENARIOS,
      scenariosWhy: HONO_WHY,
      label: "Hono on Bun.serve",
      runtime: "bun",
      family: "hono",
      routes: ALL_ROUTES,
      cmd: onBun("hono-bun.ts"),
    },
    {
      id: "uws-node",
      label: "uWebSockets.js (Node)",
      runtime: "node",
      family: "native",
      routes: ALL_ROUTES,
      check: needDist("uws-node.js"),
      cmd: onNode("uws-node.js"),
    },
    {
      id: "nginx",
      label: "nginx (1 worker)",
      runtime: "native",
      family: "native",
      // Stock nginx cannot send a request body back.
      routes: ["hello", "big"],
      notes: { echo: "stock nginx cannot echo a body" },
      check: (ctx) => ctx.nginx === null ? ctx.nginxMissing : null,
      cmd: (ctx, port) => ctx.nginxCommand(port),
    },
    {
      // The seed's peers: what the original README's table compared binks with.
      id: "h2o-file",
      label: "h2o/file (1 thread)",
      runtime: "native",
      family: "seed",
      routes: ["hello", "big"],
      notes: { echo: "a static file cannot echo a body" },
      packages: ["h2o"],
      check: (ctx) => ctx.h2o === null ? "h2o is not installed" : null,
      cmd: (ctx, port) => ctx.h2oCommand(port, "file"),
    },
    {
      id: "h2o-mruby",
      label: "h2o/mruby (1 thread)",
      runtime: "native",
      family: "seed",
      routes: ALL_ROUTES,
      packages: ["h2o"],
      check: (ctx) =>
        ctx.h2o === null
          ? "h2o is not installed"
          : ctx.h2oMruby
          ? null
          : "this h2o is built without mruby (h2o --version)",
      cmd: (ctx, port) => ctx.h2oCommand(port, "mruby"),
    },
    {
      id: "fasthttp",
      label: "fasthttp (Go, 1 proc)",
      runtime: "native",
      family: "seed",
      routes: ALL_ROUTES,
      packages: ["golang-go", "golang-github-valyala-fasthttp-dev"],
      prepare: (ctx) => buildFasthttp(ctx.root),
      // One OS thread running Go code, as the other servers have one core.
      env: { GOMAXPROCS: "1" },
      cmd: (ctx, port) => [fasthttpBinary(ctx.root), hostArgs(port)],
    },
    {
      id: "uvloop-httptools",
      label: "uvloop + httptools (sanic's stack)",
      runtime: "native",
      family: "seed",
      routes: ALL_ROUTES,
      packages: ["python3-uvloop", "python3-httptools"],
      check: pythonCheck,
      cmd: (_ctx, port) => [DEBIAN_PYTHON, [PY_SERVER, ...hostArgs(port)]],
    },
    {
      id: "raw-node",
      label: "raw node:net",
      runtime: "node",
      family: "floor",
      routes: ["hello"],
      notes: { echo: "answers GET / only", big: "answers GET / only" },
      check: needDist("raw-node.js"),
      cmd: onNode("raw-node.js"),
    },
    {
      id: "raw-deno",
      label: "raw Deno.listen",
      runtime: "deno",
      family: "floor",
      routes: ["hello"],
      notes: { echo: "answers GET / only", big: "answers GET / only" },
      cmd: onDeno("raw-deno.ts", false),
    },
    {
      id: "raw-bun",
      label: "raw Bun.listen",
      runtime: "bun",
      family: "floor",
      routes: ["hello"],
      notes: { echo: "answers GET / only", big: "answers GET / only" },
      cmd: onBun("raw-bun.ts"),
    },
    {
      id: "raw-routes-node",
      label: "raw node:net (all routes)",
      runtime: "node",
      family: "floor",
      routes: ALL_ROUTES,
      check: needDist("raw-routes-node.js"),
      cmd: onNode("raw-routes-node.js"),
    },
    {
      id: "raw-routes-deno",
      label: "raw Deno.listen (all routes)",
      runtime: "deno",
      family: "floor",
      routes: ALL_ROUTES,
      cmd: onDeno("raw-routes-deno.ts", false),
    },
    {
      id: "raw-routes-bun",
      label: "raw Bun.listen (all routes)",
      runtime: "bun",
      family: "floor",
      routes: ALL_ROUTES,
      cmd: onBun("raw-routes-bun.ts"),
    },
    {
      // What a JavaScript HTTP parser costs on Bun.listen, binks aside (memory above all).
      id: "http-parser-js-bun",
      label: "http-parser-js on Bun.listen",
      runtime: "bun",
      family: "jsPeer",
      routes: ALL_ROUTES,
      optional: true,
      cmd: onBun("http-parser-js-bun.ts"),
    },
    ...OTHER_NODES.flatMap(({ name }) => otherNodeRows(name, dist, hostArgs, needDist, mainNode)),
  ];
}

/**
 * The Node rows again on a Node LTS release other than the machine's (`ctx.nodes[name]`, which
 * the runner installs as the suite does): what users run today. Only when asked for
 * (`--only binks-node24,node-http24,…`), since each release adds as many passes as Node's rows.
 */
function otherNodeRows(name, dist, hostArgs, needDist, mainNode) {
  const major = name.replace(/^node/, "");
  const on = (file) => (ctx, port) => [ctx.nodes[name], [dist(ctx, file), ...hostArgs(port)]];
  const row = (id, label, family, file, extra = {}) => ({
    id: `${id}${major}`,
    label: label.replace("Node", `Node ${major}`),
    runtime: name,
    family,
    routes: ALL_ROUTES,
    optional: true,
    check: needDist(file),
    cmd: on(file),
    ...extra,
  });
  const hono = { scenarios: HONO_SCENARIOS, scenariosWhy: HONO_WHY };
  return [
    row("binks-node", "binks (Node)", "binks", "binks-bench.js"),
    {
      ...row("binks-main-node", "binks main.js (Node)", "binks", "../../../main.js"),
      check: mainNode,
      routes: ["hello", "echo"],
      scenarios: ["keepalive"],
      scenariosWhy: MAIN_WHY,
    },
    row("node-http", "node:http (Node)", "runtime", "node-http.js"),
    row("hono-binks-node", "Hono on binks (Node)", "hono", "hono-binks.js", hono),
    row("hono-node", "Hono on node:http (Node)", "hono", "hono-node.js", hono),
    {
      ...row("raw-node", "raw node:net (Node)", "floor", "raw-node.js"),
      routes: ["hello"],
      notes: { echo: "answers GET / only", big: "answers GET / only" },
    },
    row("raw-routes-node", "raw node:net (Node, all routes)", "floor", "raw-routes-node.js"),
  ];
}

/** The servers `--quick` runs. */
export const QUICK_SERVERS = [
  "binks-node",
  "binks-deno",
  "binks-bun",
  "node-http",
  "deno-serve",
  "bun-serve",
];

/** The scenarios `--quick` runs. */
export const QUICK_SCENARIOS = ["keepalive", "pipelined"];

/** Concurrency of every scenario's active load. */
export const CONNECTIONS = 50;
/** Idle connections held open in the idle scenario. */
export const IDLE_CONNECTIONS = 950;
/** Requests per batch in the pipelined scenario. */
export const PIPELINE_DEPTH = 16;
/** The POST body size of the echo scenario. */
export const ECHO_SIZE = 4096;

/**
 * The scenarios, in table order. `wrk` lists the arguments after the common
 * ones (threads, connections, duration, --latency); `script` is a file in lua/.
 */
export const SCENARIOS = [
  {
    id: "keepalive",
    title: "Keep-alive",
    short: "keep-alive",
    description: `GET /, ${CONNECTIONS} keep-alive connections`,
    route: "hello",
    path: "/",
  },
  {
    id: "pipelined",
    title: `Pipelined ${PIPELINE_DEPTH} deep`,
    short: `pipelined ×${PIPELINE_DEPTH}`,
    description: `GET /, ${CONNECTIONS} connections, ${PIPELINE_DEPTH} requests per write`,
    route: "hello",
    path: "/",
    // wrk's coordinated-omission correction assumes one response per request
    // written; with batches it corrupts the histogram (p99 comes out as 0).
    latency: false,
    script: "pipeline.lua",
    scriptArgs: [String(PIPELINE_DEPTH)],
  },
  {
    id: "close",
    title: "New connection per request",
    short: "conn/request",
    description: `GET / with Connection: close, ${CONNECTIONS} at a time`,
    route: "hello",
    path: "/",
    headers: ["Connection: close"],
  },
  {
    id: "echo",
    title: "POST /echo, 4 KiB",
    short: "POST 4 KiB",
    description: `POST /echo with a ${ECHO_SIZE}-byte body, ${CONNECTIONS} keep-alive connections`,
    route: "echo",
    path: "/echo",
    script: "post.lua",
    scriptArgs: [String(ECHO_SIZE)],
  },
  {
    id: "big",
    title: "GET /64k",
    short: "64 KiB reply",
    description: `GET /64k (a 64 KiB body), ${CONNECTIONS} keep-alive connections`,
    route: "big",
    path: "/64k",
  },
  {
    id: "idle",
    title: "1,000 connections, 50 active",
    short: "1k conns",
    description:
      `GET /, ${CONNECTIONS} active connections while ${IDLE_CONNECTIONS} more sit idle (one request every 2 s each)`,
    route: "hello",
    path: "/",
    idle: IDLE_CONNECTIONS,
  },
];

/**
 * Load generators besides wrk, for second opinions on keep-alive: `binary` on
 * PATH, from Debian `package`. They stand in for the original table's weighttp
 * and vegeta, which Debian does not package.
 */
export const TOOLS = {
  wrk: { binary: "wrk", package: "wrk", label: "wrk" },
  ab: { binary: "ab", package: "apache2-utils", label: "ab -k" },
  h2load: { binary: "h2load", package: "nghttp2-client", label: "h2load --h1" },
};

/**
 * Scenarios run only when asked for (`--scenarios`, `--table original`): the
 * keep-alive load again, from other load generators.
 */
export const EXTRA_SCENARIOS = [
  {
    id: "ab-keepalive",
    title: "Keep-alive, ab -k",
    short: "ab -k",
    description:
      `GET /, ${CONNECTIONS} keep-alive connections, from ApacheBench (HTTP/1.0, Connection: Keep-Alive)`,
    route: "hello",
    path: "/",
    tool: "ab",
  },
  {
    id: "h2load-keepalive",
    title: "Keep-alive, h2load --h1",
    short: "h2load --h1",
    description: `GET /, ${CONNECTIONS} keep-alive connections, from h2load over HTTP/1.1`,
    route: "hello",
    path: "/",
    tool: "h2load",
  },
];

/** Every scenario id the command line accepts. */
export const ALL_SCENARIOS = [...SCENARIOS, ...EXTRA_SCENARIOS];

/**
 * `--table original`: the table the seed's README left full of `x`: binks on
 * each runtime against the seed's peers (and, for reference, each runtime's
 * own server), answering `GET /` on one core.
 */
export const ORIGINAL_SERVERS = [
  "binks-node",
  "binks-deno",
  "binks-bun",
  "node-http",
  "deno-serve",
  "bun-serve",
  "h2o-file",
  "h2o-mruby",
  "fasthttp",
  "uvloop-httptools",
];

/** The original table's scenarios: its two connection modes, pipelining, and the other tools. */
export const ORIGINAL_SCENARIOS = [
  "keepalive",
  "close",
  "pipelined",
  "ab-keepalive",
  "h2load-keepalive",
];

/** `--table original --quick`: binks and the peers, wrk only. */
export const ORIGINAL_QUICK_SERVERS = [
  "binks-node",
  "binks-deno",
  "binks-bun",
  "h2o-file",
  "h2o-mruby",
  "fasthttp",
  "uvloop-httptools",
];
export const ORIGINAL_QUICK_SCENARIOS = ["keepalive", "close"];
