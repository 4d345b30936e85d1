import { GatehouseError, isGatehouseError, type FieldError } from '../shared/errors.js';
import { fetchPeerFingerprint, PeerClient, peerLabel, type PeerAddress } from './peer-client.js';
import { asAdminError, reverseError } from './relationship-errors.js';
import type { EstablishInput, JoinMessage } from './relationship-schemas.js';
import type { PeerAnswer } from './relationship-types.js';
import type { RelationshipView } from './types.js';
import { ownVersions } from './version-skew.js';
import { failoverErrors } from './error-codes.js';

/** What the intended backup says of itself before it is asked to join. */
export interface PeerHello {
  name: string;
  productVersion: string;
  schemaVersion: number;
}

/**
 * Establish, the primary's side (S14): read and pin the backup's certificate, make sure it is
 * another appliance holding the same key (hello), let `beforeJoin` work with it (the history
 * merge, S21), then ask it to join as backup.
 */
export async function joinBackup(
  self: {
    name: string;
    fingerprint: string;
    key: () => string;
    siteCa?: () => JoinMessage['siteCa'];
  },
  backup: PeerAddress,
  reverse: PeerAddress,
  input: EstablishInput,
  beforeJoin: (client: PeerClient, hello: PeerHello) => Promise<void> = async () => undefined,
): Promise<RelationshipView> {
  const backupFields = (message: string): FieldError[] => [
    { field: 'backupHost', message },
    { field: 'backupPort', message },
  ];
  let fingerprint: string;
  try {
    fingerprint = await fetchPeerFingerprint(backup);
  } catch (e) {
    if (!isGatehouseError(e)) throw e;
    throw new GatehouseError(e.code, e.status, e.message, { fields: backupFields(e.message) });
  }
  const itself = () =>
    failoverErrors.FAILOVER_SELF(
      `${peerLabel(backup)} is this appliance itself. Enter the address and TLS port of the other appliance, the one that becomes the backup.`,
      { fields: backupFields('is this appliance itself') },
    );
  if (fingerprint === self.fingerprint) throw itself();
  const client = new PeerClient(backup, fingerprint, self.key, self.name);
  try {
    const hello = await client
      .call<PeerHello>('POST', '/api/peer/hello', {})
      .catch((e: unknown) => {
        throw asAdminError(e);
      });
    if (hello.name === self.name) throw itself();
    await beforeJoin(client, hello);
    const message: JoinMessage = {
      backupAddress: backup,
      primaryAddress: reverse,
      primaryFingerprint: self.fingerprint,
      generation: 1,
      sync: {
        firstAfterMs: input.firstSyncAfterSeconds * 1000,
        intervalMs: input.syncIntervalSeconds * 1000,
      },
      ...ownVersions(),
      // Only now: the backup has proven it holds the Inter-Appliance key (hello).
      ...(self.siteCa ? { siteCa: self.siteCa() } : {}),
    };
    const answer = await client
      .call<PeerAnswer>('POST', '/api/peer/failover/join', {
        ...message,
        role: 'standalone',
        generation: message.generation,
      })
      .catch((e: unknown) => {
        throw asAdminError(e);
      });
    return {
      role: 'primary',
      generation: answer.generation,
      self: { name: self.name, address: reverse },
      peer: { name: answer.name, address: backup, fingerprint },
      establishedAt: new Date().toISOString(),
      backupOperationsEnabled: true,
      sync: message.sync,
    };
  } finally {
    void client.close();
  }
}

/** Join, the backup's side: the reverse connection details must lead back to the caller. */
export async function checkReverseDetails(from: string, msg: JoinMessage): Promise<void> {
  let seen: string;
  try {
    seen = await fetchPeerFingerprint(msg.primaryAddress);
  } catch (e) {
    if (!isGatehouseError(e)) throw e;
    throw reverseError(
      failoverErrors.FAILOVER_REVERSE_UNREACHABLE,
      `The backup cannot reach this primary at ${peerLabel(msg.primaryAddress)} (the reverse connection details): ${e.message}`,
    );
  }
  if (seen !== msg.primaryFingerprint)
    throw reverseError(
      failoverErrors.FAILOVER_REVERSE_MISMATCH,
      `${peerLabel(msg.primaryAddress)} (the reverse connection details) is another appliance, not "${from}". Enter the address and TLS port at which the backup reaches this primary.`,
    );
}
