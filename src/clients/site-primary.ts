import type { LookupFunction } from 'node:net';
import tls from 'node:tls';

/** What an appliance says of itself in Status > Information. */
export interface ApplianceStanding {
  appliance: string;
  role: string;
  /** 'traffic-node', 'primary-node' or 'none' (absent on an appliance of a previous release). */
  cluster?: string;
  siteHostname?: string | null;
  fingerprint?: string;
}

/** Whether the appliance read is the site's primary: null when it cannot be told. */
export interface PrimaryCheck {
  primary: boolean | null;
  why: string;
}

const PROBE_MS = 5_000;

/**
 * The certificate fingerprint of whatever answers TLS at host:port. Only the certificate is
 * read (no request is sent), so no trust is needed: a certificate equal to the appliance's own
 * can only be presented by that appliance.
 */
function fingerprintAt(host: string, port: number, lookup?: LookupFunction): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      servername: host,
      rejectUnauthorized: false,
      ...(lookup ? { lookup } : {}),
    });
    const timer = setTimeout(() => socket.destroy(new Error('no answer')), PROBE_MS);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp.toUpperCase());
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code ?? e.message));
    });
  });
}

/**
 * A failover backup or a traffic node is never the site's primary. A standalone appliance or a
 * primary may still not be where the site leads (the interim of an asynchronous upgrade, after
 * the traffic switch): when it is read by another name than its site hostname, the hostname is
 * resolved as this machine resolves it and its certificate compared with the appliance's.
 */
export async function checkPrimary(
  s: ApplianceStanding,
  readAs: { host: string; port: number; lookup?: LookupFunction },
): Promise<PrimaryCheck> {
  if (s.role === 'backup') return { primary: false, why: `${s.appliance} is a failover backup` };
  if (s.cluster === 'traffic-node')
    return { primary: false, why: `${s.appliance} is a traffic node of a cluster` };
  const hostname = s.siteHostname?.toLowerCase();
  // Without a site hostname, clients reach the site by this appliance's address: it is the site.
  if (!hostname || !s.fingerprint)
    return { primary: true, why: `${s.appliance} is ${s.role} and names no site hostname` };
  if (readAs.host.toLowerCase() === hostname)
    return { primary: true, why: `read through the site hostname ${hostname}` };
  try {
    const found = await fingerprintAt(hostname, readAs.port, readAs.lookup);
    return found === s.fingerprint.toUpperCase()
      ? { primary: true, why: `the site hostname ${hostname} leads to ${s.appliance}` }
      : {
          primary: false,
          why: `the site hostname ${hostname} leads to another appliance, not ${s.appliance}`,
        };
  } catch (e) {
    return {
      primary: null,
      why: `the site hostname ${hostname}:${readAs.port} cannot be reached from here (${(e as Error).message}), so whether ${s.appliance} is the primary cannot be checked`,
    };
  }
}
