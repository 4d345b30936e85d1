import { X509Certificate } from 'node:crypto';
import { readFileSync, statfsSync, statSync } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { MonitoredAppliance } from '../monitoring/source.js';
import type { Appliance } from './context.js';

/** The appliance as its metrics see it (src/monitoring/source.ts). */
export function monitoredAppliance(a: Appliance): MonitoredAppliance {
  return {
    name: a.identity.name,
    productVersion: a.productVersion,
    baseVersion: a.baseVersion,
    events: a.events,
    failover: () => {
      const rel = a.failover.view();
      const peer = rel ? a.failover.monitor.last : undefined;
      const last = a.sync.lastResult;
      return {
        role: a.role,
        generation: rel?.generation ?? null,
        peerReachable: rel ? (peer?.reachable ?? false) : null,
        peerLastContact: (rel && a.failover.monitor.lastReachableAt) ?? null,
        lastSync: last ? { finishedAt: last.finishedAt, ms: last.ms } : null,
      };
    },
    clusterNodes: () =>
      a.cluster.view().map((n) => ({
        name: n.name,
        region: n.region,
        accepting: n.accepting,
        reachable: n.lastError === null && n.status?.ready === true,
        updating: !!n.status?.update,
        eligible: n.eligible,
        connectedClients: n.status?.connectedClients ?? null,
        lastContact: n.lastContact,
        productVersion: n.status?.productVersion ?? null,
      })),
    acceptingNewClients: () => a.acceptsClients && (a.membership.get()?.accepting ?? true),
    connectedClients: () => a.clients.list(),
    activeSessions: () => a.clients.liveSessions().length,
    updates: () => ({
      history: a.updates.sys.history(Number.MAX_SAFE_INTEGER),
      inProgress: a.writeGate !== undefined,
      lastCheck: a.updateService.lastCheck,
    }),
    storage: () => {
      const fs = statfsSync(a.dir.root);
      return {
        databaseBytes: sizeOf(a.dir.database) + sizeOf(`${a.dir.database}-wal`),
        diskTotalBytes: fs.blocks * fs.bsize,
        diskFreeBytes: fs.bavail * fs.bsize,
        blobStoreBytes: () => directoryBytes(a.dir.blobs),
      };
    },
    syslog: () => a.syslog?.status(),
    certificateNotAfter: Date.parse(new X509Certificate(readFileSync(a.dir.tlsCert)).validTo),
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of await opendir(dir)) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else if (entry.isFile()) total += (await stat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
