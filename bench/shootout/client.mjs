// A raw-socket HTTP/1.1 client for the checks made before any server is timed:
// is it up, does it answer each route with the right bytes, and does it close
// the connection when asked to (else "a new connection per request" would not
// be one).
import { connect } from "node:net";

const HOST = "127.0.0.1";
const HELLO = '{"hello":"world"}';

/** The body of GET /64k: `0123456789abcdef` repeated to 64 KiB. */
export function bigBody() {
  return Buffer.from("0123456789abcdef".repeat(4096));
}

/** A deterministic body of `size` bytes for /echo. */
export function echoBody(size) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = 0x21 + ((i * 7) % 90);
  return b;
}

function parseHead(text) {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0].slice(0, 60))}`);
  const headers = new Map();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return { status: Number(m[1]), headers };
}

/** Decode a complete chunked body, or return null if `buf` does not hold all of it yet. */
function dechunk(buf) {
  const parts = [];
  let p = 0;
  for (;;) {
    const eol = buf.indexOf("\r\n", p);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(p, eol).toString("latin1").split(";")[0], 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size");
    p = eol + 2;
    if (size === 0) return buf.indexOf("\r\n\r\n", p - 2) >= 0 ? Buffer.concat(parts) : null;
    if (buf.length < p + size + 2) return null;
    parts.push(buf.subarray(p, p + size));
    p += size + 2;
  }
}

/**
 * Send one request on a new connection and read one response. With
 * `expectClose`, also wait (up to 2 s) for the server to close the connection
 * and report whether it did.
 */
export function exchange(port, { method = "GET", path = "/", headers = [], body = null } = {}, {
  timeoutMs = 5000,
  expectClose = false,
} = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, HOST);
    let buf = Buffer.alloc(0);
    let response = null;
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      if (response !== null && expectClose) finish(null, { ...response, closed: false });
      else finish(new Error(`no complete response to ${method} ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      const lines = [`${method} ${path} HTTP/1.1`, `Host: ${HOST}:${port}`, ...headers];
      if (body !== null) lines.push(`Content-Length: ${body.length}`);
      socket.write(lines.join("\r\n") + "\r\n\r\n");
      if (body !== null) socket.write(body);
    });
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (response !== null) return;
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      try {
        const head = parseHead(buf.subarray(0, end).toString("latin1"));
        const rest = buf.subarray(end + 4);
        let content = null;
        if (head.headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
          content = dechunk(rest);
        } else if (head.headers.has("content-length")) {
          const n = Number(head.headers.get("content-length"));
          if (rest.length >= n) content = rest.subarray(0, n);
        }
        if (content === null) return;
        response = { ...head, body: Buffer.from(content) };
        if (!expectClose) finish(null, response);
      } catch (e) {
        finish(e);
      }
    });
    socket.on("end", () => {
      if (response !== null) finish(null, { ...response, closed: true });
      else finish(new Error(`connection closed before a full response to ${method} ${path}`));
    });
    socket.on("error", (e) => {
      if (response !== null && expectClose) finish(null, { ...response, closed: true });
      else finish(e);
    });
  });
}

/**
 * Wait until `GET /` answers, or the process exits, or `timeoutMs` passes.
 * Throws with the reason.
 */
export async function waitReady(port, proc, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    if (proc.exited !== null) {
      throw new Error(`exited (${proc.exited.code ?? proc.exited.signal}) before answering`);
    }
    try {
      await exchange(port, {}, { timeoutMs: 2000 });
      return;
    } catch (e) {
      last = e.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no answer on port ${port} within ${timeoutMs / 1000} s (${last})`);
}

/**
 * Check each route a server claims. Returns { problems: {route: why}, honoursClose }.
 * A route with a problem is not timed.
 */
export async function smoke(port, routes) {
  const problems = {};
  const check = async (route, fn) => {
    try {
      const why = await fn();
      if (why) problems[route] = why;
    } catch (e) {
      problems[route] = e.message;
    }
  };
  let honoursClose = false;
  if (routes.includes("hello")) {
    await check("hello", async () => {
      const r = await exchange(port, { headers: ["Connection: close"] }, {
        expectClose: true,
        timeoutMs: 2500,
      });
      honoursClose = r.closed;
      if (r.status !== 200) return `GET / answered ${r.status}`;
      if (!(r.headers.get("content-type") ?? "").startsWith("application/json")) {
        return `GET / Content-Type is ${r.headers.get("content-type")}`;
      }
      if (r.body.toString() !== HELLO) return `GET / body is ${JSON.stringify(String(r.body))}`;
      return null;
    });
  }
  if (routes.includes("echo")) {
    await check("echo", async () => {
      const body = echoBody(4096);
      const r = await exchange(port, {
        method: "POST",
        path: "/echo",
        headers: ["Content-Type: application/octet-stream"],
        body,
      });
      if (r.status !== 200) return `POST /echo answered ${r.status}`;
      if (!r.body.equals(body)) return `POST /echo sent back ${r.body.length} other bytes`;
      return null;
    });
  }
  if (routes.includes("big")) {
    await check("big", async () => {
      const r = await exchange(port, { path: "/64k" });
      if (r.status !== 200) return `GET /64k answered ${r.status}`;
      if (!r.body.equals(bigBody())) return `GET /64k sent ${r.body.length} other bytes`;
      return null;
    });
  }
  return { problems, honoursClose };
}
