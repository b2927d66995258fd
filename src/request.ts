/**
 * The request as a handler sees it: a view over the parsed head that turns
 * bytes into strings only when asked.
 *
 * A request handled synchronously is a view into the connection's read
 * buffer, which the next request overwrites; using it after the handler has
 * returned throws rather than reading someone else's bytes. A handler that
 * returns a promise keeps its request valid until the promise settles (the
 * head is copied out then).
 *
 * @module
 */
import { equalsIgnoreCase, latin1, QUESTION, SLASH, withoutOws } from "./bytes.ts";
import { badJson, type RequestBody } from "./body.ts";
import { lowerFieldName } from "./field-names.ts";
import type { RequestHead } from "./parser.ts";
import { canonicalAddress, plainAddress } from "./address.ts";

const NO_BODY_BYTES = new Uint8Array(0);

/** A request received by the server. */
export class IncomingRequest {
  /** The method, as sent (case-sensitive: `GET`, `POST`, …). */
  readonly method: string;
  /** Path parameters filled in by the router. */
  params: Record<string, string> = EMPTY_PARAMS;
  private readonly peer: Peer;
  private head: RequestHead | null;
  private readonly requestBody: RequestBody | null;
  private cachedUrl: string | undefined = undefined;
  /** Where the path starts in {@link IncomingRequest.url}: past `scheme://authority` in absolute-form. */
  private readonly pathOffset: number;
  private cachedQuery: URLSearchParams | undefined = undefined;
  private cachedIp: string | undefined = undefined;
  private controller: AbortController | null = null;
  private abortReason: unknown = undefined;

  private readonly proxies: ProxyTrust;

  /** A view over a parsed `head`; `proxies` are what {@link IncomingRequest.ip} trusts. */
  constructor(
    head: RequestHead,
    body: RequestBody | null,
    peer: Peer,
    proxies: ProxyTrust = NO_PROXIES,
  ) {
    this.head = head;
    this.method = head.method;
    this.pathOffset = head.pathStart - head.targetStart;
    this.requestBody = body;
    this.peer = peer;
    this.proxies = proxies;
  }

  /**
   * The peer's address as the runtime's socket writes it (asked of it only when read): an IPv4
   * client of a dual-stack socket may come as `::ffff:10.0.0.1`. {@link IncomingRequest.ip}
   * gives it plain (`10.0.0.1`), as the access log and `trustProxy` take it.
   */
  get remoteAddress(): string {
    return this.peer.remoteAddress;
  }

  /**
   * The client's address: the peer's, unless the peer is a trusted proxy (`trustProxy`), in
   * which case the nearest address in the field the proxies set (`proxyHeader`:
   * `X-Forwarded-For` by default, or `Forwarded`) that is not itself a trusted proxy. The other
   * field is the client's own words and is never read.
   */
  get ip(): string {
    // Read by the access log and often by the app: walked once.
    return this.cachedIp ??= this.clientAddress();
  }

  /** What {@link IncomingRequest.ip} is: walked through the proxies' chain. */
  private clientAddress(): string {
    const peer = plainAddress(this.remoteAddress);
    const trusted = this.proxies.addresses;
    if (trusted.size === 0 || !trusted.has(peer)) return peer;
    const chain = this.proxies.header === "forwarded"
      ? forwardedChain(this.header("forwarded"))
      : xffChain(this.header("x-forwarded-for"));
    // Each trusted hop names the one before it; a name that is no IP address (`unknown`, an
    // obfuscated node, garbage) ends the chain at the last hop that could be named, and so does
    // a chain longer than any real one (its cost is the client's to choose).
    let named = peer;
    for (let i = chain.length - 1; i >= 0; i--) {
      const address = canonicalAddress(chain[i]!);
      if (address === null) return named;
      if (!trusted.has(address)) return address;
      named = address;
    }
    return named;
  }

  /** The head, while it is still this request's: after the handler has returned, throw. */
  private view(): RequestHead {
    const head = this.head;
    if (head === null) {
      throw new Error("this request's handler has returned; copy what you need before returning");
    }
    return head;
  }

  /**
   * The request-target exactly as sent: `/path?query`, or in absolute-form (which RFC 9112
   * §3.2.2 has servers accept) `http://host/path?query`.
   */
  get url(): string {
    if (this.cachedUrl === undefined) {
      const h = this.view();
      this.cachedUrl = latin1(h.buf, h.targetStart, h.targetEnd);
    }
    return this.cachedUrl;
  }

  /**
   * The target's path, before any `?` (not percent-decoded); in absolute-form the part after
   * the authority, `/` when that is empty.
   */
  get path(): string {
    const url = this.url;
    const from = this.pathOffset;
    const q = url.indexOf("?", from);
    if (from === 0) return q < 0 ? url : url.slice(0, q);
    const path = q < 0 ? url.slice(from) : url.slice(from, q);
    return path === "" ? "/" : path;
  }

  /** @internal FNV-1a hash of the path's bytes (the target before `?`): routing without a string. */
  pathHash(): number {
    const h = this.view();
    const buf = h.buf;
    let hash = FNV_OFFSET;
    const start = h.pathStart;
    let i = start;
    for (const end = h.targetEnd; i < end; i++) {
      const c = buf[i]!;
      if (c === QUESTION) break;
      hash = Math.imul(hash ^ c, FNV_PRIME);
    }
    return i === start ? SLASH_HASH : hash >>> 0;
  }

  /** @internal Whether the path's bytes are exactly `bytes`. */
  pathEquals(bytes: Uint8Array): boolean {
    const h = this.view();
    const buf = h.buf;
    const start = h.pathStart;
    const n = bytes.length;
    // An empty path (absolute-form `http://host` or `http://host?q`) is `/`.
    if (start === h.targetEnd || buf[start] === QUESTION) return n === 1 && bytes[0] === SLASH;
    if (start + n > h.targetEnd) return false;
    for (let i = 0; i < n; i++) if (buf[start + i] !== bytes[i]) return false;
    return start + n === h.targetEnd || buf[start + n] === QUESTION;
  }

  /**
   * The authority the request is for, `host[:port]`: an absolute-form target's own (it wins over
   * `Host`, RFC 9112 §3.2.2), a CONNECT target, else the `Host` field; "" when nothing says.
   */
  get host(): string {
    const url = this.url;
    const from = this.pathOffset;
    if (from > 0) return url.slice(url.indexOf("://") + 3, from);
    if (this.method === "CONNECT") return url;
    return this.header("host") ?? "";
  }

  /** The query string, parsed on first use. */
  get query(): URLSearchParams {
    if (this.cachedQuery === undefined) {
      const url = this.url;
      const q = url.indexOf("?", this.pathOffset);
      // From the `?` on: URLSearchParams drops one leading `?`, so a query that starts with
      // another keeps it (`??a=1` has the name `?a`, as the URL standard reads it).
      this.cachedQuery = new URLSearchParams(q < 0 ? "" : url.slice(q));
    }
    return this.cachedQuery;
  }

  /** `"1.1"` or `"1.0"`. */
  get version(): "1.0" | "1.1" {
    return this.view().minor === 0 ? "1.0" : "1.1";
  }

  /**
   * The value of a header field (case-insensitive name), or undefined. Repeated
   * fields are joined with `, ` as RFC 9110 §5.3 allows; `Cookie` fields with `; `, the
   * separator of the cookie list (RFC 6265 §4.2.1). `Set-Cookie` cannot be joined at all
   * (§5.3): {@link headerList} has each field on its own.
   */
  header(name: string): string | undefined {
    const h = this.view();
    const lower = lowerBytes(name);
    const offs = h.headers;
    let value: string | undefined = undefined;
    for (let i = 0, n = h.headerCount * 4; i < n; i += 4) {
      if (equalsIgnoreCase(h.buf, offs[i]!, offs[i + 1]!, lower)) {
        const v = latin1(h.buf, offs[i + 2]!, offs[i + 3]!);
        value = value === undefined ? v : `${value}${separatorFor(name)}${v}`;
      }
    }
    return value;
  }

  /** Every header field in arrival order, names lowercased. */
  headerList(): [string, string][] {
    const h = this.view();
    const offs = h.headers;
    const count = h.headerCount;
    // Of its length from the start: pushed onto `[]`, the array's storage is made for 17
    // elements, then grown to 41 (Deno: 120 bytes more for a head of two fields).
    const list = new Array<[string, string]>(count);
    for (let f = 0; f < count; f++) {
      const i = f * 4;
      list[f] = [
        lowerFieldName(h.buf, offs[i]!, offs[i + 1]!),
        latin1(h.buf, offs[i + 2]!, offs[i + 3]!),
      ];
    }
    return list;
  }

  /** The body, for streaming (`for await`); null when the request has none. */
  get body(): RequestBody | null {
    return this.requestBody;
  }

  /** The whole body as bytes (empty when there is none). */
  bytes(): Promise<Uint8Array> {
    return this.requestBody === null ? Promise.resolve(NO_BODY_BYTES) : this.requestBody.bytes();
  }

  /** The whole body as UTF-8 text. */
  text(): Promise<string> {
    return this.requestBody === null ? Promise.resolve("") : this.requestBody.text();
  }

  /** The whole body parsed as JSON. */
  json(): Promise<unknown> {
    return this.requestBody === null
      ? Promise.reject(badJson("the request has no body"))
      : this.requestBody.json();
  }

  /**
   * Aborts when the client goes away (a reset, or its FIN while the request is
   * handled or its answer streamed), the handler runs out of time, or the server
   * is forced to stop. Made on first use: requests that never ask cost nothing.
   */
  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === null) {
      controller = this.controller = new AbortController();
      if (this.abortReason !== undefined) controller.abort(this.abortReason);
    }
    return controller.signal;
  }

  /** @internal Connection side: the request is over for good (client gone, timeout, shutdown). */
  abort(reason: unknown): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** @internal Connection side: `error` is the reason this request was aborted with (a failure it caused). */
  abortedWith(error: unknown): boolean {
    return this.abortReason !== undefined && error === this.abortReason;
  }

  /**
   * @internal Connection side: the handler goes on past this turn; keep the head (a view of
   * the input only when `mayKeep` says it is never reused).
   */
  detach(mayKeep: boolean): void {
    if (this.head !== null) this.head = this.head.snapshot(mayKeep);
  }

  /** @internal Connection side: the head will be overwritten; cut the view off. */
  release(): void {
    this.head = null;
  }
}

/** Whoever is at the other end of the connection. */
export interface Peer {
  readonly remoteAddress: string;
}

/** Which peers are proxies to believe, and the one field they set. */
export interface ProxyTrust {
  /** Trusted proxy addresses, written as sockets report peers. */
  readonly addresses: ReadonlySet<string>;
  /** The field they set: its chain is read, the other one never. */
  readonly header: ProxyHeader;
}

/** The forwarding fields a proxy may set. */
export type ProxyHeader = "x-forwarded-for" | "forwarded";

const NO_PROXIES: ProxyTrust = { addresses: new Set(), header: "x-forwarded-for" };

/** Hops of a forwarding chain looked at, from the nearest: no real chain is longer. */
const MAX_PROXY_HOPS = 16;

/** The last `n` elements of a comma-separated list, in order, without reading the rest. */
function lastElements(value: string, n: number): string[] {
  const out: string[] = [];
  let end = value.length;
  while (out.length < n && end >= 0) {
    const comma = value.lastIndexOf(",", end - 1);
    out.push(value.slice(comma + 1, end));
    if (comma < 0) break;
    end = comma;
  }
  return out.reverse();
}
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The hash {@link IncomingRequest.pathHash} gives for these path bytes. */
export function hashPath(bytes: Uint8Array): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  return hash >>> 0;
}

const SLASH_HASH = hashPath(new Uint8Array([SLASH]));

/**
 * The nodes the elements of a Forwarded field (RFC 7239) name with `for=`, nearest proxy last;
 * "" for an element that names none.
 */
function forwardedChain(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const element of lastElements(value, MAX_PROXY_HOPS)) {
    // An empty list element is no hop (RFC 9110 §5.6.1.2).
    if (withoutOws(element) !== "") out.push(forwardedFor(element));
  }
  return out;
}

/**
 * The address of an element's `for=`, without its port. An element with no `for=` (a proxy
 * that did not say whom it forwards for), or with two (RFC 7239 §4: once per element), names no
 * one: "" (skipping it would take the element before it, the client's words, for the hop's).
 */
function forwardedFor(element: string): string {
  let node: string | null = null;
  for (const pair of element.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || withoutOws(pair.slice(0, eq)).toLowerCase() !== "for") continue;
    if (node !== null) return "";
    node = withoutPort(unquoted(withoutOws(pair.slice(eq + 1))), false);
  }
  return node ?? "";
}

/** A token as it is, a quoted-string without its quotes; "" for an unterminated one. */
function unquoted(value: string): string {
  if (!value.startsWith('"')) return value;
  return value.length > 1 && value.endsWith('"') ? value.slice(1, -1) : "";
}

/** Addresses from X-Forwarded-For, nearest proxy last. */
function xffChain(value: string | undefined): string[] {
  if (value === undefined) return [];
  return lastElements(value, MAX_PROXY_HOPS).map(withoutOws).filter((s) => s !== "").map(
    (node) => withoutPort(node, true),
  );
}

/**
 * A node as proxies write it (`192.0.2.1:8080`, `[2001:db8::1]:8080`, and IPv6 without brackets
 * when `bareIPv6`) without its port; "" when it is none of these (no address then, whatever it
 * starts with). Forwarded has IPv6 in brackets (RFC 7239 §6): bare, `2001:db8::1:80` could be
 * an address or one with a port.
 */
function withoutPort(node: string, bareIPv6: boolean): string {
  if (node.startsWith("[")) {
    // Between brackets only IPv6 (RFC 7239 §6), and after them a port or nothing.
    const close = node.indexOf("]");
    const inside = node.slice(1, close);
    return close > 0 && inside.includes(":") && portOrNothing(node, close + 1) ? inside : "";
  }
  // One colon: IPv4 with a port; more: an IPv6 address without brackets.
  const colon = node.indexOf(":");
  if (colon < 0) return node;
  if (colon !== node.lastIndexOf(":")) return bareIPv6 ? node : "";
  return portOrNothing(node, colon) ? node.slice(0, colon) : "";
}

/** RFC 7239 §6 node-port after a colon: 1*5DIGIT, or an obfuscated port (`_` and more). */
const NODE_PORT = /^:(?:[0-9]{1,5}|_[A-Za-z0-9._-]+)$/;

/** `node` past `at` is nothing, or `:` and a port. */
function portOrNothing(node: string, at: number): boolean {
  return at === node.length || NODE_PORT.test(node.slice(at));
}

const EMPTY_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

const lowerCache = new Map<string, Uint8Array>();

/** Lowercase ASCII bytes of a header name, cached: names come from code, not from clients. */
function lowerBytes(name: string): Uint8Array {
  let bytes = lowerCache.get(name);
  if (bytes === undefined) {
    bytes = new Uint8Array(name.length);
    for (let i = 0; i < name.length; i++) bytes[i] = lowerNameByte(name.charCodeAt(i));
    if (lowerCache.size < 1024) lowerCache.set(name, bytes);
  }
  return bytes;
}

/**
 * A name's character as the byte a field name would have, lowercased. Field names are ASCII
 * tokens: past ASCII a character names no field, so it becomes 0, which no name holds (masked
 * to a byte, `š` would be `a`; `toLowerCase()` turns the Kelvin sign into `k`).
 */
function lowerNameByte(c: number): number {
  if (c >= 0x80) return 0;
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** What joins repeated fields named `name` into one value. */
function separatorFor(name: string): string {
  return name.length === 6 && name.toLowerCase() === "cookie" ? "; " : ", ";
}
