/**
 * HTTP-date (RFC 9110 §5.6.7): the one form binks writes, the three it reads, and what it
 * must ignore.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dateLine, imfDate, parseHttpDate } from "../src/date.ts";

const NOV_6_1994 = Date.UTC(1994, 10, 6, 8, 49, 37);

describe("HTTP-date", () => {
  it("writes IMF-fixdate, and a Date line of its fixed length", () => {
    assert.equal(imfDate(NOV_6_1994), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert.equal(imfDate(Date.UTC(2026, 0, 1)), "Thu, 01 Jan 2026 00:00:00 GMT");
    assert.match(
      new TextDecoder().decode(dateLine()),
      /^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n$/,
    );
  });

  it("rebuilds the Date line once its second has passed", async () => {
    const secondOf = (ms: number) => ms - (ms % 1000);
    /** The line dateLine() gives, its time, and the seconds of the clock around the call. */
    const read = () => {
      const before = Date.now();
      const text = new TextDecoder().decode(dateLine());
      const after = Date.now();
      const at = parseHttpDate(text.slice("Date: ".length, -2));
      assert.ok(secondOf(before) <= at && at <= secondOf(after), `${text} at ${before}..${after}`);
      return at;
    };
    const first = read();
    // Into a later second (a timer may fire a little early, so look at the clock).
    while (secondOf(Date.now()) <= first) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    }
    assert.ok(read() > first);
  });

  it("reads all three forms the same", () => {
    assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), NOV_6_1994);
    assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), NOV_6_1994);
    assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), NOV_6_1994);
    assert.equal(parseHttpDate("Sun Nov 16 08:49:37 1994"), NOV_6_1994 + 10 * 86400_000);
    // A leap second is taken as the second before it.
    assert.equal(parseHttpDate("Sun, 06 Nov 1994 23:59:60 GMT"), Date.UTC(1994, 10, 6, 23, 59, 59));
    // Years 0–99 of IMF-fixdate are those years, not 1900–1999.
    assert.equal(new Date(parseHttpDate("Mon, 01 Jan 0001 00:00:00 GMT")).getUTCFullYear(), 1);
  });

  it("reads a two-digit year more than 50 years ahead as the latest past one (§5.6.7)", () => {
    const now = Date.UTC(2026, 10, 27);
    const year = (text: string) => new Date(parseHttpDate(text, now)).getUTCFullYear();
    assert.equal(year("Thursday, 01-Jan-60 00:00:00 GMT"), 2060);
    assert.equal(year("Friday, 01-Jan-76 00:00:00 GMT"), 2076);
    assert.equal(year("Saturday, 01-Jan-80 00:00:00 GMT"), 1980);
    assert.equal(year("Sunday, 01-Jan-00 00:00:00 GMT"), 2000);
    assert.equal(year("Sunday, 01-Jan-99 00:00:00 GMT"), 1999);
    const later = Date.UTC(2090, 0, 1);
    assert.equal(
      new Date(parseHttpDate("Monday, 01-Jan-05 00:00:00 GMT", later)).getUTCFullYear(),
      2105,
    );
    assert.equal(
      new Date(parseHttpDate("Monday, 01-Jan-95 00:00:00 GMT", later)).getUTCFullYear(),
      2095,
    );
  });

  it("refuses anything else: other zones, lenient spellings, days that do not exist, lists", () => {
    for (
      const text of [
        "",
        "2099",
        "3000-01-01",
        "Fri, 27 Nov 2026 00:00:00 PST",
        "Fri, 27 Nov 2026 00:00:00 gmt",
        "fri, 27 Nov 2026 00:00:00 GMT",
        "Fri, 27 nov 2026 00:00:00 GMT",
        "Fri, 27 Nov 2026 00:00:00 +0000",
        "Fri,  27 Nov 2026 00:00:00 GMT",
        "Fri, 7 Nov 2026 00:00:00 GMT",
        "Fri, 27 Nov 26 00:00:00 GMT",
        "Fri, 31 Nov 2026 00:00:00 GMT",
        "Fri, 29 Feb 2026 00:00:00 GMT",
        "Fri, 27 Nov 2026 24:00:00 GMT",
        "Fri, 27 Nov 2026 00:60:00 GMT",
        "Fri, 27 Nov 2026 00:00:61 GMT",
        " Fri, 27 Nov 2026 00:00:00 GMT",
        "Fri, 27 Nov 2026 00:00:00 GMT, Sat, 28 Nov 2026 00:00:00 GMT",
        "Friday, 27-Nov-2026 00:00:00 GMT",
        "Fri Nov 27 00:00:00 2026 GMT",
        "Fri Nov 7 00:00:00 2026",
      ]
    ) assert.ok(Number.isNaN(parseHttpDate(text)), JSON.stringify(text));
  });
});
