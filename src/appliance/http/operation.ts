import { operationsOf, type Operation, type OperationGroup } from '../../shared/http/operations.js';
import type { Appliance } from '../context.js';

/** An operation wired in src/appliance/: its handler sees the whole appliance. */
export type ApplianceOperation = Operation<unknown, unknown, unknown, Appliance>;

/** The declarer of one group of operations wired in src/appliance/. */
export const applianceOperationsOf = (group: OperationGroup) => operationsOf<Appliance>(group);
