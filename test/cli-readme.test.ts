/**
 * The README's Configuration table states, for every flag that takes a number, its default and
 * the range it takes: checked against what parseCli() does with the numbers the table gives (the
 * default is the value that changes nothing; each end of the range is taken, one past it refused).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, parseCli, usage } from "../src/cli.ts";

interface Row {
  flag: string;
  /** The placeholder after the flag's name: `N`, `MS`, `N\|auto`… */
  value: string;
  default: string;
  range: string;
}

function readme(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return readFileSync(join(dir, "README.md"), "utf8");
}

/** The rows of the Configuration table, its cells found by the header's names. */
function configurationTable(text: string): Row[] {
  const start = text.indexOf("## Configuration");
  const lines = text.slice(start, text.indexOf("\n## ", start + 1)).split("\n")
    .filter((l) => l.startsWith("|"));
  // A `\|` is a bar inside a cell (`--workers N\|auto`).
  const cells = (line: string) =>
    line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim().replaceAll("\\|", "|"));
  const header = cells(lines[0]!);
  const column = (name: string) => {
    const i = header.indexOf(name);
    assert.ok(i >= 0, `no "${name}" column in ${JSON.stringify(header)}`);
    return i;
  };
  const [flagAt, defaultAt, rangeAt] = [column("flag"), column("default"), column("range")];
  return lines.slice(2).map((line) => {
    const row = cells(line);
    const m = /^`(--[a-z-]+) ?([^`]*)`/.exec(row[flagAt]!);
    assert.ok(m !== null, line);
    return { flag: m[1]!, value: m[2]!, default: row[defaultAt]!, range: row[rangeAt]! };
  });
}

/** A number as the README writes one: `8192`, `2^20`, `2^31−1`, `16 MiB`. */
function amount(text: string): bigint {
  const m = /^(?:(\d+)|2\^(\d+)(?:[−-](\d+))?|(\d+) (KiB|MiB|GiB))$/.exec(text);
  assert.ok(m !== null, `no number: ${JSON.stringify(text)}`);
  if (m[1] !== undefined) return BigInt(m[1]);
  if (m[2] !== undefined) return 2n ** BigInt(m[2]) - BigInt(m[3] ?? 0);
  const shift = { KiB: 10n, MiB: 20n, GiB: 30n }[m[5] as "KiB" | "MiB" | "GiB"];
  return BigInt(m[4]!) << shift;
}

/** `MIN to MAX[ UNIT][, or WORD]`. */
function range(text: string): { min: bigint; max: bigint; unit: string; word: string | null } {
  const m = /^(\S+) to (\S+)(?: (bytes|ms))?(?:, or ([a-z]+))?$/.exec(text);
  assert.ok(m !== null, `no range: ${JSON.stringify(text)}`);
  return { min: amount(m[1]!), max: amount(m[2]!), unit: m[3] ?? "", word: m[4] ?? null };
}

function refused(argv: string[]): boolean {
  try {
    parseCli(argv);
    return false;
  } catch (err) {
    if (err instanceof CliError) return true;
    throw err;
  }
}

describe("the README's table of flags", () => {
  const rows = configurationTable(readme());

  it("gives a range for exactly the flags --help shows taking a number", () => {
    const numeric = usage().split("\n").flatMap((l) => {
      const m = /^ {2}(--[a-z-]+) (N|MS) /.exec(l);
      return m === null ? [] : [m[1]!];
    });
    assert.ok(numeric.length > 10, usage());
    assert.deepEqual(rows.filter((r) => r.range !== "").map((r) => r.flag).sort(), numeric.sort());
  });

  it("states each numeric flag's default and range as the command line takes them", () => {
    const defaults = parseCli([]);
    for (const row of rows.filter((r) => r.range !== "")) {
      const { min, max, unit, word } = range(row.range);
      const at = `${row.flag} (${row.range})`;
      // The default is the value that, given, changes nothing ($PORT aside).
      const shown = row.default.replace(/ \(`\$[A-Z]+`\)$/, "");
      const given = /^[a-z]+$/.test(shown) ? shown : String(amount(shown));
      assert.deepEqual(parseCli([row.flag, given]), defaults, `${row.flag}: default ${shown}`);
      assert.deepEqual(parseCli([row.flag, `${min}`]), parseCli([`${row.flag}=${min}`]), at);
      assert.notDeepEqual(parseCli([row.flag, `${min}`]), parseCli([row.flag, `${max}`]), at);
      assert.ok(refused([row.flag, `${min - 1n}`]), `${at}: ${min - 1n} taken`);
      assert.ok(refused([row.flag, `${max + 1n}`]), `${at}: ${max + 1n} taken`);
      if (word !== null) assert.ok(!refused([row.flag, word]), `${at}: ${word} refused`);
      assert.equal(row.value, word === null ? (unit === "ms" ? "MS" : "N") : `N|${word}`, at);
      assert.equal(unit === "ms", row.value === "MS", `${at}: the unit of ${row.value}`);
    }
  });
});
