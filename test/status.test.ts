/**
 * Status lines: every reason phrase binks knows is the one RFC 9110 §15 gives (RFC 6585 for
 * 428, 429 and 431), and the canned answers the server sends itself start with them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { reasonPhrase, statusHasNoBody, statusLine } from "../src/status.ts";
import { errorReply } from "../src/connection.ts";

const dec = new TextDecoder("latin1");

/** RFC 9110 §15 (and RFC 6585 §3, §4, §5), written out here rather than read from the code. */
const RFC_REASONS: [number, string][] = [
  [200, "OK"],
  [201, "Created"],
  [202, "Accepted"],
  [203, "Non-Authoritative Information"],
  [204, "No Content"],
  [205, "Reset Content"],
  [206, "Partial Content"],
  [300, "Multiple Choices"],
  [301, "Moved Permanently"],
  [302, "Found"],
  [303, "See Other"],
  [304, "Not Modified"],
  [307, "Temporary Redirect"],
  [308, "Permanent Redirect"],
  [400, "Bad Request"],
  [401, "Unauthorized"],
  [402, "Payment Required"],
  [403, "Forbidden"],
  [404, "Not Found"],
  [405, "Method Not Allowed"],
  [406, "Not Acceptable"],
  [407, "Proxy Authentication Required"],
  [408, "Request Timeout"],
  [409, "Conflict"],
  [410, "Gone"],
  [411, "Length Required"],
  [412, "Precondition Failed"],
  [413, "Content Too Large"],
  [414, "URI Too Long"],
  [415, "Unsupported Media Type"],
  [416, "Range Not Satisfiable"],
  [417, "Expectation Failed"],
  [421, "Misdirected Request"],
  [422, "Unprocessable Content"],
  [426, "Upgrade Required"],
  [428, "Precondition Required"],
  [429, "Too Many Requests"],
  [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"],
  [501, "Not Implemented"],
  [502, "Bad Gateway"],
  [503, "Service Unavailable"],
  [504, "Gateway Timeout"],
  [505, "HTTP Version Not Supported"],
];

/** What the server answers on its own: the parser's refusals, timeouts, limits, the router. */
const SERVER_SENT = [400, 404, 408, 413, 414, 417, 431, 500, 501, 503, 505];

describe("status lines", () => {
  for (const [status, reason] of RFC_REASONS) {
    it(`${status} ${reason}`, () => {
      assert.equal(reasonPhrase(status), reason);
      assert.equal(dec.decode(statusLine(status)), `HTTP/1.1 ${status} ${reason}\r\n`);
      // Built once: the same bytes every time.
      assert.equal(statusLine(status), statusLine(status));
    });
  }

  it("names the interim statuses too, which are never a final answer", () => {
    assert.equal(reasonPhrase(100), "Continue");
    assert.equal(reasonPhrase(101), "Switching Protocols");
    for (const status of [100, 101, 199, 600, 999, 0, -200, 200.5, NaN]) {
      assert.throws(() => statusLine(status), RangeError, String(status));
    }
  });

  it("keeps the space before an empty reason for a status RFC 9110 does not name", () => {
    for (const status of [299, 418, 451, 599]) {
      assert.equal(reasonPhrase(status), "");
      assert.equal(dec.decode(statusLine(status)), `HTTP/1.1 ${status} \r\n`);
    }
  });

  it("the server's own answers start with the RFC's status line", () => {
    const reasons = new Map(RFC_REASONS);
    for (const status of SERVER_SENT) {
      const head = dec.decode(errorReply(status).head);
      const line = `HTTP/1.1 ${status} ${reasons.get(status)}\r\n`;
      assert.ok(head.startsWith(line), `${JSON.stringify(head)} starts with ${line}`);
      assert.equal(dec.decode(errorReply(status).body), `${status}\n`);
    }
  });

  it("has no content for 1xx, 204 and 304 only", () => {
    for (const status of [100, 101, 204, 304]) assert.equal(statusHasNoBody(status), true);
    for (const status of [200, 205, 206, 301, 400, 500]) {
      assert.equal(statusHasNoBody(status), false);
    }
  });
});
