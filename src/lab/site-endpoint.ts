import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Endpoint } from '../clients/tunnel.js';
import { GatehouseError } from '../shared/errors.js';
import type { LabState } from './state.js';

/** The certificate fingerprint presented at host:port (nothing is sent but the handshake). */
function presentedFingerprint(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.setTimeout(5_000, () => s.destroy(new Error(`${host}:${port} did not answer within 5 s`)));
    s.once('error', reject);
  });
}

/**
 * Where the site is now, as a client of the lab finds it: the hosts file when the switch is
 * hosts-file, else the site's address. The two appliances of a pair have their own
 * certificates, so clients pin whichever of the lab's appliances answers there, and no other.
 */
export async function resolveSite(state: LabState): Promise<Endpoint> {
  const holders = state.appliances.filter((a) => a.role !== 'traffic-node');
  let { host, port } = state.site;
  if (state.site.switch === 'hosts-file' && state.site.hostsFile) {
    const line = readFileSync(state.site.hostsFile, 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f.slice(1).includes(state.site.hostname));
    const to = holders.find((a) => a.host === line?.[0]);
    if (to) ({ host, port } = to);
  }
  const fingerprint = await presentedFingerprint(host, port);
  if (!holders.some((a) => a.fingerprint === fingerprint))
    throw new GatehouseError(
      'TLS_FINGERPRINT_MISMATCH',
      502,
      `${host}:${port} presented certificate ${fingerprint}, which is none of the lab's appliances.`,
    );
  return { host, port, fingerprint };
}

export const endpointKey = (e: Endpoint) => `${e.host}:${e.port}/${e.fingerprint}`;
