/**
 * The file system for static serving, over `node:fs` (which Deno and Bun
 * implement too).
 *
 * @module
 */
import { open, realpath, stat } from "node:fs/promises";
import type { FileInfo, FileSystem } from "../src/static.ts";

/** Read size per piece of a streamed file. */
const PIECE = 64 * 1024;

async function* readRange(
  path: string,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const handle = await open(path, "r");
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
      const s = await stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch {
      return null;
    }
  },
  realpath(path: string): Promise<string> {
    return realpath(path);
  },
  read(path: string, start: number, end: number): AsyncIterable<Uint8Array> {
    return readRange(path, start, end);
  },
};
