/**
 * Model-based property tests of the fetch path (src/fetch.ts, src/web-request.ts,
 * src/web-response.ts over src/connection.ts): random pipelines of requests to Web-standard
 * fetch handlers that read their bodies in every way handlers do and answer with every kind of
 * `Response`, under random schedules (input in random pieces, handlers and streams woken at
 * gates, a send buffer that fills and drains, FIN, reset, shutdown with a grace, virtual time),
 * checked against what each `Response` said (see test/model/fetch.ts for the invariants).
 *
 * Fixed seeds and bounded runs keep this to a few seconds; a failure prints the seed, path and
 * counterexample fast-check found, and the trace of events of that run.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CALM, check, holdsIn, HURRIED } from "./model/check.ts";
import { type ModelOptions, runScenario } from "./model/harness.ts";
import { type Action, type Delay, type RequestSpec, requestText } from "./model/scenario.ts";
import {
  type AnswerSpec,
  type FetchHandlerSpec,
  type FetchRequestSpec,
  type FetchScenario,
  fetchScenarioArb,
  type FetchServerScenario,
  fetchServerScenarioArb,
  runFetchScenario,
  runFetchServerScenario,
} from "./model/fetch.ts";

const MOSTLY_INPUT: Record<Action["kind"], number> = {
  deliver: 24,
  micro: 8,
  gate: 10,
  full: 6,
  drain: 6,
  fin: 1,
  reset: 1,
  time: 1,
  shutdown: 1,
};

/** Gates seldom open, so that handlers, streams and the grace run into their deadlines. */
const MOSTLY_TIME: Record<Action["kind"], number> = {
  ...MOSTLY_INPUT,
  gate: 3,
  time: 12,
  shutdown: 2,
};

/** Run `s`; fail with its violations and the trace that led to them. */
async function holds(s: FetchScenario, options: ModelOptions): Promise<void> {
  const outcome = await runFetchScenario(s, options);
  holdsIn(outcome, outcome.output.slice(0, 3000));
}

/** Run `s`, several connections on one server; fail with its violations and their trace. */
async function holdsShared(s: FetchServerScenario, options: ModelOptions): Promise<void> {
  const outcome = await runFetchServerScenario(s, options);
  holdsIn(outcome, outcome.outputs.map((o) => o.slice(0, 1500)));
}

/** A GET answered at once with a short text, but for what `spec` says. */
function request(
  spec: Partial<Omit<FetchRequestSpec, "handler">> & { handler?: Partial<FetchHandlerSpec> },
): FetchRequestSpec {
  const handler: FetchHandlerSpec = {
    read: "ignore",
    readGates: false,
    readFirst: true,
    delay: { kind: "sync" },
    watchSignal: false,
    answer: {
      kind: "text",
      status: 200,
      text: "ok",
      fields: { type: null, cookies: [], length: null, extra: false },
    },
    ...spec.handler,
  };
  return {
    method: "GET",
    minor: 1,
    connection: "none",
    body: null,
    expect: false,
    ...spec,
    handler,
  };
}

/** One input delivered whole, cut at `cuts`, with `actions` before the run settles. */
function scenario(requests: FetchRequestSpec[], more: Partial<FetchScenario> = {}): FetchScenario {
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
    grace: Infinity,
    ...more,
  };
}

describe("fetch model: plain cases", () => {
  it("answers a text, a stream and a failure in order", async () => {
    const requests = [
      request({}),
      request({
        handler: {
          answer: {
            kind: "stream",
            status: 200,
            fields: { type: "text/html", cookies: ["a=1", "b=2, c=3"], length: "3", extra: true },
            source: "pull",
            pieces: [{ text: "ab", delay: { kind: "gate" } }, {
              text: "c",
              delay: { kind: "sync" },
            }],
            end: "close",
          },
        },
      }),
      request({
        method: "POST",
        body: { framing: "length", data: "xyz" },
        handler: { read: "text", answer: { kind: "throw" } },
      }),
    ];
    await holds(scenario(requests), CALM);
  });
});

/** A stream answer that sends `pieces` then ends as `end`. */
function streamed(
  end: "close" | "error" | "never" | "badChunk",
  pieces: { text: string; delay: Delay }[] = [],
  source: "pull" | "start" = "pull",
): AnswerSpec {
  return { kind: "stream", status: 200, fields: NO_FIELDS, source, pieces, end };
}

const NO_FIELDS = { type: null, cookies: [], length: null, extra: false };

describe("fetch model: cases it found", () => {
  it("cancels a stream answered after its client sent FIN", async () => {
    // The FIN aborted the request's signal while its handler still ran; the stream it then
    // answered with listened for an abort that had already happened, and was read for good.
    const get = request({ handler: { delay: { kind: "gate" }, answer: streamed("never") } });
    await holds(scenario([get], { actions: [{ kind: "deliver" }, { kind: "fin" }] }), CALM);
  });

  it("cancels a stream whose answer waited behind another when its client left", async () => {
    // The answer waiting in the queue was dropped by returning its generator, which had not
    // started: its body (and `finally`) never ran, so nothing cancelled the stream.
    const get = request({ handler: { answer: streamed("never") } });
    const actions = [{ kind: "deliver" }, { kind: "micro", n: 20 }, { kind: "fin" }] as const;
    await holds(scenario([get, get], { actions: [...actions] }), CALM);
  });

  it("aborts the signal of a request read after its client's FIN, so its stream is cancelled", async () => {
    // The FIN came while the second request waited in the buffer behind the first (one at a
    // time): read later, its handler got a signal that never aborted, and its stream, which
    // never ends, held the connection of a client gone for good.
    const first = request({ handler: { delay: { kind: "gate" } } });
    const second = request({ handler: { answer: streamed("never") } });
    const actions = [{ kind: "deliver" }, { kind: "fin" }] as const;
    await holds(scenario([first, second, first], { actions: [...actions], maxPipelined: 1 }), CALM);
  });

  it("reads on after a body that passed the high-water mark as it ended is taken whole", async () => {
    // The POST waited for the slot the GET held while its body came (a transport with a read
    // under way delivers while paused): past 256 KiB unread, input paused. Taken whole when its
    // handler ran (the Request made from it), the body was emptied, yet input stayed paused:
    // the request behind was never read, and the client's FIN never acted on.
    const data = "0123456789abcdefghijklmnopqrstuvwxyz".repeat(8334).slice(0, 300_000);
    const post = request({
      method: "POST",
      body: { framing: "length", data },
      handler: { read: "text" },
    });
    const get = request({ handler: { delay: { kind: "gate" } } });
    await holds(
      scenario([get, post, request({})], {
        actions: Array(5).fill({ kind: "deliver" }),
        readSize: 65536,
        leakyPause: true,
        maxInflight: 1,
      }),
      CALM,
    );
  });

  it("reads on after such a body, taken whole by a native handler from 64 KiB reads", async () => {
    // The same with a plain transport: the read that ended the 300 KB body (its fifth of 64 KiB)
    // took it past 256 KiB unread; the handler's bytes() emptied it, and input stayed paused.
    const data = "0123456789abcdefghijklmnopqrstuvwxyz".repeat(8334).slice(0, 300_000);
    const native: RequestSpec = {
      method: "POST",
      minor: 1,
      connection: "none",
      body: { framing: "length", data },
      expect: false,
      badHead: false,
      handler: {
        read: "bytes",
        readFirst: false,
        delay: { kind: "gate" },
        stopOnAbort: false,
        reply: { kind: "text", status: 200, text: "ok" },
      },
    };
    const get: RequestSpec = {
      ...native,
      method: "GET",
      body: null,
      handler: { ...native.handler, read: "ignore", delay: { kind: "sync" } },
    };
    const length = requestText(native, 0).length + requestText(get, 1).length;
    const cuts: number[] = [];
    for (let at = 65536; at < length; at += 65536) cuts.push(at);
    const outcome = await runScenario({
      requests: [native, get],
      cuts,
      actions: Array(6).fill({ kind: "deliver" }),
      freshChunks: true,
      keepBorrowed: false,
      leakyPause: false,
      maxPipelined: 64,
      maxInflight: 1000,
      ending: "fin",
    }, CALM);
    assert.deepEqual(outcome.violations, []);
  });

  it("reads on after a body that passed the high-water mark as it ended, left unread", async () => {
    // The read that ended the 300 KB body took it past 256 KiB unread: input paused. Its
    // handler answered without reading it, and the answer kept the connection (the body was
    // all in), yet input stayed paused for good: the next request was never read.
    const data = "0123456789abcdefghijklmnopqrstuvwxyz".repeat(8334).slice(0, 300_000);
    const post = request({
      method: "POST",
      body: { framing: "length", data },
      handler: { delay: { kind: "gate" } },
    });
    const actions = Array(5).fill({ kind: "deliver" });
    await holds(scenario([post, request({})], { actions, readSize: 65536 }), CALM);
  });

  it("cancels a stream whose ready chunk is no Uint8Array, answered with a 500", async () => {
    // Gathering what the stream had ready, binks found a string: the 500 went out, and the
    // stream was left locked and uncancelled, its producer running (a pull waiting) for good.
    const get = request({ handler: { answer: streamed("badChunk") } });
    await holds(scenario([get, request({})]), CALM);
  });
});

describe("fetch model", () => {
  it("answers random pipelines of fetch handlers exactly, whatever the schedule", async () => {
    await check(fc.asyncProperty(fetchScenarioArb(MOSTLY_INPUT), (s) => holds(s, CALM)), {
      seed: 0xfe7c4,
      numRuns: 300,
    });
  });

  it("keeps its invariants when deadlines and the grace run out", async () => {
    await check(fc.asyncProperty(fetchScenarioArb(MOSTLY_TIME), (s) => holds(s, HURRIED)), {
      seed: 0xfe7c5,
      numRuns: 200,
    });
  });

  it("answers each of several connections to one server of fetch handlers exactly", async () => {
    await check(
      fc.asyncProperty(fetchServerScenarioArb(MOSTLY_INPUT), (s) => holdsShared(s, CALM)),
      { seed: 0xfe7c6, numRuns: 100 },
    );
  });

  it("keeps its invariants on several connections when deadlines and the grace run out", async () => {
    await check(
      fc.asyncProperty(fetchServerScenarioArb(MOSTLY_TIME), (s) => holdsShared(s, HURRIED)),
      { seed: 0xfe7c7, numRuns: 100 },
    );
  });
});
