// The peer of the differential test: a node:http server (llhttp) with the
// demo app's /inspect and /echo contract. Always run by the system `node`
// binary, never by Deno or Bun, whose node:http is their own parser.
//
//   node test/difftest/peer.mjs        prints "peer listening on http://127.0.0.1:PORT (...)"
//
// Besides answering on the wire, it prints one JSON line per event, keyed by
// the client's port: each request it parsed (with its body, once read), each
// parse error (llhttp's code) and each close. The wire alone would not do:
// node answers a parse error at once, dropping responses still queued for
// earlier pipelined requests.
import http from "node:http";
import process from "node:process";

const HELLO = '{"hello":"world"}';

function log(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

/** The status node:http itself would answer a parse error with. */
function errorStatus(code) {
  if (code === "HPE_HEADER_OVERFLOW") return 431;
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return 413;
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  return 400;
}

/**
 * The path of a target: up to `?`; in absolute-form (which RFC 9112 §3.2.2 has
 * servers accept) the part after `scheme://authority`, `/` when that is empty.
 */
function pathOf(url) {
  const q = url.indexOf("?");
  const beforeQuery = q < 0 ? url : url.slice(0, q);
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(beforeQuery);
  if (scheme === null) return beforeQuery;
  const slash = beforeQuery.indexOf("/", scheme[0].length);
  return slash < 0 ? "/" : beforeQuery.slice(slash);
}

function route(req) {
  // `OPTIONS *` asks about the server as a whole: binks's router answers 204 with Allow.
  if (req.url === "*") return 204;
  const path = pathOf(req.url);
  if (path === "/inspect" || path === "/echo") return path;
  if (path === "/") return req.method === "GET" || req.method === "HEAD" ? "/" : 405;
  return 404;
}

// Node answers two request errors itself, outside the "request" event: an
// unmet Expect (417, and it reads on) and, with requireHostHeader, an HTTP/1.1
// request without Host (400 with Connection: close, but its parser reads on
// and runs pipelined requests behind it). The first is logged from
// "checkExpectation"; the second is done here, in the handler, as a refusal
// that closes, so that its trace says what node means.
const server = http.createServer({ requireHostHeader: false });

/** Requests of each socket not yet logged, oldest first. */
const pending = new WeakMap();

function logRequest(entry) {
  if (entry.logged) return;
  entry.logged = true;
  const { req, res, chunks, target } = entry;
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.push([req.rawHeaders[i].toLowerCase(), req.rawHeaders[i + 1]]);
  }
  log({
    conn: entry.conn,
    kind: "req",
    status: typeof target === "number" ? target : 200,
    close: !res.shouldKeepAlive,
    method: req.method,
    url: req.url,
    version: req.httpVersion,
    headers,
    body: new TextDecoder().decode(Buffer.concat(chunks)),
  });
  return headers;
}

/**
 * Log the requests of `socket` that node parsed completely but whose "end"
 * has not come yet: a parse error later in the same read destroys the socket
 * before it would.
 */
function flush(socket) {
  for (const entry of pending.get(socket) ?? []) {
    if (entry.logged) continue;
    while (entry.req.read() !== null);
    if (entry.req.complete) logRequest(entry);
  }
}

server.on("request", (req, res) => {
  const conn = req.socket.remotePort;
  if (req.httpVersion === "1.1" && req.headers.host === undefined) {
    log({ conn, kind: "err", status: 400, code: "no Host (node's requireHostHeader)" });
    res.writeHead(400, { Connection: "close" }).end();
    req.socket.destroySoon();
    return;
  }
  const entry = { conn, req, res, chunks: [], target: route(req), logged: false };
  const list = pending.get(req.socket) ?? [];
  list.push(entry);
  pending.set(req.socket, list);
  req.on("data", (c) => entry.chunks.push(c));
  req.on("error", () => {});
  req.on("end", () => {
    const headers = logRequest(entry) ?? [];
    const body = Buffer.concat(entry.chunks);
    const target = entry.target;
    let type = "text/plain";
    let out = Buffer.from(`${target}\n`);
    if (target === "/inspect") {
      type = "application/json";
      out = Buffer.from(
        JSON.stringify({
          method: req.method,
          url: req.url,
          version: req.httpVersion,
          headers,
          body: new TextDecoder().decode(body),
        }),
      );
    } else if (target === "/echo") {
      type = req.headers["content-type"] ?? "application/octet-stream";
      out = body;
    } else if (target === "/") {
      type = "application/json";
      out = Buffer.from(HELLO);
    }
    if (target === 204) {
      res.writeHead(204).end();
      return;
    }
    // An explicit length: without one node closes HTTP/1.0 keep-alive connections.
    res.writeHead(typeof target === "number" ? target : 200, {
      "Content-Type": type,
      "Content-Length": out.length,
    });
    res.end(out);
  });
});

server.on("checkExpectation", (req, res) => {
  flush(req.socket);
  log({ conn: req.socket.remotePort, kind: "err", status: 417, code: "Expect (node answers 417)" });
  res.writeHead(417).end();
});

server.on("connection", (socket) => {
  const conn = socket.remotePort;
  log({ conn, kind: "open" });
  socket.on("close", () => log({ conn, kind: "close" }));
});

// As node's own handler does, plus the llhttp error code in the log.
server.on("clientError", (err, socket) => {
  const status = errorStatus(err.code);
  flush(socket);
  log({ conn: socket.remotePort, kind: "err", status, code: err.code ?? String(err) });
  if (socket.writable && (!socket._httpMessage || !socket._httpMessage._headerSent)) {
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Length: 0\r\nX-Peer-Error: ${err.code}\r\n\r\n`,
    );
  }
  socket.destroy();
});

// CONNECT and Upgrade requests with no listener: node closes the socket; say so.
server.on("connect", (_req, socket) => {
  flush(socket);
  log({ conn: socket.remotePort, kind: "err", status: 0, code: "CONNECT (not served)" });
  socket.destroy();
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(
    `peer listening on http://127.0.0.1:${port} ` +
      `(node ${process.version}, llhttp ${process.versions.llhttp})`,
  );
});

process.on("SIGTERM", () => process.exit(0));
