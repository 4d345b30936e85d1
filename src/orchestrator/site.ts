import { readFileSync, statSync } from 'node:fs';
import dns from 'node:dns';
import tls from 'node:tls';
import type { LookupFunction } from 'node:net';
import path from 'node:path';
import type { Endpoint } from '../clients/tunnel.js';

import { until } from '../shared/until.js';
import type { LoadedInventory } from './inventory.js';
import { orchestratorErrors } from './error-codes.js';

/**
 * A resolver that reads a hosts file (the hosts-file traffic switch's) on every lookup, as the
 * site's clients do, so a switch is seen at once. The file is parsed again only when it
 * changed. A name it does not hold is not found: the site is down for such a client too.
 */
export function hostsFileLookup(file: string): LookupFunction {
  let cached: { key: string; entries: Map<string, string> } | undefined;
  const entries = (): Map<string, string> => {
    const st = statSync(file);
    // An atomic rewrite (rename) changes the inode, an in-place one the time or the size.
    const key = `${st.ino}:${st.mtimeMs}:${st.size}`;
    if (cached?.key === key) return cached.entries;
    const map = new Map<string, string>();
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (!ip) continue;
      for (const n of names) if (!map.has(n.toLowerCase())) map.set(n.toLowerCase(), ip);
    }
    cached = { key, entries: map };
    return map;
  };
  return ((hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    let ip: string | undefined;
    try {
      ip = entries().get(hostname.toLowerCase());
    } catch (e) {
      return process.nextTick(callback, e as NodeJS.ErrnoException, '', 0);
    }
    if (!ip) {
      const err: NodeJS.ErrnoException = new Error(`${hostname} is not in ${file}`);
      err.code = 'ENOTFOUND';
      return process.nextTick(callback, err, '', 0);
    }
    const family = ip.includes(':') ? 6 : 4;
    if (options?.all) return process.nextTick(callback, null, [{ address: ip, family }]);
    process.nextTick(callback, null, ip, family);
  }) as LookupFunction;
}
type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * The site as its clients reach it, trusting every appliance of the inventory. With a shared
 * IP or a NAT swing that is the site address; with the hosts-file or DNS switch it is the site
 * hostname (through the inventory's hosts file, or the system resolver for DNS) at the
 * address's port, so the prober, the live sessions and the checks follow the switch.
 */
export function siteEndpoint(inv: LoadedInventory): Endpoint {
  const { address, hostname, hostsFile } = inv.site;
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  const fps = inv.appliances.map((a) => a.fingerprint);
  const trust = { fingerprint: fps[0]!, alsoTrust: fps.slice(1) };
  const method = inv.trafficSwitch.method;
  if ((method === 'hosts-file' || method === 'dns') && hostname) {
    const lookup =
      method === 'hosts-file' && hostsFile
        ? hostsFileLookup(path.resolve(path.dirname(inv.file), hostsFile))
        : undefined;
    return { host: hostname, port, ...trust, ...(lookup ? { lookup } : {}) };
  }
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port, ...trust };
}

/** The certificate fingerprint the site presents to a new client now (undefined: no answer). */
function presentedBy(site: Endpoint): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: site.host,
      port: site.port,
      rejectUnauthorized: false,
      ...(site.lookup ? { lookup: site.lookup } : {}),
    });
    const done = (fp: string | undefined) => {
      s.destroy();
      resolve(fp);
    };
    s.setTimeout(1_000, () => done(undefined));
    s.once('error', () => done(undefined));
    s.once('secureConnect', () => done(s.getPeerCertificate().fingerprint256));
  });
}

/**
 * Wait until the site leads new clients to the appliance with FINGERPRINT: at once after a
 * shared IP or NAT swing, up to the record's TTL after a DNS swing (resolvers keep the old
 * answer that long). Returns how long it took.
 */
export async function untilSiteLeadsTo(
  site: Endpoint,
  fingerprint: string,
  name: string,
  deadlineMs: number,
): Promise<number> {
  return untilSite(site, fingerprint, true, deadlineMs, 100, {
    waitingFor: `the site to lead to ${name}`,
    timedOut: `still does not lead to ${name} ${Math.round(deadlineMs / 1000)} s after the switch: check the traffic switch (a DNS record's TTL above that, a NAT rule not rewritten), then resume.`,
  });
}

/**
 * Wait until no new client is led to the appliance with FINGERPRINT (a load balancer marked it
 * down): a switch that adds the new appliance only then never gives the site two appliances at
 * once. Returns how long it took.
 */
export async function untilSiteLeaves(
  site: Endpoint,
  fingerprint: string,
  name: string,
  deadlineMs: number,
): Promise<number> {
  return untilSite(site, fingerprint, false, deadlineMs, 50, {
    waitingFor: `the site to stop leading to ${name}`,
    timedOut: `still leads to ${name} ${Math.round(deadlineMs / 1000)} s after it gave up the site: check that the load balancer checks GET /health/primary, then resume.`,
  });
}

/** Wait until the site leads (or no longer leads) to FINGERPRINT; how long it took. */
async function untilSite(
  site: Endpoint,
  fingerprint: string,
  leads: boolean,
  deadlineMs: number,
  everyMs: number,
  words: { waitingFor: string; timedOut: string },
): Promise<number> {
  const t0 = Date.now();
  const want = fingerprint.toUpperCase();
  await until(
    async () => ((await presentedBy(site))?.toUpperCase() === want) === leads,
    deadlineMs,
    words.waitingFor,
    everyMs,
  ).catch(() => {
    throw orchestratorErrors.UPGRADE_SITE_NOT_SWITCHED(
      `${site.host}:${site.port} ${words.timedOut}`,
    );
  });
  return Date.now() - t0;
}
