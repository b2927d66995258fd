/**
 * A model-based property test of static file serving (src/static.ts): random trees in memory
 * (files of random sizes and mtimes, fractions of a ms included; directories and index files;
 * dotfiles; symlinks in, out and around the root; files that may not be read, are gone when
 * opened, or changed) are asked random requests (methods, targets with escapes, dot-segments,
 * NUL, doubled and trailing slashes, queries; Range, If-Range, If-Match, If-None-Match,
 * If-Modified-Since and If-Unmodified-Since in valid, obsolete and broken forms). Each answer,
 * as binks would put it on the wire, is compared with test/static-oracle.ts's: status, every
 * header field but Date, and the exact body; and every file opened must be closed, used as
 * OpenFile says (one read at a time, none after its close).
 *
 * The handler is called directly with a request parsed by binks's own parser (a target the
 * parser refuses, such as one with `..`, is written into a head parsed with a stand-in, so that
 * the file server's own guards are reached). The clock is held still while a request is answered.
 * Fixed seeds and bounded runs keep this to a few seconds.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { check } from "./model/check.ts";
import { serveStatic } from "../src/static.ts";
import { parseHttpDate } from "../src/date.ts";
import { IncomingRequest } from "../src/request.ts";
import { findHeadEnd, parseHead, RequestHead } from "../src/parser.ts";
import { defaultLimits } from "../src/limits.ts";
import {
  emptyTail,
  KEEP,
  Out,
  type Reply,
  StaticReply,
  type Tail,
  writeReply,
} from "../src/response.ts";
import {
  type Access,
  type Answer,
  answerFor,
  asctimeDate,
  imfFixdate,
  locate,
  MemFs,
  type MemNode,
  type OracleOptions,
  readHttpDate,
  rfc850Date,
  sortFields,
  validators,
} from "./static-oracle.ts";

// ---------------------------------------------------------------------------------------------
// Trees.

const ROOT_NAMES = [
  "index.html",
  "a.txt",
  "b.bin",
  "c.CSS",
  "noext",
  "my file.json",
  "ü €.txt",
  "100%.txt",
  "q?.htm",
  "x.png",
  ".env",
  ".well-known",
  "sub",
  "docs",
  "loop",
  "...",
] as const;
const SUB_NAMES = [
  "index.html",
  "a.txt",
  ".secret",
  "home.txt",
  "deep",
  "up",
  ".well-known",
] as const;
const LINK_TARGETS = [
  "a.txt",
  "sub",
  "sub/index.html",
  "../outside/secret.txt",
  "/srv/outside/secret.txt",
  "/srv/outside/dir",
  "../www-evil/x.txt",
  "/srv/www-evil",
  "/srv/www/a.txt",
  "/srv/site/a.txt",
  "missing.txt",
  "loop",
  "..",
  ".",
  "sub/../a.txt",
  "../www/.env",
  "../a.txt",
] as const;

const WWW = "/srv/www";

interface FileSpec {
  kind: "file";
  size: number;
  /** ms before the run's clock (negative: a file dated in the future). */
  ago: number;
  salt: number;
  access: Access;
  shortRead: number;
  dirty: boolean;
}
type LeafSpec = FileSpec | { kind: "link"; target: string };
type EntrySpec = LeafSpec | { kind: "dir"; children: [string, LeafSpec | DeepSpec][] };
type DeepSpec = { kind: "dir"; children: [string, LeafSpec][] };

const sizeArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 2, arbitrary: fc.integer({ min: 41, max: 3000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 65_530, max: 65_542 }) },
  { weight: 1, arbitrary: fc.integer({ min: 65_543, max: 140_000 }) },
);

/** The fractions of a ms a file system keeps (all exact in binary but the last). */
const FRACTION = fc.constantFrom(0, 0.5, 0.25, 0.999, 0.001, 0.123);

const agoArb = fc.oneof(
  // Long settled.
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 1000, max: 3e10 }), FRACTION) },
  // Within the last second, and at its edge.
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 1001 }), FRACTION) },
  // A second ago to the ms, or just now: where a date starts to vouch for a file.
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.constantFrom(1000, 1000, 999, 1001, 0),
      fc.constantFrom(0, 0, 0.999, 0.001),
    ),
  },
  // In the future.
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: -3e9, max: -1 }), FRACTION) },
  // Before 1970 (a negative mtime), or at the epoch itself.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1_760_000_000_000, max: 1_800_000_000_000 }), FRACTION),
  },
).map(([ms, f]) => ms + f);

const accessArb = fc.constantFrom<Access>(
  ...Array<Access>(16).fill("ok"),
  "denied",
  "gone",
  "swapped",
  "changed",
  "shrunk",
);

const fileArb: fc.Arbitrary<FileSpec> = fc.record({
  kind: fc.constant("file" as const),
  size: sizeArb,
  ago: agoArb,
  salt: fc.integer({ min: 0, max: 255 }),
  access: accessArb,
  shortRead: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 700 })),
  dirty: fc.boolean(),
});

const linkArb: fc.Arbitrary<LeafSpec> = fc.record({
  kind: fc.constant("link" as const),
  target: fc.constantFrom(...LINK_TARGETS),
});

const leafArb: fc.Arbitrary<LeafSpec> = fc.oneof({ weight: 4, arbitrary: fileArb }, {
  weight: 1,
  arbitrary: linkArb,
});

const deepArb: fc.Arbitrary<DeepSpec> = fc.record({
  kind: fc.constant("dir" as const),
  children: fc.uniqueArray(fc.tuple(fc.constantFrom(...SUB_NAMES), leafArb), {
    maxLength: 3,
    selector: ([name]) => name,
  }),
});

const dirArb: fc.Arbitrary<EntrySpec> = fc.record({
  kind: fc.constant("dir" as const),
  children: fc.uniqueArray(
    fc.tuple(
      fc.constantFrom(...SUB_NAMES),
      fc.oneof({ weight: 4, arbitrary: leafArb }, { weight: 1, arbitrary: deepArb }),
    ),
    { maxLength: 4, selector: ([name]) => name },
  ),
});

const treeArb = fc.uniqueArray(
  fc.tuple(
    fc.constantFrom(...ROOT_NAMES),
    fc.oneof({ weight: 3, arbitrary: leafArb }, { weight: 1, arbitrary: dirArb }),
  ),
  { minLength: 1, maxLength: 10, selector: ([name]) => name },
);

function fileNode(spec: FileSpec, now: number): MemNode {
  const { size, salt, access, shortRead, dirty } = spec;
  return { kind: "file", size, mtimeMs: now - spec.ago, salt, access, shortRead, dirty };
}

function place(nodes: Map<string, MemNode>, path: string, spec: EntrySpec, now: number): void {
  if (spec.kind === "file") nodes.set(path, fileNode(spec, now));
  else if (spec.kind === "link") nodes.set(path, spec);
  else {
    nodes.set(path, { kind: "dir" });
    for (const [name, child] of spec.children) place(nodes, `${path}/${name}`, child, now);
  }
}

/** The tree of a run: the root's entries, and what lies around the root. */
function buildFs(tree: [string, EntrySpec][], now: number): MemFs {
  const old = (salt: number, size: number): MemNode => ({
    kind: "file",
    size,
    mtimeMs: now - 5e6,
    salt,
    access: "ok",
    shortRead: 0,
    dirty: false,
  });
  const nodes = new Map<string, MemNode>([
    ["/srv", { kind: "dir" }],
    ["/srv/site", { kind: "link", target: "www" }],
    ["/srv/outside", { kind: "dir" }],
    ["/srv/outside/secret.txt", old(1, 6)],
    ["/srv/outside/dir", { kind: "dir" }],
    ["/srv/outside/dir/index.html", old(2, 9)],
    ["/srv/www-evil", { kind: "dir" }],
    ["/srv/www-evil/x.txt", old(3, 3)],
    ["/srv/www-evil/index.html", old(4, 4)],
    [WWW, { kind: "dir" }],
  ]);
  for (const [name, spec] of tree) place(nodes, `${WWW}/${name}`, spec, now);
  return new MemFs(nodes);
}

// ---------------------------------------------------------------------------------------------
// Requests.

/** Bytes a target may hold as they are (and that say nothing special to a path). */
const PLAIN = /^[A-Za-z0-9\-_~!$&'()*+,;=:@.]$/;

/** `name` percent-encoded: what must be, always; a plain character when bit `i` of `mask` is set. */
function encodeName(name: string, mask: number): string {
  let out = "";
  let i = 0;
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    const hex = byte.toString(16).padStart(2, "0");
    const upper = ((mask >> ((i + 7) % 31)) & 1) === 1;
    out += PLAIN.test(c) && ((mask >> (i % 31)) & 1) === 0
      ? c
      : `%${upper ? hex.toUpperCase() : hex}`;
    i++;
  }
  return out;
}

const SPECIAL_SEGMENTS = [
  "..",
  "%2e%2e",
  ".%2E",
  "%2E.",
  ".",
  "%2e",
  "%00",
  "a%00b",
  "a.txt%00",
  "%2f",
  "%5c",
  "..%2fa.txt",
  "%2e%2e%5c",
  "%2E%2E%2F%2E%2E%2Fetc",
  "%ZZ",
  "%",
  "%4",
  "%C0%AE%C0%AE",
  "%E2%82%AC",
  "%EF%BB%BFa.txt",
  "%ED%A0%80",
  "\\..\\a.txt",
  "sub\\a.txt",
  "a.txt%2f",
  "sub%2findex.html",
  "sub%5Ca.txt",
  "%2Ewell-known",
  ".well-known%2f..%2f.env",
  "nope",
  "A.TXT",
] as const;

const ALL_NAMES = [...ROOT_NAMES, ...SUB_NAMES];

const segmentArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(fc.constantFrom(...ALL_NAMES), fc.nat()).map(([n, mask]) =>
      encodeName(n, mask & 0x7fff_ffff)
    ),
  },
  {
    weight: 5,
    arbitrary: fc.constantFrom(...ALL_NAMES).map((n) => encodeName(n, 0)),
  },
  { weight: 3, arbitrary: fc.constantFrom<string>(...SPECIAL_SEGMENTS) },
);

interface TargetSpec {
  mount: boolean;
  absolute: boolean;
  segments: string[];
  /** Slashes before each segment (0 to 2; a segment odd on the way makes a fourth). */
  slashes: number[];
  trailing: number;
  query: string;
}

/** Targets mostly to what the tree holds (`paths`), each segment encoded its own way. */
function targetArb(paths: string[][]): fc.Arbitrary<TargetSpec> {
  const known = paths.length === 0 ? fc.constant([] as string[]) : fc.constantFrom(...paths);
  const segments = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(known, fc.nat(), segmentArb, fc.nat(4)).map(([path, mask, odd, at]) => {
        const segs = path.map((seg) => encodeName(seg, mask & 0x7fff_ffff));
        // Now and then something odd on the way.
        if (at < segs.length && mask % 5 === 0) segs.splice(at, 0, odd);
        return segs;
      }),
    },
    { weight: 2, arbitrary: fc.array(segmentArb, { maxLength: 3 }) },
  );
  return fc.record({
    mount: fc.constantFrom(true, true, true, false),
    absolute: fc.constantFrom(false, false, false, false, false, true),
    segments,
    slashes: fc.array(fc.constantFrom(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0), {
      minLength: 4,
      maxLength: 4,
    }),
    trailing: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 2),
    query: fc.constantFrom("", "", "", "", "?", "?a=1", "?x=/../y", "??b", "?%2e%2e"),
  });
}

function targetOf(t: TargetSpec, prefix: string): string {
  let path = "";
  t.segments.forEach((seg, i) => {
    // The first segment always has its slash: a target starts with one.
    path += "/".repeat(i === 0 ? Math.max(1, t.slashes[i] ?? 1) : t.slashes[i] ?? 1) + seg;
  });
  path += "/".repeat(t.trailing);
  if (path === "") path = "/";
  if (t.mount && prefix !== "") path = prefix.replace(/\/$/, "") + (path === "/" ? "" : path);
  if (path === "") path = "/";
  return (t.absolute ? "http://h.example" : "") + path + t.query;
}

/** A number in a range, said of the file served: an absolute one or the size with a delta. */
type Pos = { abs: string } | { size: number };

const posArb: fc.Arbitrary<Pos> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }).map((n) => ({ abs: String(n) })) },
  { weight: 3, arbitrary: fc.integer({ min: -2, max: 2 }).map((d) => ({ size: d })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "9007199254740991",
      "9007199254740992",
      "9007199254740993",
      "18446744073709551616",
      "99999999999999999999999999",
      "0000000000000000000000000005",
      "9".repeat(400),
    ).map((abs) => ({ abs })),
  },
);

type RangeSpec =
  | { kind: "int"; first: Pos; last: Pos; unit: string; sep: string }
  | { kind: "open"; first: Pos; unit: string }
  | { kind: "suffix"; n: Pos; unit: string }
  | { kind: "raw"; text: string }
  | { kind: "two"; a: Pos; b: Pos; c: Pos; d: Pos };

const unitArb = fc.constantFrom("bytes", "bytes", "bytes", "bytes", "Bytes", "BYTES", "items");

const RAW_RANGES = [
  "bytes=0-0",
  "bytes=-",
  "bytes=",
  "bytes=--5",
  "bytes=0x10-",
  "bytes=1-2-3",
  "bytes=0-5,",
  "bytes=,0-5",
  "bytes= 0-5",
  "bytes =0-5",
  "bytes=0 -5",
  "bytes=\t0-5",
  "bytes=0-5, 7-9",
  "bytes=-0",
  "bytes=0-",
  "bytes=-1",
  "bytes=+1-2",
  "bytes=9007199254740993-9007199254740992",
  "bytes=18446744073709551617-18446744073709551616",
  "bytes=1.5-2",
  "bytes",
  "=0-5",
] as const;

const rangeArb: fc.Arbitrary<RangeSpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("int" as const),
      first: posArb,
      last: posArb,
      unit: unitArb,
      sep: fc.constant("-"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("open" as const), first: posArb, unit: unitArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("suffix" as const), n: posArb, unit: unitArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      text: fc.constantFrom(...RAW_RANGES),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("two" as const),
      a: posArb,
      b: posArb,
      c: posArb,
      d: posArb,
    }),
  },
);

/** An entity-tag of a list, said of the file served. */
const TAG_ITEMS = [
  "comma",
  "juxtaposed",
  "current",
  "current",
  "weak",
  "other",
  "other-weak",
  "lower-weak",
  "unterminated",
  "empty",
  "bare",
  "star",
  "other-size",
] as const;
type TagItem = (typeof TAG_ITEMS)[number];

type TagsSpec = { kind: "star" } | { kind: "list"; items: TagItem[]; sep: string };

const tagsArb: fc.Arbitrary<TagsSpec> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: "star" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("list" as const),
      items: fc.array(fc.constantFrom(...TAG_ITEMS), { minLength: 0, maxLength: 3 }),
      sep: fc.constantFrom(", ", ",", " , ", ",, ", ",\t"),
    }),
  },
);

/** A date, said of the file served: which instant, and in which form. */
interface DateSpec {
  at: "modified" | "before" | "after" | "now" | "hour-ahead" | "epoch" | "1994" | "mtime";
  form:
    | "imf"
    | "rfc850"
    | "asctime"
    | "lower-gmt"
    | "two"
    | "wrong-day"
    | "garbage"
    | "empty"
    | "feb-31"
    | "leap-second"
    | "numeric"
    | "utc";
}

const dateArb: fc.Arbitrary<DateSpec> = fc.record({
  at: fc.constantFrom<DateSpec["at"]>(
    "modified",
    "modified",
    "modified",
    "before",
    "after",
    "now",
    "hour-ahead",
    "epoch",
    "1994",
    "mtime",
  ),
  form: fc.constantFrom<DateSpec["form"]>(
    "imf",
    "imf",
    "imf",
    "imf",
    "imf",
    "imf",
    "imf",
    "imf",
    "rfc850",
    "asctime",
    "lower-gmt",
    "two",
    "wrong-day",
    "garbage",
    "empty",
    "feb-31",
    "leap-second",
    "numeric",
    "utc",
  ),
});

type FieldSpec =
  | { name: "Range"; value: RangeSpec }
  | { name: "If-Range"; value: { tag: TagItem } | { date: DateSpec } }
  | { name: "If-Match" | "If-None-Match"; value: TagsSpec }
  | { name: "If-Modified-Since" | "If-Unmodified-Since"; value: DateSpec };

const fieldArb: fc.Arbitrary<FieldSpec> = fc.oneof(
  { weight: 4, arbitrary: rangeArb.map((value) => ({ name: "Range" as const, value })) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom(...TAG_ITEMS).map((tag) => ({ tag })),
      dateArb.map((date) => ({ date })),
    ).map((value) => ({ name: "If-Range" as const, value })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom("If-Match" as const, "If-None-Match" as const), tagsArb)
      .map(([name, value]) => ({ name, value })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.constantFrom("If-Modified-Since" as const, "If-Unmodified-Since" as const),
      dateArb,
    ).map(([name, value]) => ({ name, value })),
  },
);

interface RequestSpec {
  method: string;
  target: TargetSpec;
  fields: FieldSpec[];
  /** Field names as sent: as written, or in lower case. */
  lowerNames: boolean;
}

const methodArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant("GET") },
  { weight: 4, arbitrary: fc.constant("HEAD") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("OPTIONS", "POST", "PUT", "DELETE", "get", "BREW", "TRACE"),
  },
);

function requestArb(paths: string[][]): fc.Arbitrary<RequestSpec> {
  return fc.record({
    method: methodArb,
    target: targetArb(paths),
    // Each field once, but now and then the first twice (a list, or two dates: §5.3).
    fields: fc.tuple(
      fc.uniqueArray(fieldArb, { maxLength: 4, selector: (f) => f.name }),
      fc.constantFrom(false, false, false, false, true),
    ).map(([fields, twice]) => (twice && fields.length > 0 ? [fields[0]!, ...fields] : fields)),
    lowerNames: fc.boolean(),
  });
}

/** The paths a tree holds, as segments: its entries and theirs. */
function pathsOf(tree: [string, EntrySpec][]): string[][] {
  const out: string[][] = [];
  const walk = (at: string[], entries: [string, EntrySpec][]) => {
    for (const [name, e] of entries) {
      out.push([...at, name]);
      if (e.kind === "dir") walk([...at, name], e.children);
    }
  };
  walk([], tree);
  return out;
}

interface Scenario {
  /** The clock while the run is answered, ms since the epoch. */
  now: number;
  tree: [string, EntrySpec][];
  root: string;
  index: string;
  prefix: string;
  dotfiles: boolean;
  pieceBytes: number;
  requests: RequestSpec[];
  /** The requests are asked all at once, answered in turn. */
  together: boolean;
  /** The file system opens any path (as `nodeFileSystem`): no `stat` before an open. */
  opensAnyPath: boolean;
}

const scenarioArb: fc.Arbitrary<Scenario> = treeArb.chain((tree) =>
  fc.record({
    now: fc.integer({ min: 0, max: 2e9 }).map((n) => 1_760_000_000_000 + n),
    tree: fc.constant(tree),
    root: fc.constantFrom(WWW, WWW, `${WWW}/`, "/srv/site"),
    index: fc.constantFrom("index.html", "index.html", "home.txt", ".env"),
    prefix: fc.constantFrom("", "", "/static", "/static/"),
    dotfiles: fc.boolean(),
    pieceBytes: fc.constantFrom(4096, 16384, 65536),
    requests: fc.array(requestArb(pathsOf(tree)), { minLength: 1, maxLength: 6 }),
    together: fc.boolean(),
    opensAnyPath: fc.boolean(),
  })
);

// ---------------------------------------------------------------------------------------------
// Rendering the symbolic parts against the file served.

interface Subject {
  size: number;
  etag: string;
  /** The instant of its Last-Modified. */
  modified: number;
  mtimeMs: number;
  now: number;
}

function posText(p: Pos, size: number): string {
  return "abs" in p ? p.abs : String(Math.max(0, size + p.size));
}

function rangeText(r: RangeSpec, size: number): string {
  switch (r.kind) {
    case "int":
      return `${r.unit}=${posText(r.first, size)}${r.sep}${posText(r.last, size)}`;
    case "open":
      return `${r.unit}=${posText(r.first, size)}-`;
    case "suffix":
      return `${r.unit}=-${posText(r.n, size)}`;
    case "raw":
      return r.text;
    case "two":
      return `bytes=${posText(r.a, size)}-${posText(r.b, size)},${posText(r.c, size)}-${
        posText(r.d, size)
      }`;
  }
}

function tagText(item: TagItem, s: Subject): string {
  switch (item) {
    case "current":
      return s.etag;
    case "weak":
      return `W/${s.etag}`;
    case "other":
      return '"nope"';
    case "other-weak":
      return 'W/"nope"';
    case "lower-weak":
      return `w/${s.etag}`;
    case "unterminated":
      return s.etag.slice(0, -1);
    case "empty":
      return '""';
    case "bare":
      return s.etag.slice(1, -1);
    case "star":
      return "*";
    case "other-size":
      return s.etag.replace('"', '"1');
    case "comma":
      return '"a,b"';
    case "juxtaposed":
      return `"x" ${s.etag}`;
  }
}

function tagsText(t: TagsSpec, s: Subject): string {
  return t.kind === "star" ? "*" : t.items.map((i) => tagText(i, s)).join(t.sep);
}

function dateText(d: DateSpec, s: Subject): string {
  const at = {
    modified: s.modified,
    before: s.modified - 1000,
    after: s.modified + 1000,
    now: s.now,
    "hour-ahead": s.now + 3_600_000,
    epoch: 0,
    "1994": 784_111_777_000,
    mtime: Math.floor(s.mtimeMs),
  }[d.at];
  const imf = imfFixdate(at);
  switch (d.form) {
    case "imf":
      return imf;
    case "rfc850":
      return rfc850Date(at);
    case "asctime":
      return asctimeDate(at);
    case "lower-gmt":
      return imf.replace("GMT", "gmt");
    case "two":
      return `${imf}, ${imfFixdate(at + 5000)}`;
    case "wrong-day":
      return imf.slice(0, 3) === "Mon" ? "Tue" + imf.slice(3) : "Mon" + imf.slice(3);
    case "garbage":
      return "yesterday";
    case "empty":
      return "";
    case "feb-31":
      return imf.replace(/\d\d (\w\w\w) /, "31 Feb ");
    case "leap-second":
      return imf.replace(/:\d\d GMT/, ":60 GMT");
    case "numeric":
      return String(Math.floor(at / 1000));
    case "utc":
      return imf.replace("GMT", "UTC");
  }
}

function fieldText(f: FieldSpec, s: Subject): string {
  switch (f.name) {
    case "Range":
      return rangeText(f.value, s.size);
    case "If-Range":
      return "tag" in f.value ? tagText(f.value.tag, s) : dateText(f.value.date, s);
    case "If-Match":
    case "If-None-Match":
      return tagsText(f.value, s);
    default:
      return dateText(f.value, s);
  }
}

// ---------------------------------------------------------------------------------------------
// Asking binks, and reading its answer as the wire would carry it.

const encoder = new TextEncoder();

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Parse `method target` with `fields`; a target the parser refuses is put in afterwards. */
function parsed(method: string, target: string, fields: [string, string][]): IncomingRequest {
  const head = new RequestHead(defaultLimits.maxHeaders);
  const text = (t: string) =>
    `${method} ${t} HTTP/1.1\r\nHost: x\r\n${
      fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")
    }\r\n`;
  let bytes = encoder.encode(text(target));
  let end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  if (parseHead(bytes, 0, end, head, defaultLimits) === 0) {
    return new IncomingRequest(head, null, { remoteAddress: "" });
  }
  const standIn = "/" + "x".repeat(target.length - 1);
  bytes = encoder.encode(text(standIn));
  end = findHeadEnd(bytes, 0, 0, bytes.length, { scan: 0 });
  const status = parseHead(bytes, 0, end, head, defaultLimits);
  assert.equal(status, 0, `the stand-in head for ${target} parses`);
  bytes.set(encoder.encode(target), head.targetStart);
  if (target.startsWith("http://")) {
    let p = head.targetStart + "http://".length;
    while (p < head.targetEnd && bytes[p] !== 0x2f && bytes[p] !== 0x3f) p++;
    head.pathStart = p;
  }
  return new IncomingRequest(head, null, { remoteAddress: "" });
}

/** The answer as it would go out: status, fields but Date (sorted), and the body sent. */
async function wire(reply: Reply | StaticReply, headOnly: boolean): Promise<Answer> {
  assert.ok(!(reply instanceof StaticReply), "serveStatic answers with Reply objects");
  const out = new Out(512);
  const tail: Tail = emptyTail();
  writeReply(out, reply, headOnly, KEEP, 1, tail);
  const all = out.buf.subarray(0, out.len);
  const text = latin1(all);
  const headEnd = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, headEnd).split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    if (name !== "date") headers.push([name, line.slice(colon + 1).trim()]);
  }
  const pieces: Uint8Array[] = [all.slice(headEnd + 4)];
  if (tail.bytes !== null) pieces.push(tail.bytes);
  if (tail.stream !== null) {
    for await (const piece of tail.stream) {
      pieces.push(typeof piece === "string" ? encoder.encode(piece) : piece.slice());
    }
  }
  const length = pieces.reduce((n, p) => n + p.length, 0);
  const body = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    body.set(p, at);
    at += p.length;
  }
  return { status, headers: sortFields(headers), body };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function shownBody(b: Uint8Array): string {
  return `${b.length} bytes: ${JSON.stringify(latin1(b.subarray(0, 24)))}${
    b.length > 24 ? "…" : ""
  }`;
}

/** Ask `handler` every request of `s` in turn, each checked against the oracle. */
async function run(s: Scenario): Promise<void> {
  const fs = buildFs(s.tree, s.now);
  fs.opensAnyPath = s.opensAnyPath;
  const options: OracleOptions = {
    root: s.root,
    index: s.index,
    prefix: s.prefix,
    dotfiles: s.dotfiles,
  };
  const handler = serveStatic(s.root, fs, {
    index: s.index,
    prefix: s.prefix,
    dotfiles: s.dotfiles,
    pieceBytes: s.pieceBytes,
  });
  const realNow = Date.now;
  Date.now = () => s.now;
  try {
    const asked = s.requests.map((r) => {
      const target = targetOf(r.target, s.prefix);
      const where = locate(fs, options, r.method, target);
      const served = "node" in where ? where.node : null;
      const v = validators(served ?? { size: 10, mtimeMs: s.now - 1e7 }, s.now);
      const subject: Subject = {
        size: served?.size ?? 10,
        etag: v.etag,
        modified: v.modified,
        mtimeMs: served?.mtimeMs ?? s.now - 1e7,
        now: s.now,
      };
      const fields: [string, string][] = r.fields.map((f) => [
        r.lowerNames ? f.name.toLowerCase() : f.name,
        fieldText(f, subject),
      ]);
      let expected = "node" in where ? answerFor(where, r.method, fields, s.now) : where;
      if (r.method === "HEAD") expected = { ...expected, body: new Uint8Array(0) };
      const what = `${r.method} ${target} ${JSON.stringify(fields)}`;
      return { r, expected, what, req: parsed(r.method, target, fields) };
    });
    /** The handler's reply, or what it threw. */
    const ask = async (req: IncomingRequest) => {
      try {
        return await handler(req);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    };
    // One after another, or all at once on the one handler (its root found once for all).
    const replies: (Reply | StaticReply | Error)[] = [];
    if (s.together) replies.push(...await Promise.all(asked.map(({ req }) => ask(req))));
    for (const [i, { r, expected, what, req }] of asked.entries()) {
      const reply = s.together ? replies[i]! : await ask(req);
      let actual: Answer;
      try {
        if (reply instanceof Error) throw reply;
        actual = await wire(reply, r.method === "HEAD");
      } catch (err) {
        // As the connection answers a handler that threw.
        actual = { status: 500, headers: [], body: new Uint8Array(0) };
        if (expected.status !== 500) throw err;
      }
      assert.deepEqual(
        { status: actual.status, headers: actual.headers, body: shownBody(actual.body) },
        { status: expected.status, headers: expected.headers, body: shownBody(expected.body) },
        what,
      );
      assert.ok(sameBytes(actual.body, expected.body), `${what}: the body's bytes`);
      assert.deepEqual(fs.misuse, [], `${what}: files used as OpenFile says`);
      if (!s.together) assert.equal(fs.closed, fs.opened, `${what}: every file opened is closed`);
    }
    assert.equal(fs.closed, fs.opened, "every file opened is closed");
  } finally {
    Date.now = realNow;
  }
}

/** From year 1 to 9999, in ms (whole seconds). */
const anyInstant = fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }).map((s) => s * 1000);

/** Characters that make a date almost right. */
const NEAR = ["0", "9", "3", " ", "  ", "-", ",", ":", "\t", "G", "x", "", "6", "1"];

/** HTTP-dates in the three forms, and the same with one character changed, dropped or added. */
const dateTextArb = fc.tuple(
  anyInstant,
  fc.constantFrom(imfFixdate, rfc850Date, asctimeDate),
  fc.constantFrom(false, true),
  fc.nat(40),
  fc.constantFrom(...NEAR),
  fc.constantFrom(0, 1),
).map(([at, form, mutate, i, c, drop]) => {
  const text = form(at);
  if (!mutate) return text;
  const k = i % (text.length + 1);
  return text.slice(0, k) + c + text.slice(k + drop);
});

const A_TXT: FileSpec = {
  kind: "file",
  size: 11,
  ago: 5000.5,
  salt: 0,
  access: "ok",
  shortRead: 0,
  dirty: false,
};

describe("static files: model", () => {
  it("reads HTTP-dates as RFC 9110 §5.6.7 has them, in all three forms", () => {
    fc.assert(
      fc.property(
        dateTextArb,
        fc.integer({ min: 0, max: 4_100_000_000 }).map((s) => s * 1000 + 123),
        (text, now) => {
          const want = readHttpDate(text, now);
          const got = parseHttpDate(text, now);
          assert.ok(Object.is(got, want), `${JSON.stringify(text)} at ${now}: ${got}, not ${want}`);
        },
      ),
      { seed: 0x57a71e, numRuns: 2000 },
    );
  });

  it("answers the cases it found as the model says, on either kind of file system", async () => {
    const get = (segments: string[], trailing: number): RequestSpec => ({
      method: "GET",
      target: {
        mount: true,
        absolute: false,
        segments,
        slashes: [1, 1, 1, 1],
        trailing,
        query: "",
      },
      fields: [],
      lowerNames: false,
    });
    const denied: EntrySpec = { ...A_TXT, access: "denied" };
    const found: Pick<Scenario, "tree" | "requests">[] = [
      // A file that may not be read, named as a directory: 404 as for one that may (was 403
      // where the file system opens any path, found under seeds 30005–30012).
      {
        tree: [["index.html", denied], ["docs", { kind: "dir", children: [["a", denied]] }]],
        requests: [get(["index.html"], 1), get(["docs", "a"], 1)],
      },
      // An index that is a directory out of the root, through a symlink: no file, 404 (was 403
      // where the file system opens any path: it looked where the open landed first; seed 30019).
      { tree: [["index.html", { kind: "link", target: ".." }]], requests: [get([], 0)] },
    ];
    for (const opensAnyPath of [true, false]) {
      for (const { tree, requests } of found) {
        await run({
          now: 1_760_000_000_000,
          tree,
          root: "/srv/www",
          index: "index.html",
          prefix: "",
          dotfiles: false,
          pieceBytes: 4096,
          requests,
          together: false,
          opensAnyPath,
        });
      }
    }
  });

  it("answers random requests on random trees as RFC 9110 and binks's choices say", async () => {
    await check(fc.asyncProperty(scenarioArb, run), { seed: 0x57a71c, numRuns: 400 });
  });

  it("answers random conditional and range requests on one small tree", async () => {
    const focused = scenarioArb.map((s) => ({
      ...s,
      requests: s.requests.map((r) => ({
        ...r,
        method: r.method === "HEAD" ? "HEAD" : "GET",
        target: { ...r.target, mount: true, segments: ["a.txt"], trailing: 0 },
      })),
      // Its first file, else one of 11 bytes long settled.
      tree: [["a.txt", s.tree.find(([, e]) => e.kind === "file")?.[1] ?? A_TXT]] as [
        string,
        EntrySpec,
      ][],
    }));
    await check(fc.asyncProperty(focused, run), { seed: 0x57a71d, numRuns: 400 });
  });
});
