/**
 * What the static file model test runs against: a file system in memory (files, directories and
 * symlinks, files that may not be read or are gone by the time they are opened), and an oracle
 * that says from RFC 9110 (§9.3.2, §13.1–13.2, §14, §15.4.5) and binks's documented choices
 * (README, src/static.ts) what `serveStatic` must answer. The oracle shares no code with
 * src/static.ts or src/date.ts: dates, entity-tag lists and ranges are read here on their own.
 */
import type { FileInfo, FileSystem, OpenFile } from "../src/static.ts";
import { normalizePath } from "./router-oracle.ts";

/** What a file does when it is opened, beyond being read. */
export type Access =
  /** Opened and read as it is. */
  | "ok"
  /** `EACCES`: it may not be read (403). */
  | "denied"
  /** `ENOENT`: removed between its stat and its open (404). */
  | "gone"
  /** What was opened is no regular file by now (a FIFO put in its place: 404). */
  | "swapped"
  /** What was opened is another version of the file (its own size, mtime and bytes). */
  | "changed"
  /** Cut to half its size after its metadata was read: reads end early. */
  | "shrunk";

/** A node of the tree. */
export type MemNode =
  | {
    kind: "file";
    size: number;
    mtimeMs: number;
    /** Picks the bytes, so that two files of one size differ. */
    salt: number;
    access: Access;
    /** Reads give at most this many bytes at a time (0: as many as asked). */
    shortRead: number;
    /** `allocate` is offered, with memory full of bytes no read put there. */
    dirty: boolean;
  }
  | { kind: "dir" }
  | { kind: "link"; target: string };

/** The `changed` version of a file: one byte longer, a second and a bit later, other bytes. */
export function changedVersion(node: MemNode & { kind: "file" }): MemNode & { kind: "file" } {
  return { ...node, size: node.size + 1, mtimeMs: node.mtimeMs + 1234.5, salt: node.salt + 1 };
}

/** Byte `i` of a file of `salt`. */
export function byteAt(salt: number, i: number): number {
  return (i * 7 + salt * 13 + (i >> 8)) & 0xff;
}

/** The bytes of a file of `salt` and `size`. */
export function contentOf(salt: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = byteAt(salt, i);
  return out;
}

/** Symlinks followed at most, as Linux's 40 before ELOOP. */
const MAX_LINKS = 40;

/** Where a path leads: its real path and node, or the error code a system call would fail with. */
export type Resolved = { path: string; node: MemNode } | { error: "ENOENT" | "ENOTDIR" | "ELOOP" };

const ROOT_DIR: MemNode = { kind: "dir" };

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "");
}

function fsError(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code, path });
}

/** A {@link FileSystem} over a map of absolute paths, counting what it opens and closes. */
export class MemFs implements FileSystem {
  readonly nodes: Map<string, MemNode>;
  opened = 0;
  closed = 0;
  /** Set by a run: `open` is asked of any path, with no `stat` first. */
  opensAnyPath = false;
  /** Misuse of the OpenFile contract seen (two reads at once, a read after close, two closes). */
  readonly misuse: string[] = [];

  constructor(nodes: Map<string, MemNode>) {
    this.nodes = nodes;
  }

  /** Follow `path` as the kernel would, symlinks and `..` after them included. */
  resolve(path: string): Resolved {
    let pending = components(path);
    let current: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const c = pending.shift()!;
      if (c === ".") continue;
      if (c === "..") {
        current.pop();
        continue;
      }
      const at = "/" + [...current, c].join("/");
      const node = this.nodes.get(at);
      if (node === undefined) return { error: "ENOENT" };
      if (node.kind === "link") {
        if (++links > MAX_LINKS) return { error: "ELOOP" };
        if (node.target.startsWith("/")) current = [];
        pending = [...components(node.target), ...pending];
        continue;
      }
      if (node.kind === "file" && pending.length > 0) return { error: "ENOTDIR" };
      current = [...current, c];
    }
    const real = "/" + current.join("/");
    return { path: real, node: this.nodes.get(real) ?? ROOT_DIR };
  }

  stat(path: string): Promise<FileInfo | null> {
    const r = this.resolve(path);
    return Promise.resolve("error" in r ? null : infoOf(r.node));
  }

  realpath(path: string): Promise<string> {
    const r = this.resolve(path);
    return "error" in r ? Promise.reject(fsError(r.error, path)) : Promise.resolve(r.path);
  }

  open(path: string): Promise<OpenFile> {
    const r = this.resolve(path);
    if ("error" in r) return Promise.reject(fsError(r.error, path));
    let node = r.node;
    if (node.kind === "file") {
      if (node.access === "denied") return Promise.reject(fsError("EACCES", path));
      if (node.access === "gone") return Promise.reject(fsError("ENOENT", path));
      if (node.access === "changed") node = changedVersion(node);
    }
    this.opened++;
    const info = node.kind === "file" && node.access === "swapped"
      ? { size: 0, mtimeMs: node.mtimeMs, isFile: false, isDirectory: false }
      : infoOf(node);
    return Promise.resolve(this.openFile(node, info));
  }

  private openFile(node: MemNode, info: FileInfo): OpenFile {
    let reading = false;
    let closed = false;
    const file: OpenFile = {
      info,
      read: (into, position) => {
        if (closed) this.misuse.push("read after close");
        if (reading) this.misuse.push("two reads at once");
        reading = true;
        let n = 0;
        if (node.kind === "file" && info.isFile) {
          n = Math.max(0, Math.min(into.length, readableSize(node) - position));
          if (node.shortRead > 0) n = Math.min(n, node.shortRead);
          for (let i = 0; i < n; i++) into[i] = byteAt(node.salt, position + i);
        }
        // Settled a turn later, as a real read is: a close may come while it is under way.
        return Promise.resolve().then(() => {
          reading = false;
          return n;
        });
      },
      close: () => {
        if (reading) this.misuse.push("close during a read");
        if (closed) this.misuse.push("closed twice");
        closed = true;
        this.closed++;
        return Promise.resolve();
      },
    };
    if (node.kind === "file" && node.dirty) {
      file.allocate = (length) => new Uint8Array(length).fill(0xee);
    }
    return file;
  }
}

/** How many bytes of a file reads give: fewer than its size says once it has shrunk. */
export function readableSize(node: MemNode & { kind: "file" }): number {
  return node.access === "shrunk" ? Math.floor(node.size / 2) : node.size;
}

function infoOf(node: MemNode): FileInfo {
  if (node.kind === "file") {
    return { size: node.size, mtimeMs: node.mtimeMs, isFile: true, isDirectory: false };
  }
  return { size: 4096, mtimeMs: 0, isFile: false, isDirectory: true };
}

// ---------------------------------------------------------------------------------------------
// HTTP-date (RFC 9110 §5.6.7), written and read here without Date's parser.

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAY_NAMES = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const DAY_MS = 86_400_000;

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysIn(y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m]!;
}

/** Days from 1970-01-01 to the first of month `m` (0-based) of year `y`, counted day by day. */
function daysTo(y: number, m: number): number {
  let days = 0;
  if (y >= 1970) { for (let yy = 1970; yy < y; yy++) days += isLeap(yy) ? 366 : 365; }
  else for (let yy = y; yy < 1970; yy++) days -= isLeap(yy) ? 366 : 365;
  for (let mm = 0; mm < m; mm++) days += daysIn(y, mm);
  return days;
}

/** The parts of a time in ms (UTC), found by counting, not by Date. */
function partsOf(ms: number) {
  let days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  const weekday = ((days % 7) + 7 + 4) % 7;
  let y = 1970;
  for (;;) {
    const n = isLeap(y) ? 366 : 365;
    if (days >= 0 && days < n) break;
    if (days < 0) {
      y--;
      days += isLeap(y) ? 366 : 365;
    } else {
      days -= n;
      y++;
    }
  }
  let m = 0;
  while (days >= daysIn(y, m)) days -= daysIn(y, m++);
  const s = Math.floor(inDay / 1000);
  return {
    y,
    m,
    d: days + 1,
    weekday,
    h: Math.floor(s / 3600),
    min: Math.floor(s / 60) % 60,
    s: s % 60,
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** IMF-fixdate of `ms` (whole seconds). */
export function imfFixdate(ms: number): string {
  const p = partsOf(ms);
  return `${DAY_NAMES[p.weekday]}, ${pad(p.d)} ${MONTH_NAMES[p.m]} ${pad(p.y, 4)} ${pad(p.h)}:${
    pad(p.min)
  }:${pad(p.s)} GMT`;
}

/** The obsolete RFC 850 form of `ms`. */
export function rfc850Date(ms: number): string {
  const p = partsOf(ms);
  return `${LONG_DAY_NAMES[p.weekday]}, ${pad(p.d)}-${MONTH_NAMES[p.m]}-${pad(p.y % 100)} ${
    pad(p.h)
  }:${pad(p.min)}:${pad(p.s)} GMT`;
}

/** The obsolete asctime form of `ms`. */
export function asctimeDate(ms: number): string {
  const p = partsOf(ms);
  return `${DAY_NAMES[p.weekday]} ${MONTH_NAMES[p.m]} ${String(p.d).padStart(2, " ")} ${pad(p.h)}:${
    pad(p.min)
  }:${pad(p.s)} ${pad(p.y, 4)}`;
}

/**
 * ms of a date whose fields are checked; NaN for a day or time that does not exist. A leap second
 * (60) is read as the second before it: the earlier instant, so a condition that holds with it
 * never holds on the strength of a second the clock did not count.
 */
function instant(y: number, m: number, d: number, h: number, min: number, s: number): number {
  if (m < 0 || d < 1 || d > daysIn(y, m) || h > 23 || min > 59 || s > 60) return NaN;
  return (daysTo(y, m) + d - 1) * DAY_MS + ((h * 60 + min) * 60 + Math.min(s, 59)) * 1000;
}

const DIGITS = (n: number) => `(\\d{${n}})`;
const TIME = `${DIGITS(2)}:${DIGITS(2)}:${DIGITS(2)}`;
const MONTH = `(${MONTH_NAMES.join("|")})`;
const IMF = new RegExp(
  `^(?:${DAY_NAMES.join("|")}), ${DIGITS(2)} ${MONTH} ${DIGITS(4)} ${TIME} GMT$`,
);
const RFC850 = new RegExp(
  `^(?:${LONG_DAY_NAMES.join("|")}), ${DIGITS(2)}-${MONTH}-${DIGITS(2)} ${TIME} GMT$`,
);
const ASCTIME = new RegExp(
  `^(?:${DAY_NAMES.join("|")}) ${MONTH} ( \\d|\\d\\d) ${TIME} ${DIGITS(4)}$`,
);

/**
 * An HTTP-date in any of its three forms (case-sensitive), NaN otherwise. A two-digit year is
 * the one within 50 years ahead of `now` or the latest before (§5.6.7: "more than 50 years in
 * the future" is read as the most recent past year with those digits).
 */
export function readHttpDate(text: string, now: number): number {
  let m = IMF.exec(text);
  if (m !== null) {
    return instant(+m[3]!, MONTH_NAMES.indexOf(m[2]!), +m[1]!, +m[4]!, +m[5]!, +m[6]!);
  }
  m = ASCTIME.exec(text);
  if (m !== null) {
    return instant(+m[6]!, MONTH_NAMES.indexOf(m[1]!), +m[2]!.trim(), +m[3]!, +m[4]!, +m[5]!);
  }
  m = RFC850.exec(text);
  if (m === null) return NaN;
  const month = MONTH_NAMES.indexOf(m[2]!);
  const [day, h, min, s] = [+m[1]!, +m[4]!, +m[5]!, +m[6]!];
  // Compared field by field with the moment 50 years on, so a day that does not exist in some
  // year (29 Feb) still has its place.
  const p = partsOf(now);
  const limit = [p.y + 50, p.m, p.d, p.h, p.min, p.s];
  const beyond = (y: number) => {
    const date = [y, month, day, h, min, s];
    const i = date.findIndex((x, k) => x !== limit[k]);
    return i >= 0 && date[i]! > limit[i]!;
  };
  let year = p.y - (p.y % 100) + +m[3]!;
  while (beyond(year)) year -= 100;
  while (!beyond(year + 100)) year += 100;
  return instant(year, month, day, h, min, s);
}

// ---------------------------------------------------------------------------------------------
// What serveStatic must answer.

/** A file as the oracle sees it: what will be opened, and under what name it is typed. */
export interface Served {
  node: MemNode & { kind: "file" };
  /** The name whose extension gives the type (the one asked for, or the index's). */
  name: string;
}

/** An answer: status, the fields that are compared (names in lower case, sorted), the body. */
export interface Answer {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** The part of serveStatic's options the oracle needs. */
export interface OracleOptions {
  root: string;
  index: string;
  prefix: string;
  dotfiles: boolean;
}

const ALLOW = "GET, HEAD, OPTIONS";
/** Files up to this size are read before the head; larger ones stream (src/static.ts's doc). */
const WHOLE_FILE_MAX = 64 * 1024;
const encoder = new TextEncoder();

function answer(status: number, headers: [string, string][], body: string | Uint8Array): Answer {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const all: [string, string][] = headers.map(([n, v]) => [n.toLowerCase(), v]);
  return { status, headers: sortFields(all), body: bytes };
}

/** Fields in one order, to compare as a set that keeps repeats. */
export function sortFields(fields: [string, string][]): [string, string][] {
  return [...fields].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
}

/** binks's refusals: its status as text. */
function refusal(status: number): Answer {
  return answer(status, [["Content-Type", "text/plain"], ["Content-Length", "4"]], `${status}\n`);
}

/** The type of the names the model's trees use; any other is octet-stream. */
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  png: "image/png",
};

export function typeOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot < 0 ? undefined : TYPES[name.slice(dot + 1).toLowerCase()]) ??
    "application/octet-stream";
}

/** The path of a request-target (origin-form, or absolute-form with `http://`). */
export function pathOf(target: string): string {
  let rest = target;
  if (/^https?:\/\//i.test(target)) {
    const from = target.indexOf("//") + 2;
    let end = from;
    while (end < target.length && target[end] !== "/" && target[end] !== "?") end++;
    rest = target.slice(end);
  }
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  return path === "" ? "/" : path;
}

/** Percent-decoding to UTF-8, strictly: null for a bad escape or bytes that are not UTF-8. */
function percentDecode(path: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c !== 0x25) {
      bytes.push(c);
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      new Uint8Array(bytes),
    );
  } catch {
    return null;
  }
}

/**
 * Which file a GET of `target` would serve, or the answer that comes before any file: 204/405
 * by method, 404 for what cannot name a file (a bad escape, NUL, a dotfile, a file named with a
 * slash, nothing there), 403 for `..` and for a symlink out of the root or a file that may not
 * be read, 301 to a directory's slashed URL.
 */
export function locate(
  fs: MemFs,
  options: OracleOptions,
  method: string,
  target: string,
): Answer | Served {
  if (method === "OPTIONS") return answer(204, [["Allow", ALLOW]], "");
  if (method !== "GET" && method !== "HEAD") {
    return answer(
      405,
      [["Allow", ALLOW], ["Content-Type", "text/plain"], ["Content-Length", "4"]],
      "405\n",
    );
  }
  const fullPath = pathOf(target);
  let path = fullPath;
  // The prefix names whole segments, `/static/` the same as `/static`; a path not under it is
  // no file of these.
  // Both in the router's normal form (RFC 3986 §6.2.2.1-2), which found the files' handler.
  const prefix = normalizePath(options.prefix.replace(/\/$/, ""));
  if (prefix !== "") {
    path = normalizePath(path);
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return refusal(404);
    path = path.slice(prefix.length);
  }
  // An empty segment is one to the router, so no path with one names a file.
  if (path.includes("//")) return refusal(404);
  const decoded = percentDecode(path);
  if (decoded === null || decoded.includes("\0")) return refusal(404);
  const segments: string[] = [];
  for (const seg of decoded.split(/[/\\]/)) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") return refusal(403);
    segments.push(seg);
  }
  // An encoded `/` or `\` is data to the router, so in no name served.
  if (/%2f|%5c/i.test(path)) return refusal(404);
  if (
    !options.dotfiles &&
    segments.some((seg, i) => seg.startsWith(".") && !(i === 0 && seg === ".well-known"))
  ) {
    return refusal(404);
  }
  const rootAt = fs.resolve(options.root);
  if ("error" in rootAt) throw new Error("the model's root must exist");
  const base = rootAt.path;
  let file = [base === "/" ? "" : base, ...segments].join("/");
  let name = segments.length > 0 ? segments[segments.length - 1]! : options.index;
  let found = fs.resolve(file);
  if (!("error" in found) && found.node.kind === "dir") {
    if (!path.endsWith("/")) {
      const q = target.indexOf("?");
      const query = q < 0 ? "" : target.slice(q);
      const location = "/" + fullPath.replace(/^\/+/, "") + "/" + query;
      return answer(
        301,
        [["Location", location], ["Content-Type", "text/plain"], ["Content-Length", "4"]],
        "301\n",
      );
    }
    file = `${file}/${options.index}`;
    name = options.index;
    found = fs.resolve(file);
  } else if (path.endsWith("/")) {
    return refusal(404);
  }
  if ("error" in found || found.node.kind !== "file") return refusal(404);
  if (found.path !== base && !found.path.startsWith(base === "/" ? "/" : base + "/")) {
    return refusal(403);
  }
  const node = found.node;
  if (node.access === "denied") return refusal(403);
  if (node.access === "gone" || node.access === "swapped") return refusal(404);
  return { node: node.access === "changed" ? changedVersion(node) : node, name };
}

/** A file's validators at some moment, and what its date stands for in conditions. */
export interface Validators {
  etag: string;
  /** The instant its Last-Modified names. */
  modified: number;
  lastModified: string;
  /** The date is a strong validator (§8.8.2.2). */
  settled: boolean;
  /** The instant the date conditions take it to have changed at. */
  changed: number;
}

/** The validators of a file at `now`, as binks documents them. */
export function validators(node: { size: number; mtimeMs: number }, now: number): Validators {
  const etag = `"${node.size.toString(16)}-${Math.floor(node.mtimeMs).toString(16)}"`;
  // Never later than the answer's Date (§8.8.2.1), in whole seconds.
  const modified = Math.floor(Math.min(node.mtimeMs, now) / 1000) * 1000;
  // §8.8.2.2: a date is a strong validator only once the second it names is over and the file
  // was not changed since; a file changed within the last second counts as changed after it.
  const settled = node.mtimeMs <= now - 1000;
  return {
    etag,
    modified,
    lastModified: imfFixdate(modified),
    settled,
    changed: settled ? modified : modified + 1000,
  };
}

/** OWS around a field value is not part of it (§5.5). */
function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** The value of the fields named `name`, repeats joined with a comma (§5.3). */
function field(fields: [string, string][], name: string): string | undefined {
  const values = fields.filter(([n]) => n.toLowerCase() === name).map(([, v]) => trimOws(v));
  return values.length === 0 ? undefined : values.join(", ");
}

/** One entity-tag (§8.8.3), weak or strong. */
const ETAG_RE = /^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/**
 * `If-Match`/`If-None-Match`: `*`, or a list of entity-tags (empty elements allowed, §5.6.1.2),
 * or null when it is neither.
 */
function tagList(value: string): "*" | string[] | null {
  if (value === "*") return "*";
  const tags: string[] = [];
  // An entity-tag holds no comma... but its opaque part may: split by hand, outside quotes.
  let i = 0;
  const n = value.length;
  for (;;) {
    while (i < n && (value[i] === " " || value[i] === "\t" || value[i] === ",")) i++;
    if (i >= n) return tags;
    let j = i;
    if (value.startsWith("W/", j)) j += 2;
    if (value[j] !== '"') return null;
    const close = value.indexOf('"', j + 1);
    if (close < 0) return null;
    const tag = value.slice(i, close + 1);
    if (!ETAG_RE.test(tag)) return null;
    tags.push(tag);
    i = close + 1;
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
    if (i < n && value[i] !== ",") return null;
  }
}

const opaque = (tag: string) => (tag.startsWith("W/") ? tag.slice(2) : tag);

/** The body and length a 200 or 206 gives for `[start, end)` of the served file. */
function ranged(
  status: number,
  served: Served,
  method: string,
  head: [string, string][],
  start: number,
  end: number,
): Answer {
  const { node } = served;
  const fields: [string, string][] = [...head, ["Content-Length", String(end - start)]];
  if (status === 206) fields.push(["Content-Range", `bytes ${start}-${end - 1}/${node.size}`]);
  if (method === "HEAD") return answer(status, fields, "");
  const readable = readableSize(node);
  // A file that shrank under its answer: one read whole before the head (64 KiB at most) fails
  // with a 500 before anything is said; a streamed one ends short of its Content-Length, which
  // the connection sees and closes on.
  if (end > readable && end - start <= WHOLE_FILE_MAX) return answer(500, [], "");
  return answer(
    status,
    fields,
    contentOf(node.salt, node.size).subarray(start, Math.min(end, readable)),
  );
}

/** The outcome of reading a Range field for a representation of `size` bytes (§14.1–14.2). */
type RangeOutcome = { kind: "ignore" } | { kind: "unsatisfiable" } | {
  kind: "range";
  start: number;
  end: number;
};

/**
 * One `bytes` range (the unit in any case, §14.1; the range set a list, §14.2); several, other
 * units, a spec that is not
 * valid (§14.1.1: last before first) or that cannot be answered are ignored (§14.2 lets a server
 * ignore Range). Numbers are read exactly, whatever their size.
 */
export function readRange(value: string, size: number): RangeOutcome {
  const eq = value.indexOf("=");
  if (eq < 0 || value.slice(0, eq).toLowerCase() !== "bytes") return { kind: "ignore" };
  // A list (§5.6.1.2): spaces and tabs around an element, empty elements not counted.
  const specs = value.slice(eq + 1).split(",").map((e) => e.replace(/^[ \t]+|[ \t]+$/g, ""))
    .filter((e) => e.length > 0);
  const m = specs.length === 1 ? /^(\d*)-(\d*)$/.exec(specs[0]!) : null;
  if (m === null || (m[1] === "" && m[2] === "")) return { kind: "ignore" };
  const length = BigInt(size);
  if (m[1] === "") {
    const suffix = BigInt(m[2]!);
    if (suffix === 0n) return { kind: "unsatisfiable" };
    // Satisfiable (§14.1.1: a non-zero suffix on an empty representation too), but a 206 of
    // nothing has no Content-Range to say so: the whole (empty) representation is sent.
    if (size === 0) return { kind: "ignore" };
    const start = suffix >= length ? 0n : length - suffix;
    return { kind: "range", start: Number(start), end: size };
  }
  const first = BigInt(m[1]!);
  if (m[2] !== "" && BigInt(m[2]!) < first) return { kind: "ignore" };
  if (first >= length) return { kind: "unsatisfiable" };
  const last = m[2] === "" ? length - 1n : BigInt(m[2]!) < length ? BigInt(m[2]!) : length - 1n;
  return { kind: "range", start: Number(first), end: Number(last) + 1 };
}

/** The answer for `served` to `method` with the request's `fields`, at `now`. */
export function answerFor(
  served: Served,
  method: string,
  fields: [string, string][],
  now: number,
): Answer {
  const { node, name } = served;
  const v = validators(node, now);
  // §13.2.2 step 1: If-Match, compared strongly (a weak tag never matches, §13.1.1); a list that
  // is no list matches nothing (binks's choice: refuse rather than guess).
  const ifMatch = field(fields, "if-match");
  if (ifMatch !== undefined) {
    const tags = tagList(ifMatch);
    const holds = tags === "*" ||
      (tags !== null && tags.some((t) => !t.startsWith("W/") && t === v.etag));
    if (!holds) return refusal(412);
  } else {
    // Step 2: If-Unmodified-Since, only without If-Match and only as a valid date (§13.1.4).
    const ius = field(fields, "if-unmodified-since");
    const since = ius === undefined ? NaN : readHttpDate(ius, now);
    if (!Number.isNaN(since) && v.changed > since) return refusal(412);
  }
  const validatorFields: [string, string][] = [["ETag", v.etag], ["Last-Modified", v.lastModified]];
  // Step 3: If-None-Match, compared weakly (§13.1.2): 304 for GET and HEAD. A list that is no
  // list is no match (binks's choice), and still keeps If-Modified-Since out.
  const inm = field(fields, "if-none-match");
  if (inm !== undefined) {
    const tags = tagList(inm);
    if (tags === "*" || (tags !== null && tags.some((t) => opaque(t) === opaque(v.etag)))) {
      return answer(304, validatorFields, "");
    }
  } else {
    // Step 4: If-Modified-Since, only without If-None-Match and as a valid date (§13.1.3).
    const ims = field(fields, "if-modified-since");
    const since = ims === undefined ? NaN : readHttpDate(ims, now);
    if (!Number.isNaN(since) && v.changed <= since) return answer(304, validatorFields, "");
  }
  const head: [string, string][] = [
    ["Content-Type", typeOf(name)],
    ...validatorFields,
    ["Accept-Ranges", "bytes"],
  ];
  const range = field(fields, "range");
  // §14.2: Range is for GET only.
  if (method !== "GET" || range === undefined) {
    return ranged(200, served, method, head, 0, node.size);
  }
  // Step 5 (§13.1.5): If-Range holds with the same strong tag, or with exactly the
  // Last-Modified value while that is a strong validator; a weak tag, another date or
  // anything else sends the whole representation.
  const ifRange = field(fields, "if-range");
  if (ifRange !== undefined) {
    const holds = ETAG_RE.test(ifRange)
      ? !ifRange.startsWith("W/") && ifRange === v.etag
      : !Number.isNaN(readHttpDate(ifRange, now)) && v.settled && ifRange === v.lastModified;
    if (!holds) return ranged(200, served, method, head, 0, node.size);
  }
  const r = readRange(range, node.size);
  if (r.kind === "ignore") return ranged(200, served, method, head, 0, node.size);
  if (r.kind === "unsatisfiable") {
    // §15.5.17; binks also says the file's type, with no content.
    return answer(416, [
      ["Content-Range", `bytes */${node.size}`],
      ["Content-Type", typeOf(name)],
      ["Content-Length", "0"],
    ], "");
  }
  return ranged(206, served, method, head, r.start, r.end);
}
