/**
 * The slabs that hold copies waiting to be written (adapters/slab.ts): a slab
 * is written over only once nobody holds bytes in it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  leaveSlab,
  type Slab,
  SLAB_MAX_COPY,
  SLAB_SIZE,
  slabState,
  slabWithRoom,
} from "../adapters/slab.ts";

/** Take `length` bytes of the current slab as a writer would, holding the slab. */
function take(length: number, held: Set<Slab>): { slab: Slab; start: number } {
  const slab = slabWithRoom(length);
  const start = slab.used;
  slab.used = start + length;
  if (!held.has(slab)) {
    held.add(slab);
    slab.users++;
  }
  return { slab, start };
}

function leaveAll(held: Set<Slab>): void {
  for (const slab of held) leaveSlab(slab);
  held.clear();
}

describe("slabs for copies waiting to be written", () => {
  it("hands out room from the front, and a held full slab is set aside, not reused", () => {
    const held = new Set<Slab>();
    // A slab with all its room (whatever earlier tests left), then two copies.
    assert.equal(slabWithRoom(SLAB_SIZE).used, 0);
    const first = take(100, held);
    const second = take(100, held);
    assert.equal(second.slab, first.slab);
    assert.equal(second.start, first.start + 100);
    // Fill it: the next copy must go to another slab, since this one is held.
    while (first.slab.used + SLAB_MAX_COPY <= SLAB_SIZE) take(SLAB_MAX_COPY, held);
    const next = take(SLAB_MAX_COPY, held);
    assert.notEqual(next.slab, first.slab, "a held slab is not written over");
    assert.equal(first.slab.full, true);
    assert.equal(slabState().current, next.slab);
    leaveAll(held);
    assert.equal(first.slab.full, false, "let go of, the full slab is reusable");
    assert.equal(first.slab.used, 0);
  });

  it("starts a slab over in place once nobody holds it", () => {
    const held = new Set<Slab>();
    const { slab } = take(SLAB_MAX_COPY, held);
    leaveAll(held);
    while (slab.used + SLAB_MAX_COPY <= SLAB_SIZE) slab.used += SLAB_MAX_COPY;
    const again = slabWithRoom(SLAB_MAX_COPY);
    assert.equal(again, slab, "the same slab, from its start");
    assert.equal(again.used, 0);
  });

  it("reuses set-aside slabs rather than making new ones", () => {
    const held = new Set<Slab>();
    const seen = new Set<Slab>();
    // Three rounds of filling more than two slabs, letting go after each round.
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < (2 * SLAB_SIZE) / SLAB_MAX_COPY + 1; n++) {
        seen.add(take(SLAB_MAX_COPY, held).slab);
      }
      leaveAll(held);
    }
    assert.ok(seen.size <= 4, `${seen.size} slabs for three rounds of the same load`);
    assert.ok(slabState().spare <= 4);
  });
});
