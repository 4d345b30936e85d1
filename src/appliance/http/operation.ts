import { operationsOf, type Operation } from '../../shared/http/operations.js';
import type { Appliance } from '../context.js';

/** An operation wired in src/appliance/: its handler sees the whole appliance. */
export type ApplianceOperation = Operation<unknown, unknown, unknown, Appliance>;

export const defineOperation = operationsOf<Appliance>();
