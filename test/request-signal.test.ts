/**
 * How a fetch handler's `Request` comes by the binks request's signal (src/request-signal.ts):
 * the probes take each way where the runtime's `Request` allows it (Node: the constructor and
 * `clone()` lent a controller; Deno: its signal slot), and lend nothing where the global
 * `AbortController` cannot be written.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../adapters/detect.ts";
import {
  clonesFollowLent,
  followingController,
  lend,
  lendsController,
  signalSlot,
  unlend,
} from "../src/request-signal.ts";

const runtime = detectRuntime();

/** Run `body` with the global `AbortController` made read-only, then writable again. */
function withFrozenController(body: () => void): void {
  const own = globalThis.AbortController;
  Object.defineProperty(globalThis, "AbortController", {
    value: own,
    writable: false,
    configurable: true,
  });
  try {
    body();
  } finally {
    Object.defineProperty(globalThis, "AbortController", {
      value: own,
      writable: true,
      configurable: true,
    });
  }
}

describe("request signals", () => {
  it("are lent to undici's constructor and clone(), and read from Deno's slot", () => {
    const own = globalThis.AbortController;
    assert.equal(lendsController(), runtime === "node");
    assert.equal(clonesFollowLent(followingController(own)), runtime === "node");
    assert.equal(signalSlot() !== null, runtime === "deno");
    assert.equal(globalThis.AbortController, own);
  });

  it("lend a controller for one, and give the global back as it is made", () => {
    const own = globalThis.AbortController;
    const client = new AbortController();
    lend(client, followingController(own));
    try {
      assert.notEqual(globalThis.AbortController, own);
      const lent = new AbortController();
      // Made, it gave the global back: the next is the runtime's own.
      assert.equal(globalThis.AbortController, own);
      assert.ok(lent instanceof own);
      const next = new AbortController();
      client.abort("gone");
      assert.equal(lent.signal.aborted, true);
      assert.equal(lent.signal.reason, "gone");
      assert.equal(next.signal.aborted, false);
    } finally {
      unlend();
    }
    assert.equal(globalThis.AbortController, own);
  });

  it("lend nothing where the global AbortController cannot be written", () => {
    const own = globalThis.AbortController;
    withFrozenController(() => {
      assert.equal(lendsController(), false);
      assert.equal(clonesFollowLent(followingController(own)), false);
      assert.throws(() => lend(new AbortController()), TypeError);
      unlend();
      assert.equal(globalThis.AbortController, own);
    });
    assert.equal(globalThis.AbortController, own);
  });
});
