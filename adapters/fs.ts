/**
 * The file system for static serving, over `node:fs` (which Deno and Bun
 * implement too).
 *
 * @module
 */
import type { FileInfo, FileSystem } from "../src/static.ts";

type NodeFs = typeof import("node:fs/promises");
let loaded: Promise<NodeFs> | null = null;

/**
 * `node:fs/promises`, loaded on first use: importing it costs Deno about
 * 12 MiB and Bun about 4 MiB of memory, which a server that serves no files
 * (and imports binks's root module) should not pay.
 */
function nodeFs(): Promise<NodeFs> {
  return (loaded ??= import("node:fs/promises"));
}

/** Read size per piece of a streamed file. */
const PIECE = 64 * 1024;

async function* readRange(
  path: string,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const handle = await (await nodeFs()).open(path, "r");
  try {
    let at = start;
    while (at < end) {
      // Each piece is handed over to the connection, so each gets its own memory.
      const piece = new Uint8Array(Math.min(PIECE, end - at));
      const { bytesRead } = await handle.read(piece, 0, piece.length, at);
      if (bytesRead === 0) break;
      at += bytesRead;
      yield bytesRead === piece.length ? piece : piece.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** A {@link FileSystem} over `node:fs/promises`. */
export const nodeFileSystem: FileSystem = {
  async stat(path: string): Promise<FileInfo | null> {
    try {
      const s = await (await nodeFs()).stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch {
      return null;
    }
  },
  async realpath(path: string): Promise<string> {
    return (await nodeFs()).realpath(path);
  },
  read(path: string, start: number, end: number): AsyncIterable<Uint8Array> {
    return readRange(path, start, end);
  },
};
