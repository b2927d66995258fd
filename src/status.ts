/**
 * Status codes, their reason phrases, and the precomputed status lines.
 *
 * @module
 */
import { ascii } from "./bytes.ts";

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The reason phrase for a status, or "" for one RFC 9110 does not name. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

const lines = new Map<number, Uint8Array>();

/** `HTTP/1.1 <status> <reason>\r\n` as bytes, built once per status. */
export function statusLine(status: number): Uint8Array {
  let line = lines.get(status);
  if (line === undefined) {
    // A 1xx is interim: sent as the answer, it leaves the client waiting for one. 600 and up
    // are not HTTP statuses at all (RFC 9110 §15), which clients take for a 5xx.
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`invalid final HTTP status ${status} (200-599)`);
    }
    line = ascii(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
    lines.set(status, line);
  }
  return line;
}

/** Responses to these never carry content (RFC 9110 §6.4.1). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}
