import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../shared/actor.js';
import type { EventLog } from '../../site/events.js';
import type { UpdateInstaller } from '../installer.js';
import type { UpdateService } from '../update-service.js';
import type { Standing, UpdateSettings } from '../update-settings.js';

/**
 * What the Updates page, the updates API and the console builds need of the appliance they run
 * in: its installer, update service and settings, its versions and standing, whether an install
 * holds changes back, and the two things other domains answer for it (the cluster's Distribute
 * to Cluster, and the check of a console's ticket).
 */
export interface UpdatesSite {
  readonly productVersion: string;
  readonly baseVersion: string;
  readonly role: Standing['failover'];
  readonly standing: Standing;
  readonly writeGate: 'installing' | 'verifying' | undefined;
  readonly events: Pick<EventLog, 'record'>;
  readonly updates: UpdateInstaller;
  readonly updateService: UpdateService;
  readonly updateSettings: UpdateSettings;
  /** Distribute to Cluster (S30), offered on a cluster's primary node. */
  readonly cluster: {
    readonly isPrimaryNode: boolean;
    distribute(
      actor: Actor,
      id: string,
    ): Promise<{ results: { node: string; ok: boolean; error?: string }[] }>;
  };
  /** The checked claims of the console ticket a request bears; throws when it has none valid. */
  consoleTicket(req: FastifyRequest): { sub: string };
  /** The checked claims of the Jump Client ticket a request bears (Jump Client builds). */
  jumpClientTicket(req: FastifyRequest): { sub: string };
  /** What a Jump Client installer names: the site, its address, the fingerprints to trust. */
  installerSite(requestHost: string): {
    name: string;
    address: string;
    fingerprints: string[];
    siteCa?: string;
  };
}
