/**
 * IP addresses as the server compares them: a trusted proxy given as text is
 * matched against the peer address a socket reports, so both must be written
 * the same way.
 *
 * @module
 */
import { ipv6Address } from "./authority.ts";

/**
 * The form sockets report `text` in, or null when it is no IP address: IPv4 as four decimal
 * octets (no leading zeros, which some parsers read as octal), IPv6 in the canonical text of
 * RFC 5952 (lowercase, the longest run of zero groups as `::`), and an IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`) as its IPv4 address, as the server sees such a peer.
 */
export function canonicalAddress(text: string): string | null {
  if (IPV4.test(text)) return validOctets(text) ? text : null;
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !isIPv6(text)) return null;
  let ipv6: string;
  try {
    // The URL standard's IPv6 serializer follows RFC 5952, in every runtime. Its parsers do not
    // agree on what is an address (Bun's takes `::0:0:0:0:0:0:`): RFC 3986 said so above.
    ipv6 = new URL(`http://[${hexTail(text)}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  // It writes `::ffff:192.0.2.1` as `::ffff:c000:201`.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ipv6);
  if (mapped === null) return ipv6;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/**
 * An address as a person configures it (`--trust-proxy`, `trustProxy`), in {@link canonicalAddress}'s
 * form: IPv6 also in the brackets of a URL (`[::1]`), as `--host` takes it.
 */
export function configuredAddress(text: string): string | null {
  if (!(text.startsWith("[") && text.endsWith("]"))) return canonicalAddress(text);
  const inside = text.slice(1, -1);
  // Brackets are for IPv6 alone (RFC 3986 §3.2.2).
  return inside.includes(":") ? canonicalAddress(inside) : null;
}

const IPV4 = /^(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}$/;

/** `text` (ASCII) is an IPv6address (RFC 3986 §3.2.2). */
function isIPv6(text: string): boolean {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return ipv6Address(bytes, 0, bytes.length);
}

/**
 * An IPv6address with its IPv4 tail (`::ffff:192.0.2.1`) written as two hex pieces. Bun's URL
 * parser refuses some addresses with such a tail that RFC 3986 allows (`::1:2:3:4:192.0.2.1`,
 * `::0:0:0:0:192.0.2.1`); written in hex it takes them.
 */
function hexTail(address: string): string {
  const colon = address.lastIndexOf(":");
  const tail = address.slice(colon + 1);
  if (!tail.includes(".")) return address;
  const [a, b, c, d] = tail.split(".").map(Number) as [number, number, number, number];
  return `${address.slice(0, colon + 1)}${(a * 256 + b).toString(16)}:${
    (c * 256 + d).toString(16)
  }`;
}

function validOctets(text: string): boolean {
  return text.split(".").every((octet) => Number(octet) <= 255);
}

/**
 * A peer's address as a socket reports it, in {@link canonicalAddress}'s form, the one trusted
 * proxies are written in: `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) is 192.0.2.1.
 * Any other IPv6 address written with an IPv4 tail is IPv6, in hex: libuv (Node) writes the
 * IPv4-compatible `::a00:1` (deprecated, RFC 4291 §2.5.5.1) as `::10.0.0.1`, where other stacks
 * write `::a00:1`. It is no IPv4 peer (that form names `::1` as `::0.0.0.1`), so an IPv4 entry
 * does not trust it. Other text stays as sockets write it (RFC 5952 already, or `fe80::1%eth0`).
 */
export function plainAddress(address: string): string {
  if (!address.includes(":")) return address;
  if (address.startsWith("::ffff:")) {
    // Its octets are a socket's, each at most 255.
    const ipv4 = address.slice(7);
    if (IPV4.test(ipv4)) return ipv4;
  }
  if (!address.includes(".")) return address;
  return canonicalAddress(address) ?? address;
}
