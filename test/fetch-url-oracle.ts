/**
 * The oracle of test/fetch-url-model.test.ts: for a request line and its `Host` fields, whether
 * binks must refuse it (400) and otherwise the URL a fetch handler's `Request` must have.
 *
 * Written from RFC 9112 §3.2–3.3 (request-target forms, Host), RFC 9110 §4.2 and §7.2, RFC 3986
 * §3.2 (authority grammar) and, for how `new URL` writes what it was given, the WHATWG URL
 * standard (host parser, IPv4 and IPv6 serializers, percent-encode sets). It calls no `URL` of
 * the runtime: its answer is the same on Node, Deno and Bun, so the three must agree with it.
 *
 * Besides: the path a fetch handler sees must be the one binks's router sees (`req.path`), the
 * query its `req.query`'s, both percent-encoded where the URL standard encodes, nothing more.
 */

import { ipv6Pieces, rfc5952 } from "./request-oracle.ts";

/** What a request must come to. */
export type Expected =
  | { kind: "refused" }
  | {
    kind: "url";
    href: string;
    host: string;
    pathname: string;
    search: string;
    /**
     * The host has an `xn--` label that does not decode to a valid one (UTS 46 §4.1): the URL
     * standard refuses it, and so do Node 20 and 22, Deno and (through binks) Bun, but Node 24's
     * URL takes it, so binks serves it there. Either a 400 or this URL; never a 500.
     */
    idnaDependent: boolean;
  };

const REFUSED: Expected = { kind: "refused" };

const UNRESERVED_OR_SUB_DELIM = /^[A-Za-z0-9\-._~!$&'()*+,;=]$/;
const HEXDIG = /^[0-9A-Fa-f]$/;

/**
 * The host of `authority` (`uri-host [":" port]`) as `new URL` writes it, with its port as a
 * URL keeps it (none when it is the scheme's default), or null when RFC 3986 or the URL
 * standard refuses it; userinfo (`user@`) among them, which binks refuses (RFC 9110 §4.2.4).
 */
export function authorityUrl(authority: string, defaultPort: number): string | null {
  let hostEnd: number;
  let host: string | null;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) return null;
    host = ipv6Url(authority.slice(1, close));
    if (host === null) return null;
    hostEnd = close + 1;
  } else {
    hostEnd = 0;
    while (hostEnd < authority.length && authority[hostEnd] !== ":") hostEnd++;
    host = regNameUrl(authority.slice(0, hostEnd));
    if (host === null) return null;
  }
  const rest = authority.slice(hostEnd);
  if (rest === "" || rest === ":") return host;
  if (!/^:[0-9]+$/.test(rest)) return null;
  const port = Number(rest.slice(1));
  if (port > 65535) return null;
  return port === defaultPort ? host : `${host}:${port}`;
}

/**
 * `text` is `uri-host [":" port]` (RFC 3986 §3.2.2-3.2.3), as a Host field must be (RFC 9112
 * §3.2), the host possibly empty: a reg-name, an IPv6 address or an IPvFuture in brackets (no
 * zone id: RFC 6874 is for URIs a user types), a port up to 65535 (none higher is a TCP port).
 */
export function isAuthority(text: string): boolean {
  const m = /^(\[[^\]]*\]|[^:]*)(:[0-9]*)?$/.exec(text);
  if (m === null) return false;
  const host = m[1]!;
  if (m[2] !== undefined && m[2].length > 1 && Number(m[2].slice(1)) > 65535) return false;
  if (host.startsWith("[")) {
    const inner = host.slice(1, -1);
    return ipv6Pieces(inner) !== null || /^v[0-9a-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/i.test(inner);
  }
  return /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/.test(host);
}

/**
 * A reg-name (RFC 3986: unreserved, sub-delims, `%HH`) as the URL standard's host parser
 * writes it: percent-decoded, lower-cased, refused with a forbidden domain code point or a
 * Punycode label, read as an IPv4 address when its last label is a number.
 */
function regNameUrl(name: string): string | null {
  if (name === "") return null;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === "%") {
      if (!HEXDIG.test(name[i + 1] ?? "") || !HEXDIG.test(name[i + 2] ?? "")) return null;
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (UNRESERVED_OR_SUB_DELIM.test(c)) {
      bytes.push(c.charCodeAt(0));
    } else {
      return null;
    }
  }
  // The generator decodes to ASCII only, but for the names of NON_ASCII_NAMES.
  const known = NON_ASCII_NAMES.get(name.toLowerCase());
  if (known !== undefined) return known;
  if (bytes.some((b) => b >= 0x80)) {
    // UTF-8 decoding puts U+FFFD for a byte that is not UTF-8, which ToASCII refuses.
    if (!isUtf8(bytes)) return null;
    throw new Error(`the oracle knows no host ${name}`);
  }
  const decoded = String.fromCharCode(...bytes).toLowerCase();
  // Forbidden domain code points: C0 controls, space, # % / : < > ? @ [ \ ] ^ |, DEL.
  for (const ch of decoded) {
    if (ch <= " " || ch === "\x7f" || "#%/:<>?@[\\]^|".includes(ch)) return null;
  }
  // UTS 46 ToASCII with CheckHyphens off: a label that begins xn-- must decode as Punycode to
  // a valid label, which none the generator makes up does (the good ones are NON_ASCII_NAMES).
  // Runtimes differ there: see `idnaDependent`, which `expected` tells from the host it gets.
  if (endsInNumber(decoded)) return ipv4Url(decoded);
  return decoded;
}

/** `host` (as a URL writes it) has an `xn--` label the oracle does not know to be valid. */
function idnaDependent(host: string): boolean {
  const name = host.replace(/:[0-9]*$/, "");
  const known = new Set([...NON_ASCII_NAMES.values()].flatMap((h) => h?.split(".") ?? []));
  return name.split(".").some((label) => label.startsWith("xn--") && !known.has(label));
}

/** Names whose host is known (Punycode, or percent-encoded UTF-8 that ToASCII turns into one). */
const NON_ASCII_NAMES = new Map<string, string | null>([
  ["xn--nxasmq6b", "xn--nxasmq6b"],
  ["%c3%a9", "xn--9ca"],
  ["caf%c3%a9.example", "xn--caf-dma.example"],
  ["%e2%80%ae", null],
  ["%ff", null],
]);

function isUtf8(bytes: number[]): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}

/** The URL standard's ends-in-a-number checker. */
function endsInNumber(host: string): boolean {
  const parts = host.split(".");
  if (parts[parts.length - 1] === "") {
    if (parts.length === 1) return false;
    parts.pop();
  }
  const last = parts[parts.length - 1]!;
  if (/^[0-9]+$/.test(last)) return true;
  return ipv4Number(last) !== null;
}

/** The URL standard's IPv4 number parser (hex with 0x, octal with a leading 0). */
function ipv4Number(part: string): bigint | null {
  if (part === "") return null;
  let radix = 10;
  let digits = part;
  if (/^0x/i.test(part)) {
    radix = 16;
    digits = part.slice(2);
  } else if (part.length > 1 && part.startsWith("0")) {
    radix = 8;
    digits = part.slice(1);
  }
  if (digits === "") return 0n;
  const valid = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return null;
  let n = 0n;
  for (const d of digits) n = n * BigInt(radix) + BigInt(parseInt(d, 16));
  return n;
}

/** The URL standard's IPv4 parser and serializer, or null where it fails. */
function ipv4Url(host: string): string | null {
  const parts = host.split(".");
  if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
  if (parts.length > 4) return null;
  const numbers: bigint[] = [];
  for (const part of parts) {
    const n = ipv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255n)) return null;
  if (last >= 256n ** BigInt(5 - parts.length)) return null;
  let address = last;
  numbers.forEach((n, i) => address += n * 256n ** BigInt(3 - i));
  const out: string[] = [];
  for (let i = 3; i >= 0; i--) out.push(String((address >> BigInt(8 * i)) & 255n));
  return out.join(".");
}

/**
 * An IPv6address of RFC 3986 in brackets as the URL standard writes it (the longest run of two
 * or more zero pieces as `::`, the first of equal ones; lower-case hex), or null. No zone id
 * (RFC 6874: binks takes none) and no IPvFuture (no URL parser takes one).
 */
function ipv6Url(text: string): string | null {
  const pieces = ipv6Pieces(text);
  return pieces === null ? null : `[${rfc5952(pieces)}]`;
}

/**
 * A path and query as `new URL` writes them: in the path `"` `<` `>` `` ` `` `{` `}` (the path
 * percent-encode set's printable bytes) and `^`, which Bun's URL encodes too and binks encodes
 * on every runtime so that a fetch app sees one path everywhere; in the query (special scheme)
 * `"` `<` `>` `'`.
 */
function encodedPath(path: string): string {
  return path.replace(/["<>`{}^]/g, percent);
}
function encodedQuery(query: string): string {
  return query.replace(/["<>']/g, percent);
}
function percent(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
}

/** `.` or `..`, a dot possibly written `%2e`: a segment a URL parser removes (RFC 3986 §5.2.4). */
function isDotSegment(segment: string): boolean {
  return /^(\.|%2e){1,2}$/i.test(segment);
}

/** A request as the test sends it. */
export interface UrlCase {
  method: string;
  target: string;
  minor: 0 | 1;
  /** The values of the Host fields sent, in order (OWS around each as sent). */
  hosts: string[];
}

/** What `c` must come to. */
export function expected(c: UrlCase): Expected {
  // RFC 9112 §3.2: HTTP/1.1 without exactly one Host, or any request with more than one or
  // with one that is not `uri-host [":" port]`, is a 400, whatever the form of the target.
  if (c.minor === 1 ? c.hosts.length !== 1 : c.hosts.length > 1) return REFUSED;
  const hostValue = c.hosts.length === 1 ? c.hosts[0]!.replace(/^[ \t]+|[ \t]+$/g, "") : "";
  if (!isAuthority(hostValue)) return REFUSED;
  // The URL a Host field makes, when the target has no authority of its own; null: no URL
  // takes it (binks answers 400 then too, as no Request can be made).
  const fieldHost = hostValue === "" ? "" : authorityUrl(hostValue, 80);
  // RFC 9112 §3.2: a target is visible ASCII; binks refuses `#` in one as well (no fragment
  // is ever part of a request-target).
  if (!/^[\x21-\x7e]+$/.test(c.target) || c.target.includes("#")) return REFUSED;
  if (c.target === "*") {
    if (c.method !== "OPTIONS" || fieldHost === null) return REFUSED;
    const host = fieldHost || "localhost";
    const idna = idnaDependent(host);
    return {
      kind: "url",
      href: `http://${host}/`,
      host,
      pathname: "/",
      search: "",
      idnaDependent: idna,
    };
  }
  let scheme = "http";
  let host: string;
  let rest: string;
  if (c.target.startsWith("/")) {
    // RFC 9112 §3.3: no Host value, or an empty one, leaves the authority to the server's
    // default (RFC 9110 §4.2.1 needs one for http), which binks takes to be localhost.
    if (fieldHost === null) return REFUSED;
    host = fieldHost || "localhost";
    rest = c.target;
  } else {
    // Absolute-form (§3.2.2): its own authority, the Host field ignored but checked above.
    const m = /^(https?):\/\/([^/?]*)(.*)$/i.exec(c.target);
    if (m === null) return REFUSED;
    scheme = m[1]!.toLowerCase();
    const authority = authorityUrl(m[2]!, scheme === "https" ? 443 : 80);
    if (authority === null) return REFUSED;
    host = authority;
    rest = m[3]! === "" || m[3]!.startsWith("?") ? `/${m[3]}` : m[3]!;
  }
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? null : rest.slice(q + 1);
  if (path.includes("\\") || path.split("/").some(isDotSegment)) return REFUSED;
  const pathname = encodedPath(path);
  const search = query === null || query === "" ? "" : `?${encodedQuery(query)}`;
  const href = `${scheme}://${host}${pathname}${query === null ? "" : `?${encodedQuery(query)}`}`;
  return { kind: "url", href, host, pathname, search, idnaDependent: idnaDependent(host) };
}

/** The path binks's router must see for `target` (RFC 9112 §3.2.2: `/` for an empty one). */
export function routedPath(target: string): string {
  if (target === "*") return "*";
  const rest = target.startsWith("/") ? target : target.replace(/^[a-z]+:\/\/[^/?]*/i, "");
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  return path === "" ? "/" : path;
}
