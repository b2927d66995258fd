/**
 * The `Date` header (RFC 9110 §6.6.1), rebuilt at most once a second.
 *
 * @module
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` is always this long. */
export const DATE_LINE_LENGTH = 37;

let line = new Uint8Array(DATE_LINE_LENGTH);
let validUntil = 0;

function two(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** IMF-fixdate for a time in ms since the epoch. */
export function imfDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${
    MONTHS[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${
    two(d.getUTCSeconds())
  } GMT`;
}

/** The bytes of the current `Date` header line, CRLF included. */
export function dateLine(): Uint8Array {
  const now = Date.now();
  if (now >= validUntil) {
    const text = `Date: ${imfDate(now)}\r\n`;
    const next = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) next[i] = text.charCodeAt(i);
    line = next;
    validUntil = now - (now % 1000) + 1000;
  }
  return line;
}
