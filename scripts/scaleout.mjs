#!/usr/bin/env node
// Scale-out is nginx's job: three binks instances (Node, Deno, Bun) behind one
// nginx upstream. Load goes through nginx; mid-run one instance gets SIGTERM
// (it drains), then is started again. Every client request must succeed.
//
//   npm run scaleout -- [--seconds 15] [--connections 20]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The compiled test helper (npm run scaleout builds first).
import { writeProxyConfig } from "../dist/test/nginx-proxy.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`scaleout: ${name} takes a positive whole number`);
    process.exit(2);
  }
  return v;
}
for (const a of process.argv.slice(2)) {
  if (a.startsWith("--") && !["--seconds", "--connections"].includes(a)) {
    console.error(`scaleout: unknown option ${a}`);
    process.exit(2);
  }
}
const SECONDS = flag("--seconds", 15);
const CONNECTIONS = flag("--connections", 20);

const log = (line) =>
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);
const t0 = Date.now();

function nginxPath() {
  const found = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
  if (found) return found;
  log("installing nginx (apt-get)");
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  spawnSync("apt-get", ["install", "-y", "-qq", "nginx-light"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  spawnSync("sh", ["-c", "service nginx stop >/dev/null 2>&1 || true"]);
  return ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const INSTANCES = [
  { name: "node", cmd: process.execPath, args: [join(root, "dist", "main.js")] },
  {
    name: "deno",
    cmd: bin("deno"),
    args: ["run", "--allow-net", "--allow-env", join(root, "main.ts")],
  },
  { name: "bun", cmd: bin("bun"), args: ["run", join(root, "main.ts")] },
];

function start(instance) {
  return new Promise((resolve, reject) => {
    const child = spawn(instance.cmd, [
      ...instance.args,
      "--port",
      String(instance.port),
      "--host",
      "127.0.0.1",
      "--grace",
      "5000",
      "--health",
      "/healthz",
    ], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (out.includes("listening on")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`${instance.name} exited with ${code}`)));
  });
}

/** One keep-alive client connection sending GET / until told to stop. */
function client(port, stats, until) {
  return new Promise((resolve) => {
    let socket = null;
    let buffered = "";
    const open = () => {
      socket = connect({ port, host: "127.0.0.1" });
      socket.setEncoding("latin1");
      socket.on("connect", send);
      socket.on("data", (d) => {
        buffered += d;
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + len) return;
        const status = Number(buffered.slice(9, 12));
        // nginx closes a client connection after keepalive_requests; that is no failure.
        const closing = /\r\nconnection: close\r\n/i.test(buffered.slice(0, end + 2));
        buffered = buffered.slice(end + 4 + len);
        if (status === 200) stats.ok++;
        else {
          stats.failed++;
          stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
        }
        if (closing) {
          inFlight = false;
          socket.end();
        } else send();
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        if (inFlight) {
          stats.failed++;
          stats.statuses.reset = (stats.statuses.reset ?? 0) + 1;
        }
        inFlight = false;
        if (Date.now() < until) setTimeout(open, 5);
        else resolve();
      });
    };
    let inFlight = false;
    const send = () => {
      if (Date.now() >= until) {
        inFlight = false;
        socket.end();
        return;
      }
      inFlight = true;
      socket.write("GET / HTTP/1.1\r\nHost: scaleout\r\n\r\n");
    };
    open();
  });
}

async function main() {
  const nginx = nginxPath();
  if (!nginx) {
    console.error("scaleout: nginx is not installed and could not be installed");
    process.exit(1);
  }
  for (const i of INSTANCES) i.port = await freePort();
  const nginxPort = await freePort();
  const dir = writeProxyConfig({
    port: nginxPort,
    upstreams: INSTANCES.map((i) => `127.0.0.1:${i.port} max_fails=1 fail_timeout=2s`),
    keepalive: 32,
    workerConnections: 1024,
    location: [
      "# A draining instance closes idle connections and answers 503 to health checks:",
      "# idempotent requests move on to the next instance.",
      "proxy_next_upstream error timeout http_502 http_503;",
      "proxy_next_upstream_tries 3;",
    ],
  });
  const children = new Map();
  const proxy = spawn(nginx, ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "inherit" });
  const cleanup = () => {
    proxy.kill("SIGTERM");
    for (const c of children.values()) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    for (const i of INSTANCES) {
      children.set(i.name, await start(i));
      log(`${i.name} instance up on port ${i.port}`);
    }
    log(`nginx on port ${nginxPort}; ${CONNECTIONS} keep-alive clients for ${SECONDS} s`);
    const stats = { ok: 0, failed: 0, statuses: {} };
    const until = Date.now() + SECONDS * 1000;
    const load = Promise.all(
      Array.from({ length: CONNECTIONS }, () => client(nginxPort, stats, until)),
    );

    await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 3));
    const victim = INSTANCES[0];
    log(
      `SIGTERM to the ${victim.name} instance (requests so far: ${stats.ok} ok, ${stats.failed} failed)`,
    );
    const child = children.get(victim.name);
    const code = await new Promise((resolve) => {
      child.once("exit", (c) => resolve(c));
      child.kill("SIGTERM");
    });
    log(`${victim.name} instance drained and exited with ${code}`);
    await new Promise((r) => setTimeout(r, 1000));
    children.set(victim.name, await start(victim));
    log(`${victim.name} instance restarted`);

    await load;
    log(`done: ${stats.ok} requests ok, ${stats.failed} failed ${JSON.stringify(stats.statuses)}`);
    console.log(
      `${stats.failed === 0 ? "PASS" : "FAIL"}: ${stats.failed} failed client requests out of ${
        stats.ok + stats.failed
      }`,
    );
    process.exitCode = stats.failed === 0 && code === 0 ? 0 : 1;
  } finally {
    cleanup();
  }
}

await main();
