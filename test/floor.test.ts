/**
 * The shoot-out's all-routes trivial responder (bench/shootout/servers/raw-common.ts): the README
 * reads each runtime's memory floor off it, so it must answer every request, and exactly.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CANNED,
  CANNED_BIG,
  CANNED_CLOSE,
  cannedTimes,
  Gather,
  RouteResponder,
} from "../bench/shootout/servers/raw-common.ts";

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

const STREAM = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
  "POST /echo HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 11\r\nContent-Type: text/plain\r\n\r\n" +
  "hello\r\n\r\nyo" +
  "GET /64k HTTP/1.1\r\nHost: x\r\n\r\n" +
  "GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
  "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
  "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

const ECHO =
  "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 11\r\n\r\n" +
  "hello\r\n\r\nyo";

const EXPECTED = dec.decode(CANNED) + ECHO + dec.decode(CANNED_BIG) + dec.decode(CANNED) +
  dec.decode(CANNED_CLOSE);

/** Feed `input` in pieces of `size` bytes; the bytes sent, and whether it asked to close. */
function run(
  input: Uint8Array,
  size: number,
): { out: string; closeAfter: boolean; pieces: number } {
  const responder = new RouteResponder();
  let out = "";
  let pieces = 0;
  const send = (bytes: Uint8Array): void => {
    out += dec.decode(bytes);
    pieces++;
  };
  for (let at = 0; at < input.length && !responder.closeAfter; at += size) {
    responder.feed(input.subarray(at, at + size), send);
  }
  return { out, closeAfter: responder.closeAfter, pieces };
}

describe("floor: the all-routes trivial responder", () => {
  it("answers hello, echo, 64 KiB and close in order, and nothing after the close", () => {
    const r = run(enc.encode(STREAM), STREAM.length);
    assert.equal(r.out, EXPECTED);
    assert.equal(r.closeAfter, true);
  });

  it("gives the same bytes whatever the reads' sizes", () => {
    const input = enc.encode(STREAM);
    for (const size of [1, 2, 3, 7, 64]) {
      const r = run(input, size);
      assert.equal(r.out, EXPECTED, `reads of ${size} bytes`);
      assert.equal(r.closeAfter, true);
    }
  });

  it("answers 16 pipelined GETs with one array", () => {
    const r = run(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(16)), 1 << 20);
    assert.equal(r.pieces, 1);
    assert.equal(r.out, dec.decode(cannedTimes(16)));
    assert.equal(r.closeAfter, false);
  });

  it("a lone piece is written as it is; several are joined", () => {
    const gather = new Gather();
    assert.equal(gather.take(), null);
    gather.add(CANNED);
    assert.equal(gather.take(), CANNED);
    gather.add(enc.encode("ab"));
    gather.add(enc.encode("cde"));
    assert.equal(dec.decode(gather.take()!), "abcde");
    gather.add(enc.encode("x"));
    gather.add(enc.encode("y"));
    assert.equal(dec.decode(gather.take()!), "xy");
  });
});
