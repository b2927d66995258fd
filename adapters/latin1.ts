/**
 * The runtime's own Latin-1 decoding, for the header values and targets the core decodes.
 *
 * @module
 */
import { useLatin1Decoder } from "../src/bytes.ts";

/**
 * `Buffer.prototype.latin1Slice`, which Node, Deno and Bun all have: native, it reads any
 * `Uint8Array` in one call (`toString("latin1")` would need a `Buffer`). Handed to the core if
 * it decodes as the core does; else, or where there is none, the core decodes on its own.
 */
export function useNativeLatin1(): boolean {
  const slice = (globalThis as { Buffer?: { prototype?: { latin1Slice?: unknown } } }).Buffer
    ?.prototype?.latin1Slice;
  if (typeof slice !== "function") return false;
  return useLatin1Decoder((buf, start, end) => slice.call(buf, start, end) as string);
}
