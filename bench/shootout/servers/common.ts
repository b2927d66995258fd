/**
 * What every shoot-out server shares: its command line, the bodies it sends,
 * and the line it prints once it listens.
 *
 * Every server answers the same three routes:
 * - `GET /` → 200, `application/json`, `{"hello":"world"}`
 * - `POST /echo` → 200, the request body, with its Content-Type
 * - `GET /64k` → 200, `application/octet-stream`, {@link BIG_SIZE} bytes
 *
 * @module
 */
import { scriptArgs } from "../../runtime.ts";

/** The body of `GET /`. */
export const HELLO_BODY = '{"hello":"world"}';
/** The length of the `GET /64k` body. */
export const BIG_SIZE: number = 64 * 1024;
/** The Content-Type of `/echo` when the request has none, and of `/64k`. */
export const OCTETS = "application/octet-stream";

/** The `GET /64k` body: `0123456789abcdef` over and over (the runner checks it). */
export function bigBody(): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(BIG_SIZE);
  const pattern = "0123456789abcdef";
  for (let i = 0; i < BIG_SIZE; i++) body[i] = pattern.charCodeAt(i % pattern.length);
  return body;
}

/** Where to listen. */
export interface ListenArgs {
  port: number;
  host: string;
}

/** `--port N --host ADDR` (defaults 8080 and 127.0.0.1); anything else is an error. */
export function listenArgs(): ListenArgs {
  const args = scriptArgs();
  const out: ListenArgs = { port: 8080, host: "127.0.0.1" };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = args[i + 1];
    if (flag === "--port" && value !== undefined && /^\d+$/.test(value)) {
      out.port = Number(value);
      i++;
    } else if (flag === "--host" && value !== undefined) {
      out.host = value;
      i++;
    } else {
      throw new Error(`unexpected argument ${JSON.stringify(flag)} (use --port N --host ADDR)`);
    }
  }
  return out;
}

/** The line the runner waits for. */
export function announce(name: string, port: number): void {
  console.log(`listening: ${name} on port ${port}`);
}
