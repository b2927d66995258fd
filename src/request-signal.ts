/**
 * How the signal of a fetch handler's `Request`, and of its copies and clones, comes to be the
 * binks request's own (which aborts when the client goes away, the handler times out or the
 * server is forced down, and is made only when read), on runtimes whose `Request` makes or reads
 * its signal in their own ways: each way is found by a probe that names no runtime.
 *
 * - Where the constructor makes a controller with the global `AbortController` (Node's undici,
 *   one per request, dear on Node 20), it is lent a {@link ClientController} instead, whose
 *   signal passes everything on to the binks request's: copies made from the `Request` follow it.
 * - Where `clone()` makes the clone's the same way (undici again), it is lent the runtime's own,
 *   made to follow the binks request's signal ({@link followingController}).
 * - Where the runtime's code reads a request's signal through a symbol-keyed getter of its own
 *   (Deno), that getter is what a subclass answers ({@link signalSlot}).
 *
 * @module
 */

/** What a {@link ClientController} made now is for; null when none is lent. */
let lentTo: SignalOwner | null = null;
/** The global `AbortController` while one is lent in its place. */
let ownController: unknown = null;

/** Whose signal a {@link ClientSignal} is: the binks request's. */
export interface SignalOwner {
  readonly signal: AbortSignal;
}

type Globals = { AbortController: unknown };

/**
 * Lend `Controller` in place of the global `AbortController`, for `owner`'s signal. Where the
 * global cannot be written (frozen intrinsics) this throws, and nothing was lent.
 */
export function lend(owner: SignalOwner, Controller: unknown = ClientController): void {
  const global = globalThis as Globals;
  const own = global.AbortController;
  global.AbortController = Controller;
  ownController = own;
  lentTo = owner;
}

/** Give the global `AbortController` back, unless that was done already. */
export function unlend(): void {
  if (lentTo === null && ownController === null) return;
  (globalThis as Globals).AbortController = ownController;
  lentTo = null;
  ownController = null;
}

/**
 * What the `Request` constructor is lent in place of `AbortController`: its signal passes
 * everything on to the binks request's own, so a copy made with `new Request(request)` (and
 * `fetch(request)`, which makes one) follows the client, as the Fetch standard has a copy
 * follow its original's signal. Lent for one: made, it gives the global back at once.
 */
class ClientController {
  readonly signal: ClientSignal;

  constructor() {
    const owner = lentTo!;
    unlend();
    this.signal = new ClientSignal(owner);
  }

  abort(): void {
    // The runtime aborts what it made only for a signal it was given, which binks gives none.
  }
}

/** A signal that is another's (the binks request's, made when first asked for). */
class ClientSignal {
  readonly #owner: SignalOwner;

  constructor(owner: SignalOwner) {
    this.#owner = owner;
  }

  get aborted(): boolean {
    return this.#owner.signal.aborted;
  }

  get reason(): unknown {
    return this.#owner.signal.reason;
  }

  throwIfAborted(): void {
    this.#owner.signal.throwIfAborted();
  }

  addEventListener(...args: Parameters<AbortSignal["addEventListener"]>): void {
    this.#owner.signal.addEventListener(...args);
  }

  removeEventListener(...args: Parameters<AbortSignal["removeEventListener"]>): void {
    this.#owner.signal.removeEventListener(...args);
  }
}

/**
 * What `clone()` is lent where it makes the clone's signal with the global `AbortController`
 * (undici, whose clone follows only a signal its original was given): the runtime's own, which
 * aborts when the binks request's signal does. Lent for one, as {@link ClientController}.
 */
export function followingController(Own: typeof AbortController): new () => AbortController {
  return class FollowingController extends Own {
    constructor() {
      super();
      const signal = lentTo!.signal;
      unlend();
      if (signal.aborted) this.abort(signal.reason);
      else signal.addEventListener("abort", () => this.abort(signal.reason), { once: true });
    }
  };
}

/**
 * The symbol-keyed getter through which the runtime's own code reads a request's signal, where
 * its constructor and `clone()` do that rather than read `signal` (Deno): a copy and a clone
 * follow the signal that getter answers. Null where there is none such.
 */
export function signalSlot(): symbol | null {
  const proto = Request.prototype;
  for (const key of Object.getOwnPropertySymbols(proto)) {
    if (key.description !== "signal") continue;
    if (typeof Object.getOwnPropertyDescriptor(proto, key)?.get !== "function") continue;
    const client = new AbortController();
    class Probe extends Request {}
    Object.defineProperty(Probe.prototype, key, { get: () => client.signal });
    try {
      const probe = new Probe("http://localhost/");
      const copy = new Request(probe);
      const clone = probe.clone();
      client.abort();
      if (copy.signal.aborted && clone.signal.aborted) return key;
    } catch {
      // Not a getter the runtime's code takes a signal from.
    }
  }
  return null;
}

/** Whether a `clone()` made while {@link followingController} is lent follows its original. */
export function clonesFollowLent(Following: new () => AbortController): boolean {
  const client = new AbortController();
  const original = new Request("http://localhost/");
  let clone: Request;
  try {
    lend(client, Following);
    clone = original.clone();
  } catch {
    return false;
  } finally {
    unlend();
  }
  client.abort();
  return clone.signal.aborted;
}

/**
 * Whether the runtime's `Request` constructor may be lent a {@link ClientController}: it must
 * make exactly one controller with the global `AbortController`, and a copy of what it made
 * must follow the signal it was lent.
 */
export function lendsController(): boolean {
  const client = new AbortController();
  let made = 0;
  class Counted extends ClientController {
    constructor() {
      super();
      made++;
    }
  }
  // One made first: a runtime may load its fetch implementation when `Request` is first used
  // (Node), and what that sets up (a controller of its own) must not take the one lent.
  new Request("http://localhost/");
  let probe: Request;
  try {
    lend(client, Counted);
    probe = new Request("http://localhost/");
  } catch {
    return false;
  } finally {
    unlend();
  }
  if (made !== 1) return false;
  try {
    const copy = new Request(probe);
    client.abort();
    return copy.signal.aborted;
  } catch {
    return false;
  }
}
