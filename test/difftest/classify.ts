/**
 * What a disagreement between binks and node:http means.
 *
 * - a: binks is deliberately stricter; the rule is named (README, "HTTP/1.1
 *   rules binks enforces"). binks refuses (and closes), or closes where the
 *   peer keeps the connection.
 * - b: a binks bug: binks accepts what RFC 9112 says it must not, or reads a
 *   request differently with no rule to say why.
 * - c: desync: one server reads a request the other does not see (or frames
 *   a body differently) on a connection both keep open. Must never happen.
 * - d: the peer is stricter (or does something node-specific) where binks
 *   follows the RFC, or is lenient in a way no framing depends on; the framing
 *   is the same or the peer closed.
 * - s: both refuse, with different statuses; not a disagreement about framing.
 * - ?: not understood: look at it (npm run difftest prints these in full).
 *
 * binks's refusals are explained by re-reading the refused request against
 * the rules (on the bytes, independently of src/); the request in question is
 * located with the parser model of test/fuzz/harness.ts.
 */
import { isIPv6 } from "node:net";
import { bytesOf, replay, type Where } from "../fuzz/harness.ts";
import type { Case } from "./cases.ts";
import type { Item, Parting, Trace } from "./engine.ts";
import { normalPath } from "../../src/bytes.ts";

export type Class = "a" | "b" | "c" | "d" | "s" | "?";

export interface Verdict {
  cls: Class;
  rule: string;
}

/** The classes, for the summary. */
export const CLASSES: Record<string, string> = {
  agree: "agree (same requests, same answers, same connection state)",
  a: "binks stricter, by a documented rule",
  b: "binks bug",
  c: "desync (asserted never to happen)",
  d: "node:http stricter or node-specific; no framing difference",
  s: "both refuse, different status",
  "?": "unclassified",
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A control byte other than HTAB: never allowed in a value, an extension or a trailer. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** The head of the request starting at `start`: through its blank line, or to the end. */
function headAt(wire: string, start: number): { head: string; end: number } {
  const rest = wire.slice(start);
  const i = rest.indexOf("\r\n\r\n");
  return i < 0
    ? { head: rest, end: wire.length }
    : { head: rest.slice(0, i + 2), end: start + i + 4 };
}

function fieldsOf(lines: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const l of lines) {
    const c = l.indexOf(":");
    if (c > 0) {
      out.push([l.slice(0, c).toLowerCase(), l.slice(c + 1).replace(/^[ \t]+|[ \t]+$/g, "")]);
    }
  }
  return out;
}

/** uri-host (RFC 3986 §3.2.2): an IP-literal in brackets, or a reg-name (possibly empty). */
const URI_HOST =
  /^(?:\[(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)$/;

/** The host of `uri-host [ ":" port ]` (the port may be empty), or null when it is not one. */
function authorityHost(authority: string): string | null {
  const m = /^(\[[^\]]*\]|[^:]*)(?::([0-9]*))?$/.exec(authority);
  if (m === null || !URI_HOST.test(m[1]!) || Number(m[2] ?? "0") > 65535) return null;
  const host = m[1]!;
  if (!host.startsWith("[")) return host;
  // IP-literal: an IPv6address (no zone id) or an IPvFuture.
  const inside = host.slice(1, -1);
  return /^v[0-9a-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/i.test(inside) ||
      (!inside.includes("%") && isIPv6(inside))
    ? host
    : null;
}

/** A path (before its query) a URL parser reads as another: a backslash or a dot-segment. */
function misleadingPath(path: string): boolean {
  const p = path.split("?")[0]!;
  return p.includes("\\") || /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i.test(p);
}

/** Why binks refused a head with 400, by README's rules; null when no rule applies. */
function headRule(head: string): string | null {
  if (/(^|[^\r])\n/.test(head)) return "bare LF in the head (line ends: CRLF only)";
  if (/\r(?!\n)/.test(head)) return "bare CR in the head (line ends: CRLF only)";
  const lines = head.split("\r\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const line = lines[0] ?? "";
  const m = /^([^ ]*) ([^ ]*) (HTTP\/\d\.\d)$/.exec(line);
  if (m === null || !TOKEN.test(m[1]!) || !/^[\x21-\x7e]+$/.test(m[2]!)) {
    return "malformed request line (token, SP, visible-ASCII target, SP, HTTP/d.d)";
  }
  const [, method, target] = m;
  if (target!.includes("#")) return "a `#` in the target: a fragment is never part of one (400)";
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(target!);
  if (scheme !== null && method !== "CONNECT" && !/^https?$/i.test(scheme[1]!)) {
    return "absolute-form in a scheme other than http or https (400)";
  }
  const absolute = /^https?:\/\/([^/?]*)/i.exec(target!);
  const form = target![0] === "/"
    ? method !== "CONNECT"
    : target === "*"
    ? method === "OPTIONS"
    : method === "CONNECT"
    ? /:[0-9]+$/.test(target!) && (authorityHost(target!) ?? "") !== ""
    : absolute !== null && (authorityHost(absolute[1]!) ?? "") !== "";
  if (!form) return "request-target form does not fit the method (RFC 9112 §3.2)";
  const path = target![0] === "/"
    ? target!
    : absolute !== null
    ? target!.slice(absolute[0].length)
    : "";
  if (method !== "CONNECT" && misleadingPath(path)) {
    return "a backslash or dot-segment in the path: a URL parser reads another path (400)";
  }
  for (const l of lines.slice(1)) {
    if (/^[ \t]/.test(l)) return "obs-fold, or whitespace before a field (400)";
    const c = l.indexOf(":");
    if (c < 0) return "field line without a colon";
    if (/[ \t]$/.test(l.slice(0, c))) return "whitespace before a colon";
    if (!TOKEN.test(l.slice(0, c))) return "field name that is not a token";
    if (hasControl(l.slice(c + 1))) return "control byte in a field value";
  }
  const fields = fieldsOf(lines.slice(1));
  const te = fields.filter(([n]) => n === "transfer-encoding").map(([, v]) => v);
  const cl = fields.filter(([n]) => n === "content-length").map(([, v]) => v);
  const minor = line.endsWith("1.0") ? 0 : 1;
  if (cl.some((v) => !/^\d{1,15}$/.test(v))) {
    return "Content-Length not plain digits, or over 15 digits";
  }
  if (new Set(cl.map(Number)).size > 1) return "Content-Lengths that differ";
  if (te.length > 0) {
    if (cl.length > 0) return "Transfer-Encoding with Content-Length";
    if (minor === 0) return "Transfer-Encoding in HTTP/1.0";
    const codings = te.join(",").split(",").map((x) => x.replace(/^[ \t]+|[ \t]+$/g, ""))
      .filter((x) => x !== "");
    if (codings.some((x) => !TOKEN.test(x))) return "coding list that is not plain tokens";
    if (codings.length === 0) return "chunked not the final coding (RFC 9112 §6.3)";
    if (codings.filter((x) => x.toLowerCase() === "chunked").length > 1) return "chunked twice";
    if (codings.at(-1)!.toLowerCase() !== "chunked") {
      return "chunked not the final coding (RFC 9112 §6.3)";
    }
  }
  const hostValues = fields.filter(([n]) => n === "host").map(([, v]) => v);
  if (hostValues.some((v) => authorityHost(v) === null)) {
    return 'Host that is not uri-host [":" port] (RFC 9112 §3.2)';
  }
  const hosts = hostValues.length;
  if (minor === 1 && hosts !== 1) return "HTTP/1.1 without exactly one Host";
  if (minor === 0 && hosts > 1) return "HTTP/1.0 with more than one Host";
  return null;
}

/** Why binks refused a chunked body with 400; null when no rule applies. */
function chunkRule(body: string): string | null {
  let p = 0;
  for (;;) {
    const eol = body.indexOf("\n", p);
    const line = eol < 0 ? body.slice(p) : body.slice(p, eol);
    if (eol >= 0 && !line.endsWith("\r")) return "bare LF in chunked framing";
    const size = eol < 0 ? line : line.slice(0, -1);
    const m = /^([0-9A-Fa-f]+)([ \t]*;.*)?$/.exec(size);
    if (m === null) {
      return /^[0-9A-Fa-f]*$/.test(size) && eol < 0
        ? null
        : "chunk size not bare hex (no 0x, sign, spaces; BWS only before ';')";
    }
    if (m[1]!.length > 14) return "chunk size over 14 hex digits";
    if (m[2] !== undefined && hasControl(m[2])) {
      return "control byte in a chunk extension";
    }
    if (/\r/.test(size)) return "bare CR in chunked framing";
    if (eol < 0) return null;
    const n = parseInt(m[1]!, 16);
    p = eol + 1;
    if (n === 0) {
      for (;;) {
        const e = body.indexOf("\n", p);
        if (e < 0) return null;
        const t = body.slice(p, e);
        if (!t.endsWith("\r")) return "bare LF in a trailer";
        if (t === "\r") return null;
        const c = t.indexOf(":");
        if (c <= 0 || !TOKEN.test(t.slice(0, c)) || hasControl(t.slice(c + 1, -1))) {
          return "malformed trailer field (token name, colon, no control bytes)";
        }
        p = e + 1;
      }
    }
    if (body.length < p + n + 2) return null;
    if (body.slice(p + n, p + n + 2) !== "\r\n") return "chunk data not followed by exactly CRLF";
    p += n + 2;
  }
}

/** The documented rule behind binks refusing the request it refused; null if none fits. */
export function refusalRule(wire: string, status: number): string | null {
  switch (status) {
    case 501:
      return "a coding binks does not implement, before chunked (501)";
    case 505:
      return "an HTTP major version other than 1 (505)";
    case 417:
      return "Expect other than 100-continue (417)";
    case 413:
      return "body over --max-body (413)";
    case 414:
      return "request line over --max-request-line (414)";
    case 431:
      return "head over --max-head or --max-headers (431)";
    case 408:
      return "timeout (408)";
  }
  if (status !== 400) return null;
  const where: Where = { start: 0, bodyStart: -1 };
  replay([bytesOf(wire)], undefined, undefined, where);
  if (where.bodyStart >= 0) return chunkRule(wire.slice(where.bodyStart));
  return headRule(headAt(wire, where.start).head);
}

/** Would binks refuse the head it is waiting on, once the head ends? */
function refusesOnceComplete(wire: string): number {
  const r = replay([bytesOf(wire + "\r\n\r\n")]);
  return r.status > 0 ? r.status : 0;
}

/** What llhttp refuses that binks reads, and why binks may. */
function peerRule(code: string, wire: string): [Class, string] | null {
  if (code === "HPE_INVALID_METHOD") {
    return ["d", "method outside llhttp's list; binks takes any token (RFC 9110 §9.1)"];
  }
  if (code === "HPE_INVALID_VERSION" && /^PRI /m.test(wire)) {
    return ["d", "method PRI: llhttp keeps it for the HTTP/2 preface; binks takes any token"];
  }
  if (code === "HPE_INVALID_VERSION" && /^[^\r\n]* HTTP\/1\.[2-9]\r\n/m.test(wire)) {
    return ["d", "HTTP/1.x with x over 1: binks reads it as HTTP/1.1 (RFC 9110 §2.5)"];
  }
  if (code === "HPE_UNEXPECTED_CONTENT_LENGTH") {
    return ["d", "repeated equal Content-Length: RFC 9112 §6.3 lets binks accept it"];
  }
  if (code === "HPE_STRICT" || code === "HPE_INVALID_CHUNK_SIZE") {
    return ["d", "chunk-extension grammar (BWS, empty name): binks skips extensions, §7.1.1"];
  }
  if (code === "HPE_INVALID_TRANSFER_ENCODING" || code === "HPE_INVALID_CONTENT_LENGTH") {
    if (/\r\n0[^\r]*\r\n[^\r]/.test(wire)) {
      return ["d", "framing field in the trailer section: binks drops trailer fields (§7.1.2)"];
    }
    if (
      code === "HPE_INVALID_TRANSFER_ENCODING" &&
      /^transfer-encoding:[^\r]*,[ \t]*(,|\r)/im.test(wire)
    ) {
      return ["d", "empty element in a Transfer-Encoding list: binks skips it (RFC 9110 §5.6.1.2)"];
    }
    const name = code === "HPE_INVALID_CONTENT_LENGTH" ? "Content-Length" : "Transfer-Encoding";
    return ["d", `OWS after a ${name} value: binks trims it (RFC 9110 §5.5)`];
  }
  if (code === "HPE_INVALID_URL") {
    return [
      "d",
      "target llhttp's URL parser refuses; binks takes visible ASCII (in absolute-form after " +
      "http:// or https://, in any case)",
    ];
  }
  if (code === "Expect (node answers 417)") {
    return [
      "d",
      "Expect with no member but 100-continue: binks skips empty ones (RFC 9110 §5.6.1.2)",
    ];
  }
  if (code === "CONNECT (not served)") {
    return ["d", "CONNECT: node:http needs a 'connect' listener; binks hands it to the app"];
  }
  if (code.startsWith("no Host")) return null;
  return null;
}

const ANSWERED_EARLY = "answered before its body had all come: binks closes after the answer";

const ROUTED_BY_NORMAL_FORM = "a path with %HH of a character it may hold as it is: binks's " +
  "router compares its normal form (RFC 3986 §6.2.2), the peer's routes the bytes";

/** The routes of the contract both servers implement. */
const ROUTES = ["/inspect", "/echo"];

/**
 * binks answered a route that the peer did not find (404), for a target whose path is that route
 * only in the router's normal form (`/insp%65ct`): the target from binks's `/inspect` report, or,
 * for the first request, from the wire's request line.
 */
function routedByNormalForm(
  c: Case,
  binks: Item | undefined,
  peer: Item | undefined,
  at: number,
): boolean {
  if (binks?.kind !== "req" || binks.status !== 200) return false;
  if (peer?.kind !== "req" || peer.status !== 404) return false;
  const target = binks.url ?? (at === 0 ? /^[^ ]* ([^ ]*) /.exec(c.wire)?.[1] : undefined);
  if (target === undefined) return false;
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  return !ROUTES.includes(path) && ROUTES.includes(normalPath(path));
}

function isOpaque(i: Item | "waits" | "closed"): boolean {
  return typeof i !== "string" && i.kind === "req" && i.method === undefined;
}

/** Classify how two traces part. */
export function classify(c: Case, b: Trace, p: Trace, parting: Parting): Verdict {
  switch (parting.kind) {
    case "desync":
      return { cls: "c", rule: parting.what };
    case "framing":
      return { cls: "c", rule: `different framing: ${parting.what}` };
    case "statuses":
      return { cls: "s", rule: `binks ${parting.binks}, peer ${parting.peer}` };
    case "binks-refuses": {
      if (parting.status === 0) return { cls: "?", rule: "binks closed without an answer" };
      const rule = refusalRule(c.wire, parting.status);
      if (rule === null) return { cls: "?", rule: `binks ${parting.status}, no rule found` };
      const peer = parting.peer === "waits"
        ? "; the peer still waits"
        : parting.peer === "closed"
        ? "; the peer closed"
        : "";
      return { cls: "a", rule: `${rule}${peer}` };
    }
    case "peer-refuses": {
      const known = peerRule(parting.code, c.wire);
      if (parting.binks === "waits") {
        const status = refusesOnceComplete(c.wire);
        if (status > 0) {
          return {
            cls: "s",
            rule: `the peer refuses early; binks refuses (${status}) once the head ends`,
          };
        }
        if (known !== null) {
          return { cls: known[0], rule: `${known[1]} (binks waits for the rest)` };
        }
        return { cls: "?", rule: `peer ${parting.code}; binks waits` };
      }
      if (parting.binks === "closed") {
        return { cls: "s", rule: `peer ${parting.code} after binks closed` };
      }
      const answered = parting.binks;
      if (
        answered.kind === "req" && answered.close &&
        (answered.status === 404 || answered.status === 405)
      ) {
        return { cls: "a", rule: ANSWERED_EARLY };
      }
      if (known !== null) return { cls: known[0], rule: known[1] };
      return { cls: "?", rule: `peer ${parting.code}; binks read it` };
    }
    case "persistence": {
      // A trace that ends before the parting: binks's answer was slower than the silence that
      // ends a trace (a loaded machine). Unclassified, so the case is run again, more patiently.
      if (b.items[parting.at] === undefined) {
        return { cls: "?", rule: "binks's trace ends before the parting" };
      }
      if (!parting.binksCloses) {
        // The fields binks saw (or, when it answered without showing them, the peer's: same bytes).
        const at = b.items[parting.at]!;
        const theirs = p.items[parting.at];
        const seen = (at.kind === "req" ? at.headers : undefined) ??
          (theirs?.kind === "req" ? theirs.headers : undefined) ?? [];
        const conn = seen.filter(([n]) => n === "connection").map(([, v]) => v);
        const list = conn.join(",").split(",").map((x) => x.replace(/^[ \t]+|[ \t]+$/g, ""));
        if (list.some((x) => x !== "" && !TOKEN.test(x)) && /keep-alive/i.test(conn.join())) {
          return {
            cls: "d",
            rule: "Connection list with an element that is not a token: binks reads the " +
              "keep-alive element and ignores that one; llhttp closes (framing unaffected)",
          };
        }
        return { cls: "?", rule: "the peer closes where binks keeps the connection" };
      }
      const at = b.items[parting.at]!;
      if (at.kind === "req" && (at.status === 404 || at.status === 405 || isOpaque(at))) {
        return { cls: "a", rule: ANSWERED_EARLY };
      }
      if (/^Connection:[^\r]*close/im.test(c.wire)) {
        return {
          cls: "a",
          rule: "`close` wins over `keep-alive` (HTTP/1.0; llhttp keeps it open)",
        };
      }
      return { cls: "?", rule: "binks closes where the peer keeps the connection" };
    }
    case "fields":
      if (routedByNormalForm(c, b.items[parting.at], p.items[parting.at], parting.at)) {
        return { cls: "d", rule: ROUTED_BY_NORMAL_FORM };
      }
      return { cls: "?", rule: `same framing, different fields: ${parting.what}` };
    case "close":
      return {
        cls: "?",
        rule: parting.binksClosed
          ? "binks closed, the peer did not"
          : "the peer closed, binks did not",
      };
  }
}
