/**
 * Request header field names common enough to be handed out as one lowercase string each,
 * rather than decoded and lowercased for every request: a fetch handler's `Request` gets every
 * field of every request, and a browser sends a dozen (Chrome, Firefox, Safari, curl, and the
 * proxies and CDNs in front of a server).
 *
 * @module
 */
import { ascii, equalsIgnoreCase, latin1 } from "./bytes.ts";

/** The names, lowercase. */
export const COMMON_FIELD_NAMES: readonly string[] = [
  "accept",
  "accept-encoding",
  "accept-language",
  "authorization",
  "cache-control",
  "connection",
  "content-length",
  "content-type",
  "cookie",
  "dnt",
  "forwarded",
  "host",
  "if-modified-since",
  "if-none-match",
  "origin",
  "pragma",
  "priority",
  "range",
  "referer",
  "sec-ch-ua",
  "sec-ch-ua-mobile",
  "sec-ch-ua-platform",
  "sec-fetch-dest",
  "sec-fetch-mode",
  "sec-fetch-site",
  "sec-fetch-user",
  "te",
  "upgrade-insecure-requests",
  "user-agent",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-real-ip",
  "x-request-id",
];

/** The names with their bytes, by length. */
const BY_LENGTH: { name: string; bytes: Uint8Array }[][] = [];
for (const name of COMMON_FIELD_NAMES) {
  (BY_LENGTH[name.length] ??= []).push({ name, bytes: ascii(name) });
}

/**
 * The field name `buf[start, end)` lowercased (the parser has checked it is a token): one of the
 * common names as the same string every time, any other decoded anew.
 */
export function lowerFieldName(buf: Uint8Array, start: number, end: number): string {
  const candidates = BY_LENGTH[end - start];
  if (candidates !== undefined) {
    for (const { name, bytes } of candidates) {
      if (equalsIgnoreCase(buf, start, end, bytes)) return name;
    }
  }
  return latin1(buf, start, end).toLowerCase();
}
