/**
 * An oracle for the request view (src/request.ts, src/web-request.ts, src/authority.ts,
 * src/address.ts), written from the README ("Using it as a library", "Targets", "Behind a
 * proxy") and the RFCs, not from binks's code:
 *
 * - Whether the head is taken: RFC 9112 §3.2's target forms (origin `/…` for any method but
 *   CONNECT, `*` for OPTIONS only, authority-form `host:port` for CONNECT only, absolute-form
 *   `http(s)://authority…` with a host and no userinfo) and §3.2's `Host` (exactly one in
 *   HTTP/1.1, at most one in HTTP/1.0, a value that is RFC 3986's `uri-host [":" port]`, the
 *   port up to 65535, no zone id); else 400.
 * - `url` the target as sent; `path` up to its `?` (after the authority in absolute-form, `/`
 *   when empty); `query` the part after that `?`, read as application/x-www-form-urlencoded;
 *   `host` an absolute-form target's authority (it wins over Host, RFC 9112 §3.2.2), a CONNECT
 *   target, else the Host value, "" when none.
 * - `header(name)`: the values of the fields of that name (ASCII case-insensitive; a name that is
 *   no token names no field) in order, joined with `, ` (RFC 9110 §5.3), `Cookie` with `; `
 *   (RFC 6265 §4.2.1); `headerList()` every field, name lowercased, value without the OWS around.
 * - `ip`: the peer, as binks writes addresses (`::ffff:a.b.c.d` as `a.b.c.d`, an IPv4-compatible
 *   `::a.b.c.d` in hex: RFC 4291 §2.5.5.1 deprecates it, and it is no IPv4), unless it is a trusted
 *   proxy; then the proxies' field (only the one configured) is walked from its last element, at
 *   most 16 elements: a trusted address goes on, another address is the client, and an element
 *   that names no address (`unknown`, `_obfuscated`, malformed, a Forwarded element with no `for`
 *   or two) ends the walk at the hop before it. Addresses in RFC 5952 text, IPv4-mapped as IPv4.
 * - The fetch `Request`: `url` the absolute-form target, else `http://` + host (`localhost` when
 *   empty) + the origin-form target (`/` for `*`), as the URL standard reads it (a TypeError when
 *   it refuses it); `headers` each field, repeats joined as `Headers` joins them, several
 *   `Cookie` fields one, joined with `; ` (RFC 9113 §8.2.3).
 */

/** What the oracle says a request head gives. */
export interface Expected {
  /** 0 when taken, else the status it is refused with. */
  status: number;
  path: string;
  host: string;
  query: [string, string][];
  headerList: [string, string][];
  /** The URL a fetch handler's Request has, or null when its URL is refused. */
  fetchUrl: string | null;
  /** `[...request.headers]`. */
  fetchHeaders: [string, string][];
}

// ---- Addresses ----

const DEC_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])";
const IPV4 = new RegExp(`^${DEC_OCTET}(?:\\.${DEC_OCTET}){3}$`);
const H16 = /^[0-9A-Fa-f]{1,4}$/;

/** RFC 3986 §3.2.2 IPv4address. */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** h16 groups of `part` (between or around `::`), the last may be an IPv4address; null if bad. */
function groups(part: string, ipv4Last: boolean): number[] | null {
  if (part === "") return [];
  const out: number[] = [];
  const pieces = part.split(":");
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (H16.test(piece)) out.push(parseInt(piece, 16));
    else if (ipv4Last && i === pieces.length - 1 && isIPv4(piece)) {
      const [a, b, c, d] = piece.split(".").map(Number) as [number, number, number, number];
      out.push(a * 256 + b, c * 256 + d);
    } else return null;
  }
  return out;
}

/** RFC 3986 §3.2.2 IPv6address as its eight 16-bit pieces, or null. */
export function ipv6Pieces(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  if (halves.length === 1) {
    const all = groups(text, true);
    return all !== null && all.length === 8 ? all : null;
  }
  const left = groups(halves[0]!, false);
  const right = groups(halves[1]!, true);
  // `::` stands for one zero piece at least.
  if (left === null || right === null || left.length + right.length > 7) return null;
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 §4 text of eight pieces: lowercase, no leading zeros, the first longest zero run. */
export function rfc5952(pieces: number[]): string {
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (pieces[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && pieces[j] === 0) j++;
    if (j - i > bestLength) {
      bestAt = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = pieces.map((p) => p.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLength).join(":")}`;
}

/** A trusted proxy's address as configured: IPv6 also in brackets (as a URL writes it). */
export function configured(text: string): string | null {
  const m = /^\[(.*:.*)\]$/.exec(text);
  return canonical(m === null ? text : m[1]!);
}

/** An IP address as binks compares and shows them, or null for no IP address. */
export function canonical(text: string): string | null {
  if (isIPv4(text)) return text;
  const pieces = ipv6Pieces(text);
  if (pieces === null) return null;
  const mapped = pieces.slice(0, 6).every((p, i) => p === (i === 5 ? 0xffff : 0));
  if (mapped) {
    return [pieces[6]! >> 8, pieces[6]! & 255, pieces[7]! >> 8, pieces[7]! & 255].join(".");
  }
  return rfc5952(pieces);
}

/**
 * The peer as binks shows it: an IP address as binks writes one (an IPv4 client of a dual-stack
 * socket as IPv4, an IPv4-compatible `::10.0.0.1` in hex as IPv6), other text as the socket wrote it.
 */
export function socketForm(peer: string): string {
  return canonical(peer) ?? peer;
}

// ---- Authorities ----

const UNRESERVED_SUB = /^[A-Za-z0-9\-._~!$&'()*+,;=]$/;

function regName(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (UNRESERVED_SUB.test(c)) continue;
    if (c === "%" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

function ipvFuture(text: string): boolean {
  return /^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/.test(text);
}

/** `uri-host [":" port]` (RFC 3986 §3.2.2–3), the port ≤ 65535: its host, or null. */
export function authorityHost(text: string): string | null {
  let host: string;
  let rest: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return null;
    const inside = text.slice(1, close);
    if (ipv6Pieces(inside) === null && !ipvFuture(inside)) return null;
    host = text.slice(0, close + 1);
    rest = text.slice(close + 1);
  } else {
    const colon = text.indexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? "" : text.slice(colon);
    if (!regName(host)) return null;
  }
  if (rest === "") return host;
  if (!/^:[0-9]*$/.test(rest)) return null;
  // Leading zeros do not make a port larger: 00080 is 80.
  if (rest.length > 1 && Number(rest.slice(1)) > 65535) return null;
  return host;
}

// ---- Forwarding chains ----

/** Which field the trusted proxies set. */
export type ProxyField = "x-forwarded-for" | "forwarded";

/** `text` without the OWS around it: SP and HTAB (RFC 9110 §5.6.3), not 0xA0 as trim() has it. */
function withoutOws(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** RFC 7239 §6 node-port: 1*5DIGIT or an obfuscated port. */
const NODE_PORT = /^(?:[0-9]{1,5}|_[A-Za-z0-9._-]+)$/;

/** A node (`addr`, `addr:port`, `[v6]`, `[v6]:port`, bare v6 in XFF) as its address, or null. */
function nodeAddress(node: string, bareIPv6: boolean): string | null {
  if (node.startsWith("[")) {
    const close = node.indexOf("]");
    if (close < 0) return null;
    const rest = node.slice(close + 1);
    if (rest !== "" && !(rest.startsWith(":") && NODE_PORT.test(rest.slice(1)))) return null;
    const inside = node.slice(1, close);
    return ipv6Pieces(inside) === null ? null : canonical(inside);
  }
  if (bareIPv6 && ipv6Pieces(node) !== null) return canonical(node);
  const colon = node.indexOf(":");
  const name = colon < 0 ? node : node.slice(0, colon);
  if (colon >= 0 && !NODE_PORT.test(node.slice(colon + 1))) return null;
  // `unknown` and obfuscated names (`_hidden`) name nobody the walk could go on from.
  return isIPv4(name) ? name : null;
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The address a Forwarded element's one `for=` names, or null (none, two, malformed: RFC 7239 §4). */
function forwardedFor(element: string): string | null {
  const fors: string[] = [];
  for (const raw of element.split(";")) {
    const pair = withoutOws(raw);
    if (pair === "") continue;
    // Other parameters, well-formed or not, say nothing of the hop.
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq).toLowerCase() === "for") fors.push(pair.slice(eq + 1));
  }
  if (fors.length !== 1) return null;
  let value = fors[0]!;
  if (value.startsWith('"')) {
    if (value.length < 2 || !value.endsWith('"')) return null;
    value = value.slice(1, -1);
  }
  return nodeAddress(value, false);
}

/** Hops of a chain looked at, from the nearest. */
export const MAX_HOPS = 16;

/**
 * The client's address: `peer` unless it is trusted, then the chain of `field` (the joined
 * value of the fields so named, or undefined) walked from its end.
 */
export function clientIp(
  peer: string,
  trusted: ReadonlySet<string>,
  field: ProxyField,
  value: string | undefined,
): string {
  const from = socketForm(peer);
  if (!trusted.has(from)) return from;
  if (value === undefined) return from;
  const elements = value.split(",").slice(-MAX_HOPS).map(withoutOws).filter((e) => e !== "");
  let named = from;
  for (let i = elements.length - 1; i >= 0; i--) {
    const address = field === "forwarded"
      ? forwardedFor(elements[i]!)
      : nodeAddress(elements[i]!, true);
    if (address === null) return named;
    if (!trusted.has(address)) return address;
    named = address;
  }
  return named;
}

// ---- Heads ----

/** A request as the test builds it: a field's value is as sent, OWS around it included. */
export interface HeadSpec {
  method: string;
  target: string;
  minor: 0 | 1;
  fields: [string, string][];
}

/** The head's bytes: one byte per character (values may hold obs-text). */
export function headBytes(spec: HeadSpec): Uint8Array {
  const text = `${spec.method} ${spec.target} HTTP/1.${spec.minor}\r\n` +
    spec.fields.map(([n, v]) => `${n}:${v}\r\n`).join("") + "\r\n";
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

const OWS = /^[ \t]+|[ \t]+$/g;

/** Where an absolute-form target's authority ends (its path or query starts). */
function authorityEnd(target: string, from: number): number {
  let end = from;
  while (end < target.length && target[end] !== "/" && target[end] !== "?") end++;
  return end;
}

/** 400 unless the target has the form the method may use (RFC 9112 §3.2). */
function targetStatus(method: string, target: string): number {
  if (target.startsWith("/")) return method === "CONNECT" ? 400 : 0;
  if (method === "CONNECT") {
    const host = authorityHost(target);
    return host !== null && host !== "" && host.length < target.length - 1 ? 0 : 400;
  }
  if (target === "*") return method === "OPTIONS" ? 0 : 400;
  const scheme = /^https?:\/\//i.exec(target);
  if (scheme === null) return 400;
  const from = scheme[0].length;
  const host = authorityHost(target.slice(from, authorityEnd(target, from)));
  return host !== null && host !== "" ? 0 : 400;
}

/** One application/x-www-form-urlencoded name or value, decoded (URL standard §5.1). */
function formDecode(text: string): string {
  const s = text.replaceAll("+", " ");
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array(bytes));
}

function formEntries(query: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    out.push(
      eq < 0
        ? [formDecode(part), ""]
        : [formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))],
    );
  }
  return out;
}

/** The fields named `name` (ASCII case-insensitively; a name that is no token names none). */
export function headerValue(fields: [string, string][], name: string): string | undefined {
  if (!TOKEN_RE.test(name)) return undefined;
  const lower = name.toLowerCase();
  const values = fields.filter(([n]) => n.toLowerCase() === lower).map(([, v]) =>
    v.replace(OWS, "")
  );
  if (values.length === 0) return undefined;
  return values.join(lower === "cookie" ? "; " : ", ");
}

/** What `Headers` holds for `list` appended in order: sorted names, repeats joined. */
function headersEntries(list: [string, string][]): [string, string][] {
  const byName = new Map<string, string[]>();
  for (const [n, v] of list) {
    const values = byName.get(n) ?? [];
    values.push(v);
    byName.set(n, values);
  }
  const names = [...byName.keys()].sort();
  const out: [string, string][] = [];
  for (const n of names) {
    const values = byName.get(n)!.map((v) => v.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ""));
    if (n === "set-cookie") { for (const v of values) out.push([n, v]); }
    else out.push([n, values.join(", ")]);
  }
  return out;
}

function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
}

/** The request view's values for `spec`. */
export function expect(spec: HeadSpec): Expected {
  const { method, target, minor, fields } = spec;
  const list: [string, string][] = fields.map(([n, v]) => [n.toLowerCase(), v.replace(OWS, "")]);
  const hosts = list.filter(([n]) => n === "host").map(([, v]) => v);
  let status = targetStatus(method, target);
  // Control bytes but HTAB are no field-vchar (RFC 9110 §5.5).
  if (fields.some(([, v]) => [...v].some(isControl))) status = 400;
  if (minor === 1 ? hosts.length !== 1 : hosts.length > 1) status = 400;
  if (hosts.some((h) => authorityHost(h) === null)) status = 400;
  const scheme = /^https?:\/\//i.exec(target);
  const absolute = scheme !== null && method !== "CONNECT";
  const pathFrom = absolute ? authorityEnd(target, scheme[0].length) : 0;
  const q = target.indexOf("?", pathFrom);
  let path = q < 0 ? target.slice(pathFrom) : target.slice(pathFrom, q);
  if (absolute && path === "") path = "/";
  const host = absolute
    ? target.slice(scheme[0].length, pathFrom)
    : method === "CONNECT"
    ? target
    : headerValue(fields, "host") ?? "";
  const query = q < 0 ? [] : formEntries(target.slice(q + 1));
  const uri = absolute
    ? target
    : `http://${host === "" ? "localhost" : host}${target.startsWith("/") ? target : "/"}`;
  const fetchUrl = URL.canParse(uri) ? new URL(uri).href : null;
  // RFC 9112 §3.2.2: an absolute-form target's authority is the host, whatever Host says.
  const fetchFields: [string, string][] = absolute
    ? [["host", host], ...list.filter(([n]) => n !== "host")]
    : list;
  const cookies = fetchFields.filter(([n]) => n === "cookie");
  const forHeaders: [string, string][] = cookies.length < 2 ? fetchFields : [
    ...fetchFields.filter(([n]) => n !== "cookie"),
    ["cookie", cookies.map(([, v]) => v).join("; ")],
  ];
  return {
    status,
    path,
    host,
    query,
    headerList: list,
    fetchUrl,
    fetchHeaders: headersEntries(forHeaders),
  };
}
