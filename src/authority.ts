/**
 * The authority of a request: `uri-host [ ":" port ]` (RFC 3986 §3.2.2–3.2.3),
 * as a `Host` field value carries it and as an absolute-form target does after
 * `scheme://` (RFC 9112 §3.2).
 *
 * RFC 9112 §3.2 has a server answer 400 to a `Host` whose value is not this;
 * a space, a slash or a `@` in it is how a request disagrees with itself about
 * where it is going (a cache keyed on one reading, an app on the other).
 *
 * @module
 */

import { COLON, HEX, PERCENT, REG_NAME } from "./bytes.ts";

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Where the host of `buf[start, end)` ends (the port's colon, or `end`), or -1 when the bytes
 * are not `uri-host [ ":" port ]`. An empty host is well-formed here; whether one may be empty
 * is the caller's rule (a `Host` may, an `http` URI may not).
 */
export function authorityHostEnd(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  if (p < end && buf[p] === OPEN_BRACKET) {
    // IP-literal = "[" ( IPv6address / IPvFuture ) "]". A zone id (RFC 6874) is not taken: no
    // URL parser takes one either, so a fetch handler could not be given the request.
    const close = buf.indexOf(CLOSE_BRACKET, p + 1);
    if (close < 0 || close >= end) return -1;
    if (!ipv6Address(buf, p + 1, close) && !ipvFuture(buf, p + 1, close)) return -1;
    p = close + 1;
  } else {
    while (p < end) {
      const c = buf[p]!;
      if (REG_NAME[c] === 1) p++;
      else if (c === PERCENT && pctEncoded(buf, p, end)) p += 3;
      else break;
    }
  }
  const hostEnd = p;
  if (p === end) return hostEnd;
  if (buf[p] !== COLON) return -1;
  // port = *DIGIT: it may be empty (`host:`), as RFC 3986 §3.2.3 allows; past 65535 it names
  // no TCP port (and no URL parser takes it).
  let port = 0;
  for (p++; p < end; p++) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) return -1;
    port = port * 10 + d;
    if (port > MAX_PORT) return -1;
  }
  return hostEnd;
}

const MAX_PORT = 65535;
const DOT = 0x2e;

/** `buf[p, end)` is an IPv6address (RFC 3986 §3.2.2): eight 16-bit pieces, `::` once at most. */
export function ipv6Address(buf: Uint8Array, p: number, end: number): boolean {
  let pieces = 0;
  let compressed = false;
  if (end - p >= 2 && buf[p] === COLON && buf[p + 1] === COLON) {
    compressed = true;
    p += 2;
    if (p === end) return true;
  }
  for (;;) {
    let q = p;
    while (q < end && HEX[buf[q]!] !== 0xff) q++;
    if (q < end && buf[q] === DOT) {
      // The last 32 bits may be written as an IPv4 address.
      if (!ipv4Address(buf, p, end)) return false;
      pieces += 2;
      break;
    }
    if (q === p || q - p > 4) return false;
    pieces++;
    if (q === end) break;
    if (buf[q] !== COLON) return false;
    p = q + 1;
    if (p < end && buf[p] === COLON) {
      if (compressed) return false;
      compressed = true;
      p++;
      if (p === end) break;
    } else if (p === end) return false;
  }
  return compressed ? pieces <= 7 : pieces === 8;
}

/** `buf[p, end)` is an IPv4address: four dec-octets 0–255, no leading zeros (RFC 3986). */
function ipv4Address(buf: Uint8Array, p: number, end: number): boolean {
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (p >= end || buf[p] !== DOT) return false;
      p++;
    }
    const from = p;
    let value = 0;
    while (p < end && buf[p]! >= 0x30 && buf[p]! <= 0x39 && p - from < 3) {
      value = value * 10 + buf[p]! - 0x30;
      p++;
    }
    if (p === from || value > 255 || (p - from > 1 && buf[from] === 0x30)) return false;
  }
  return p === end;
}

/** `buf[p, end)` is an IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). */
function ipvFuture(buf: Uint8Array, p: number, end: number): boolean {
  if (p >= end || (buf[p]! | 0x20) !== 0x76) return false;
  const from = ++p;
  while (p < end && HEX[buf[p]!] !== 0xff) p++;
  if (p === from || p >= end || buf[p] !== DOT) return false;
  if (++p === end) return false;
  for (; p < end; p++) {
    const c = buf[p]!;
    if (REG_NAME[c] !== 1 && c !== COLON) return false;
  }
  return true;
}

/** `%` HEXDIG HEXDIG at `p`. */
function pctEncoded(buf: Uint8Array, p: number, end: number): boolean {
  return p + 2 < end && HEX[buf[p + 1]!] !== 0xff && HEX[buf[p + 2]!] !== 0xff;
}
