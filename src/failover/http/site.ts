import type { FailoverRelationship } from '../relationship.js';

/**
 * What the failover pages and admin API need of the appliance they run in: the relationship
 * itself and the few facts about this appliance that the Failover page shows or proposes.
 */
export interface FailoverSite {
  readonly failover: FailoverRelationship;
  readonly name: string;
  readonly certificateFingerprint: string;
  acceptsClients(): boolean;
  /**
   * This appliance's unique address and its listening port: the reverse details the Establish
   * form proposes (S14), since a shared address moves with the primary role.
   */
  uniqueAddress(): string | undefined;
  listenPort(): number | undefined;
}
