import type { KnownAppliance, UpdateStore } from './store.js';
import { updatesErrors } from '../error-codes.js';

/** What the operator may do, from the CLI or the /admin page alike. */

function knownAppliance(store: UpdateStore, name: string) {
  const appliance = store.appliance(name);
  if (!appliance) {
    const known = store.appliances().map((a) => a.name);
    throw updatesErrors.APPLIANCE_UNKNOWN(
      `appliance: "${name}" is not enrolled here. Enrolled appliances: ${known.join(', ') || 'none yet'}.`,
      { fields: [{ field: 'appliance', message: `"${name}" is not enrolled here` }] },
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
      throw updatesErrors.DOWNLOAD_NOT_RECORDED(
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

/**
 * Forget an appliance and its downloads without distrusting its key (e.g. it was retired): the
 * name can be enrolled again, with a registration token or the operator's approval.
 */
export function forgetAppliance(store: UpdateStore, name: string): void {
  knownAppliance(store, name);
  store.forgetAppliance(name);
}

/**
 * Revoke an appliance's key: it is refused from now on, whatever it presents (a registration
 * token included), and the name is free to enrol again with another key.
 */
export function revokeAppliance(
  store: UpdateStore,
  name: string,
  now = Date.now(),
): KnownAppliance {
  const appliance = knownAppliance(store, name);
  store.enrolment.revoke(appliance.keyId, appliance.name, now);
  return appliance;
}

/** Keep an appliance enrolled before proof was required, after reviewing its fingerprint. */
export function confirmAppliance(store: UpdateStore, name: string): KnownAppliance {
  const appliance = knownAppliance(store, name);
  if (!store.confirmAppliance(name))
    throw updatesErrors.APPLIANCE_ALREADY_CONFIRMED(
      `appliance: "${name}" was enrolled with proof (${appliance.enrolledVia}); nothing to review.`,
      { fields: [{ field: 'appliance', message: 'needs no review' }] },
    );
  return appliance;
}

/**
 * Approve a waiting key by its fingerprint (the full 64 hex digits, or a unique prefix of at
 * least 16, colons allowed), as the appliance's Updates page shows it. A name already enrolled
 * with another key is re-keyed only when `rekey` says so.
 */
export function approveKey(
  store: UpdateStore,
  opts: { key: string; rekey?: boolean; now?: number },
): { appliance: string; keyId: string; rekeyed: boolean } {
  const hex = opts.key.replace(/:/g, '').toLowerCase();
  const pending = store.enrolment.pendingKeys();
  const matches = /^[0-9a-f]{16,64}$/.test(hex)
    ? pending.filter((p) => p.keyId.startsWith(hex))
    : [];
  if (matches.length !== 1) {
    const waiting = pending.map((p) => `${p.keyId} (${p.name}, from ${p.address})`);
    throw updatesErrors.PENDING_KEY_NOT_FOUND(
      `key: ${matches.length > 1 ? `"${opts.key}" matches ${matches.length} waiting keys; give more digits` : `no waiting key has fingerprint "${opts.key}" (the appliance shows it on its Updates page; it waits here after the appliance's first check)`}. Waiting: ${waiting.join('; ') || 'none'}.`,
      { fields: [{ field: 'key', message: 'matches no single waiting key' }] },
    );
  }
  const key = matches[0]!;
  const current = store.appliance(key.name);
  if (current && !opts.rekey)
    throw updatesErrors.APPLIANCE_NAME_ENROLLED(
      `key: "${key.name}" is enrolled with another identity key (${current.keyId.slice(0, 16)}…). Approving ${key.keyId.slice(0, 16)}… (from ${key.address}) would re-key it: do so only if that appliance was re-installed and shows this fingerprint (--rekey, or Re-key on /admin).`,
      { fields: [{ field: 'key', message: `"${key.name}" is enrolled with another key` }] },
    );
  store.enrolAppliance(key, 'approval', opts.now ?? Date.now());
  return { appliance: key.name, keyId: key.keyId, rekeyed: !!current };
}
