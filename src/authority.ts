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
    // IP-literal: IPv6address or IPvFuture (and RFC 6874 zone ids, `%25…`) between brackets;
    // their own grammar is the address parser's business, the bytes allowed are ours.
    p++;
    const inside = p;
    while (p < end && buf[p] !== CLOSE_BRACKET) {
      const c = buf[p]!;
      if (c === PERCENT) {
        if (!pctEncoded(buf, p, end)) return -1;
        p += 3;
      } else if (REG_NAME[c] === 1 || c === COLON) p++;
      else return -1;
    }
    if (p === end || p === inside) return -1;
    p++;
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
  // port = *DIGIT: it may be empty (`host:`), as RFC 3986 §3.2.3 allows.
  for (p++; p < end; p++) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) return -1;
  }
  return hostEnd;
}

/** `%` HEXDIG HEXDIG at `p`. */
function pctEncoded(buf: Uint8Array, p: number, end: number): boolean {
  return p + 2 < end && HEX[buf[p + 1]!] !== 0xff && HEX[buf[p + 2]!] !== 0xff;
}
