/**
 * IP addresses as the server compares them: a trusted proxy given as text is
 * matched against the peer address a socket reports, so both must be written
 * the same way.
 *
 * @module
 */

/**
 * The form sockets report `text` in, or null when it is no IP address: IPv4 as four decimal
 * octets (no leading zeros, which some parsers read as octal), IPv6 in the canonical text of
 * RFC 5952 (lowercase, the longest run of zero groups as `::`), and an IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`) as its IPv4 address, as the server sees such a peer.
 */
export function canonicalAddress(text: string): string | null {
  if (IPV4.test(text)) return validOctets(text) ? text : null;
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return null;
  let ipv6: string;
  try {
    // The URL standard's IPv6 parser and serializer follow RFC 5952, in every runtime.
    ipv6 = new URL(`http://[${text}]/`).hostname.slice(1, -1);
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

const IPV4 = /^(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}$/;

function validOctets(text: string): boolean {
  return text.split(".").every((octet) => Number(octet) <= 255);
}
