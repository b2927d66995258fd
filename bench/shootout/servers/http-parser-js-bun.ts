/**
 * A pure-JavaScript HTTP/1.1 server at its plainest: `Bun.listen` and http-parser-js (the parser
 * the micro-benchmarks compare binks's with), the three routes, no router, timers or `Date`.
 * It shows what a JavaScript HTTP implementation costs on `Bun.listen` beside the trivial
 * responder (which parses nothing) and `Bun.serve` (whose HTTP is native). Not in the default
 * run: `--only http-parser-js-bun,…`.
 *
 *   bun run bench/shootout/servers/http-parser-js-bun.ts --port P --host 127.0.0.1
 *
 * @module
 */
import { createRequire } from "node:module";
import { concatBytes } from "../../../src/bytes.ts";
import { type Backlog, flush, send } from "./bun-backlog.ts";
import { announce, bigBody, HELLO_BODY, listenArgs, OCTETS } from "./common.ts";
import { bunGlobal, type BunSocket } from "./types.ts";

interface HeaderInfo {
  headers: string[];
  url: string;
  shouldKeepAlive: boolean;
}
interface Parser {
  execute(chunk: Uint8Array): number | Error;
  [callback: number]: (...args: never[]) => void;
}
interface ParserClass {
  new (type: string): Parser;
  REQUEST: string;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

const { HTTPParser } = createRequire(import.meta.url)("http-parser-js") as {
  HTTPParser: ParserClass;
};

const enc = new TextEncoder();

function answer(type: string, body: Uint8Array, close: boolean): Uint8Array {
  const head = enc.encode(
    `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n` +
      (close ? "Connection: close\r\n\r\n" : "\r\n"),
  );
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const HELLO = answer("application/json", enc.encode(HELLO_BODY), false);
const HELLO_CLOSE = answer("application/json", enc.encode(HELLO_BODY), true);
const BIG = answer(OCTETS, bigBody(), false);
const BIG_CLOSE = answer(OCTETS, bigBody(), true);

interface State extends Backlog {
  parser: Parser;
  url: string;
  type: string;
  keepAlive: boolean;
  body: Uint8Array[];
  bodySize: number;
  closing: boolean;
}

const states = new WeakMap<BunSocket, State>();

function open(socket: BunSocket): void {
  socket.setNoDelay(true);
  const parser = new HTTPParser(HTTPParser.REQUEST);
  const state: State = {
    parser,
    url: "",
    type: OCTETS,
    keepAlive: true,
    body: [],
    bodySize: 0,
    pending: null,
    closing: false,
  };
  parser[HTTPParser.kOnHeadersComplete] = (info: HeaderInfo): void => {
    state.url = info.url;
    state.keepAlive = info.shouldKeepAlive;
    state.type = OCTETS;
    state.body = [];
    state.bodySize = 0;
    const h = info.headers;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i]!.toLowerCase() === "content-type") state.type = h[i + 1]!;
    }
  };
  parser[HTTPParser.kOnBody] = (chunk: Uint8Array, offset: number, length: number): void => {
    state.body.push(chunk.slice(offset, offset + length));
    state.bodySize += length;
  };
  parser[HTTPParser.kOnMessageComplete] = (): void => {
    if (state.closing) return;
    const close = !state.keepAlive;
    let bytes: Uint8Array;
    if (state.url === "/echo") {
      bytes = answer(state.type, concatBytes(state.body, state.bodySize), close);
    } else if (state.url === "/64k") bytes = close ? BIG_CLOSE : BIG;
    else bytes = close ? HELLO_CLOSE : HELLO;
    send(socket, state, bytes);
    if (close) state.closing = true;
  };
  states.set(socket, state);
}

const { port, host } = listenArgs();
const server = bunGlobal().listen({
  hostname: host,
  port,
  socket: {
    open,
    data(socket, chunk) {
      const state = states.get(socket)!;
      if (state.closing) return;
      if (state.parser.execute(chunk) instanceof Error) state.closing = true;
      if (state.closing && state.pending === null) socket.end();
    },
    drain(socket) {
      const state = states.get(socket)!;
      if (state.pending !== null) flush(socket, state);
      if (state.pending === null && state.closing) socket.end();
    },
  },
});
announce("http-parser-js on Bun.listen", server.port);
