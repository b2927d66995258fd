/**
 * Command-line flags of the fuzz and soak scripts: `--flag value` or `--flag=value`.
 *
 * @module
 */
import process from "node:process";

/** A bad flag: the scripts print its message on one line and exit with status 2. */
export class FlagError extends Error {}

/**
 * Hands each flag to `take` with a function that reads its value (the next
 * argument, or what follows `=`). `take` throws {@link FlagError} for what it
 * does not know.
 */
export function readFlags(argv: string[], take: (flag: string, value: () => string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    take(flag, () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new FlagError(`${flag} needs a value`);
      return v;
    });
  }
}

/** Parses the flags with `parse`; on a {@link FlagError}, prints `name: message` and exits 2. */
export function flagsOrExit<T>(name: string, parse: (argv: string[]) => T): T {
  try {
    return parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`${name}: ${err.message}`);
    process.exit(2);
  }
}
