/**
 * Errors that say how to answer: a handler that throws one is answered with its status.
 *
 * Any thrown value with a whole `status` (or `statusCode`) from 400 to 599 counts, as Express
 * and Koa read them, so errors from `http-errors` or Hono's `HTTPException` work unchanged. A
 * 4xx is the client's mistake and is not reported to `onError`; a 5xx is, like any failure.
 *
 * @module
 */

/** The lowest and highest status a thrown error may ask for. */
const MIN_ERROR_STATUS = 400;
const MAX_ERROR_STATUS = 599;

/** Throw from a handler to answer with `status` (400–599): `throw new HttpError(404)`. */
export class HttpError extends Error {
  /** Names the class in logs and stack traces. */
  override name: string = "HttpError";
  /** The status the request is answered with. */
  readonly status: number;

  /** `message` is for logs: the client gets the status and its reason phrase only. */
  constructor(status: number, message?: string, options?: ErrorOptions) {
    if (!isErrorStatus(status)) {
      throw new RangeError(
        `an HttpError's status is a whole number from 400 to 599, not ${status}`,
      );
    }
    super(message ?? `HTTP ${status}`, options);
    this.status = status;
  }
}

/** The status a thrown value asks to be answered with, or 0 when it asks for none. */
export function statusOf(thrown: unknown): number {
  if (typeof thrown !== "object" || thrown === null) return 0;
  const status = field(thrown, "status");
  if (isErrorStatus(status)) return status;
  const statusCode = field(thrown, "statusCode");
  return isErrorStatus(statusCode) ? statusCode : 0;
}

/**
 * `thrown[key]`, or undefined when reading it throws: a getter (or a Proxy's trap) that throws
 * asks for no status, and must not turn the answer to a failed handler into a failure of its own.
 */
function field(thrown: object, key: "status" | "statusCode"): unknown {
  try {
    return (thrown as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function isErrorStatus(status: unknown): status is number {
  return Number.isInteger(status) && (status as number) >= MIN_ERROR_STATUS &&
    (status as number) <= MAX_ERROR_STATUS;
}
