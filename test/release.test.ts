/**
 * Bytes taken out of a `Response` whole for one answer are given back to the allocator once a
 * transport has written them, or the core copied them next to their head (`src/release.ts`),
 * and only then: not those that go to more than one answer, nor those handed to a caller, nor a
 * view into a larger buffer; a `Response` whose bytes went back is a used one. On a class of its
 * own, apart from the global `Response`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { defineReadyResponse } from "../src/web-response.ts";
import {
  emptyTail,
  INLINE_AT_ONCE_MAX,
  INLINE_BODY_MAX,
  KEEP,
  Out,
  writeReply,
} from "../src/response.ts";
import {
  keepAfterWrite,
  RELEASE_MIN_BYTES,
  releaseWhenWritten,
  writtenWhole,
} from "../src/release.ts";

/** The runtime's own `Response`, under any ReadyResponse another test put in its place. */
function nativeResponse(): typeof Response {
  let cls: typeof Response = Response;
  while (Object.getPrototypeOf(cls) !== Function.prototype) cls = Object.getPrototypeOf(cls);
  return cls;
}

/** Where `ArrayBuffer.prototype.transfer` is missing (Node 20), nothing is released. */
const releases = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function";
const SIZE = 65536;
const Taking = defineReadyResponse(nativeResponse(), { takeBytes: true });

async function taken(response: Response, release: boolean): Promise<Uint8Array | undefined> {
  const body = Taking.keptBody(response, release);
  assert.ok(body === undefined || body instanceof Promise, "bytes past 16 KiB are taken out");
  return await body;
}

describe("bytes released once written", () => {
  it("releases bytes taken for one answer once written whole; the Response is then used", async () => {
    const given = new Uint8Array(SIZE).fill(0x61);
    const response = new Taking(given);
    const bytes = (await taken(response, true))!;
    assert.equal(bytes.length, SIZE);
    assert.equal(bytes[SIZE - 1], 0x61);
    writtenWhole(bytes);
    assert.equal(bytes.length, releases ? 0 : SIZE);
    // The caller's array was copied by the Response: it is untouched.
    assert.equal(given.length, SIZE);
    assert.equal(given[SIZE - 1], 0x61);
    const again = Taking.keptBody(response, true);
    if (releases) assert.equal(again, undefined, "released: nothing to send again");
    else assert.equal(await again, bytes);
    assert.equal(response.bodyUsed, true);
  });

  it("keeps bytes given to two answers before they came, and sends them whole to each", async () => {
    const response = new Taking(new Uint8Array(SIZE).fill(0x62));
    const first = Taking.keptBody(response, true);
    const second = Taking.keptBody(response, true);
    const bytes = (await first) as Uint8Array;
    assert.equal(await second, bytes);
    writtenWhole(bytes);
    writtenWhole(bytes);
    assert.equal(bytes.length, SIZE);
  });

  it("keeps bytes given again after they came, before they were written", async () => {
    const response = new Taking(new Uint8Array(SIZE).fill(0x63));
    const bytes = (await taken(response, true))!;
    assert.equal(await taken(response, true), bytes);
    writtenWhole(bytes);
    assert.equal(bytes.length, SIZE);
  });

  it("keeps bytes handed to a caller (toReply), and written or not they stay", async () => {
    const response = new Taking(new Uint8Array(SIZE).fill(0x64));
    const bytes = (await taken(response, false))!;
    writtenWhole(bytes);
    assert.equal(bytes.length, SIZE);
    assert.equal(await taken(response, true), bytes);
    writtenWhole(bytes);
    assert.equal(bytes.length, SIZE);
  });

  it("releases marked bytes once copied next to their head, after the copy", () => {
    for (const [inlineMax, copied] of [[INLINE_AT_ONCE_MAX, true], [INLINE_BODY_MAX, false]]) {
      const body = new Uint8Array(SIZE).fill(0x65);
      releaseWhenWritten(body);
      const out = new Out(1024);
      out.inlineMax = inlineMax as number;
      const tail = emptyTail();
      writeReply(out, { body }, false, KEEP, 1, tail);
      const head = new TextDecoder().decode(out.written());
      if (copied) {
        assert.equal(tail.bytes, null, "sent with its head");
        assert.ok(head.endsWith("\r\n\r\n" + "e".repeat(SIZE)), "the copy is whole");
        assert.equal(body.length, releases ? 0 : SIZE, "released once copied");
      } else {
        assert.equal(tail.bytes, body, "sent on its own, as it is");
        assert.equal(body.length, SIZE, "not released before the transport wrote it");
        keepAfterWrite(body);
      }
    }
  });

  it("releases only whole buffers of 16 KiB or more, and only once marked", () => {
    const whole = new Uint8Array(RELEASE_MIN_BYTES);
    writtenWhole(whole);
    assert.equal(whole.length, RELEASE_MIN_BYTES, "not marked");
    releaseWhenWritten(whole);
    writtenWhole(whole);
    assert.equal(whole.length, releases ? 0 : RELEASE_MIN_BYTES);

    const small = new Uint8Array(RELEASE_MIN_BYTES - 1);
    releaseWhenWritten(small);
    writtenWhole(small);
    assert.equal(small.length, RELEASE_MIN_BYTES - 1);

    const larger = new Uint8Array(2 * SIZE);
    const head = larger.subarray(0, SIZE);
    const tail = larger.subarray(SIZE);
    for (const view of [head, tail]) {
      releaseWhenWritten(view);
      writtenWhole(view);
    }
    assert.equal(larger.length, 2 * SIZE, "a view takes no one else's bytes with it");

    const kept = new Uint8Array(SIZE);
    releaseWhenWritten(kept);
    keepAfterWrite(kept);
    writtenWhole(kept);
    assert.equal(kept.length, SIZE);
  });
});
