/**
 * Serving files from a directory: content types, validators (`ETag`,
 * `Last-Modified`) and the conditions on them (`304`, `412`, in RFC 9110 §13.2.2's
 * order), single byte ranges for GET (`206`, `416`), `HEAD`, index files, and no way
 * out of the root (encoded `..`, NUL, symlinks), no dotfiles unless asked for. A file is opened before the status is
 * chosen: one that cannot be is a `403` or `404`, not a `200` cut short.
 *
 * The file system is passed in ({@link FileSystem}), so this stays free of
 * any runtime's modules; `adapters/fs.ts` has the implementation.
 *
 * @module
 */
import { normalPath, withoutOws } from "./bytes.ts";
import type { Handler } from "./connection.ts";
import { errorReply } from "./connection.ts";
import { imfDate, parseHttpDate } from "./date.ts";
import type { IncomingRequest } from "./request.ts";
import type { Reply } from "./response.ts";
import { shown } from "./shown.ts";

/** What a file's metadata must tell. */
export interface FileInfo {
  /** Length in bytes: `Content-Length`, ranges and the `ETag`. */
  size: number;
  /**
   * Last change, in ms since the epoch, with the fraction the file system keeps: `Last-Modified`
   * (whole seconds) and the `ETag` (to the µs).
   */
  mtimeMs: number;
  /** A regular file: only these are served. */
  isFile: boolean;
  /** A directory: its index file is served instead. */
  isDirectory: boolean;
}

/**
 * A file opened for reading. What is served is what was opened: the path may name another
 * file by the time the body is read (a deploy that renames a new file into place).
 */
export interface OpenFile {
  /** The opened file's own metadata (not the path's). */
  readonly info: FileInfo;
  /**
   * Read into `into` from byte `position` of the file: how many bytes were read, 0 at its
   * end. One read at a time.
   */
  read(into: Uint8Array, position: number): Promise<number>;
  /**
   * Memory for a piece of `length` bytes that {@link read} will fill, which need not be zeroed
   * (only the bytes a read filled are ever sent) and is handed over with the piece. Left out, a
   * new `Uint8Array`, whose zeroing costs as much as a read's copy.
   */
  allocate?(length: number): Uint8Array;
  /** Let go of the file: called once, after any read has settled. */
  close(): Promise<void>;
  /**
   * Where the opened file is, as the system tells it from the open file itself (Linux's
   * `/proc/self/fd`), not from a path: what is checked against the root, with no window between
   * the check and the open for a symlink swapped in on the way. Null, or left out, where it cannot
   * tell: then the path is resolved ({@link FileSystem.realpath}) just after the open.
   */
  where?(): Promise<string | null>;
}

/** The file operations static serving needs. */
export interface FileSystem {
  /** Metadata of a path (following symlinks), or null when it does not exist. */
  stat(path: string): Promise<FileInfo | null>;
  /** The path with every symlink resolved (the root's; a file's where its open cannot tell). */
  realpath(path: string): Promise<string>;
  /**
   * Open a file for reading. Fails as `node:fs` does: an error whose `code` is `ENOENT` or
   * `ENOTDIR` for a file that is gone (`404`; so are `ELOOP`, `ENAMETOOLONG` and `ENXIO`, a
   * socket), `EACCES` or `EPERM` for one that may not be read (`403`); Deno's `NotFound`,
   * `PermissionDenied` and `NotCapable` (by `name`) count the same. Any other failure is a `500`.
   */
  open(path: string): Promise<OpenFile>;
  /**
   * True when {@link open} may be given any path: it opens a directory, a FIFO with no writer or
   * a device without waiting on it, and the opened file's `info` tells what it is. A request's
   * path is then opened at once, with no `stat` before (a trip through the runtime's thread pool
   * less per file); left out, only what `stat` calls a regular file is opened.
   */
  readonly opensAnyPath?: boolean;
}

/** Options for {@link serveStatic}. */
export interface StaticOptions {
  /** File served for a directory. Default `index.html`. */
  index?: string;
  /**
   * Strip this prefix from the request path first (for mounting under a route): `/files`
   * serves `/files/a.txt` as `/a.txt`; a path not under it (`/filesystem`, `/other`) is a `404`.
   */
  prefix?: string;
  /**
   * Serve dotfiles: paths with a segment that starts with `.` (`.env`, `.git/config`). Default
   * false: they are a `404`, all but `/.well-known/` (RFC 8615).
   */
  dotfiles?: boolean;
  /**
   * Bytes read from a file per piece of a streamed answer (files over 64 KiB), from 4 KiB to
   * 4 MiB. Default 64 KiB. Each piece costs a file read, a socket write and a turn of the event
   * loop: 256 KiB takes a fifth or more off the CPU per GB sent, and each client that reads
   * slowly then holds up to four times the memory.
   */
  pieceBytes?: number;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  wasm: "application/wasm",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  woff: "font/woff",
  woff2: "font/woff2",
  mp4: "video/mp4",
  webm: "video/webm",
  mp3: "audio/mpeg",
  wav: "audio/wav",
};

/** The Content-Type for a file name. */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 ? TYPES[name.slice(dot + 1).toLowerCase()] : undefined) ??
    "application/octet-stream";
}

/** What an HTTP-date can tell apart. */
const SECOND = 1000;

/**
 * A strong tag (RFC 9110 §8.8.3): the size and the mtime in ms, the finest every runtime gives
 * (Deno's stat stops at the ms; Node's and Bun's go to the µs, but a tag that differed by
 * runtime would fail every conditional request that moves between the servers of a mixed fleet,
 * or across a change of runtime). A file rewritten within a second gets another tag; one
 * rewritten to the same size within the same ms would not.
 */
function entityTag(info: FileInfo): string {
  return `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
}

/** The methods files answer (RFC 9110 §10.2.1), for `OPTIONS` and `405`. */
const ALLOW = "GET, HEAD, OPTIONS";

/** Files up to this size are read whole and sent with the head; larger ones stream. */
const WHOLE_FILE_MAX = 64 * 1024;
/** Read size per piece of a streamed file, unless {@link StaticOptions.pieceBytes} says. */
const PIECE = 64 * 1024;
/** The piece sizes {@link StaticOptions.pieceBytes} may take. */
const PIECE_RANGE: readonly [number, number] = [4 * 1024, 4 * 1024 * 1024];

/**
 * A handler that serves the files under `root`: GET and HEAD; OPTIONS gets `204` and any other
 * method `405`, both with `Allow: GET, HEAD, OPTIONS`.
 */
export function serveStatic(root: string, fs: FileSystem, options: StaticOptions = {}): Handler {
  const index = options.index ?? "index.html";
  // `/files/` is `/files`: what it holds is what is under `/files/`. In the router's normal form
  // (`%65` is `e`), as the paths it is compared with.
  const prefix = normalPath((options.prefix ?? "").replace(/\/$/, ""));
  const under = `${prefix}/`;
  const dotfiles = options.dotfiles ?? false;
  const piece = options.pieceBytes ?? PIECE;
  if (!Number.isInteger(piece) || piece < PIECE_RANGE[0] || piece > PIECE_RANGE[1]) {
    throw new RangeError(
      `pieceBytes must be a whole number from ${PIECE_RANGE[0]} to ${PIECE_RANGE[1]}, not ${
        shown(piece)
      }`,
    );
  }
  let realRoot: Promise<string> | null = null;
  const resolveRoot = (): Promise<string> =>
    realRoot ??= fs.realpath(root).catch((err: unknown) => {
      // Not kept: the directory may yet appear. Said plainly, since every request fails on it.
      realRoot = null;
      throw new Error(`serveStatic: cannot open its root ${root}`, { cause: err });
    });
  return async (req: IncomingRequest): Promise<Reply> => {
    // Answered here, not by a router: mounted with all(), these files take every method.
    if (req.method === "OPTIONS") return { status: 204, headers: { Allow: ALLOW } };
    if (req.method !== "GET" && req.method !== "HEAD") {
      return {
        status: 405,
        headers: { Allow: ALLOW, "Content-Type": "text/plain" },
        body: "405\n",
      };
    }
    let path = req.path;
    if (prefix !== "") {
      // The router found this handler by the path's normal form: `/st%61tic/a` is under `/static`.
      // Whole segments: `/staticindex.html` is not.
      path = normalPath(path);
      if (path !== prefix && !path.startsWith(under)) return plain(404);
      path = path.slice(prefix.length);
    }
    const segments = safeSegments(path);
    if (segments === null) return plain(404);
    if (segments === TRAVERSAL) return plain(403);
    // Secrets and repositories (`.env`, `.git/`) get left in a served directory by mistake.
    if (!dotfiles && hidden(segments)) return plain(404);
    let base = await resolveRoot();
    // Looked up through the root as given: a root that is a symlink is followed where it points
    // now (a deploy turns `current` to the next release), not where it pointed at the first request.
    let file = joinPath(root, segments);
    // The type is the name's that was asked for, not a symlink's target's (as nginx does).
    let name = segments[segments.length - 1] ?? index;
    // Opened before anything is said: a file that cannot be read gets an honest status, not a
    // 200 whose body never comes.
    let opened: OwnedFile | Reply;
    if (fs.opensAnyPath === true) {
      opened = await tryOpen(fs, file);
      if (!(opened instanceof OwnedFile) && opened.status === 403 && path.endsWith("/")) {
        // It may not be read, and is named as a directory: then its index is opened. Through a
        // file named so that open fails as a file on the way (404), whether the file may be read
        // or not, as `stat` tells; a directory that may be searched, not listed, serves its index.
        file = joinPath(file, [index]);
        name = index;
        opened = await tryOpen(fs, file);
      } else if (opened instanceof OwnedFile && opened.info.isDirectory) {
        void opened.close();
        // Its page's relative links resolve against the URL: without the slash, next to it.
        if (!path.endsWith("/")) return toDirectory(req);
        file = joinPath(file, [index]);
        name = index;
        opened = await tryOpen(fs, file);
      } else if (opened instanceof OwnedFile && path.endsWith("/")) {
        // A file named as a directory.
        void opened.close();
        return plain(404);
      }
    } else {
      let info = await fs.stat(file);
      if (info !== null && info.isDirectory) {
        if (!path.endsWith("/")) return toDirectory(req);
        file = joinPath(file, [index]);
        name = index;
        info = await fs.stat(file);
      } else if (path.endsWith("/")) {
        return plain(404);
      }
      if (info === null || !info.isFile) return plain(404);
      opened = await tryOpen(fs, file);
    }
    if (!(opened instanceof OwnedFile)) return opened;
    // No file (a directory as an index, a FIFO, a device): not there, wherever it is, as `stat`
    // tells before any open.
    if (!opened.info.isFile) {
      void opened.close();
      return plain(404);
    }
    let landed: string;
    try {
      // A symlink may point anywhere: what counts is where the open landed. Asked of the open
      // file where the system can tell, so no symlink swapped in on the way after a check can
      // lead elsewhere; else of the path, as close to the open as can be.
      landed = (await opened.where()) ?? (await fs.realpath(file));
      if (!inside(landed, base)) {
        // Perhaps under the root's new target: resolved again, only then (a 403 is rare).
        realRoot = null;
        base = await resolveRoot();
        if (!inside(landed, base)) {
          void opened.close();
          return plain(403);
        }
      }
    } catch (err) {
      void opened.close();
      return openFailure(err);
    }
    return respondWithFile(req, opened, name, piece);
  };
}

/** `path` opened, or the answer for a path that could not be. */
async function tryOpen(fs: FileSystem, path: string): Promise<OwnedFile | Reply> {
  try {
    return new OwnedFile(await fs.open(path));
  } catch (err) {
    return openFailure(err);
  }
}

/** `path` is `base` or under it. */
function inside(path: string, base: string): boolean {
  return path === base || path.startsWith(base.endsWith("/") ? base : base + "/");
}

/**
 * The answer for a file that could not be resolved or opened: `404` when it is gone (removed
 * since `stat`), `403` when it may not be read. Anything else is the server's failure, thrown
 * on to be reported and answered with a 500.
 */
function openFailure(err: unknown): Reply {
  const { code, name } = (typeof err === "object" && err !== null ? err : {}) as {
    code?: unknown;
    name?: unknown;
  };
  if (typeof code === "string" && NO_FILE.has(code) || name === "NotFound") return plain(404);
  if (
    code === "EACCES" || code === "EPERM" || name === "PermissionDenied" || name === "NotCapable"
  ) return plain(403);
  throw err;
}

/**
 * Failures of an open that say no file is there to serve, as `stat` would: none by that name, a
 * file on the way named as a directory, a loop of symlinks, a name too long, a socket.
 */
const NO_FILE = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "ENXIO"]);

const TRAVERSAL: string[] = [];

/** Decoded path segments, null for a path that cannot name a file, TRAVERSAL for `..` tricks. */
function safeSegments(path: string): string[] | typeof TRAVERSAL | null {
  // An empty segment is one to the router (`//private/key` matches no route `/private/*`), while
  // the files would skip it and serve private/key past that route's guard.
  if (path.includes("//")) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const segments: string[] = [];
  for (const seg of decoded.split(/[/\\]/)) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") return TRAVERSAL;
    segments.push(seg);
  }
  // `%2F` and `%5C` are data in a segment to the router (RFC 3986 §2.2), which routed this path
  // by its segments: read as separators, `/private%2Fkey` would be `/private/key` served past
  // the guard of the route `/private/*`. So no name holding either is served.
  if (ENCODED_SEPARATOR.test(path)) return null;
  return segments;
}

/** `/` or `\` percent-encoded. */
const ENCODED_SEPARATOR = /%2f|%5c/i;

/** Where RFC 8615 puts site-wide metadata: a dot-named directory meant to be served. */
const WELL_KNOWN = ".well-known";

/** A segment names a dotfile (or dot-directory), other than `/.well-known/` at the root. */
function hidden(segments: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.startsWith(".") && (i > 0 || seg !== WELL_KNOWN)) return true;
  }
  return false;
}

function joinPath(base: string, segments: string[]): string {
  const head = base.endsWith("/") ? base.slice(0, -1) : base;
  return segments.length === 0 ? head : `${head}/${segments.join("/")}`;
}

/**
 * `301` to the directory's URL with its slash: the path as the request wrote it (prefix and
 * percent-encoding kept), then the query.
 */
function toDirectory(req: IncomingRequest): Reply {
  const url = req.url;
  const q = url.indexOf("?");
  const query = q < 0 ? "" : url.slice(q);
  // One leading slash: `//host/` would send the client to another site.
  const location = `/${req.path.replace(LEADING_SLASHES, "")}/${query}`;
  return {
    status: 301,
    headers: [["Location", location], ["Content-Type", "text/plain"]],
    body: "301\n",
  };
}

const LEADING_SLASHES = /^\/+/;

function plain(status: number): Reply {
  const reply = errorReply(status);
  return { status, headers: { "Content-Type": "text/plain" }, body: reply.body };
}

async function respondWithFile(
  req: IncomingRequest,
  file: OwnedFile,
  name: string,
  piece: number,
): Promise<Reply> {
  // Closed here unless a stream takes it over (and closes it when it ends or is given up).
  let streamed = false;
  try {
    const info = file.info;
    // The path named a file when it was looked at, but what was opened may be another by now;
    // or it was opened unseen (a FIFO, a device).
    if (!info.isFile) return plain(404);
    const now = Date.now();
    const etag = entityTag(info);
    // Never later than the response's Date (RFC 9110 §8.8.2.1): a file dated in the future.
    const modified = Math.floor(Math.min(info.mtimeMs, now) / SECOND) * SECOND;
    const lastModified = imfDate(modified);
    // A date names a whole second, and a file changed less than a second ago may change again
    // within the second its date names, after a client saw it: its date vouches for nothing
    // (RFC 9110 §8.8.2.2). For the date conditions it counts as changed after that second.
    const settled = info.mtimeMs <= now - SECOND;
    const changed = settled ? modified : modified + SECOND;
    const validators: [string, string][] = [["ETag", etag], ["Last-Modified", lastModified]];
    if (preconditionFailed(req, etag, changed)) return plain(412);
    // A 304 carries the validators, not the metadata of a body it does not have (§15.4.5).
    if (notModified(req, etag, changed)) return { status: 304, headers: validators };
    const headers: [string, string][] = [
      ["Content-Type", contentType(name)],
      ...validators,
      ["Accept-Ranges", "bytes"],
    ];
    const size = info.size;
    // Range is defined for GET only; any other method ignores it (RFC 9110 §14.2).
    const range = req.method === "GET" ? req.header("range") : undefined;
    let start = 0;
    let end = size;
    let status = 200;
    if (range !== undefined && ifRangeHolds(req, etag, settled ? lastModified : null)) {
      const parsed = parseRange(range, size);
      if (parsed === UNSATISFIABLE) {
        return { status: 416, headers: [["Content-Range", `bytes */${size}`], headers[0]!] };
      }
      if (parsed !== null) {
        [start, end] = parsed;
        status = 206;
        headers.push(["Content-Range", `bytes ${start}-${end - 1}/${size}`]);
      }
    }
    const length = end - start;
    if (req.method === "HEAD") {
      // The length a GET would have, stated; nothing is read.
      headers.push(["Content-Length", String(length)]);
      return { status, headers };
    }
    if (length <= WHOLE_FILE_MAX) {
      return { status, headers, body: await file.readWhole(start, length) };
    }
    streamed = true;
    return { status, headers, body: new FileStream(file, start, end, piece), length };
  } finally {
    if (!streamed) await file.close();
  }
}

/**
 * An opened file, closed once whatever happens: by the end of its stream, its failure, the
 * client leaving (`return()`), or the handler when no stream takes it over.
 */
class OwnedFile {
  readonly info: FileInfo;
  private readonly file: OpenFile;
  /** The read in flight: a close waits for it, so no read runs on a closed file. */
  private reading: Promise<number> | null = null;
  private closing: Promise<void> | null = null;

  constructor(file: OpenFile) {
    this.file = file;
    this.info = file.info;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Where the opened file is, if the system can tell. */
  where(): Promise<string | null> {
    return this.file.where?.() ?? Promise.resolve(null);
  }

  /** Memory for a piece of `length` bytes, to be filled by {@link read}. */
  allocate(length: number): Uint8Array {
    return this.file.allocate?.(length) ?? new Uint8Array(length);
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    const reading = this.file.read(into, position);
    this.reading = reading;
    try {
      return await reading;
    } finally {
      this.reading = null;
    }
  }

  /** Bytes `[start, start + length)` in one piece. */
  async readWhole(start: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (let at = 0; at < length;) {
      const n = await this.read(out.subarray(at), start + at);
      // Still before the head: the client gets a 500, not a body shorter than its length.
      if (n === 0) throw new Error("file shrank while being read");
      at += n;
    }
    return out;
  }

  close(): Promise<void> {
    this.closing ??= this.closeAfterRead();
    return this.closing;
  }

  private async closeAfterRead(): Promise<void> {
    // Its failure is the reader's to see; a close only waits for it.
    await this.reading?.catch(() => {});
    try {
      await this.file.close();
    } catch {
      // Nothing was written through it: a file opened to be read loses nothing by a failed close.
    }
  }
}

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined };

/** Bytes `[start, end)` of a file, piece by piece; the file is closed when it ends or is given up. */
class FileStream implements AsyncIterableIterator<Uint8Array> {
  private readonly file: OwnedFile;
  private at: number;
  private readonly end: number;
  private readonly piece: number;

  constructor(file: OwnedFile, start: number, end: number, piece: number) {
    this.file = file;
    this.at = start;
    this.end = end;
    this.piece = piece;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.at >= this.end || this.file.closed) return this.return();
    // Each piece is handed over to the connection, so each gets its own memory.
    const piece = this.file.allocate(Math.min(this.piece, this.end - this.at));
    let n: number;
    try {
      n = await this.file.read(piece, this.at);
    } catch (err) {
      await this.file.close();
      throw err;
    }
    // A file cut short ends its stream short: the connection, which sent the length, closes.
    if (n === 0) return this.return();
    this.at += n;
    return { done: false, value: n === piece.length ? piece : piece.subarray(0, n) };
  }

  /** Given up (the client left, or the body is not sent): the file is closed, even unread. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    await this.file.close();
    return DONE;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this;
  }
}

/** One entity-tag of a list (RFC 9110 §8.8.3), with the commas and OWS before it. */
const ENTITY_TAG = /[ \t,]*((?:W\/)?"[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?=,|$)/y;
/** What may follow the last entity-tag: empty elements. */
const LIST_END = /[ \t,]*$/y;

/** `*`, the entity-tags of a list (empty elements skipped), or null for one that is malformed. */
function entityTags(value: string): "*" | string[] | null {
  if (withoutOws(value) === "*") return "*";
  const tags: string[] = [];
  let at = 0;
  for (;;) {
    ENTITY_TAG.lastIndex = at;
    const m = ENTITY_TAG.exec(value);
    if (m === null) break;
    tags.push(m[1]!);
    at = ENTITY_TAG.lastIndex;
  }
  LIST_END.lastIndex = at;
  return LIST_END.test(value) ? tags : null;
}

/** Strong comparison (RFC 9110 §8.8.3.2): both tags strong and the same. */
function strongMatch(a: string, b: string): boolean {
  return !a.startsWith("W/") && !b.startsWith("W/") && a === b;
}

/** Weak comparison: the same opaque tag, weak or not. */
function weakMatch(a: string, b: string): boolean {
  return (a.startsWith("W/") ? a.slice(2) : a) === (b.startsWith("W/") ? b.slice(2) : b);
}

/**
 * The first two steps of RFC 9110 §13.2.2: If-Match (strong comparison; a malformed list
 * matches nothing), else If-Unmodified-Since (ignored unless a valid HTTP-date). True: 412.
 */
function preconditionFailed(req: IncomingRequest, etag: string, modified: number): boolean {
  const ifMatch = req.header("if-match");
  if (ifMatch !== undefined) {
    const tags = entityTags(ifMatch);
    return tags !== "*" && (tags === null || !tags.some((t) => strongMatch(t, etag)));
  }
  const ius = req.header("if-unmodified-since");
  if (ius === undefined) return false;
  const since = parseHttpDate(withoutOws(ius));
  return !Number.isNaN(since) && modified > since;
}

/**
 * Steps 3 and 4 of RFC 9110 §13.2.2 for GET and HEAD: If-None-Match (weak comparison) wins
 * over If-Modified-Since, which counts only as a valid HTTP-date (§13.1.3).
 */
function notModified(req: IncomingRequest, etag: string, modified: number): boolean {
  const inm = req.header("if-none-match");
  if (inm !== undefined) {
    const tags = entityTags(inm);
    return tags === "*" || (tags !== null && tags.some((t) => weakMatch(t, etag)));
  }
  const ims = req.header("if-modified-since");
  if (ims === undefined) return false;
  const since = parseHttpDate(withoutOws(ims));
  return !Number.isNaN(since) && modified <= since;
}

/**
 * If-Range (RFC 9110 §13.1.5): the range applies only while the validator still matches,
 * strongly: the ETag, or the Last-Modified date when it is strong (null when it is not).
 */
function ifRangeHolds(req: IncomingRequest, etag: string, lastModified: string | null): boolean {
  const ifRange = req.header("if-range");
  if (ifRange === undefined) return true;
  const v = withoutOws(ifRange);
  if (v.startsWith('"') || v.startsWith("W/")) return strongMatch(v, etag);
  return v === lastModified;
}

const UNSATISFIABLE: [number, number] = [-1, -1];

/** One `bytes=` range as [start, end); null to ignore the header (and send it all). */
function parseRange(header: string, size: number): [number, number] | null {
  // The unit in any case: all range unit names are case-insensitive (RFC 9110 §14.1).
  const value = withoutOws(header);
  const unit = /^bytes=/i.exec(value);
  // Other units: a server may ignore Range.
  if (unit === null) return null;
  // A list (RFC 9110 §5.6.1.2): whitespace around its elements, empty ones ignored.
  const specs = value.slice(unit[0].length).split(",").map(withoutOws).filter((spec) =>
    spec !== ""
  );
  // Several ranges, or syntax we do not follow: ignored, as above.
  const m = specs.length === 1 ? /^(\d*)-(\d*)$/.exec(specs[0]!) : null;
  if (m === null) return null;
  const [, first, last] = m;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return UNSATISFIABLE;
    // Satisfiable even when the file is empty (RFC 9110 §14.1.2), but no Content-Range can
    // say a 206 of nothing: the whole, empty file is sent.
    if (size === 0) return null;
    return [Math.max(0, size - suffix), size];
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  // Read exactly: past 2^53 two numbers in this order may round to one (RFC 9110 §14.1.1).
  if (last !== "" && BigInt(last) < BigInt(first)) return null;
  if (start >= size) return UNSATISFIABLE;
  return [start, end + 1];
}
