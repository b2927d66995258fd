/**
 * Model-based property tests of the server with several connections at once
 * (src/server.ts, src/connection.ts): 2 to 6 connections on one HttpServer, each a random
 * pipeline over a transport of the test's own, interleaved by a random schedule, checked against
 * the model (see test/model/server.ts and test/model/harness.ts for the invariants).
 *
 * Fixed seeds and bounded runs keep this to a few seconds; a failure prints the seed, path and
 * counterexample fast-check found, and the trace of events of that run.
 */
import { describe, it } from "node:test";
import fc from "fast-check";
import { CALM, check, holdsIn, HURRIED } from "./model/check.ts";
import type { ModelOptions } from "./model/harness.ts";
import {
  type HandlerSpec,
  type RequestSpec,
  requestText,
  type Scenario,
} from "./model/scenario.ts";
import {
  runServerScenario,
  type ServerAction,
  type ServerScenario,
  serverScenarioArb,
  type ServerWeights,
} from "./model/server.ts";

const MOSTLY_INPUT: ServerWeights = {
  deliver: 30,
  micro: 8,
  gate: 10,
  full: 5,
  drain: 5,
  fin: 1,
  reset: 1,
  time: 2,
  shutdown: 1,
};

/** Gates seldom open, so that handlers and streams run into their deadlines and the grace. */
const MOSTLY_TIME: ServerWeights = { ...MOSTLY_INPUT, gate: 3, time: 12, shutdown: 2 };

/** Run `s`; fail with its violations and the trace that led to them. */
async function holds(s: ServerScenario, options: ModelOptions): Promise<void> {
  const outcome = await runServerScenario(s, options);
  holdsIn(outcome, outcome.outputs);
}

/** A GET answered at once with a short text, but for what `spec` says. */
function request(
  spec: Partial<Omit<RequestSpec, "handler">> & { handler?: Partial<HandlerSpec> },
): RequestSpec {
  const handler: HandlerSpec = {
    read: "ignore",
    readFirst: true,
    delay: { kind: "sync" },
    stopOnAbort: false,
    reply: { kind: "text", status: 200, text: "ok" },
    ...spec.handler,
  };
  return {
    method: "GET",
    minor: 1,
    connection: "none",
    body: null,
    expect: false,
    badHead: false,
    ...spec,
    handler,
  };
}

/** One connection sending `requests`, cut at `cuts`. */
function conn(requests: RequestSpec[], cuts: number[] = []): Scenario {
  return {
    requests,
    cuts,
    actions: [],
    freshChunks: true,
    keepBorrowed: false,
    leakyPause: false,
    maxPipelined: 64,
    maxInflight: 1,
    ending: "fin",
  };
}

/** Connections all there from the start, and `actions`. */
function server(
  conns: Scenario[],
  actions: ServerAction[],
  more: Partial<ServerScenario> = {},
): ServerScenario {
  const maxInflight = more.maxInflight ?? 1;
  return {
    conns: conns.map((c) => ({ ...c, maxInflight })),
    arrivals: conns.map(() => 0),
    actions,
    maxConnections: 10_000,
    maxInflight,
    maxPipelined: 64,
    grace: Infinity,
    ...more,
  };
}

const deliver = (conn: number): ServerAction => ({
  kind: "on",
  conn,
  action: { kind: "deliver" },
});

describe("server model: cases it found", () => {
  it("frees the slot of a handler whose request was refused mid-body", async () => {
    // The 400 for a bad chunk took the request's answer and aborted its handler's signal, yet
    // left it the slot: a handler that went on waiting held it past its connection's close,
    // past shutdown, until its deadline (or for good without one).
    const post = request({
      method: "POST",
      body: { framing: "chunked", data: "c0.0:ab", chunks: [5, 2], badChunk: 1 },
      handler: { delay: { kind: "gate" } },
    });
    await holds(
      server([conn([post]), conn([request({})])], [deliver(0), { kind: "shutdown" }], {
        grace: 0,
      }),
      CALM,
    );
  });

  it("frees the slot of a handler whose body the client's FIN cut short", async () => {
    // As with a bad chunk: the FIN's 400 took the answer, the slot stayed with the handler.
    const post = request({
      method: "POST",
      body: { framing: "length", data: "c0.0:abc" },
      handler: { delay: { kind: "gate" } },
    });
    const cut = requestText(post, 0, 0).length - 3;
    const fin: ServerAction = { kind: "on", conn: 0, action: { kind: "fin" } };
    await holds(
      server([conn([post], [cut]), conn([request({})])], [deliver(0), fin, { kind: "shutdown" }], {
        grace: 0,
      }),
      CALM,
    );
  });
});

describe("server model", () => {
  it("answers each connection's pipeline, its own and in order, whatever the others do", async () => {
    await check(fc.asyncProperty(serverScenarioArb(MOSTLY_INPUT), (s) => holds(s, CALM)), {
      seed: 0x5e4e,
      numRuns: 300,
    });
  });

  it("keeps its invariants when deadlines and the grace run out", async () => {
    await check(fc.asyncProperty(serverScenarioArb(MOSTLY_TIME), (s) => holds(s, HURRIED)), {
      seed: 0x9ace,
      numRuns: 300,
    });
  });
});
