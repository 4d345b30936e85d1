import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nsExec, writeNetnsEtc } from './netns.js';
import { hostOf } from './network-plan.js';
import { SITE_HOSTNAME } from './plan.js';
import { spawnProgram, waitReady } from './spawn.js';
import { writeState, type LabProcess, type LabState } from './state.js';

/** The zone BIND serves for the site, and the TTL of the site's record (short: a lab). */
export const SITE_ZONE = SITE_HOSTNAME.split('.').slice(1).join('.');
export const SITE_TTL = 5;
const TSIG_NAME = 'gatehouse-lab';
/** The TSIG secret's file, relative to DIR (mode 600, never in lab.json). */
export const DNS_TSIG_SECRET = 'secrets/dns-tsig.secret';
/** Namespaces whose programs resolve the site through the lab's resolver. */
const RESOLVING = ['admin', 'agent', 'prober', 'client'];

/**
 * The client namespaces resolve through the site's caching resolver (/etc/netns/NS/resolv.conf,
 * recorded in lab.json before it is written): a client sees the TTL's effect, as on a real site.
 */
export function prepareResolvers(state: LabState): void {
  const net = state.network!;
  const resolver = hostOf(net, 'resolver')!;
  const names = RESOLVING.map((h) => hostOf(net, h)!.ns);
  net.etcDirs.push(...names);
  writeState(state);
  for (const ns of names) writeNetnsEtc(ns, 'resolv.conf', `nameserver ${resolver.address}\n`);
}

/** options { } common to both servers: files in DIR, one address, no IPv6, no rndc. */
const options = (dir: string, address: string, extra: string[]) =>
  [
    'options {',
    `  directory "${dir}";`,
    `  listen-on port 53 { ${address}; };`,
    '  listen-on-v6 { none; };',
    `  pid-file "${dir}/named.pid";`,
    `  session-keyfile "${dir}/session.key";`,
    `  managed-keys-directory "${dir}";`,
    '  dnssec-validation no;',
    ...extra.map((l) => `  ${l}`),
    '};',
    'controls { };',
  ].join('\n');

function authoritativeConf(dir: string, address: string, secret: string, primary: string) {
  const label = SITE_HOSTNAME.split('.')[0];
  writeFileSync(
    path.join(dir, 'site.zone'),
    [
      `$TTL ${SITE_TTL}`,
      `@ IN SOA ns.${SITE_ZONE}. hostmaster.${SITE_ZONE}. 1 3600 600 86400 ${SITE_TTL}`,
      `@ IN NS ns.${SITE_ZONE}.`,
      `ns IN A ${address}`,
      `${label} IN A ${primary}`,
      '',
    ].join('\n'),
  );
  return `${options(dir, address, ['recursion no;'])}
key "${TSIG_NAME}" { algorithm hmac-sha256; secret "${secret}"; };
zone "${SITE_ZONE}" {
  type primary;
  file "${dir}/site.zone";
  update-policy { grant ${TSIG_NAME} name ${SITE_HOSTNAME}. A AAAA; };
};
`;
}

/** A caching resolver that asks only the lab's authoritative server (nothing leaves the lab). */
const resolverConf = (dir: string, address: string, authority: string) =>
  `${options(dir, address, [
    'recursion yes;',
    'allow-query { 198.18.0.0/15; };',
    'allow-recursion { 198.18.0.0/15; };',
    `forwarders { ${authority}; };`,
    'forward only;',
  ])}\n`;

async function startNamed(
  state: LabState,
  host: string,
  conf: string,
  started: (p: LabProcess) => void,
): Promise<void> {
  const h = hostOf(state.network!, host)!;
  const dir = path.join(state.dir, host);
  const file = path.join(dir, 'named.conf');
  writeFileSync(file, conf, { mode: 0o600 });
  const daemon = spawnProgram(
    host,
    'dns-server',
    nsExec(h.ns, ['named', '-g', '-n', '1', '-c', file]),
    path.join(state.dir, 'logs', `${host}.log`),
  );
  started(daemon.proc);
  await waitReady(daemon, async () => (await resolveSite(h.address)).length > 0, 30_000);
}

/**
 * BIND in the dns namespace, authoritative for the site's zone and updated by RFC 2136 + TSIG,
 * and a second BIND in the resolver namespace that the clients ask, which caches the answer.
 */
export async function startDnsServers(
  state: LabState,
  primaryAddress: string,
  started: (p: LabProcess) => void,
): Promise<void> {
  const net = state.network!;
  const dns = hostOf(net, 'dns')!;
  const secret = randomBytes(32).toString('base64');
  writeFileSync(path.join(state.dir, DNS_TSIG_SECRET), `${secret}\n`, { mode: 0o600 });
  for (const host of ['dns', 'resolver'])
    mkdirSync(path.join(state.dir, host), { recursive: true, mode: 0o700 });
  const authDir = path.join(state.dir, 'dns');
  await startNamed(
    state,
    'dns',
    authoritativeConf(authDir, dns.address, secret, primaryAddress),
    started,
  );
  const resolver = hostOf(net, 'resolver')!;
  await startNamed(
    state,
    'resolver',
    resolverConf(path.join(state.dir, 'resolver'), resolver.address, dns.address),
    started,
  );
}

/** The site's A records as SERVER answers now (a fresh resolver of ours: no cache here). */
export async function resolveSite(server: string): Promise<string[]> {
  const r = new Resolver({ timeout: 1_000, tries: 1 });
  r.setServers([server]);
  return r.resolve4(SITE_HOSTNAME).catch(() => []);
}

/** The rfc2136 provider's settings for the lab's authoritative BIND. */
export function dnsSwitchConfig(state: LabState, secret: string) {
  return {
    provider: 'rfc2136',
    server: hostOf(state.network!, 'dns')!.address,
    zone: SITE_ZONE,
    hostname: SITE_HOSTNAME,
    ttl: SITE_TTL,
    tsig: { name: TSIG_NAME, algorithm: 'hmac-sha256', secret },
  };
}
