/**
 * The file system for static serving, over `node:fs` (which Deno and Bun
 * implement too). On Deno an opened file is read with Deno's own file API:
 * its `node:fs` reads cost twice the CPU.
 *
 * @module
 */
import type { FileInfo, FileSystem, OpenFile } from "../src/static.ts";

type NodeFs = typeof import("node:fs/promises");
type NodeFsSync = typeof import("node:fs");
let loaded: Promise<NodeFs> | null = null;
let loadedSync: Promise<NodeFsSync> | null = null;
/** `node:fs` once loaded: its calls that never wait on a disk are made at once. */
let fsSync: NodeFsSync | null = null;

/**
 * `node:fs/promises`, loaded on first use: importing it costs Deno about
 * 12 MiB and Bun about 4 MiB of memory, which a server that serves no files
 * (and imports binks's root module) should not pay.
 */
function nodeFs(): Promise<NodeFs> {
  return (loaded ??= import("node:fs/promises"));
}

/**
 * `node:fs`, for what an open file's descriptor tells without a disk (its metadata, the link
 * `/proc` keeps for it): on Node each promise of `node:fs/promises` is a trip through the thread
 * pool, dearer than the call itself.
 */
async function nodeFsSync(): Promise<NodeFsSync> {
  return fsSync ??= await (loadedSync ??= import("node:fs"));
}

/** What `stat` gives, of what binks reads. */
interface NodeStats {
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

function fileInfo(s: NodeStats): FileInfo {
  return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
}

/**
 * Memory that is not zeroed (Node's and Bun's `Buffer.allocUnsafeSlow`, never a slice of a
 * shared pool), or null where there is none.
 */
function unzeroed(): ((length: number) => Uint8Array) | null {
  const buffer = (globalThis as { Buffer?: { allocUnsafeSlow?(length: number): Uint8Array } })
    .Buffer;
  return typeof buffer?.allocUnsafeSlow === "function"
    ? (length) => buffer.allocUnsafeSlow!(length)
    : null;
}

/** What binks uses of Deno's file API. */
interface DenoFiles {
  open(path: string, options: { read: true }): Promise<DenoFile>;
}

interface DenoFile {
  /** Reads at the file's offset: how many bytes, null at its end. */
  read(into: Uint8Array): Promise<number | null>;
  /** Moves the offset; `whence` 0 is from the start. */
  seek(offset: number, whence: 0): Promise<number>;
  close(): void;
}

/** Deno's file API, when this is Deno. */
function denoFiles(): DenoFiles | null {
  const deno = (globalThis as { Deno?: { version?: { deno?: unknown } } & Partial<DenoFiles> })
    .Deno;
  return typeof deno?.version?.deno === "string" && typeof deno.open === "function"
    ? (deno as DenoFiles)
    : null;
}

/**
 * Deno's `node:fs` reads dear: a 64 KiB read cost about twice the CPU of `FsFile.read`, and
 * larger ones more (its own copy of what was read). A file of up to this many bytes is read in
 * one piece, which costs less than opening it again with `Deno.open`.
 */
const DENO_NODE_READ_MAX = 64 * 1024;

/**
 * A regular file larger than {@link DENO_NODE_READ_MAX} opened on Deno, by `node:fs` as on every
 * runtime (`fd`, whose metadata is `info`): opened again with `Deno.open` through that
 * descriptor's link, the same file whatever its path names by then, and read with Deno's reads.
 * Where the link cannot be read (no `/proc`, or `--allow-read` of the served directory alone) it
 * is read through the descriptor with `node:fs`: opened again by its path, it might be another
 * file, or a FIFO whose open waits.
 */
async function openDeno(
  files: DenoFiles,
  fs: NodeFsSync,
  fd: number,
  info: FileInfo,
): Promise<OpenFile> {
  const landed = await descriptorPath(fd);
  if (landed === null) return descriptorFile(fs, fd, info);
  try {
    // The same file as the descriptor's, so the metadata read of it holds.
    return denoFile(await files.open(DESCRIPTORS + fd, { read: true }), landed, info);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `path` opened to be read, at once whatever it names ({@link readFlags}), and the metadata of
 * what was opened: the path may name another file by now. The open descriptor's metadata, which
 * the kernel holds, is asked at once.
 */
async function openDescriptor(fs: NodeFsSync, path: string): Promise<[number, FileInfo]> {
  const fd = await new Promise<number>((resolve, reject) => {
    fs.open(path, readFlags(fs), (err, fd) => err ? reject(err) : resolve(fd));
  });
  try {
    return [fd, fileInfo(fs.fstatSync(fd))];
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** An {@link OpenFile} over a `Deno.open` file, whose metadata is `info`. */
function denoFile(file: DenoFile, landed: string, info: FileInfo): OpenFile {
  /** The file's offset: reads follow each other, so a seek is needed only to go elsewhere. */
  let offset = 0;
  return {
    info,
    read: async (into, position) => {
      if (position !== offset) {
        // Where the seek leaves it, in case it fails half way.
        offset = -1;
        offset = await file.seek(position, 0);
      }
      const n = (await file.read(into)) ?? 0;
      offset += n;
      return n;
    },
    close: () => {
      file.close();
      return Promise.resolve();
    },
    where: () => Promise.resolve(landed),
  };
}

/** Linux's links from each open descriptor to the path of its file. */
const DESCRIPTORS = "/proc/self/fd/";
/**
 * False once a link could not be read: no `/proc` (another system), or none that may be read
 * (Deno's `--allow-read` of the served directory alone). Neither comes back, so no file pays for
 * the attempt again.
 */
let descriptorsReadable = true;

/**
 * The path of the file open on `fd`, as the kernel keeps it (a removed file's ends in
 * ` (deleted)`), or null where there is no such link to read.
 */
async function descriptorPath(fd: number): Promise<string | null> {
  if (!descriptorsReadable) return null;
  try {
    // On Deno its own readLinkSync: a link in /proc never waits on a disk, and Deno's `node:fs`
    // promise cost a tenth more CPU per small file served.
    const deno = (globalThis as { Deno?: { readLinkSync?(path: string): string } }).Deno;
    if (typeof deno?.readLinkSync === "function") return deno.readLinkSync(DESCRIPTORS + fd);
    return (fsSync ?? await nodeFsSync()).readlinkSync(DESCRIPTORS + fd);
  } catch {
    // The descriptor is held open by the caller: the link of one that is open is always there.
    descriptorsReadable = false;
    return null;
  }
}

/**
 * An {@link OpenFile} over a descriptor of `node:fs`, read with its callback API and closed at
 * once: `node:fs/promises` makes each call a promise through a `FileHandle`, and the close of a
 * file opened to be read never waits on a disk. Node, a 1 KiB file opened, its metadata read, read
 * and closed: 86 µs of CPU through `FileHandle`s, 40 this way.
 */
function descriptorFile(fs: NodeFsSync, fd: number, info: FileInfo): OpenFile {
  const file: OpenFile = {
    info,
    read: (into, position) =>
      new Promise<number>((resolve, reject) => {
        fs.read(fd, into, 0, into.length, position, (err, n) => err ? reject(err) : resolve(n));
      }),
    close: () => {
      try {
        fs.closeSync(fd);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    },
    where: () => descriptorPath(fd),
  };
  const allocate = unzeroed();
  if (allocate !== null) file.allocate = allocate;
  return file;
}

/**
 * Open to read, and at once whatever the path names: a FIFO opened without `O_NONBLOCK` waits for
 * a writer (holding a thread of the pool), and some devices do the same. Reads of a regular file
 * ignore the flag. Where there is none (Windows), there are no such files to open by a path.
 */
function readFlags(fs: NodeFsSync): number {
  return fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
}

/**
 * A {@link FileSystem} over `node:fs` (and Deno's own reads on Deno). It opens any path without
 * waiting ({@link readFlags}), so a request's path is opened with no `stat` first.
 */
export const nodeFileSystem: FileSystem = {
  opensAnyPath: true,
  async stat(path: string): Promise<FileInfo | null> {
    try {
      return fileInfo(await (await nodeFs()).stat(path));
    } catch {
      return null;
    }
  },
  async realpath(path: string): Promise<string> {
    return (await nodeFs()).realpath(path);
  },
  async open(path: string): Promise<OpenFile> {
    const fs = fsSync ?? await nodeFsSync();
    const [fd, info] = await openDescriptor(fs, path);
    const deno = denoFiles();
    if (deno === null || info.size <= DENO_NODE_READ_MAX || !info.isFile) {
      return descriptorFile(fs, fd, info);
    }
    return openDeno(deno, fs, fd, info);
  },
};
