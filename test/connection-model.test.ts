/**
 * Model-based property tests of the connection state machine (src/connection.ts): random
 * pipelines of requests, cut into random pieces and delivered between random events (handlers
 * answering at once or later, reading their bodies or not, streaming; a send buffer that fills
 * and drains; the client's FIN or reset; time going by on a virtual clock), run against the real
 * Connection over a test transport, with what came out checked against the scenario (see
 * test/model/harness.ts for the invariants).
 *
 * Fixed seeds and bounded runs keep this to a few seconds; a failure prints the seed, path and
 * counterexample fast-check found, and the trace of events of that run.
 */
import { describe, it } from "node:test";
import fc from "fast-check";
import { CALM, check, holdsIn, HURRIED } from "./model/check.ts";
import { type ModelOptions, runScenario } from "./model/harness.ts";
import {
  type Action,
  type HandlerSpec,
  type RequestSpec,
  type Scenario,
  scenarioArb,
} from "./model/scenario.ts";

const MOSTLY_INPUT: Record<Action["kind"], number> = {
  deliver: 24,
  micro: 8,
  gate: 8,
  full: 6,
  drain: 6,
  fin: 1,
  reset: 1,
  time: 2,
  shutdown: 1,
};

/** Gates seldom open, so that handlers and streams run into their deadlines. */
const MOSTLY_TIME: Record<Action["kind"], number> = {
  ...MOSTLY_INPUT,
  gate: 2,
  time: 12,
  reset: 0,
};

/**
 * Long schedules of input, gates and send buffers that fill, after which the client leaves (see
 * the property) while handlers and streams still wait: streams cut short and requests given up
 * unanswered, which the access log must tell apart from answers that went out whole.
 */
const MOSTLY_LEAVING: Record<Action["kind"], number> = {
  ...MOSTLY_INPUT,
  gate: 4,
  full: 8,
  drain: 4,
  fin: 0,
  reset: 0,
  time: 0,
  shutdown: 0,
};

/** Run `s`; fail with its violations and the trace that led to them. */
async function holds(s: Scenario, options: ModelOptions): Promise<void> {
  const outcome = await runScenario(s, options);
  holdsIn(outcome, outcome.output);
}

/** A GET answered at once with a short text, but for what `spec` says. */
function request(spec: Partial<Omit<RequestSpec, "handler">> & { handler?: Partial<HandlerSpec> }) {
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
  } satisfies RequestSpec;
}

/** One input delivered whole, cut at `cuts`, with `actions` before the run settles. */
function scenario(requests: RequestSpec[], more: Partial<Scenario> = {}): Scenario {
  return {
    requests,
    cuts: [],
    actions: [{ kind: "deliver" }],
    freshChunks: true,
    keepBorrowed: false,
    leakyPause: false,
    maxPipelined: 64,
    maxInflight: 1000,
    ending: "fin",
    ...more,
  };
}

describe("connection model: cases it found", () => {
  it("reads the body of the one request maxPipelined allows (its handler waits for it)", async () => {
    // The request being read counted against the pipeline: input stopped before its body came,
    // and its handler waited for that body for good.
    const post = request({
      method: "POST",
      body: { framing: "length", data: "0123456789" },
      handler: { read: "bytes" },
    });
    await holds(scenario([post], { cuts: [56], maxPipelined: 1 }), CALM);
  });

  it("aborts the signal of a request whose body the client stops sending (FIN)", async () => {
    // The 400 for the unfinished body was set before the FIN aborted the requests still
    // unanswered, so the one request the FIN cut short was the one whose handler was not told.
    const post = request({
      method: "POST",
      body: { framing: "length", data: "0123456789" },
      handler: { delay: { kind: "gate" } },
    });
    await holds(
      scenario([post], { cuts: [56], actions: [{ kind: "deliver" }, { kind: "fin" }] }),
      CALM,
    );
  });

  it("aborts the signal of a request refused for a bad chunk", async () => {
    const post = request({
      method: "POST",
      body: { framing: "chunked", data: "abcdef", chunks: [3, 3], badChunk: 1 },
      handler: { delay: { kind: "gate" } },
    });
    await holds(scenario([post]), CALM);
  });

  it("closes the stream of a waiting answer that a bad chunk replaces with a 400", async () => {
    // The answer to the POST waits behind the GET's, still streaming; the bad chunk then
    // replaced it, and its stream (which may hold a file) was never returned.
    const get = request({
      handler: {
        reply: {
          kind: "stream",
          status: 200,
          pieces: [{ text: "y", delay: { kind: "gate" } }],
          sized: false,
        },
      },
    });
    const post = request({
      method: "POST",
      body: { framing: "chunked", data: "abcdef", chunks: [3, 3], badChunk: 1 },
      handler: {
        reply: {
          kind: "stream",
          status: 200,
          pieces: [{ text: "x", delay: { kind: "sync" } }],
          sized: false,
        },
      },
    });
    const actions = [{ kind: "deliver" }, { kind: "micro", n: 2 }, { kind: "deliver" }] as const;
    await holds(scenario([get, post], { cuts: [95], actions: [...actions] }), CALM);
  });

  it("answers a head that times out after a HEAD with a 408 that has its body", async () => {
    // The 408 took the method of the request parsed last (the HEAD before it, or another
    // connection's), so it went out with Content-Length: 4 and no body.
    const requests = [request({ method: "HEAD" }), request({})];
    const actions = [{ kind: "deliver" }, { kind: "time", ms: 200 }] as const;
    await holds(scenario(requests, { cuts: [36], actions: [...actions] }), HURRIED);
  });

  it("logs a close-delimited stream cut before its producer ended as not complete", async () => {
    // All of its body had gone out, yet without the server's FIN no client could know that: the
    // checker took the bytes for a whole answer.
    const get = request({
      minor: 0,
      handler: {
        reply: {
          kind: "stream",
          status: 200,
          pieces: [{ text: "x", delay: { kind: "sync" } }, { text: "", delay: { kind: "gate" } }],
          sized: false,
        },
      },
    });
    await holds(scenario([get], { actions: [{ kind: "deliver" }, { kind: "reset" }] }), CALM);
  });

  it("logs a stream of length 0 as complete once its head went out", async () => {
    // Content-Length: 0 and the head were all of it; binks waited for its producer to end.
    const get = request({
      handler: {
        reply: {
          kind: "stream",
          status: 200,
          pieces: [{ text: "", delay: { kind: "gate" } }],
          sized: true,
        },
      },
    });
    await holds(scenario([get], { actions: [{ kind: "deliver" }, { kind: "reset" }] }), CALM);
  });
});

describe("connection model", () => {
  it("answers random pipelines in order, exactly, whatever the schedule", async () => {
    await check(fc.asyncProperty(scenarioArb(MOSTLY_INPUT), (s) => holds(s, CALM)), {
      seed: 0x60de1,
      numRuns: 1000,
    });
  });

  it("keeps its invariants when deadlines run out", async () => {
    await check(fc.asyncProperty(scenarioArb(MOSTLY_TIME), (s) => holds(s, HURRIED)), {
      seed: 0x71e0,
      numRuns: 600,
    });
  });

  it("logs each request as its answer went out, whole, cut short or not at all", async () => {
    // The client leaves at the end of the schedule, before the gates still shut are opened.
    const leaving = fc.tuple(scenarioArb(MOSTLY_LEAVING, true), fc.constantFrom("fin", "reset"))
      .map(([s, how]): Scenario => ({ ...s, actions: [...s.actions, { kind: how }] }));
    await check(fc.asyncProperty(leaving, (s) => holds(s, CALM)), { seed: 0x10a9, numRuns: 200 });
  });
});
