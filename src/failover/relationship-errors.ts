import { GatehouseError, isGatehouseError, type ErrorFactory } from '../shared/errors.js';
import { failoverErrors } from './error-codes.js';

/** How long a best-effort call (break, forced role change) waits for the peer. */
export const BEST_EFFORT_MS = 5_000;

export function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            failoverErrors.FAILOVER_PEER_UNREACHABLE(
              `The peer appliance at ${label} did not answer within ${ms / 1000} s.`,
            ),
          ),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

export function reverseError(code: ErrorFactory, message: string): GatehouseError {
  return code(message, {
    fields: [
      { field: 'reverseHost', message },
      { field: 'reversePort', message },
    ],
  });
}

/**
 * A peer's refusal as the administrator's API returns it: a key mismatch stays
 * FAILOVER_KEY_MISMATCH but is not a 401 (the administrator's own session is fine).
 */
export function asAdminError(e: unknown): GatehouseError {
  if (!isGatehouseError(e)) throw e;
  if (e.status !== 401) return e;
  return new GatehouseError(e.code, 409, e.message, { fields: e.fields });
}
