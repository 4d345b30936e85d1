import type { LookupFunction } from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from '../clients/tunnel.js';
import { hostsFileLookup } from '../orchestrator/site.js';

import type { LabState } from './state.js';
import { sharedErrors } from '../shared/error-codes.js';

/** The certificate fingerprint presented at host:port (nothing is sent but the handshake). */
function presentedFingerprint(
  at: { host: string; lookup?: LookupFunction },
  port: number,
): Promise<string> {
  const { host } = at;
  return new Promise((resolve, reject) => {
    const s = tls.connect({ ...at, port, rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.setTimeout(5_000, () => s.destroy(new Error(`${host}:${port} did not answer within 5 s`)));
    s.once('error', reject);
  });
}

/**
 * Where the site is now, as a client of the lab finds it. With a hosts-file switch that is the
 * site's name, looked up in the hosts file on every connection as a client's resolver does:
 * a switch is followed by every new connection (a console's calls, a Jump Client's reconnection,
 * a session resuming), not only by clients started again. Else the site's address. The two
 * appliances of a pair have their own certificates, so clients pin whichever of the lab's
 * appliances answers there, and no other.
 */
export async function resolveSite(state: LabState): Promise<Endpoint> {
  const holders = state.appliances.filter((a) => a.role !== 'traffic-node');
  const { host, port, hostname, hostsFile } = state.site;
  const byName =
    state.site.switch === 'hosts-file' && hostsFile
      ? { host: hostname, lookup: hostsFileLookup(hostsFile) }
      : { host };
  const fingerprint = await presentedFingerprint(byName, port);
  if (!holders.some((a) => a.fingerprint === fingerprint))
    throw sharedErrors.TLS_FINGERPRINT_MISMATCH(
      `${host}:${port} presented certificate ${fingerprint}, which is none of the lab's appliances.`,
    );
  const others = holders.map((a) => a.fingerprint).filter((f) => f !== fingerprint);
  return { ...byName, port, fingerprint, ...(byName.lookup ? { alsoTrust: others } : {}) };
}

export const endpointKey = (e: Endpoint) => `${e.host}:${e.port}/${e.fingerprint}`;
