import { GatehouseError, conflict, isGatehouseError } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import { peerLabel, type PeerAddress, type PeerClient } from './peer-client.js';
import { JoinMessage, type EstablishInput } from './relationship-schemas.js';
import { refuseMovingAddresses } from './relationship-addresses.js';
import { asAdminError, BEST_EFFORT_MS } from './relationship-errors.js';
import { checkReverseDetails, joinBackup, type PeerHello } from './relationship-join.js';
import { checkPrimaryVersion, isNewer, ownVersions } from './version-skew.js';
import { joinGeneration } from './generations.js';
import { peerActor, type RelationshipCore } from './relationship-core.js';
import type { PeerAnswer } from './relationship-types.js';
import type { RelationshipView } from './types.js';
import { failoverErrors } from './error-codes.js';

/** Establish (S14) from the intended primary: pair with the backup, then store the relationship. */
export function establish(
  core: RelationshipCore,
  actor: Actor,
  input: EstablishInput,
): Promise<RelationshipView> {
  const { deps, store } = core;
  return core.exclusive('establishing a relationship', async () => {
    const existing = store.get();
    if (existing)
      throw conflict(
        failoverErrors.FAILOVER_ALREADY_PAIRED,
        `This appliance is already the ${existing.role} of a failover relationship with "${existing.peer.name}" (${peerLabel(existing.peer.address)}). Break that relationship first.`,
      );
    const backup: PeerAddress = { host: input.backupHost, port: input.backupPort };
    const reverse: PeerAddress = { host: input.reverseHost, port: input.reversePort };
    refuseMovingAddresses(input, deps.movingAddresses?.() ?? []);
    try {
      const rel = await joinBackup(
        {
          name: deps.name,
          fingerprint: deps.fingerprint,
          key: deps.key,
          siteCa: deps.siteCa && (() => deps.siteCa!.bundle()),
        },
        backup,
        reverse,
        input,
        (client, hello) => mergeHistoryOf(core, actor, client, hello),
      );
      store.write(actor, 'failover.established', rel, {
        role: 'primary',
        generation: rel.generation,
        backup: peerLabel(backup),
        reverse: peerLabel(reverse),
        peerFingerprint: rel.peer.fingerprint,
      });
      return rel;
    } catch (e) {
      if (isGatehouseError(e))
        deps.events.record(
          actor,
          'failover.establish-failed',
          peerLabel(backup),
          { code: e.code, reason: e.message },
          'failed',
        );
      throw e;
    }
  });
}

/**
 * S21: before the backup joins (and later mirrors this primary), take the history it
 * gathered on its own (sessions completed while the pair was broken) so that nothing of it
 * is lost. A backup newer than this primary keeps its history until the primary is upgraded:
 * this appliance cannot read a newer appliance's rows.
 */
async function mergeHistoryOf(
  core: RelationshipCore,
  actor: Actor,
  client: PeerClient,
  hello: PeerHello,
): Promise<void> {
  const sync = core.deps.sync();
  if (!sync) return;
  if (isNewer(hello, ownVersions())) {
    core.deps.events.record(actor, 'failover.history-merge-skipped', hello.name, {
      reason: `"${hello.name}" runs ${hello.productVersion} (schema ${hello.schemaVersion}), newer than this appliance: its history stays on it until this appliance is upgraded.`,
    });
    return;
  }
  try {
    await sync.pullFrom(client, 'merge-history-only');
  } catch (e) {
    const err = asAdminError(e);
    throw new GatehouseError(
      err.code,
      err.status,
      `Before pairing, this appliance takes the history of "${hello.name}" (logs and session records) so none of it is lost, and that failed: ${err.message} Nothing was changed; try again.`,
    );
  }
}

/** On the intended backup: the primary asks to pair (peer-auth has checked the key). */
export async function acceptJoin(
  core: RelationshipCore,
  from: string,
  body: unknown,
): Promise<PeerAnswer> {
  const { deps, store } = core;
  const msg = JoinMessage.parse(body);
  if (from === deps.name || msg.primaryFingerprint === deps.fingerprint)
    throw conflict(
      failoverErrors.FAILOVER_SELF,
      'An appliance cannot be in a failover relationship with itself.',
    );
  const existing = store.get();
  if (existing && existing.peer.name !== from)
    throw conflict(
      failoverErrors.FAILOVER_PEER_PAIRED,
      `"${deps.name}" is already the ${existing.role} of a failover relationship with "${existing.peer.name}". Break that relationship (on either of those appliances) before pairing it with "${from}".`,
    );
  if (msg.productVersion !== undefined && msg.schemaVersion !== undefined)
    checkPrimaryVersion(
      { name: from, productVersion: msg.productVersion, schemaVersion: msg.schemaVersion },
      ownVersions(),
    );
  await checkReverseDetails(from, msg);
  const generation = joinGeneration(msg.generation, existing);
  // The site's identity is the primary's: clients pinning its authority trust this backup too.
  if (msg.siteCa !== undefined) await deps.siteCa?.adopt(peerActor(from), msg.siteCa, from);
  const rel: RelationshipView = {
    role: 'backup',
    generation,
    self: { name: deps.name, address: msg.backupAddress },
    peer: { name: from, address: msg.primaryAddress, fingerprint: msg.primaryFingerprint },
    establishedAt: new Date().toISOString(),
    backupOperationsEnabled: true,
    sync: msg.sync,
  };
  store.write(peerActor(from), 'failover.established', rel, {
    role: 'backup',
    generation,
    primary: peerLabel(msg.primaryAddress),
    peerFingerprint: msg.primaryFingerprint,
  });
  return core.claim();
}

/** Break (S7) from either side; the peer is told if it answers, and it is broken here anyway. */
export function breakRelationship(
  core: RelationshipCore,
  actor: Actor,
): Promise<{ peerInformed: boolean; reason?: string }> {
  return core.exclusive('breaking the relationship', async () => {
    const rel = core.paired();
    let peerInformed = true;
    let reason: string | undefined;
    try {
      await core.callPeer(rel, '/api/peer/failover/break', {}, BEST_EFFORT_MS);
    } catch (e) {
      peerInformed = false;
      reason = e instanceof Error ? e.message : String(e);
    }
    core.store.write(
      actor,
      'failover.broken',
      undefined,
      {
        formerRole: rel.role,
        generation: rel.generation,
        peerInformed,
        ...(reason ? { reason } : {}),
      },
      rel.peer.name,
    );
    return { peerInformed, ...(reason ? { reason } : {}) };
  });
}

/** The peer broke the relationship on its side. */
export function acceptBreak(core: RelationshipCore, from: string): PeerAnswer {
  const rel = core.store.get();
  if (rel && rel.peer.name === from)
    core.store.write(
      peerActor(from),
      'failover.broken',
      undefined,
      { formerRole: rel.role, generation: rel.generation, by: from },
      from,
    );
  return core.claim();
}
