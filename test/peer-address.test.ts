/**
 * A peer's address as binks shows it (`req.ip`, the access log) and matches it against
 * `trustProxy`: IPv4-mapped and IPv4-compatible IPv6 peers, as sockets write them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { plainAddress } from "../src/address.ts";
import { defaultLimits } from "../src/limits.ts";
import { findHeadEnd, parseHead, RequestHead } from "../src/parser.ts";
import { IncomingRequest } from "../src/request.ts";
import { HttpServer } from "../src/server.ts";

/** `req.ip` of a GET from `peer` with `X-Forwarded-For: 203.0.113.9`, trusting `trust`. */
function ipOf(peer: string, trust: string[]): string {
  const bytes = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n",
  );
  const head = new RequestHead(defaultLimits.maxHeaders);
  const end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  assert.equal(parseHead(bytes, 0, end, head, defaultLimits), 0);
  const server = new HttpServer({ handler: () => ({}), trustProxy: trust });
  return new IncomingRequest(head, null, { remoteAddress: peer }, server.proxies).ip;
}

describe("a peer's address", () => {
  it("is an IPv4-mapped peer's IPv4 address, and only for a mapped one", () => {
    assert.equal(plainAddress("::ffff:10.0.0.1"), "10.0.0.1");
    assert.equal(plainAddress("10.0.0.1"), "10.0.0.1");
    // RFC 2765's IPv4-translated form is no IPv4 peer: it kept `0:10.0.0.1`, no address at all.
    assert.equal(plainAddress("::ffff:0:10.0.0.1"), "::ffff:0:a00:1");
  });

  it("is an IPv4-compatible peer in hex, as IPv6: not its IPv4 address (RFC 4291 §2.5.5.1)", () => {
    // libuv writes `::a00:1` so; other runtimes write it in hex.
    assert.equal(plainAddress("::10.0.0.1"), "::a00:1");
    assert.equal(plainAddress("::a00:1"), "::a00:1");
    assert.equal(plainAddress("0:0:0:0:0:0:10.0.0.1"), "::a00:1");
  });

  it("stays as the socket wrote it otherwise", () => {
    for (const peer of ["::1", "2001:db8::1", "fe80::1%eth0", "127.0.0.1", ""]) {
      assert.equal(plainAddress(peer), peer, peer);
    }
  });
});

describe("trustProxy and IPv4 in IPv6", () => {
  const client = "203.0.113.9";

  it("trusts an IPv4-mapped peer by its IPv4 entry, written any way", () => {
    for (const trust of ["10.0.0.1", "::ffff:10.0.0.1", "[::ffff:10.0.0.1]", "::FFFF:a00:1"]) {
      assert.equal(ipOf("::ffff:10.0.0.1", [trust]), client, trust);
      assert.equal(ipOf("10.0.0.1", [trust]), client, trust);
    }
  });

  it("trusts an IPv4-compatible peer by its IPv6 entry, as any runtime writes the peer", () => {
    for (const trust of ["::10.0.0.1", "[::10.0.0.1]", "::a00:1", "[0:0::A00:1]"]) {
      assert.equal(ipOf("::10.0.0.1", [trust]), client, trust);
      assert.equal(ipOf("::a00:1", [trust]), client, trust);
      // Not the IPv4 peer, and not the mapped one.
      assert.equal(ipOf("10.0.0.1", [trust]), "10.0.0.1", trust);
      assert.equal(ipOf("::ffff:10.0.0.1", [trust]), "10.0.0.1", trust);
    }
  });

  it("does not trust an IPv4-compatible peer by an IPv4 entry", () => {
    for (const trust of ["10.0.0.1", "::ffff:10.0.0.1", "[::ffff:10.0.0.1]"]) {
      assert.equal(ipOf("::10.0.0.1", [trust]), "::a00:1", trust);
      assert.equal(ipOf("::a00:1", [trust]), "::a00:1", trust);
    }
  });
});
