/**
 * HTTP-date (RFC 9110 §5.6.7): the `Date` header, rebuilt at most once a second, and the
 * strict reading of the dates requests carry in their conditions.
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

const MONTH_NAMES = MONTHS.join("|");
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(
  `^(?:${DAYS.join("|")}), (\\d\\d) (${MONTH_NAMES}) (\\d{4}) (\\d\\d):(\\d\\d):(\\d\\d) GMT$`,
);
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete) */
const RFC850_DATE = new RegExp(
  "^(?:Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday), " +
    `(\\d\\d)-(${MONTH_NAMES})-(\\d\\d) (\\d\\d):(\\d\\d):(\\d\\d) GMT$`,
);
/** `Sun Nov  6 08:49:37 1994` (obsolete) */
const ASCTIME_DATE = new RegExp(
  `^(?:${DAYS.join("|")}) (${MONTH_NAMES}) ( \\d|\\d\\d) (\\d\\d):(\\d\\d):(\\d\\d) (\\d{4})$`,
);

/** Milliseconds in 50 years of 365.2425 days. */
const FIFTY_YEARS_MS = 50 * 365.2425 * 24 * 3600 * 1000;

/**
 * An HTTP-date in any of its three forms, in ms since the epoch; NaN for anything else
 * (another zone, a day that does not exist, two dates in one field), which recipients must
 * ignore (RFC 9110 §13.1.3, §13.1.4). Names and `GMT` are case-sensitive, as the grammar has them.
 */
export function parseHttpDate(text: string, now: number = Date.now()): number {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return utc(+m[3]!, m[2]!, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
  m = ASCTIME_DATE.exec(text);
  if (m !== null) return utc(+m[6]!, m[1]!, +m[2]!.trim(), +m[3]!, +m[4]!, +m[5]!);
  m = RFC850_DATE.exec(text);
  if (m === null) return NaN;
  const [, day, month, yy, h, min, sec] = m;
  const at = (year: number) => utc(year, month!, +day!, +h!, +min!, +sec!);
  // A two-digit year more than 50 years ahead is the latest past year with those digits.
  const limit = now + FIFTY_YEARS_MS;
  const thisYear = new Date(now).getUTCFullYear();
  let year = thisYear - (thisYear % 100) + +yy!;
  if (at(year) > limit) year -= 100;
  else if (at(year + 100) <= limit) year += 100;
  return at(year);
}

/** The time a checked date names, or NaN for a day or time that does not exist. */
function utc(year: number, month: string, day: number, h: number, m: number, s: number): number {
  const mon = MONTHS.indexOf(month);
  // 60: a leap second (RFC 9110 §5.6.7), which JavaScript time does not count.
  if (h > 23 || m > 59 || s > 60 || day < 1) return NaN;
  const d = new Date(0);
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  d.setUTCFullYear(year, mon, day);
  if (d.getUTCDate() !== day) return NaN;
  d.setUTCHours(h, m, s === 60 ? 59 : s);
  return d.getTime();
}
