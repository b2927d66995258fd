/**
 * Status lines: every reason phrase binks knows is the one RFC 9110 §15 gives (RFC 6585 for
 * 428, 429 and 431), and the canned answers the server sends itself start with them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { reasonPhrase, statusHasNoBody, statusLine } from "../src/status.ts";
import { errorReply } from "../src/connection.ts";
import { RFC_REASONS } from "./reasons.ts";

const dec = new TextDecoder("latin1");

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
    for (const status of SERVER_SENT) {
      const head = dec.decode(errorReply(status).head);
      const line = `HTTP/1.1 ${status} ${RFC_REASONS.get(status)}\r\n`;
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
