/**
 * Fetch-handler parity: the same handlers served by binks (`serve({ fetch })`) and, on Deno and
 * Bun, by the runtime's own server (`Deno.serve`, `Bun.serve`), the same raw request bytes sent
 * to each over 127.0.0.1, and the answers compared: status, header fields (Date, Server and
 * keep-alive bookkeeping left out), body bytes, and whether the answer ended whole. binks must
 * give `binks`; the runtime's server must give the same, unless the case names a deliberate
 * difference for it (the RFC or the Fetch standard says binks is right: see each `why`). On Node
 * only binks is run, against the same expected answers.
 *
 * PARITY_ONLY=text runs the cases whose name holds it; PARITY_PROBE=file writes what each server
 * answered to the file as JSON, and checks nothing (to look at a new case on each runtime).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { serve, type Server } from "../serve.ts";
import { detectRuntime } from "../adapters/detect.ts";
import { concat } from "./client.ts";

type FetchFn = (request: Request) => Response | Promise<Response>;

/** The runtime's own server, stopped by `stop`. */
interface NativeServer {
  port: number;
  stop(): Promise<void>;
}

interface DenoServe {
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: FetchFn,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

interface BunServe {
  serve(options: {
    port: number;
    hostname: string;
    fetch: FetchFn;
    development?: boolean;
    error?: () => Response;
  }): { port: number; stop(force?: boolean): Promise<void> | void };
}

const runtime = detectRuntime();
/** Node 24's Blob streams are not ready at once (as Deno's), and its FormData's body is. */
const NODE_24 = runtime === "node" &&
  Number(globalThis.process?.versions?.node?.split(".")[0] ?? 0) >= 24;

/**
 * Deno.serve aborts a request's signal once its answer went out, by default (its "legacy abort",
 * which it warns of): the Fetch standard aborts it only for a request given up.
 */
const DENO_LEGACY_ABORT = "200; after its answer aborted: true; left: before false, then aborted";

function startNative(fetch: FetchFn): NativeServer | null {
  const g = globalThis as { Deno?: DenoServe; Bun?: BunServe };
  if (runtime === "deno" && g.Deno !== undefined) {
    const s = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, fetch);
    return { port: s.addr.port, stop: () => s.shutdown() };
  }
  if (runtime === "bun" && g.Bun !== undefined) {
    // Bun.serve's own answer to a handler's failure (checked outside `bun test`, which fails a
    // test for the error Bun.serve logs without a handler of its own).
    const error = () =>
      new Response("Something went wrong!", {
        status: 500,
        headers: { "content-type": "text/plain" },
      });
    const s = g.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch, development: false, error });
    return { port: s.port, stop: async () => void await s.stop(true) };
  }
  return null;
}

/** Fields each server adds of its own accord, not the handler's answer. */
const OWN_FIELDS = new Set(["server", "keep-alive"]);
/** The only Date a handler gives here: any other is the server's own clock. */
const GIVEN_DATE = "Thu, 01 Jan 1970 00:00:00 GMT";

/**
 * One answer as text: `status`, then each field `name: value` (names lower-cased, in order),
 * a blank line, the body (latin1), and `[cut]` if the connection ended before the body did.
 */
async function exchange(port: number, raw: string, head: boolean, ms = 1500): Promise<string> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  const chunks: Uint8Array[] = [];
  let ended = false;
  let wake = () => {};
  socket.on("data", (d: Uint8Array) => {
    chunks.push(new Uint8Array(d));
    wake();
  });
  const done = () => {
    ended = true;
    wake();
  };
  socket.on("end", done);
  socket.on("close", done);
  socket.on("error", done);
  // `{wait}` in a request: what follows comes a moment later, as from a client that waits;
  // `{100}`: once a 100 (Continue) came, or after as long as curl waits for one.
  const pieces = raw.split(/(\{wait\}|\{100\})/);
  socket.write(bytesOf(pieces[0]!));
  void (async () => {
    for (let i = 1; i < pieces.length; i += 2) {
      if (pieces[i] === "{wait}") await new Promise((r) => setTimeout(r, 30));
      else {
        for (let t = 0; t < 100 && !latin1(concat(chunks)).startsWith("HTTP/1.1 100 "); t++) {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      if (!ended) socket.write(bytesOf(pieces[i + 1]!));
    }
  })();
  const deadline = Date.now() + ms;
  try {
    for (;;) {
      const shown = render(concat(chunks), head, ended);
      // The port a URL made up without a Host names differs from run to run.
      if (shown !== null) return withoutBoundary(shown).replaceAll(`:${port}/`, ":{port}/");
      const left = deadline - Date.now();
      if (left <= 0) return `${withoutBoundary(render(concat(chunks), head, true)!)}[no end]`;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    socket.destroy();
  }
}

/** `shown` with its multipart boundary, made up anew for each answer, written {boundary}. */
function withoutBoundary(shown: string): string {
  const boundary = /^content-type: multipart\/[^\n]*boundary=([^;\s]+)/m.exec(shown)?.[1];
  return boundary === undefined ? shown : shown.replaceAll(boundary, "{boundary}");
}

/** One character per byte (TextDecoder's "latin1" is windows-1252, and not on every runtime). */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/** One byte per character: a request is written as the bytes its text spells. */
function bytesOf(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The answer in `bytes` as {@link exchange} shows it, or null while it is not all there. */
function render(bytes: Uint8Array, head: boolean, ended: boolean): string | null {
  let all = latin1(bytes);
  // Interim answers (100 Continue) are shown as they came, ahead of the final one.
  let interim = "";
  for (let m = /^HTTP\/1\.1 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n/.exec(all); m !== null;) {
    if (all.startsWith("HTTP/1.1 101")) break; // a switch: what follows is no HTTP
    interim += `${m[0].slice("HTTP/1.1 ".length, "HTTP/1.1 100".length)}\n`;
    all = all.slice(m[0].length);
    m = /^HTTP\/1\.1 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n/.exec(all);
  }
  const end = all.indexOf("\r\n\r\n");
  if (end < 0) return ended ? `${interim}[cut before head] ${all}` : null;
  const lines = all.slice(0, end).split("\r\n");
  // The code alone: a reason phrase says nothing a client may act on (RFC 9112 §4).
  const status = lines[0]!.slice("HTTP/1.1 ".length, "HTTP/1.1 200".length);
  const fields: [string, string][] = lines.slice(1).map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
  });
  const shownFields = fields.filter(([n, v]) =>
    !OWN_FIELDS.has(n) && !(n === "connection" && v.toLowerCase() === "keep-alive") &&
    !(n === "date" && v !== GIVEN_DATE)
  );
  // Fields of different names in another order mean the same (RFC 9110 §5.3): sorted by name,
  // each name's fields kept in the order sent.
  shownFields.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const top = `${interim}${status}\n${shownFields.map(([n, v]) => `${n}: ${v}\n`).join("")}\n`;
  const get = (name: string) => fields.find(([n]) => n === name)?.[1];
  const rest = all.slice(end + 4);
  const code = Number(status.slice(0, 3));
  if (head || code < 200 || code === 204 || code === 304) {
    return `${top}${rest === "" ? "" : `[after head] ${rest}`}`;
  }
  if (get("transfer-encoding")?.toLowerCase() === "chunked") {
    const body = dechunked(rest);
    if (body.complete) return top + body.text;
    return ended ? `${top}${body.text}[cut]` : null;
  }
  const length = get("content-length");
  if (length !== undefined) {
    const n = Number(length);
    if (rest.length >= n) return top + rest.slice(0, n) + (rest.length > n ? "[extra]" : "");
    return ended ? `${top}${rest}[cut]` : null;
  }
  return ended ? top + rest : null;
}

function dechunked(text: string): { text: string; complete: boolean } {
  let out = "";
  let p = 0;
  for (;;) {
    const line = text.indexOf("\r\n", p);
    if (line < 0) return { text: out, complete: false };
    const sizeLine = text.slice(p, line);
    const size = parseInt(sizeLine, 16);
    if (!/^[0-9a-f]+$/i.test(sizeLine)) {
      return { text: `${out}[bad chunk size] ${text.slice(p)}`, complete: true };
    }
    p = line + 2;
    if (size === 0) return { text: out, complete: text.startsWith("\r\n", p) };
    if (p + size + 2 > text.length) return { text: out + text.slice(p), complete: false };
    out += text.slice(p, p + size);
    p += size + 2;
  }
}

/** Why binks's answer stands where the runtime's own server gives another. */
const WHY = {
  errorPage: "a handler's failure is a 500 on every server, each with its own page",
  targetHost:
    "RFC 9112 §3.2.2: an absolute-form target's authority is the host, its Host field ignored",
  serializedUrl:
    "Fetch: request.url is the URL serialized (host lower-cased, default port dropped, path " +
    "percent-encoded); Deno passes the target on as sent",
  gathered:
    "binks gathers a body ready at once before its head goes out: it fails as a 500, and goes " +
    "with a Content-Length (to HEAD too), where the runtime had streamed it",
  ownFraming:
    "binks frames what it sends itself (RFC 9112 §6.1, §6.3): a handler's Content-Length or " +
    "Transfer-Encoding that a stream could belie is dropped",
  headFraming:
    "RFC 9110 §9.3.2: a HEAD answer has the fields a GET would have, framing included; Deno " +
    "sends none, Bun.serve leaves off the Content-Type",
  notResponse: "not a Response: a 500 (Bun.serve answers 204 as if all went well)",
  noType: "Fetch gives bytes and an untyped Blob no Content-Type (RFC 9110 §8.3 lets it be left " +
    "out); Bun.serve makes one up",
  runtimeClass: "the runtime's own Blob, FormData or Response made these bytes, types and framing",
  emptyHead:
    "to HEAD binks passes on a handler's Content-Length only with no body at all (the README's " +
    "rule, and the fetch model's); an empty body is sent as the GET's, with its length",
  usedCopy: "Fetch: a Request whose body was read cannot be copied (a TypeError); Bun.serve's " +
    "own requests can be",
  sharedCopy: "Bun's Request: a copy made with new Request(request) shares the body, which " +
    "reading the original takes from it (Fetch leaves the original unusable); Bun.serve's " +
    "copies have their own",
  lockedUsed: "Bun's Request is bodyUsed once its stream is locked; Fetch's once it is read from",
  noByob: "Deno's and Bun's request bodies are no byte streams, and refuse a BYOB reader (Fetch " +
    "makes them byte streams; binks's Request on Node has one)",
  byobPieces: "Fetch makes a request's body a byte stream, also while it arrives; Bun.serve's " +
    "is none then, and refuses a BYOB reader",
  chunkType:
    "Fetch: a chunk that is no Uint8Array is a TypeError; the runtimes cut the answer or send it",
} as const;

/** The 500 each runtime's server answers a failed handler with: its own page. */
const DENO_500 = "500\ncontent-length: 21\n\nInternal Server Error";
const BUN_500 = "500\ncontent-length: 21\ncontent-type: text/plain\n\nSomething went wrong!";
const ERROR_PAGES = { deno: DENO_500, bun: BUN_500, why: WHY.errorPage };

/** One case: a request, the handler's answer to it, and what comes back. */
interface Case {
  name: string;
  /** The raw request; `Host: h` is added after the request line unless it has a Host. */
  raw: string;
  handler: FetchFn;
  /** What binks answers, as {@link exchange} shows it. */
  binks: string;
  /** Where binks answers otherwise on a runtime, for what that runtime's own classes make. */
  binksOn?: { deno?: string; bun?: string; node24?: string; why: string };
  /** Where the runtime's server answers otherwise, by runtime, and why binks keeps its answer. */
  native?: { deno?: string; bun?: string; why: string };
  head?: boolean;
}

const enc = new TextEncoder();
/** A bytes body past the 16 KiB that ReadyResponse copies everywhere. */
const LARGE = 20_000;

/** What the handler saw of its request, as JSON. */
async function seen(request: Request, body?: (r: Request) => unknown): Promise<Response> {
  const headers: string[] = [];
  request.headers.forEach((v, n) => headers.push(`${n}=${v}`));
  return new Response(JSON.stringify({
    method: request.method,
    url: request.url,
    headers,
    cookie: request.headers.get("cookie"),
    body: body === undefined ? null : await body(request),
    aborted: request.signal.aborted,
  }));
}

/** A handler that reads the body through a BYOB reader, `size` bytes at a time. */
function byobReading(size: number): FetchFn {
  return (r) =>
    seen(r, async (q) => {
      const reader = q.body!.getReader({ mode: "byob" });
      const parts: number[] = [];
      for (;;) {
        const step = await reader.read(new Uint8Array(size));
        if (step.done) break;
        parts.push(...step.value);
      }
      return [parts, q.bodyUsed];
    });
}

/** "made" if `make` returns, else the name of what it threw. */
function attempt(make: () => unknown): string {
  try {
    make();
    return "made";
  } catch (error) {
    return (error as Error).name;
  }
}

function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: h.test\r\n${extra}\r\n`;
}

function post(path: string, type: string, body: string, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: h.test\r\nContent-Type: ${type}\r\n` +
    `Content-Length: ${body.length}\r\n${extra}\r\n${body}`;
}

/** A chunked body of `pieces`, each a moment after the one before. */
function chunked(...pieces: string[]): string {
  return pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n{wait}`).join("") + "0\r\n\r\n";
}

/** A stream of the given chunks as they are. */
function stream2(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

function stream(...steps: (string | Error)[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const step = steps[i++];
      if (step === undefined) controller.close();
      else if (step instanceof Error) controller.error(step);
      else controller.enqueue(enc.encode(step));
    },
  });
}

/** A stream whose pieces come a timer apart, so that it is streamed, not gathered. */
function slowStream(...pieces: string[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 2));
      const piece = pieces[i++];
      if (piece === undefined) controller.close();
      else controller.enqueue(enc.encode(piece));
    },
  });
}

const cases: Case[] = [
  {
    name: "origin-form URL, method, fields in order, duplicates combined",
    raw: "GET {pp}/b?c=1&d HTTP/1.1\r\nHost: h.test:8080\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 147\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test:8080{pp}/b?c=1&d","headers":["host=h.test:8080","x-a=2","x-b=1, 3"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "absolute-form URL and Host",
    raw: "GET http://t.test:9{pp}?q HTTP/1.1\r\nHost: other.test\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 116\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://t.test:9{pp}?q","headers":["host=t.test:9"],"cookie":null,"body":null,"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 118\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://t.test:9{pp}?q","headers":["host=other.test"],"cookie":null,"body":null,"aborted":false}',
      bun:
        '200\ncontent-length: 120\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://other.test{pp}?q","headers":["host=other.test"],"cookie":null,"body":null,"aborted":false}',
      why: WHY.targetHost,
    },
  },
  {
    name: "upper-case Host, trailing dot",
    raw: "GET {pp} HTTP/1.1\r\nHost: WWW.Ex.TEST.:80\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 125\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://www.ex.test.{pp}","headers":["host=WWW.Ex.TEST.:80"],"cookie":null,"body":null,"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 128\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://WWW.Ex.TEST.:80{pp}","headers":["host=WWW.Ex.TEST.:80"],"cookie":null,"body":null,"aborted":false}',
      why: WHY.serializedUrl,
    },
  },
  {
    name: "IPv6 Host",
    raw: "GET {pp} HTTP/1.1\r\nHost: [::1]:45001\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 120\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://[::1]:45001{pp}","headers":["host=[::1]:45001"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "no Host field (HTTP/1.0)",
    raw: "GET {pp} HTTP/1.0\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\nconnection: close\ncontent-length: 100\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://localhost{pp}","headers":[],"cookie":null,"body":null,"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 106\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://localhost:{port}{pp}","headers":[],"cookie":null,"body":null,"aborted":false}',
      bun: BUN_500,
      why:
        "RFC 9112 §3.3: with no Host the authority is the server's default name; Deno adds its " +
        "port, Bun's url is the bare path (new URL(request.url) throws: a 500 here)",
    },
  },
  {
    name: "DELETE, PATCH method names",
    raw: "PATCH {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 131\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"PATCH","url":"http://h.test{pp}","headers":["content-length=0","host=h.test"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "extension method",
    raw: "PURGE {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 112\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"PURGE","url":"http://h.test{pp}","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "two Cookie fields",
    raw: get("{pp}", "Cookie: a=1\r\nCookie: b=2\r\n"),
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 134\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}","headers":["cookie=a=1; b=2","host=h.test"],"cookie":"a=1; b=2","body":null,"aborted":false}',
  },
  {
    name: "obs-text in a request field",
    raw: get("{pp}", "X-U: caf\xc3\xa9 \xff\r\n"),
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 127\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}","headers":["host=h.test","x-u=cafÃÂ© Ã¿"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "body as text",
    raw: post("{pp}", "text/plain", "h\xc3\xa9llo"),
    handler: (r) => seen(r, (q) => q.text()),
    binks:
      '200\ncontent-length: 160\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=6","content-type=text/plain","host=h.test"],"cookie":null,"body":"hÃ©llo","aborted":false}',
  },
  {
    name: "chunked body as arrayBuffer",
    raw:
      "POST {pp} HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    handler: (r) => seen(r, async (q) => [...new Uint8Array(await q.arrayBuffer())]),
    binks:
      '200\ncontent-length: 153\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["host=h.test","transfer-encoding=chunked"],"cookie":null,"body":[97,98,99,100,101],"aborted":false}',
  },
  {
    name: "urlencoded formData",
    raw: post("{pp}", "application/x-www-form-urlencoded", "a=1&b=%C3%A9&a=2+3&c=\xc3\xa9"),
    handler: (r) => seen(r, async (q) => [...(await q.formData()).entries()]),
    binks:
      '200\ncontent-length: 221\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=23","content-type=application/x-www-form-urlencoded","host=h.test"],"cookie":null,"body":[["a","1"],["b","Ã©"],["a","2 3"],["c","Ã©"]],"aborted":false}',
  },
  {
    name: "multipart formData",
    raw: post(
      "{pp}",
      "multipart/form-data; boundary=XyZ",
      '--XyZ\r\nContent-Disposition: form-data; name="f"\r\n\r\nv1\r\n' +
        '--XyZ\r\nContent-Disposition: form-data; name="g"; filename="a.txt"\r\n' +
        "Content-Type: text/plain\r\n\r\nfile\r\n--XyZ--\r\n",
    ),
    handler: (r) =>
      seen(r, async (q) => {
        const out: string[] = [];
        for (const [k, v] of (await q.formData()).entries()) {
          out.push(
            typeof v === "string" ? `${k}=${v}` : `${k}:${v.name}:${v.type}:${await v.text()}`,
          );
        }
        return out;
      }),
    binks:
      '200\ncontent-length: 211\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=165","content-type=multipart/form-data; boundary=XyZ","host=h.test"],"cookie":null,"body":["f=v1","g:a.txt:text/plain:file"],"aborted":false}',
    binksOn: {
      bun:
        '200\ncontent-length: 225\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=165","content-type=multipart/form-data; boundary=XyZ","host=h.test"],"cookie":null,"body":["f=v1","g:a.txt:text/plain;charset=utf-8:file"],"aborted":false}',
      why: WHY.runtimeClass,
    },
  },
  {
    name: "json body",
    raw: post("{pp}", "application/json", '{"a":[1,"x"]}'),
    handler: (r) => seen(r, (q) => q.json()),
    binks:
      '200\ncontent-length: 172\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=13","content-type=application/json","host=h.test"],"cookie":null,"body":{"a":[1,"x"]},"aborted":false}',
  },
  {
    name: "bad json body",
    raw: post("{pp}", "application/json", "{"),
    handler: (r) => seen(r, (q) => q.json()),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "body through its stream",
    raw: post("{pp}", "text/plain", "streamed"),
    handler: (r) =>
      seen(r, async (q) => {
        const parts: string[] = [];
        const dec = new TextDecoder();
        for await (const p of q.body as unknown as AsyncIterable<Uint8Array>) {
          parts.push(dec.decode(p));
        }
        return parts.join("");
      }),
    binks:
      '200\ncontent-length: 162\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=8","content-type=text/plain","host=h.test"],"cookie":null,"body":"streamed","aborted":false}',
  },
  // On Node the Request holds a body that came whole and hands it out itself (web-request.ts):
  // what it did with it must look as if the runtime's Request had read it.
  {
    name: "body read, then read again, cloned and copied",
    raw: post("{pp}", "text/plain", "once"),
    handler: (r) =>
      seen(r, async (q) => {
        const buffer = await q.arrayBuffer();
        const again = await q.arrayBuffer().then(() => "read", (e: Error) => e.name);
        return [
          new TextDecoder().decode(buffer),
          buffer.byteLength,
          q.bodyUsed,
          again,
          attempt(() => q.clone()),
          attempt(() => new Request(q)),
        ];
      }),
    binks:
      '200\ncontent-length: 203\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=4","content-type=text/plain","host=h.test"],"cookie":null,"body":["once",4,true,"TypeError","TypeError","TypeError"],"aborted":false}',
    native: {
      bun:
        '200\ncontent-length: 198\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=4","content-type=text/plain","host=h.test"],"cookie":null,"body":["once",4,true,"TypeError","TypeError","made"],"aborted":false}',
      why: WHY.usedCopy,
    },
  },
  {
    name: "body as bytes of their own",
    // The body comes in one read with the head, and is most of it: the bytes handed out must
    // be over a buffer of their own, not a view of that read.
    raw: post("{pp}", "text/plain", "mine".repeat(50)),
    handler: (r) =>
      seen(r, async (q) => {
        const bytes = await (q as Request & { bytes(): Promise<Uint8Array> }).bytes();
        const text = new TextDecoder().decode(bytes);
        return [text === "mine".repeat(50), bytes.byteOffset, bytes.buffer.byteLength, q.bodyUsed];
      }),
    binks:
      '200\ncontent-length: 171\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=200","content-type=text/plain","host=h.test"],"cookie":null,"body":[true,0,200,true],"aborted":false}',
  },
  {
    name: "bad json body, then bodyUsed",
    raw: post("{pp}", "application/json", "{"),
    handler: (r) =>
      seen(r, async (q) => [await q.json().then(() => "parsed", (e: Error) => e.name), q.bodyUsed]),
    binks:
      '200\ncontent-length: 178\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=1","content-type=application/json","host=h.test"],"cookie":null,"body":["SyntaxError",true],"aborted":false}',
  },
  {
    name: "body copied, then the original read",
    raw: post("{pp}", "text/plain", "moved"),
    handler: (r) =>
      seen(r, async (q) => {
        const copy = new Request(q, { headers: { "x-copied": "yes" } });
        const original = await q.text().then(() => "read", (e: Error) => e.name);
        const copied = await copy.text().catch((e: Error) => e.name);
        return [copied, copy.headers.get("x-copied"), original, q.bodyUsed];
      }),
    binks:
      '200\ncontent-length: 184\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=5","content-type=text/plain","host=h.test"],"cookie":null,"body":["moved","yes","TypeError",true],"aborted":false}',
    binksOn: {
      bun:
        '200\ncontent-length: 183\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=5","content-type=text/plain","host=h.test"],"cookie":null,"body":["TypeError","yes","read",true],"aborted":false}',
      why: WHY.sharedCopy,
    },
    native: {
      bun:
        '200\ncontent-length: 179\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=5","content-type=text/plain","host=h.test"],"cookie":null,"body":["moved","yes","read",true],"aborted":false}',
      why: WHY.sharedCopy,
    },
  },
  {
    name: "body cloned, the clone read first",
    raw: post("{pp}", "text/plain", "twice"),
    handler: (r) =>
      seen(r, async (q) => {
        const copy = q.clone();
        const first = await copy.text();
        const usedBefore = q.bodyUsed;
        return [first, usedBefore, await q.text(), q.bodyUsed, copy.bodyUsed];
      }),
    binks:
      '200\ncontent-length: 185\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=5","content-type=text/plain","host=h.test"],"cookie":null,"body":["twice",false,"twice",true,true],"aborted":false}',
  },
  {
    name: "body locked by a reader, then text()",
    raw: post("{pp}", "text/plain", "held"),
    handler: (r) =>
      seen(r, async (q) => {
        const reader = q.body!.getReader();
        const text = await q.text().then(() => "read", (e: Error) => e.name);
        const usedBefore = q.bodyUsed;
        const parts: number[] = [];
        for (let step = await reader.read(); !step.done; step = await reader.read()) {
          parts.push(...step.value);
        }
        return [text, usedBefore, parts, q.bodyUsed];
      }),
    binks:
      '200\ncontent-length: 194\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=4","content-type=text/plain","host=h.test"],"cookie":null,"body":["TypeError",false,[104,101,108,100],true],"aborted":false}',
    binksOn: {
      bun:
        '200\ncontent-length: 193\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=4","content-type=text/plain","host=h.test"],"cookie":null,"body":["TypeError",true,[104,101,108,100],true],"aborted":false}',
      why: WHY.lockedUsed,
    },
  },
  {
    name: "body through a BYOB reader",
    raw: post("{pp}", "text/plain", "bytes"),
    handler: byobReading(3),
    binks:
      '200\ncontent-length: 179\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=5","content-type=text/plain","host=h.test"],"cookie":null,"body":[[98,121,116,101,115],true],"aborted":false}',
    binksOn: {
      deno: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
      bun: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
      why: WHY.noByob,
    },
    native: { deno: DENO_500, bun: BUN_500, why: WHY.noByob },
  },
  {
    name: "GET has no body",
    raw: get("{pp}"),
    handler: (r) => seen(r, (q) => [q.body === null, q.bodyUsed]),
    binks:
      '200\ncontent-length: 118\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}","headers":["host=h.test"],"cookie":null,"body":[true,false],"aborted":false}',
  },
  {
    name: "Response.json",
    raw: get("{pp}"),
    handler: () => Response.json({ a: 1 }, { status: 201, headers: { "x-y": "z" } }),
    binks: '201\ncontent-length: 7\ncontent-type: application/json\nx-y: z\n\n{"a":1}',
  },
  {
    name: "Response.redirect",
    raw: get("{pp}"),
    handler: () => Response.redirect("http://e.test/a b?é", 307),
    binks: "307\ncontent-length: 0\nlocation: http://e.test/a%20b?%C3%A9\n\n",
  },
  {
    name: "Response.error()",
    raw: get("{pp}"),
    handler: () => Response.error(),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "100 with a body",
    raw: get("{pp}"),
    handler: () => new Response("x", { status: 199 }),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "204 with headers",
    raw: get("{pp}"),
    handler: () =>
      new Response(null, { status: 204, headers: { "content-length": "5", "x": "1" } }),
    binks: "204\nx: 1\n\n",
  },
  {
    name: "205",
    raw: get("{pp}"),
    handler: () => new Response(null, { status: 205 }),
    binks: "205\ncontent-length: 0\n\n",
    native: {
      deno: "205\n\n[no end]",
      why: "RFC 9110 §15.3.6: a 205 says its content is empty; Deno sends it unframed, which a " +
        "client reads up to the close",
    },
  },
  {
    name: "304 with a stream body",
    raw: get("{pp}"),
    handler: () => new Response(stream("abc"), { status: 304, headers: { etag: '"1"' } }),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    binksOn: {
      bun: '304\netag: "1"\n\n',
      why: "Bun's Response takes a body with a 304 (Fetch throws a TypeError); binks sends none",
    },
    native: {
      deno: DENO_500,
      why: WHY.errorPage,
    },
  },
  {
    name: "200 text on HEAD",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response("hello"),
    binks: "200\ncontent-length: 5\ncontent-type: text/plain;charset=UTF-8\n\n",
  },
  {
    name: "stream on HEAD",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(slowStream("ab", "cd")),
    binks: "200\ntransfer-encoding: chunked\n\n",
    native: {
      deno: "200\n\n",
      why: WHY.headFraming,
    },
  },
  {
    name: "Content-Length given, right",
    raw: get("{pp}"),
    handler: () => new Response("hello", { headers: { "content-length": "5" } }),
    binks: "200\ncontent-length: 5\ncontent-type: text/plain;charset=UTF-8\n\nhello",
  },
  {
    name: "Content-Length given, wrong (short)",
    raw: get("{pp}"),
    handler: () => new Response("hello", { headers: { "content-length": "3" } }),
    binks: "200\ncontent-length: 5\ncontent-type: text/plain;charset=UTF-8\n\nhello",
  },
  {
    name: "Content-Length given, wrong (long)",
    raw: get("{pp}"),
    handler: () => new Response("hello", { headers: { "content-length": "9" } }),
    binks: "200\ncontent-length: 5\ncontent-type: text/plain;charset=UTF-8\n\nhello",
  },
  {
    name: "Content-Length given with a slow stream",
    raw: get("{pp}"),
    handler: () => new Response(slowStream("ab", "cd"), { headers: { "content-length": "4" } }),
    binks: "200\ntransfer-encoding: chunked\n\nabcd",
    native: {
      deno: "200\ncontent-length: 4\n\nabcd",
      why: WHY.ownFraming,
    },
  },
  {
    name: "Transfer-Encoding given",
    raw: get("{pp}"),
    handler: () => new Response("hello", { headers: { "transfer-encoding": "chunked" } }),
    binks: "200\ncontent-length: 5\ncontent-type: text/plain;charset=UTF-8\n\nhello",
    native: {
      deno: "200\ncontent-type: text/plain;charset=UTF-8\ntransfer-encoding: chunked\n\nhello",
      why: WHY.ownFraming,
    },
  },
  {
    name: "Set-Cookie several times",
    raw: get("{pp}"),
    handler: () => {
      const h = new Headers();
      h.append("Set-Cookie", "a=1; Path=/");
      h.append("X-Z", "z");
      h.append("Set-Cookie", "b=2, c=3");
      return new Response("ok", { headers: h });
    },
    binks:
      "200\ncontent-length: 2\ncontent-type: text/plain;charset=UTF-8\nset-cookie: a=1; Path=/\nset-cookie: b=2, c=3\nx-z: z\n\nok",
  },
  {
    name: "header value with obs-text",
    raw: get("{pp}"),
    handler: () => new Response("ok", { headers: { "x-u": "caf\xe9 \xff" } }),
    binks: "200\ncontent-length: 2\ncontent-type: text/plain;charset=UTF-8\nx-u: café ÿ\n\nok",
  },
  {
    name: "stream errors at once",
    raw: get("{pp}"),
    handler: () => new Response(stream(new Error("boom"))),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\n[cut]",
      bun: "[cut before head] ",
      why: WHY.gathered,
    },
  },
  {
    name: "stream errors after a piece",
    raw: get("{pp}"),
    handler: () => new Response(stream("abc", new Error("boom"))),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\nabc[cut]",
      bun: "[cut before head] ",
      why: WHY.gathered,
    },
  },
  {
    name: "slow stream errors after a piece",
    raw: get("{pp}"),
    handler: () => {
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            await new Promise((r) => setTimeout(r, 2));
            if (i++ === 0) c.enqueue(enc.encode("abc"));
            else c.error(new Error("boom"));
          },
        }),
      );
    },
    binks: "200\ntransfer-encoding: chunked\n\nabc[cut]",
  },
  {
    name: "empty stream",
    raw: get("{pp}"),
    handler: () => new Response(stream()),
    binks: "200\ncontent-length: 0\n\n",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\n",
      why: WHY.gathered,
    },
  },
  {
    name: "slow stream",
    raw: get("{pp}"),
    handler: () => new Response(slowStream("ab", "", "cd")),
    binks: "200\ntransfer-encoding: chunked\n\nabcd",
  },
  {
    name: "Blob body",
    raw: get("{pp}"),
    handler: () => new Response(new Blob(["<b>"], { type: "text/html" })),
    binks: "200\ncontent-length: 3\ncontent-type: text/html\n\n<b>",
    binksOn: {
      deno: "200\ncontent-type: text/html\ntransfer-encoding: chunked\n\n<b>",
      node24: "200\ncontent-type: text/html\ntransfer-encoding: chunked\n\n<b>",
      bun: "200\ncontent-length: 3\ncontent-type: text/html;charset=utf-8\n\n<b>",
      why: WHY.runtimeClass,
    },
  },
  {
    name: "Blob body without a type",
    raw: get("{pp}"),
    handler: () => new Response(new Blob(["bb"])),
    binks: "200\ncontent-length: 2\n\nbb",
    binksOn: {
      deno: "200\ntransfer-encoding: chunked\n\nbb",
      node24: "200\ntransfer-encoding: chunked\n\nbb",
      why: WHY.runtimeClass,
    },
    native: {
      bun: "200\ncontent-length: 2\ncontent-type: text/plain;charset=utf-8\n\nbb",
      why: WHY.noType,
    },
  },
  {
    name: "FormData body",
    raw: get("{pp}"),
    handler: async () => {
      const f = new FormData();
      f.append("a", "1");
      const r = new Response(f);
      const type = r.headers.get("content-type") ?? "";
      const text = await r.text();
      const boundary = type.split("boundary=")[1] ?? "none";
      return new Response(text.replaceAll(boundary, "B"), {
        headers: { "content-type": type.replace(boundary, "B") },
      });
    },
    binks:
      '200\ncontent-length: 59\ncontent-type: multipart/form-data; boundary={boundary}\n\n--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--\r\n',
    binksOn: {
      deno:
        '200\ncontent-length: 57\ncontent-type: multipart/form-data; boundary={boundary}\n\n--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--',
      why: WHY.runtimeClass,
    },
  },
  {
    name: "FormData body as is",
    raw: get("{pp}"),
    handler: () => {
      const f = new FormData();
      f.append("a", "1");
      return new Response(f);
    },
    binks:
      '200\ncontent-type: multipart/form-data; boundary={boundary}\ntransfer-encoding: chunked\n\n--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--\r\n',
    binksOn: {
      deno:
        '200\ncontent-type: multipart/form-data; boundary={boundary}\ntransfer-encoding: chunked\n\n--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--',
      bun:
        '200\ncontent-length: 165\ncontent-type: multipart/form-data; boundary={boundary}\n\n--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--\r\n',
      node24:
        '200\ncontent-length: 121\ncontent-type: multipart/form-data; boundary={boundary}\n\n--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--{boundary}--\r\n',
      why: WHY.runtimeClass,
    },
  },
  {
    name: "URLSearchParams body",
    raw: get("{pp}"),
    handler: () => new Response(new URLSearchParams({ a: "1 2", b: "é" })),
    binks:
      "200\ncontent-length: 14\ncontent-type: application/x-www-form-urlencoded;charset=UTF-8\n\na=1+2&b=%C3%A9",
  },
  {
    name: "thrown error",
    raw: get("{pp}"),
    handler: () => {
      throw new Error("boom");
    },
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "rejected promise",
    raw: get("{pp}"),
    handler: () => Promise.reject(new Error("boom")),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "undefined",
    raw: get("{pp}"),
    handler: () => undefined as unknown as Response,
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: DENO_500,
      bun: "204\n\n",
      why: WHY.notResponse,
    },
  },
  {
    name: "null",
    raw: get("{pp}"),
    handler: () => Promise.resolve(null as unknown as Response),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: DENO_500,
      bun: "204\n\n",
      why: WHY.notResponse,
    },
  },
  {
    name: "a string",
    raw: get("{pp}"),
    handler: () => "hi" as unknown as Response,
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: DENO_500,
      bun: "204\n\n",
      why: WHY.notResponse,
    },
  },
  {
    name: "statusText",
    raw: get("{pp}"),
    handler: () => new Response("x", { status: 299, statusText: "Fine" }),
    binks: "299\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\n\nx",
  },
  {
    name: "bytes body",
    raw: get("{pp}"),
    handler: () => new Response(new Uint8Array([0, 255, 10])),
    binks: "200\ncontent-length: 3\n\n\u0000ÿ\n",
    native: {
      bun: "200\ncontent-length: 3\ncontent-type: application/octet-stream\n\n\u0000ÿ\n",
      why: WHY.noType,
    },
  },
  {
    // Past 16 KiB, bytes are kept (Node), taken out of the Response whole (Bun) or read through
    // its stream (Deno): the same answer every way.
    name: "bytes body over 16 KiB, changed after the Response was made",
    raw: get("{pp}"),
    handler: () => {
      const bytes = new Uint8Array(LARGE).fill(0x61);
      const response = new Response(bytes);
      bytes.fill(0x7a);
      return response;
    },
    binks: `200\ncontent-length: ${LARGE}\n\n${"a".repeat(LARGE)}`,
    native: {
      bun: `200\ncontent-length: ${LARGE}\ncontent-type: application/octet-stream\n\n${
        "a".repeat(LARGE)
      }`,
      why: WHY.noType,
    },
  },
  {
    name: "HEAD, bytes over 16 KiB",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(new Uint8Array(LARGE), { headers: { "content-type": "x/y" } }),
    binks: `200\ncontent-length: ${LARGE}\ncontent-type: x/y\n\n`,
  },
  {
    name: "bytes over 16 KiB, read before they are returned",
    raw: get("{pp}"),
    handler: async () => {
      const response = new Response(new Uint8Array(LARGE));
      await response.arrayBuffer();
      return response;
    },
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "101 without an upgrade",
    raw: get("{pp}"),
    handler: () => new Response(null, { status: 101 }),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: "101\n\n",
      bun: "101\n\n",
      why: "a 101 that switches to nothing leaves the connection in no protocol (RFC 9110 §15.2.2)",
    },
  },
  {
    name: "null body with a Content-Length",
    raw: get("{pp}"),
    handler: () => new Response(null, { headers: { "content-length": "5" } }),
    binks: "200\ncontent-length: 0\n\n",
  },
  {
    name: "HEAD, null body with a Content-Length",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(null, { headers: { "content-length": "42" } }),
    binks: "200\ncontent-length: 42\n\n",
  },
  {
    name: "HEAD, Blob",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(new Blob(["abc"], { type: "text/x" })),
    binks: "200\ncontent-length: 3\ncontent-type: text/x\n\n",
    binksOn: {
      deno: "200\ncontent-type: text/x\ntransfer-encoding: chunked\n\n",
      node24: "200\ncontent-type: text/x\ntransfer-encoding: chunked\n\n",
      why: WHY.runtimeClass,
    },
    native: {
      deno: "200\ncontent-type: text/x\n\n",
      bun: "200\ncontent-length: 3\n\n",
      why: WHY.headFraming,
    },
  },
  {
    name: "HEAD, bytes",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(new Uint8Array(3)),
    binks: "200\ncontent-length: 3\n\n",
  },
  {
    name: "HEAD, ready stream",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(stream("abc")),
    binks: "200\ncontent-length: 3\n\n",
    native: {
      deno: "200\n\n",
      bun: "200\ntransfer-encoding: chunked\n\n",
      why: WHY.gathered,
    },
  },
  {
    name: "Connection: close given",
    raw: get("{pp}"),
    handler: () => new Response("x", { headers: { connection: "close" } }),
    binks: "200\nconnection: close\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\n\nx",
  },
  {
    name: "Keep-Alive and Proxy-Connection given",
    raw: get("{pp}"),
    handler: () =>
      new Response("x", {
        headers: { "keep-alive": "timeout=5", "proxy-connection": "x", "x-a": "" },
      }),
    binks: "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nx-a: \n\nx",
    native: {
      deno:
        "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nproxy-connection: x\nx-a: \n\nx",
      bun:
        "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nproxy-connection: x\nx-a: \n\nx",
      why: "fields about a connection are not the handler's to describe (RFC 9110 §7.6.1)",
    },
  },
  {
    name: "GET with a body",
    raw: "GET {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n\r\nabc",
    handler: (r) => seen(r, async (q) => [q.body === null, await q.text()]),
    binks:
      '200\ncontent-length: 134\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}","headers":["content-length=3","host=h.test"],"cookie":null,"body":[true,""],"aborted":false}',
  },
  {
    name: "POST without a body",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n",
    handler: (r) => seen(r, async (q) => [q.body === null, await q.text()]),
    binks:
      '200\ncontent-length: 135\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=0","host=h.test"],"cookie":null,"body":[true,""],"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 136\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=0","host=h.test"],"cookie":null,"body":[false,""],"aborted":false}',
      why: "no content is a null body, as on Bun; Deno gives an empty stream (either is allowed)",
    },
  },
  {
    name: "POST with no framing",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    handler: (r) => seen(r, async (q) => [q.body === null, await q.text()]),
    binks:
      '200\ncontent-length: 116\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["host=h.test"],"cookie":null,"body":[true,""],"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 117\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["host=h.test"],"cookie":null,"body":[false,""],"aborted":false}',
      why:
        "RFC 9112 §6.3: no framing is no content, a null body as on Bun; Deno gives an empty stream",
    },
  },
  {
    name: "Expect: 100-continue, body read",
    raw: post("{pp}", "text/plain", "abc", "Expect: 100-continue\r\n"),
    handler: (r) => seen(r, (q) => q.text()),
    binks:
      '200\ncontent-length: 179\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=3","content-type=text/plain","expect=100-continue","host=h.test"],"cookie":null,"body":"abc","aborted":false}',
    native: {
      deno:
        '100\n200\ncontent-length: 179\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=3","content-type=text/plain","expect=100-continue","host=h.test"],"cookie":null,"body":"abc","aborted":false}',
      bun:
        '100\n200\ncontent-length: 179\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=3","content-type=text/plain","expect=100-continue","host=h.test"],"cookie":null,"body":"abc","aborted":false}',
      why: "RFC 9110 §10.1.1: a server that has the content already may omit the 100",
    },
  },
  {
    name: "empty field value, odd target bytes, default port",
    raw: "GET {pp}/%7e/{x}|`'!$ HTTP/1.1\r\nHost: h.test:80\r\nX-E:\r\nX-S:  a  b  \r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 150\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}/%7e/%7Bx%7D|%60\'!$","headers":["host=h.test:80","x-e=","x-s=a  b"],"cookie":null,"body":null,"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 147\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test:80{pp}/%7e/{x}|`\'!$","headers":["host=h.test:80","x-e=","x-s=a  b"],"cookie":null,"body":null,"aborted":false}',
      why: WHY.serializedUrl,
    },
  },
  {
    name: "HTTP/1.0 keep-alive",
    raw: "GET {pp} HTTP/1.0\r\nHost: h.test\r\nConnection: keep-alive\r\n\r\n",
    handler: () => new Response("x"),
    binks: "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\n\nx",
  },
  {
    name: "HTTP/1.0 slow stream",
    raw: "GET {pp} HTTP/1.0\r\nHost: h.test\r\n\r\n",
    handler: () => new Response(slowStream("ab", "cd")),
    binks: "200\nconnection: close\n\nabcd",
    native: {
      deno: "200\n\nabcd",
      bun: "200\n\nabcd",
      why: "binks names the close that ends an HTTP/1.0 answer; the runtimes leave it implied",
    },
  },
  {
    name: "Response.json of undefined",
    raw: get("{pp}"),
    handler: () => Response.json(undefined),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "Response.json with a Headers init and a status text",
    raw: get("{pp}"),
    handler: () =>
      Response.json([1], { headers: new Headers([["content-type", "text/x"]]), statusText: "Yes" }),
    binks: "200\ncontent-length: 3\ncontent-type: text/x\n\n[1]",
  },
  {
    name: "a cloned response",
    raw: get("{pp}"),
    handler: () => new Response("twice").clone(),
    binks: "200\ncontent-length: 5\ncontent-type: text/plain;charset=UTF-8\n\ntwice",
  },
  {
    name: "a response whose body was read",
    raw: get("{pp}"),
    handler: async () => {
      const r = new Response("read");
      await r.text();
      return r;
    },
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: ERROR_PAGES,
  },
  {
    name: "a fetch()-like response, redirected type",
    raw: get("{pp}"),
    handler: () => Response.redirect("/rel", 301),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    binksOn: {
      bun: "301\ncontent-length: 0\nlocation: /rel\n\n",
      why: "Bun's Response.redirect takes a relative URL, which has no base in a server",
    },
    native: {
      deno: DENO_500,
      why: WHY.errorPage,
    },
  },
  {
    name: "large ready text",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response("x".repeat(20000)),
    binks: "200\ncontent-length: 20000\ncontent-type: text/plain;charset=UTF-8\n\n",
  },
  {
    name: "an error response's status text",
    raw: get("{pp}"),
    handler: () => new Response("x", { status: 404, statusText: "" }),
    binks: "404\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\n\nx",
  },
  {
    name: "OPTIONS *",
    raw: "OPTIONS * HTTP/1.1\r\nHost: h.test\r\nX-Case: {pp}\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 125\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"OPTIONS","url":"http://h.test/","headers":["host=h.test","x-case={pp}"],"cookie":null,"body":null,"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 126\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"OPTIONS","url":"http://h.test/*","headers":["host=h.test","x-case={pp}"],"cookie":null,"body":null,"aborted":false}',
      bun: "400\nconnection: close\n\n",
      why:
        "RFC 9112 §3.3: an asterisk-form target URI has an empty path, / in a URL; Deno writes " +
        "/*, Bun refuses it",
    },
  },
  {
    name: "empty query, double slash",
    raw: get("{pp}//x?"),
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 114\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}//x?","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "UTF-8 bytes in the target",
    raw: get("{pp}/\xc3\xa9"),
    handler: (r) => seen(r),
    binks: "400\nconnection: close\ncontent-length: 4\ncontent-type: text/plain\n\n400\n",
    native: {
      deno:
        '200\ncontent-length: 113\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}/Ã©","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
      bun:
        '200\ncontent-length: 117\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}/%C3%A9","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
      why: "RFC 9112 §3.2: a request-target is ASCII (RFC 3986), so a 400; Deno passes the bytes " +
        "on as latin1, Bun percent-encodes that reading",
    },
  },
  {
    name: "absolute-form, upper-case scheme and host",
    raw: "GET HTTP://T.TEST:80{pp} HTTP/1.1\r\nHost: T.TEST\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 113\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://t.test{pp}","headers":["host=T.TEST:80"],"cookie":null,"body":null,"aborted":false}',
    native: {
      deno:
        '200\ncontent-length: 113\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"HTTP://T.TEST:80{pp}","headers":["host=T.TEST"],"cookie":null,"body":null,"aborted":false}',
      bun:
        '200\ncontent-length: 110\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://t.test{pp}","headers":["host=T.TEST"],"cookie":null,"body":null,"aborted":false}',
      why: WHY.targetHost,
    },
  },
  {
    name: "absolute-form https",
    raw: "GET https://t.test{pp} HTTP/1.1\r\nHost: t.test\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 111\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"https://t.test{pp}","headers":["host=t.test"],"cookie":null,"body":null,"aborted":false}',
    native: {
      bun:
        '200\ncontent-length: 110\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://t.test{pp}","headers":["host=t.test"],"cookie":null,"body":null,"aborted":false}',
      why:
        "RFC 9112 §3.3: an absolute-form target is the target URI, its scheme too; Bun makes it http",
    },
  },
  {
    name: "a string chunk",
    raw: get("{pp}"),
    handler: () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue("str" as unknown as Uint8Array);
            c.close();
          },
        }) as ReadableStream<Uint8Array>,
      ),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\n[cut]",
      bun: "200\ncontent-length: 3\n\nstr",
      why: WHY.chunkType,
    },
  },
  {
    name: "an ArrayBuffer chunk",
    raw: get("{pp}"),
    handler: () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array([65]).buffer as unknown as Uint8Array);
            c.close();
          },
        }) as ReadableStream<Uint8Array>,
      ),
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n500\n",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\n[cut]",
      bun: "200\ncontent-length: 1\n\nA",
      why: WHY.chunkType,
    },
  },
  {
    name: "a DataView body",
    raw: get("{pp}"),
    handler: () => new Response(new DataView(new Uint8Array([65, 66, 67]).buffer, 1, 1)),
    binks: "200\ncontent-length: 1\n\nB",
    native: {
      bun: "200\ncontent-length: 1\ncontent-type: application/octet-stream\n\nB",
      why: WHY.noType,
    },
  },
  {
    name: "a number body",
    raw: get("{pp}"),
    handler: () => new Response(42 as unknown as string),
    binks: "200\ncontent-length: 2\ncontent-type: text/plain;charset=UTF-8\n\n42",
  },
  {
    name: "a Content-Type given with a text body",
    raw: get("{pp}"),
    handler: () => new Response("<p>", { headers: [["Content-Type", "text/html"]] }),
    binks: "200\ncontent-length: 3\ncontent-type: text/html\n\n<p>",
  },
  {
    name: "a text body on 200 HEAD with given Content-Length",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response("abc", { headers: { "content-length": "99" } }),
    binks: "200\ncontent-length: 3\ncontent-type: text/plain;charset=UTF-8\n\n",
    native: {
      deno: "200\ncontent-length: 99\ncontent-type: text/plain;charset=UTF-8\n\n",
      why:
        "to HEAD binks states the length the GET would send; Deno passes on the handler's wrong one",
    },
  },
  {
    name: "a stream on HEAD with given Content-Length",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(slowStream("abc"), { headers: { "content-length": "3" } }),
    binks: "200\ntransfer-encoding: chunked\n\n",
    native: {
      deno: "200\ncontent-length: 3\n\n",
      why: WHY.ownFraming,
    },
  },
  {
    name: "304 with a Content-Length",
    raw: get("{pp}"),
    handler: () =>
      new Response(null, { status: 304, headers: { "content-length": "10", etag: '"e"' } }),
    binks: '304\netag: "e"\n\n',
    native: {
      bun: '304\ncontent-length: 10\netag: "e"\n\n',
      why:
        "RFC 9110 §8.6: a 304's Content-Length must be the 200's, which binks cannot check: dropped",
    },
  },
  {
    name: "a Date given",
    raw: get("{pp}"),
    handler: () =>
      new Response("d", { headers: { date: "Thu, 01 Jan 1970 00:00:00 GMT", x: "1" } }),
    binks: "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nx: 1\n\nd",
    native: {
      deno:
        "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\ndate: Thu, 01 Jan 1970 00:00:00 GMT\nx: 1\n\nd",
      bun:
        "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\ndate: Thu, 01 Jan 1970 00:00:00 GMT\nx: 1\n\nd",
      why: "binks writes the Date itself, from its clock (RFC 9110 §6.6.1)",
    },
  },
  {
    name: "hop-by-hop request fields",
    raw: get(
      "{pp}",
      "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-T: a\tb\r\n",
    ),
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 199\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}","headers":["connection=keep-alive, X-Hop","host=h.test","keep-alive=timeout=5","te=trailers","x-hop=1","x-t=a\\tb"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "an empty text body",
    raw: get("{pp}"),
    handler: () => new Response(""),
    binks: "200\ncontent-length: 0\ncontent-type: text/plain;charset=UTF-8\n\n",
  },
  {
    name: "Response.json on HEAD",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => Response.json({ a: "é" }),
    binks: "200\ncontent-length: 10\ncontent-type: application/json\n\n",
  },
  {
    name: "a response fetched from elsewhere, copied",
    raw: get("{pp}"),
    handler: () =>
      new Response(new Response("inner", { status: 202, headers: { "x-i": "1" } }).body, {
        status: 203,
      }),
    binks: "203\ncontent-length: 5\n\ninner",
    native: {
      bun: "203\ncontent-length: 5\ncontent-type: application/octet-stream\n\ninner",
      why: WHY.noType,
    },
  },
  {
    name: "a lower-case method",
    raw: "get {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    handler: (r) => seen(r),
    binks: "501\ncontent-length: 4\ncontent-type: text/plain\n\n501\n",
    native: {
      deno:
        '200\ncontent-length: 110\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"get","url":"http://h.test{pp}","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
      bun: "[cut before head] ",
      why: "methods are case-sensitive (RFC 9110 §9.1) and a Request upper-cases get: binks " +
        "answers 501 rather than tell the handler GET; Deno passes get on, Bun cuts",
    },
  },
  {
    name: "a lower-case patch",
    raw: "patch {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n",
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 131\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"patch","url":"http://h.test{pp}","headers":["content-length=0","host=h.test"],"cookie":null,"body":null,"aborted":false}',
    binksOn: {
      bun: "501\ncontent-length: 4\ncontent-type: text/plain\n\n501\n",
      why: "Bun's Request upper-cases patch too, so it is answered as get is",
    },
    native: {
      bun: "[cut before head] ",
      why: "Bun.serve cuts the connection",
    },
  },
  {
    name: "a fragment in the target",
    raw: get("{pp}?a#frag"),
    handler: (r) => seen(r),
    binks: "400\nconnection: close\ncontent-length: 4\ncontent-type: text/plain\n\n400\n",
    native: {
      deno:
        '200\ncontent-length: 117\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}?a#frag","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
      bun:
        '200\ncontent-length: 117\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}?a#frag","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
      why: "RFC 9112 §3.2.1: an origin-form target has no fragment: a 400",
    },
  },
  {
    name: "a bad percent escape",
    raw: get("{pp}/%zz?%"),
    handler: (r) => seen(r),
    binks:
      '200\ncontent-length: 116\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"GET","url":"http://h.test{pp}/%zz?%","headers":["host=h.test"],"cookie":null,"body":null,"aborted":false}',
  },
  {
    name: "Upgrade given on a 200",
    raw: get("{pp}"),
    handler: () => new Response("u", { headers: { upgrade: "h2c", "x-o": "1" } }),
    binks:
      "200\nconnection: upgrade\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nupgrade: h2c\nx-o: 1\n\nu",
    native: {
      deno:
        "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nupgrade: h2c\nx-o: 1\n\nu",
      bun:
        "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nupgrade: h2c\nx-o: 1\n\nu",
      why: "RFC 9110 §7.8: an Upgrade field goes with the upgrade option in Connection",
    },
  },
  {
    name: "Connection options given",
    raw: get("{pp}"),
    handler: () => new Response("o", { headers: { connection: "x-o", "x-o": "1" } }),
    binks:
      "200\nconnection: x-o\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nx-o: 1\n\no",
  },
  {
    name: "status 599",
    raw: get("{pp}"),
    handler: () => new Response("s", { status: 599 }),
    binks: "599\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\n\ns",
  },
  {
    name: "Response.json with Set-Cookie twice",
    raw: get("{pp}"),
    handler: () => Response.json(1, { headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] }),
    binks:
      "200\ncontent-length: 1\ncontent-type: application/json\nset-cookie: a=1\nset-cookie: b=2\n\n1",
  },
  {
    name: "an empty Content-Type given",
    raw: get("{pp}"),
    handler: () => new Response("e", { headers: { "content-type": "" } }),
    binks: "200\ncontent-length: 1\ncontent-type: \n\ne",
    native: {
      bun: "200\ncontent-length: 1\ncontent-type: \ncontent-type: text/plain;charset=utf-8\n\ne",
      why: "Bun.serve adds a second Content-Type to the handler's empty one",
    },
  },
  {
    name: "a Trailer field given",
    raw: get("{pp}"),
    handler: () => new Response(slowStream("t"), { headers: { trailer: "x-t" } }),
    binks: "200\ntrailer: x-t\ntransfer-encoding: chunked\n\nt",
  },
  {
    name: "a body stream of bytes type",
    raw: get("{pp}"),
    handler: () =>
      new Response(
        new ReadableStream({
          type: "bytes",
          pull(c) {
            c.enqueue(new Uint8Array([66, 89]));
            c.close();
          },
        }),
      ),
    binks: "200\ncontent-length: 2\n\nBY",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\nBY",
      why: WHY.gathered,
    },
  },
  {
    name: "Expect: 100-continue, body sent when asked for",
    raw:
      "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n{100}abc",
    handler: (r) => seen(r, (q) => q.text()),
    binks:
      '100\n200\ncontent-length: 153\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=3","expect=100-continue","host=h.test"],"cookie":null,"body":"abc","aborted":false}',
  },
  {
    name: "Expect: 100-continue, body not read",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    handler: () => new Response("no thanks", { status: 413 }),
    binks:
      "413\nconnection: close\ncontent-length: 9\ncontent-type: text/plain;charset=UTF-8\n\nno thanks",
    native: {
      deno:
        "100\n413\nconnection: close\ncontent-length: 9\ncontent-type: text/plain;charset=UTF-8\n\nno thanks",
      bun: "100\n413\ncontent-length: 9\ncontent-type: text/plain;charset=UTF-8\n\nno thanks",
      why:
        "RFC 9110 §10.1.1: a final answer need not invite the content first; binks then closes " +
        "rather than read it",
    },
  },
  {
    name: "chunked multipart body in pieces",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n" +
      "Content-Type: multipart/form-data; boundary=q\r\n\r\n" +
      chunked("--q\r\nContent-Dispositi", 'on: form-data; name="k"\r\n\r\nv', "\r\n--q--\r\n"),
    handler: (r) => seen(r, async (q) => [...(await q.formData()).entries()]),
    binks:
      '200\ncontent-length: 193\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-type=multipart/form-data; boundary=q","host=h.test","transfer-encoding=chunked"],"cookie":null,"body":[["k","v"]],"aborted":false}',
  },
  {
    name: "json body in pieces, with a trailer",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
      chunked("[1", ",2", "]").replace("0\r\n\r\n", "0\r\nX-Tr: 1\r\n\r\n"),
    handler: (r) => seen(r, (q) => q.json()),
    binks:
      '200\ncontent-length: 140\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["host=h.test","transfer-encoding=chunked"],"cookie":null,"body":[1,2],"aborted":false}',
    native: {
      bun:
        '200\ncontent-length: 140\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["host=h.test","transfer-encoding=chunked"],"cookie":null,"body":[1,2],"aborted":false}[extra]',
      why: "Bun.serve reads the trailer section (RFC 9112 §7.1.2) as a request, and answers it 400",
    },
  },
  {
    name: "body through its stream, in pieces",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\n\r\nab{wait}cd{wait}ef",
    handler: (r) =>
      seen(r, async (q) => {
        const parts: number[] = [];
        for await (const p of q.body as unknown as AsyncIterable<Uint8Array>) parts.push(p.length);
        return parts.reduce((a, b) => a + b, 0);
      }),
    binks:
      '200\ncontent-length: 127\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=6","host=h.test"],"cookie":null,"body":6,"aborted":false}',
  },
  // A body still arriving when the handler starts is held too on Node: gathered whole by the
  // Request's own readers, or read through its stream.
  {
    name: "body in pieces, read, then read again",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\n\r\nab{wait}cd{wait}ef",
    handler: (r) =>
      seen(r, async (q) => {
        const text = new TextDecoder().decode(await q.arrayBuffer());
        const again = await q.text().then(() => "read", (e: Error) => e.name);
        return [text, again, q.bodyUsed, attempt(() => q.clone())];
      }),
    binks:
      '200\ncontent-length: 165\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=6","host=h.test"],"cookie":null,"body":["abcdef","TypeError",true,"TypeError"],"aborted":false}',
  },
  {
    name: "body in pieces, cloned, both read",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\n\r\nab{wait}cd{wait}ef",
    handler: (r) =>
      seen(r, async (q) => {
        const copy = q.clone();
        return [await copy.text(), await q.text(), q.bodyUsed, copy.bodyUsed];
      }),
    binks:
      '200\ncontent-length: 155\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=6","host=h.test"],"cookie":null,"body":["abcdef","abcdef",true,true],"aborted":false}',
  },
  {
    name: "body in pieces, cancelled, then text()",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\n\r\nab{wait}cd{wait}ef",
    handler: (r) =>
      seen(r, async (q) => {
        await q.body!.cancel();
        const text = await q.text().then(() => "read", (e: Error) => e.name);
        // Answered once the rest has come: a body left unread and still arriving when the
        // answer is done closes the connection.
        await new Promise((done) => setTimeout(done, 300));
        return [text, q.bodyUsed];
      }),
    binks:
      '200\ncontent-length: 144\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=6","host=h.test"],"cookie":null,"body":["TypeError",true],"aborted":false}',
  },
  {
    name: "body in pieces, through a BYOB reader",
    raw: "POST {pp} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\n\r\nab{wait}cd{wait}ef",
    handler: byobReading(4),
    binks:
      '200\ncontent-length: 155\ncontent-type: text/plain;charset=UTF-8\n\n{"method":"POST","url":"http://h.test{pp}","headers":["content-length=6","host=h.test"],"cookie":null,"body":[[97,98,99,100,101,102],true],"aborted":false}',
    native: { bun: BUN_500, why: WHY.byobPieces },
  },
  {
    name: "HEAD as the handler sees it",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: (r) => new Response("x", { headers: { "x-method": r.method } }),
    binks: "200\ncontent-length: 1\ncontent-type: text/plain;charset=UTF-8\nx-method: HEAD\n\n",
  },
  {
    name: "a chunk that is a view into a larger buffer",
    raw: get("{pp}"),
    handler: () => new Response(stream2(new Uint8Array(enc.encode("..abc..").buffer, 2, 3))),
    binks: "200\ncontent-length: 3\n\nabc",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\nabc",
      why: WHY.gathered,
    },
  },
  {
    name: "bytes changed after the Response was made",
    raw: get("{pp}"),
    handler: () => {
      const bytes = enc.encode("abc");
      const response = new Response(bytes);
      bytes[0] = 0x78;
      return response;
    },
    binks: "200\ncontent-length: 3\n\nabc",
    native: {
      bun: "200\ncontent-length: 3\ncontent-type: application/octet-stream\n\nabc",
      why: WHY.noType,
    },
  },
  {
    name: "a producer that fills one buffer again for each piece",
    raw: get("{pp}"),
    handler: () => {
      const buffer = new Uint8Array(2);
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (i === 3) return c.close();
            buffer.set(enc.encode(["ab", "cd", "ef"][i++]!));
            c.enqueue(buffer);
          },
        }),
      );
    },
    binks: "200\ncontent-length: 6\n\nefefef",
    native: {
      deno: "200\ntransfer-encoding: chunked\n\nefefef",
      bun: "200\ncontent-length: 6\n\nabcdef",
      why: "a chunk is handed over as it is (Streams standard), so changing it once enqueued " +
        "changes what goes out: binks, as Deno.serve, reads on before it writes; Bun.serve wrote " +
        "each piece first",
    },
  },
  {
    name: "HEAD, an empty text body with a Content-Length",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response("", { headers: { "content-length": "42" } }),
    binks: "200\ncontent-length: 0\ncontent-type: text/plain;charset=UTF-8\n\n",
    native: {
      deno: "200\ncontent-length: 42\ncontent-type: text/plain;charset=UTF-8\n\n",
      bun: "200\ncontent-length: 42\ncontent-type: text/plain;charset=UTF-8\n\n",
      why: WHY.emptyHead,
    },
  },
  {
    name: "HEAD, an empty stream with a Content-Length",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => new Response(stream(), { headers: { "content-length": "42" } }),
    binks: "200\ncontent-length: 0\n\n",
    native: {
      deno: "200\ncontent-length: 42\n\n",
      why: WHY.emptyHead,
    },
  },
  {
    name: "HEAD, a locked body",
    raw: "HEAD {pp} HTTP/1.1\r\nHost: h.test\r\n\r\n",
    head: true,
    handler: () => {
      const response = new Response(stream("abc"));
      response.body!.getReader();
      return response;
    },
    binks: "500\ncontent-length: 4\ncontent-type: text/plain\n\n",
    native: {
      deno: "500\ncontent-length: 21\n\n",
      bun: "200\ntransfer-encoding: chunked\n\n",
      why: "a locked body cannot be read to be sent: the handler's error (Deno too); Bun.serve " +
        "answers as if it could",
    },
  },
];

/** What each server's handler saw of `request.signal`, by the X-Server its client sent. */
const signalSeen = new Map<string, string>();
/** The requests whose answer went out whole, kept to look at their signal afterwards. */
const answered = new Map<string, Request>();

const signalHandlers = new Map<string, FetchFn>([
  // The client leaves while the handler waits: its signal must tell it.
  ["/sig-wait", async (request) => {
    const server = request.headers.get("x-server")!;
    const before = request.signal.aborted;
    const aborted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      request.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    signalSeen.set(server, `before ${before}, then ${aborted ? "aborted" : "not aborted"}`);
    return new Response("late");
  }],
  // The same for a copy made with `new Request(request)` and a clone, made before it leaves.
  ["/sig-copy", async (request) => {
    const server = request.headers.get("x-server")!;
    const copy = new Request(request);
    const clone = request.clone();
    const [copied, cloned] = await Promise.all([abortSeen(copy.signal), abortSeen(clone.signal)]);
    signalSeen.set(`${server} copy`, `copy ${copied}, clone ${cloned}`);
    return new Response("late");
  }],
  ["/sig-done", (request) => {
    answered.set(request.headers.get("x-server")!, request);
    return new Response("done");
  }],
]);

/** "aborted" once `signal` aborts within a second, else "not aborted". */
function abortSeen(signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve("aborted before");
    const timer = setTimeout(() => resolve("not aborted"), 1000);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve("aborted");
    });
  });
}

/** Ask for `path` as `server`'s client, and leave 100 ms later, the answer not yet come. */
async function askAndLeave(port: number, path: string, server: string): Promise<void> {
  const leaving = net.connect({ port, host: "127.0.0.1" });
  leaving.on("error", () => {});
  leaving.write(`GET ${path} HTTP/1.1\r\nHost: h.test\r\nX-Server: ${server}\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 100));
  leaving.destroy();
}

/** What the handler saw of a signal under `key`, waiting up to 1.5 s for it to tell. */
async function seenBy(key: string): Promise<string | undefined> {
  for (let i = 0; i < 30 && !signalSeen.has(key); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return signalSeen.get(key);
}

/** Each case's path: fixed width (base 36), so that lengths in the expected answers hold for all. */
function pathOf(index: number): string {
  return `/c${index.toString(36).padStart(2, "0")}`;
}

describe("fetch-handler parity with Deno.serve and Bun.serve", () => {
  let binks: Server;
  let native: NativeServer | null = null;
  const route: FetchFn = (request) => {
    const signalCase = signalHandlers.get(new URL(request.url).pathname);
    if (signalCase !== undefined) return signalCase(request);
    const index = parseInt(
      /\/c([0-9a-z]{2})/.exec(request.url)?.[1] ?? request.headers.get("x-case")?.slice(2) ?? "",
      36,
    );
    return cases[index]!.handler(request);
  };

  before(async () => {
    binks = await serve({ fetch: route, port: 0, hostname: "127.0.0.1", onError: () => {} });
    native = startNative(route);
  });

  after(async () => {
    await binks.shutdown(0);
    await native?.stop();
  });

  it("answers each case as expected, and as the runtime's own server does", async () => {
    const only = typeof process !== "undefined" ? process.env.PARITY_ONLY : undefined;
    const outcomes = await Promise.all(cases.map(async (c, i) => {
      if (only !== undefined && !c.name.includes(only)) return { c, a: c.binks, b: null, i };
      const raw = c.raw.replaceAll("{pp}", pathOf(i));
      const a = await exchange(binks.port, raw, c.head === true);
      const b = native === null ? null : await exchange(native.port, raw, c.head === true);
      return { c, a, b, i };
    }));
    const wrong: string[] = [];
    const probe = typeof process !== "undefined" ? process.env.PARITY_PROBE : undefined;
    if (probe !== undefined) {
      const shown = outcomes.map(({ c, a, b }) => [c.name, a, b]);
      (await import("node:fs")).writeFileSync(probe, JSON.stringify(shown));
      return;
    }
    for (const { c, a, b, i } of outcomes) {
      const binksWant = ((runtime === "deno" ? c.binksOn?.deno : undefined) ??
        (runtime === "bun" ? c.binksOn?.bun : undefined) ??
        (NODE_24 ? c.binksOn?.node24 : undefined) ?? c.binks).replaceAll("{pp}", pathOf(i));
      if (a !== binksWant) wrong.push(`${c.name}: binks\n${a}\n--- expected\n${binksWant}`);
      if (b === null) continue;
      const nativeWant = (runtime === "deno" ? c.native?.deno : c.native?.bun)?.replaceAll(
        "{pp}",
        pathOf(i),
      ) ?? binksWant;
      if (b !== nativeWant) wrong.push(`${c.name}: ${runtime}\n${b}\n--- expected\n${nativeWant}`);
    }
    assert.deepEqual(wrong, []);
  });

  it("tells the handler through request.signal that its client left, and only then", async () => {
    const servers: [string, number][] = [["binks", binks.port]];
    if (native !== null) servers.push(["native", native.port]);
    const seen = await Promise.all(servers.map(async ([name, port]) => {
      await askAndLeave(port, "/sig-wait", name);
      const done = await exchange(
        port,
        `GET /sig-done HTTP/1.1\r\nHost: h.test\r\nX-Server: ${name}\r\n\r\n`,
        false,
      );
      // The answer is out whole, and the connection still open: nothing was aborted.
      await new Promise((r) => setTimeout(r, 50));
      const after = answered.get(name)?.signal.aborted;
      return `${done.split("\n")[0]}; after its answer aborted: ${after}; left: ${await seenBy(
        name,
      )}`;
    }));
    const binksWant = "200; after its answer aborted: false; left: before false, then aborted";
    assert.equal(seen[0], binksWant);
    if (seen[1] !== undefined) {
      assert.equal(seen[1], runtime === "deno" ? DENO_LEGACY_ABORT : binksWant);
    }
  });

  it("tells a copy and a clone of the request, made before its client left, that it did", async () => {
    const servers: [string, number][] = [["binks", binks.port]];
    if (native !== null) servers.push(["native", native.port]);
    const seen = await Promise.all(servers.map(async ([name, port]) => {
      await askAndLeave(port, "/sig-copy", name);
      return await seenBy(`${name} copy`);
    }));
    assert.equal(seen[0], "copy aborted, clone aborted");
    if (seen[1] !== undefined) assert.equal(seen[1], "copy aborted, clone aborted");
  });
});
