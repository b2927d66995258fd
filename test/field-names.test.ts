/**
 * Field names handed out as one string each (src/field-names.ts): every spelling of a common
 * name gives it, lowercased; anything else, near misses included, is decoded and lowercased.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { COMMON_FIELD_NAMES, lowerFieldName } from "../src/field-names.ts";

/** `name` in a buffer with other bytes around it, and where it lies. */
function placed(name: string): [Uint8Array, number, number] {
  const buf = new TextEncoder().encode(`x-before:${name}:after`);
  return [buf, 9, 9 + name.length];
}

function lowered(name: string): string {
  return lowerFieldName(...placed(name));
}

describe("common field names", () => {
  it("give each common name, lowercased, whatever its case", () => {
    for (const name of COMMON_FIELD_NAMES) {
      const mixed = [...name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join("");
      for (const spelling of [name, name.toUpperCase(), mixed]) {
        assert.equal(lowered(spelling), name, spelling);
      }
    }
  });

  it("lowercase any other name as it is, near misses included", () => {
    const others = [
      "x-custom",
      "X-Custom-Header",
      "a",
      "hosts",
      "hos",
      "ACCEPT-",
      "!#$%&'*+.^_`|~",
    ];
    for (const name of COMMON_FIELD_NAMES) {
      const last = name.charCodeAt(name.length - 1);
      others.push(name.slice(0, -1) + String.fromCharCode(last === 0x7a ? 0x61 : last + 1));
      others.push(`${name}s`, name.slice(1), name.toUpperCase().replaceAll("-", "_"));
    }
    for (const name of others) {
      if (COMMON_FIELD_NAMES.includes(name.toLowerCase())) continue;
      assert.equal(lowered(name), name.toLowerCase(), name);
    }
  });
});
