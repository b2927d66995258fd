/**
 * How a value is written in an error message: what it is, so that `"3000"` (a string where a
 * number belongs) or `[]` (an array where options belong) reads as the mistake it is.
 *
 * @module
 */

/** Longest string quoted whole in a message. */
const MAX_SHOWN_CHARS = 40;

/** A number or other scalar as written; a string quoted; anything else by its kind. */
export function shown(value: unknown): string {
  if (typeof value === "string") {
    return value.length <= MAX_SHOWN_CHARS
      ? JSON.stringify(value)
      : `${JSON.stringify(value.slice(0, MAX_SHOWN_CHARS))}…`;
  }
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return String(value);
  }
  return kindOf(value);
}

/** What kind of value this is: `a string`, `an array`, `a Uint8Array`, `null`. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "Object" && name !== ""
      ? `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`
      : "an object";
  }
  return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}
