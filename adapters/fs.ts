/**
 * The file system for static serving, over `node:fs` (which Deno and Bun
 * implement too).
 *
 * @module
 */
import type { FileInfo, FileSystem, OpenFile } from "../src/static.ts";

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

/** A {@link FileSystem} over `node:fs/promises`. */
export const nodeFileSystem: FileSystem = {
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
    const handle = await (await nodeFs()).open(path, "r");
    try {
      // The metadata of what was opened: the path may have been given to another file since.
      const info = fileInfo(await handle.stat());
      return {
        info,
        read: async (into, position) =>
          (await handle.read(into, 0, into.length, position)).bytesRead,
        close: () => handle.close(),
      };
    } catch (err) {
      await handle.close();
      throw err;
    }
  },
};
