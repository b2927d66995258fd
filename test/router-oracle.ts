/**
 * An oracle for src/router.ts, written from its documented rules (the module comment, the README's
 * Routing paragraph) and RFC 9110 / RFC 3986, not from its code: routes kept as a flat list and
 * matched one by one, where the router keeps a tree and a hash map.
 *
 * - Which route: the routes whose pattern matches the path, best first (segment by segment, static
 *   over `:param` over `*`); the first of them that takes the method (its own method, `GET` for
 *   `HEAD`, or `all()`) answers.
 * - Otherwise: no route matches the path → 404 (501 for a method no route takes anywhere, unless
 *   some `all()` route exists; GET, HEAD and OPTIONS are always taken); OPTIONS → 204 with Allow;
 *   else 405 with Allow (RFC 9110 §15.5.6), or 501. Allow names the methods of the matching
 *   routes, best route first, each route's methods in the order added; HEAD after them when GET is
 *   there, OPTIONS last when missing.
 * - `OPTIONS *`: 204, Allow with the methods of every route (not `all()`), as above.
 * - Params and the `*` rest percent-decoded as UTF-8 (a BOM kept: it is data); one that does not
 *   decode makes the chosen route a 400.
 * - Paths equivalent under RFC 3986 §6.2.2.1-2 (hex digits in either case, unreserved characters
 *   percent-encoded or not) are one path, in patterns and in requests, when every `%` of the
 *   path starts a triplet (a path that is no URI path is matched as it is); so are those that
 *   differ only in any other character a path may hold as it is, sent as it is or encoded
 *   (`@`, `%40`), but `#`, `%`, `/`, `?` and `\`.
 */

/** How a test middleware behaves. */
export type MwKind = "pass" | "stop" | "async";

/** A middleware of the table: its name (in the log) and kind. */
export interface MwSpec {
  name: string;
  kind: MwKind;
}

/** One step in building a router. */
export type Op =
  | { kind: "route"; method: string; pattern: string; mw: MwSpec[]; tag: string }
  | { kind: "use"; mw: MwSpec }
  | { kind: "mount"; prefix: string; child: number };

/** Routers by index; 0 is the one requests go to, a router mounts only higher indexes. */
export type Table = Op[][];

/** A route as the oracle keeps it: its middleware from the outermost mounted router in. */
export interface OracleRoute {
  method: string;
  pattern: string;
  segments: string[];
  chain: MwSpec[];
  tag: string;
}

/** What the router itself answers (not a handler). */
export type RouterAnswer =
  | { kind: "error"; status: 400 | 404 | 501 }
  | { kind: "options"; allow: string }
  | { kind: "405"; allow: string };

/** Where a request ends up. */
export type Outcome =
  | { kind: "route"; route: OracleRoute; params: Record<string, string> | null }
  | RouterAnswer;

const STANDARD = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

const TRIPLET = /%([0-9A-Fa-f]{2})/g;

/** Every `%` starts a `%HH`. */
function wellEncoded(text: string): boolean {
  return text.split("%").length - 1 === (text.match(TRIPLET) ?? []).length;
}

/**
 * Printable ASCII but what says something else in a path (`#`, `%`, `/`, `?`, `\`): the same
 * sent as it is or encoded, to binks as to the files and params behind it.
 */
function sameAsSent(c: number): boolean {
  return c > 0x20 && c < 0x7f && !"#%/?\\".includes(String.fromCharCode(c));
}

/**
 * RFC 3986 §6.2.2.1-2 (upper-case hex, unreserved characters as themselves), and every other
 * character that `sameAsSent` as itself too; but a segment that would read as a param (`:` first)
 * or the wildcard (`*`) has that character encoded. In a pattern (`pattern`), a param or wildcard
 * is left as written.
 */
export function normalizePath(path: string, pattern = false): string {
  if (!wellEncoded(path)) return path;
  return path.split("/").map((segment) => {
    if (pattern && (segment === "*" || segment.startsWith(":"))) return segment;
    const decoded = segment.replace(TRIPLET, (_, hex: string) => {
      const c = parseInt(hex, 16);
      return unreserved(c) || sameAsSent(c) ? String.fromCharCode(c) : `%${hex.toUpperCase()}`;
    });
    if (decoded === "*") return "%2A";
    return decoded.startsWith(":") ? `%3A${decoded.slice(1)}` : decoded;
  }).join("/");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** `text` percent-decoded as UTF-8, or null when it is not well encoded. */
export function percentDecode(text: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x25) {
      bytes.push(c);
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
}

/** The kind of a pattern segment, in the order of precedence. */
function rank(segment: string): number {
  return segment === "*" ? 2 : segment.startsWith(":") ? 1 : 0;
}

/** Same place in a tree: static segments equal, params at the same positions. */
function sameShape(a: readonly string[], b: readonly string[], n: number): boolean {
  for (let i = 0; i < n; i++) {
    const ra = rank(a[i]!);
    if (ra !== rank(b[i]!) || (ra === 0 && a[i] !== b[i])) return false;
  }
  return true;
}

/** The router a table builds, as the oracle sees it. */
export class OracleRouter {
  readonly routes: OracleRoute[] = [];
  readonly mw: MwSpec[] = [];
  mounted = false;

  /** Add a route; the start of the error message it must throw, or null. */
  add(method: string, pattern: string, chain: MwSpec[], tag: string): string | null {
    if (this.mounted) return "already mounted";
    if (method !== method.toUpperCase() && STANDARD.includes(method.toUpperCase())) {
      return "case-sensitive";
    }
    const refused = refusal(pattern);
    if (refused !== null) return refused;
    const segments = normalizePath(pattern, true).slice(1).split("/");
    for (let i = 0; i < segments.length; i++) {
      if (rank(segments[i]!) !== 1) continue;
      const clash = this.routes.some((r) =>
        r.segments.length > i && rank(r.segments[i]!) === 1 && r.segments[i] !== segments[i] &&
        sameShape(r.segments, segments, i)
      );
      if (clash) return "conflicting";
    }
    const taken = this.routes.some((r) =>
      r.method === method && r.segments.length === segments.length &&
      sameShape(r.segments, segments, segments.length)
    );
    if (taken) return "already routed";
    this.routes.push({ method, pattern, segments, chain, tag });
    return null;
  }

  /** Mount `child` under `prefix`: all its routes, or (a throw) none. */
  mount(prefix: string, child: OracleRouter): string | null {
    if (!prefix.startsWith("/") || (prefix.endsWith("/") && prefix !== "/")) return "mount prefix";
    const before = this.routes.length;
    for (const r of child.routes) {
      const pattern = prefix === "/" ? r.pattern : r.pattern === "/" ? prefix : prefix + r.pattern;
      const error = this.add(r.method, pattern, [...child.mw, ...r.chain], r.tag);
      if (error !== null) {
        this.routes.length = before;
        return error;
      }
    }
    child.mounted = true;
    return null;
  }

  use(mw: MwSpec): string | null {
    if (this.mounted) return "already mounted";
    this.mw.push(mw);
    return null;
  }

  /** Where a request with `method` and `path` (before `?`, not decoded) ends up. */
  resolve(method: string, path: string): Outcome {
    if (path === "*") return { kind: "options", allow: allowOf(this.routes) };
    const segments = normalizePath(path).slice(1).split("/");
    const matches: { route: OracleRoute; params: Record<string, string> | null }[] = [];
    for (const route of this.routes) {
      const params = match(route.segments, segments);
      if (params !== undefined) matches.push({ route, params });
    }
    matches.sort((a, b) => compareShapes(a.route.segments, b.route.segments));
    // Routes of one pattern are neighbours: within a pattern, its own method, GET, then all().
    for (let i = 0; i < matches.length;) {
      let j = i;
      while (
        j < matches.length &&
        compareShapes(matches[i]!.route.segments, matches[j]!.route.segments) === 0
      ) j++;
      const group = matches.slice(i, j);
      const found = group.find((m) => m.route.method === method) ??
        (method === "HEAD" ? group.find((m) => m.route.method === "GET") : undefined) ??
        group.find((m) => m.route.method === "*");
      if (found !== undefined) {
        if (found.params === null) return { kind: "error", status: 400 };
        return { kind: "route", route: found.route, params: found.params };
      }
      i = j;
    }
    const implemented = ["GET", "HEAD", "OPTIONS"].includes(method) ||
      this.routes.some((r) => r.method === method || r.method === "*");
    if (matches.length === 0) return { kind: "error", status: implemented ? 404 : 501 };
    const allow = allowOf(matches.map((m) => m.route));
    if (method === "OPTIONS") return { kind: "options", allow };
    if (!implemented) return { kind: "error", status: 501 };
    return { kind: "405", allow };
  }
}

/** Why `pattern` cannot be routed (the start of the message), or null. */
function refusal(pattern: string): string | null {
  if (!pattern.startsWith("/")) return "route pattern must start";
  for (const ch of pattern) {
    const c = ch.codePointAt(0)!;
    if (c <= 0x20 || c >= 0x7f || ch === "#" || ch === "?" || ch === "\\") {
      return "route pattern holds";
    }
  }
  const segments = pattern.slice(1).split("/");
  const names: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === "*" && i !== segments.length - 1) return '"*" must end';
    if (!s.startsWith(":")) continue;
    if (s === ":") return "a parameter needs a name";
    if (names.includes(s)) return `parameter ${s} is named twice`;
    names.push(s);
  }
  return null;
}

/** Best first: the first segment where two patterns differ in kind decides. */
function compareShapes(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = rank(a[i]!) - rank(b[i]!);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The params of `pattern` for the path's `segments` (null: one does not decode), or undefined
 * when it does not match.
 */
function match(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | null | undefined {
  const wild = pattern[pattern.length - 1] === "*";
  const fixed = wild ? pattern.length - 1 : pattern.length;
  if (wild ? segments.length <= fixed : segments.length !== fixed) return undefined;
  const raw: [string, string][] = [];
  for (let i = 0; i < fixed; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (rank(p) === 0) {
      if (p !== s) return undefined;
    } else if (s === "") return undefined;
    else raw.push([p.slice(1), s]);
  }
  if (wild) raw.push(["*", segments.slice(fixed).join("/")]);
  const params: Record<string, string> = {};
  for (const [name, text] of raw) {
    const value = percentDecode(text);
    if (value === null) return null;
    params[name] = value;
  }
  return params;
}

/** Allow for `routes` in that order (RFC 9110 §10.2.1): HEAD with GET, OPTIONS always. */
export function allowOf(routes: readonly OracleRoute[]): string {
  const names: string[] = [];
  for (const r of routes) if (r.method !== "*" && !names.includes(r.method)) names.push(r.method);
  if (names.includes("GET") && !names.includes("HEAD")) names.push("HEAD");
  if (!names.includes("OPTIONS")) names.push("OPTIONS");
  return names.join(", ");
}

/**
 * The request line the parser refuses (so the router never sees it): bytes outside
 * 0x21-0x7e, `#`, a `\` or a dot-segment in the path (README, "HTTP/1.1 rules"), `*` but for
 * OPTIONS. Else the path it routes by (absolute-form: after the authority, `/` when empty).
 */
export function pathOf(method: string, target: string): string | null {
  for (const ch of target) {
    const c = ch.codePointAt(0)!;
    if (c <= 0x20 || c >= 0x7f || ch === "#") return null;
  }
  if (target === "*") return method === "OPTIONS" ? "*" : null;
  let rest = target;
  if (!target.startsWith("/")) {
    const m = /^https?:\/\/[a-z0-9.]+(?::[0-9]+)?/i.exec(target);
    if (m === null) return null;
    rest = target.slice(m[0].length);
  }
  const q = rest.indexOf("?");
  let path = q < 0 ? rest : rest.slice(0, q);
  if (path === "") path = "/";
  if (path.includes("\\")) return null;
  for (const s of path.split("/")) if (/^(?:\.|%2e){1,2}$/i.test(s)) return null;
  return path;
}
