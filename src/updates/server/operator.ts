import { GatehouseError } from '../../shared/errors.js';
import type { UpdateStore } from './store.js';

/** What the operator may do, from the CLI or the /admin page alike. */

function knownAppliance(store: UpdateStore, name: string) {
  const appliance = store.appliance(name);
  if (!appliance) {
    const known = store.appliances().map((a) => a.name);
    throw new GatehouseError(
      'APPLIANCE_UNKNOWN',
      404,
      `appliance: "${name}" is not known here: it has never checked for updates or used a download key with this server. Known appliances: ${known.join(', ') || 'none yet'}.`,
      { fields: [{ field: 'appliance', message: `"${name}" is not known here` }] },
    );
  }
  return appliance;
}

/**
 * Make packages available again to one appliance (S11): the download of one package (by its
 * sha256, or every package of a version), or all of its downloads.
 */
export function resetDownloads(
  store: UpdateStore,
  opts: { appliance: string; sha256?: string; version?: string },
): { reset: number } {
  const appliance = knownAppliance(store, opts.appliance);
  if (opts.version !== undefined) {
    const records = store
      .downloads()
      .filter((d) => d.keyId === appliance.keyId && d.version === opts.version);
    if (records.length === 0) {
      throw new GatehouseError(
        'DOWNLOAD_NOT_RECORDED',
        404,
        `version: no download of ${opts.version} is recorded for "${opts.appliance}"; nothing to reset. \`gatehouse update-server list\` shows its downloads.`,
        { fields: [{ field: 'version', message: `no download of ${opts.version} is recorded` }] },
      );
    }
    let reset = 0;
    for (const r of records) reset += store.resetDownloads(appliance.keyId, r.sha256);
    return { reset };
  }
  return { reset: store.resetDownloads(appliance.keyId, opts.sha256) };
}

/** Forget an appliance (it was re-installed with a new identity key): the name binds again. */
export function forgetAppliance(store: UpdateStore, name: string): void {
  knownAppliance(store, name);
  store.forgetAppliance(name);
}
