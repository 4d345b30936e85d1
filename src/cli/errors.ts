import { isGatehouseError } from '../shared/errors.js';

/** Print an error the way an operator reads it and exit non-zero (2 for bad input). */
export function reportAndExit(e: unknown): never {
  if (isGatehouseError(e)) {
    process.stderr.write(`error [${e.code}]: ${e.message}\n`);
    for (const f of e.fields)
      if (!e.message.includes(f.message)) process.stderr.write(`  ${f.field}: ${f.message}\n`);
    process.exit(e.status < 500 ? 2 : 1);
  }
  process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

/** A command action whose errors are reported the operator's way (see `reportAndExit`). */
export const run =
  <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
  async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      reportAndExit(e);
    }
  };
