/**
 * The errors every blocking operation of the scheduler can end with, and the
 * cancellation contract those operations accept.
 *
 * Like libdill's ECANCELED / ETIMEDOUT / EPIPE, each one names *why* an
 * operation did not complete, so callers branch on the class, not the message.
 *
 * @module
 */

/** The operation was abandoned because its task, scope or signal was cancelled. */
export class Canceled extends Error {
  /** Names the class in logs and stack traces. */
  override name: string = "Canceled";
  /** `options.cause` carries an `AbortSignal`'s reason, when that is what cancelled. */
  constructor(message: string = "operation canceled", options?: ErrorOptions) {
    super(message, options);
  }
}

/** The deadline passed before the operation could complete. */
export class Timeout extends Error {
  /** Names the class in logs and stack traces. */
  override name: string = "Timeout";
  /** `message` may say what took too long. */
  constructor(message: string = "deadline expired", options?: ErrorOptions) {
    super(message, options);
  }
}

/** The channel or scope was closed, so the operation can never complete. */
export class Closed extends Error {
  /** Names the class in logs and stack traces. */
  override name: string = "Closed";
  /**
   * For a rejection from `choose()`: the index of the clause whose channel was
   * closed, so a select loop knows which source ended. -1 everywhere else.
   */
  index: number = -1;
  /** `options.cause` carries the failure that closed it, when there was one. */
  constructor(message: string = "closed", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * What a blocking operation needs from "the thing that may cancel it". A task's
 * `TaskContext` satisfies it; so does anything else with the same two members.
 */
export interface Cancellation {
  /** True once cancellation was requested; never goes back to false. */
  readonly canceled: boolean;
  /**
   * Runs `cb` once when cancellation is requested (at once if it already was).
   * Returns a function that unregisters `cb`; calling it later is harmless.
   */
  onCancel(cb: () => void): () => void;
}

/** Either our own cancellation contract or a standard `AbortSignal`. */
export type CancelSource = Cancellation | AbortSignal;

function isAbortSignal(source: CancelSource): source is AbortSignal {
  // Structural, not `instanceof`, so signals from another realm or polyfill work too.
  return typeof (source as Cancellation).onCancel !== "function";
}

/** Whether `source` has requested cancellation. Absent means "never cancelled". */
export function isCanceled(source: CancelSource | null | undefined): boolean {
  if (source == null) return false;
  return isAbortSignal(source) ? source.aborted : source.canceled;
}

/**
 * The error a cancelled operation rejects with. An aborted signal's own reason
 * is kept: as is when it is already a `Canceled`, else as the `cause`.
 */
export function canceledError(source: CancelSource | null | undefined): Canceled {
  if (source != null && isAbortSignal(source)) {
    const reason: unknown = source.reason;
    if (reason instanceof Canceled) return reason;
    return new Canceled(undefined, { cause: reason });
  }
  return new Canceled();
}

const NOTHING_TO_UNREGISTER = (): void => {};

/**
 * Calls `cb` once when `source` requests cancellation (at once if it already
 * did) and returns the function that unregisters it.
 */
export function whenCanceled(
  source: CancelSource | null | undefined,
  cb: () => void,
): () => void {
  if (source == null) return NOTHING_TO_UNREGISTER;
  if (!isAbortSignal(source)) return source.onCancel(cb);
  if (source.aborted) {
    cb();
    return NOTHING_TO_UNREGISTER;
  }
  source.addEventListener("abort", cb, { once: true });
  return () => source.removeEventListener("abort", cb);
}
