import { mkdtempSync, writeFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadedInventory } from './inventory.js';
import { downtimeOf } from './prober.js';
import { hostsFileLookup, siteEndpoint } from './site.js';

const resolve = (lookup: LookupFunction, name: string) =>
  new Promise<string>((ok, fail) =>
    lookup(name, {}, (err, address) => (err ? fail(err) : ok(address as string))),
  );

const FP = 'AB:'.repeat(31) + 'AB';
const inventory = (site: LoadedInventory['site'], method: string, dir = '/tmp'): LoadedInventory =>
  ({
    version: 1,
    file: path.join(dir, 'inventory.yaml'),
    site,
    credentials: {} as LoadedInventory['credentials'],
    trafficSwitch: { method } as LoadedInventory['trafficSwitch'],
    appliances: [
      { name: 'a', address: '127.0.0.11:443', fingerprint: FP },
      { name: 'b', address: '127.0.0.12:443', fingerprint: FP.replace(/^AB/, 'CD') },
    ],
  }) as LoadedInventory;

describe('the site as the orchestrator reaches it', () => {
  it('reads a hosts file on every lookup, so a switch is seen at once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-site-'));
    const file = path.join(dir, 'hosts');
    writeFileSync(file, '# lab\n127.0.0.11   site.test other\n');
    const lookup = hostsFileLookup(file);
    expect(await resolve(lookup, 'SITE.test')).toBe('127.0.0.11');
    writeFileSync(file, '127.0.0.12 site.test # after Point Here on b\n');
    expect(await resolve(lookup, 'site.test')).toBe('127.0.0.12');
    await expect(resolve(lookup, 'nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('probes the shared address, or the hostname through the hosts file', () => {
    const shared = siteEndpoint(inventory({ address: '127.0.0.50:8443' }, 'shared-ip'));
    expect(shared).toMatchObject({ host: '127.0.0.50', port: 8443, fingerprint: FP });
    expect(shared.alsoTrust).toHaveLength(1);
    expect(shared.lookup).toBeUndefined();
    const hosts = siteEndpoint(
      inventory(
        { hostname: 'site.test', address: '127.0.0.11:8443', hostsFile: 'hosts' },
        'hosts-file',
        '/srv/lab',
      ),
    );
    expect(hosts).toMatchObject({ host: 'site.test', port: 8443 });
    expect(typeof hosts.lookup).toBe('function');
    const viaDns = siteEndpoint(
      inventory({ hostname: 'site.test', address: '127.0.0.11:8443' }, 'dns'),
    );
    expect(viaDns).toMatchObject({ host: 'site.test', port: 8443 });
    expect(viaDns.lookup).toBeUndefined();
  });
});

describe('downtime from probe samples', () => {
  it('counts from each failure to the next success and reports gaps nothing probed', () => {
    const at = (t: number, ok: boolean) => ({ t, ok, ms: 2 });
    const d = downtimeOf([
      at(0, true),
      at(50, false),
      at(100, false),
      at(150, true),
      // the orchestrator was killed here and resumed 5 s later
      at(5_150, true),
      at(5_200, false),
    ]);
    expect(d.outages).toEqual([
      { from: 50, to: 150 },
      { from: 5_200, to: 5_250 },
    ]);
    expect(d.totalMs).toBe(150);
    expect(d.unmeasured).toEqual([{ from: 152, to: 5_150 }]);
  });
});
