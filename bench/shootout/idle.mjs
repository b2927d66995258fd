#!/usr/bin/env node
// Holds N mostly-idle keep-alive connections to a server on 127.0.0.1 while
// the shoot-out's active load runs. Each connection sends `GET /` once when it
// opens, then once every INTERVAL ms (at a random phase), which keeps it under
// every server's idle timeout. A connection the server closes is reopened and
// counted.
//
//   node bench/shootout/idle.mjs PORT [N=950] [INTERVAL_MS=2000]
//
// Prints `ready {…}` once all N have had their first answer. On stdin:
// `mark` prints `mark {…}` (counters so far); `stop` (or end of input) prints
// `stats {…}` and exits. It exits by itself after 10 minutes.
import { connect } from "node:net";
import { createInterface } from "node:readline";

const [portArg, countArg = "950", intervalArg = "2000"] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const interval = Number(intervalArg);
if (!Number.isInteger(port) || !Number.isInteger(count) || !(interval > 0)) {
  console.error("usage: node bench/shootout/idle.mjs PORT [N] [INTERVAL_MS]");
  process.exit(2);
}

const HOST = "127.0.0.1";
const REQUEST = `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\n\r\n`;
const BATCH = 50;
const LIFETIME_MS = 10 * 60_000;

const stats = { open: 0, requests: 0, responses: 0, reopened: 0, errors: 0 };
let stopping = false;
let firstAnswers = 0;
const sockets = new Set();

/** One connection; `onFirst` runs at its first complete response. */
function open(onFirst) {
  const socket = connect(port, HOST);
  socket.setNoDelay(true);
  // Responses are counted by the blank line that ends each head; the bodies
  // sent for GET / hold no CR LF CR LF.
  let matched = 0;
  let first = true;
  let timer = null;
  const ping = () => {
    if (stopping || socket.destroyed) return;
    stats.requests++;
    socket.write(REQUEST);
  };
  socket.on("connect", () => {
    stats.open++;
    sockets.add(socket);
    ping();
  });
  socket.on("data", (d) => {
    for (const b of d) {
      if (b === 0x0d) matched = matched === 2 ? 3 : 1;
      else if (b === 0x0a && (matched === 1 || matched === 3)) {
        if (matched === 3) {
          matched = 0;
          stats.responses++;
          if (first) {
            first = false;
            onFirst?.();
            timer = setTimeout(function again() {
              ping();
              timer = setTimeout(again, interval);
            }, Math.random() * interval);
          }
        } else matched = 2;
      } else matched = 0;
    }
  });
  socket.on("error", () => stats.errors++);
  socket.on("close", () => {
    if (timer !== null) clearTimeout(timer);
    if (sockets.delete(socket)) stats.open--;
    if (!stopping) {
      stats.reopened++;
      setTimeout(() => open(null), 100);
    }
  });
}

function report(kind) {
  console.log(`${kind} ${JSON.stringify(stats)}`);
}

function finish() {
  if (stopping) return;
  stopping = true;
  report("stats");
  for (const s of sockets) s.destroy();
  setTimeout(() => process.exit(0), 50);
}

// Open in batches so the server's accept queue never overflows.
let opened = 0;
function openBatch() {
  const n = Math.min(BATCH, count - opened);
  let answered = 0;
  for (let i = 0; i < n; i++) {
    open(() => {
      firstAnswers++;
      if (++answered === n && opened < count) openBatch();
      if (firstAnswers === count) report("ready");
    });
  }
  opened += n;
}
openBatch();

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "mark") report("mark");
  else if (line.trim() === "stop") finish();
}).on("close", finish);
setTimeout(finish, LIFETIME_MS).unref();
process.on("SIGTERM", finish);
