import { isIPv4 } from 'node:net';

import type { Action } from './plan-types.js';
import type { ExecContext } from './exec-context.js';
import { isLoopback } from '../traffic/shared-ip.js';
import { siteEndpoint, untilSiteLeadsTo, untilSiteLeaves } from './site.js';
import { orchestratorErrors } from './error-codes.js';

/**
 * Steps that change who does what: failover (sync, break, establish, roles, backup
 * operations), traffic nodes (accepting, Cluster Sync Now) and the site's traffic switch.
 */

type Step<K extends Action['type']> = Extract<Action, { type: K }>;

/** The primary's failover relationship (null when it has none). */
const relationshipOf = (ctx: ExecContext, primary: string) =>
  ctx.deployment.call<{ relationship: { role: string; peer: { name: string } } | null }>(
    primary,
    'GET',
    '/api/login/failover',
  );

export async function sync(ctx: ExecContext, a: Step<'sync'>) {
  if (!(await relationshipOf(ctx, a.primary)).relationship)
    throw orchestratorErrors.UPGRADE_NOT_PAIRED(
      `${a.primary} has no failover relationship to sync.`,
    );
  return ctx.deployment.call(a.primary, 'POST', '/api/login/failover/sync');
}

export async function breakPair(ctx: ExecContext, a: Step<'break'>) {
  if (!(await relationshipOf(ctx, a.primary)).relationship) return { alreadyBroken: true };
  return ctx.deployment.call(a.primary, 'POST', '/api/login/failover/break');
}

export async function establish(ctx: ExecContext, a: Step<'establish'>) {
  const d = ctx.deployment;
  const f = await relationshipOf(ctx, a.primary);
  if (f.relationship?.role === 'primary' && f.relationship.peer.name === a.backup)
    return { already: true };
  const b = d.address(a.backup);
  const p = d.address(a.primary);
  return d.call(a.primary, 'POST', '/api/login/failover/establish', {
    backupHost: b.host,
    backupPort: b.port,
    reverseHost: p.host,
    reversePort: p.port,
    firstSyncAfterSeconds: 60,
  });
}

/** Become Backup or Become Primary (forced: the runbook has synced first), unless already. */
export async function becomeRole(ctx: ExecContext, appliance: string, role: 'backup' | 'primary') {
  const d = ctx.deployment;
  if ((await d.health(appliance)).role === role) return { already: true };
  return d.call(appliance, 'POST', `/api/login/failover/become-${role}`, { force: true });
}

export function backupOperations(ctx: ExecContext, a: Step<'backup-operations'>) {
  return ctx.deployment.call(a.appliance, 'PUT', '/api/login/failover/backup-operations', {
    enabled: a.enabled,
  });
}

export async function setAccepting(ctx: ExecContext, a: Step<'set-accepting'>) {
  await Promise.all(
    a.nodes.map((n) =>
      ctx.deployment.call(a.primary, 'PATCH', `/api/login/cluster/nodes/${encodeURIComponent(n)}`, {
        accepting: a.accepting,
      }),
    ),
  );
  return { nodes: a.nodes, accepting: a.accepting };
}

export async function clusterSync(ctx: ExecContext, a: Step<'cluster-sync'>) {
  const r = await ctx.deployment.call<{
    results: { node: string; ok: boolean; error?: string }[];
  }>(a.primary, 'POST', '/api/login/cluster/sync');
  const failed = r.results.filter((x) => !x.ok);
  if (failed.length)
    throw orchestratorErrors.UPGRADE_CLUSTER_SYNC_FAILED(
      `Cluster Sync Now failed for ${failed.map((f) => `${f.node}: ${f.error}`).join('; ')}.`,
    );
  return r;
}

/** How long a load balancer may take to mark an appliance down (its checks' interval × fall). */
const LOAD_BALANCER_MS = 60_000;

/** How long a switch may take to reach new clients: a DNS TTL of up to 5 min (resolvers cache). */
const SITE_FOLLOWS_MS = 5 * 60_000;

/**
 * How long a taken shared address may take to lead the site to its new holder: at once (its
 * announcement), so waiting longer only keeps the address on two hosts; the switch is undone.
 */
const SHARED_IP_FOLLOWS_MS = 10_000;

/**
 * Test-only, passed in code by a test that calls switchTraffic itself (the runbook's executor
 * passes none; no inventory field or CLI option sets it): awaited once, just before the old
 * holder of a shared IPv4 address is first asked to release it, so that a fault test can put
 * its fault in place at that moment (test/shared-ip-release-netns.test.ts).
 */
export interface SwitchHooks {
  beforeRelease?: () => Promise<void>;
}

/** S19: the site's traffic to another appliance: the shared IP (off on one, on on the other) or Point Here. */
export async function switchTraffic(
  ctx: ExecContext,
  from: string,
  to: string,
  hooks: SwitchHooks = {},
) {
  const d = ctx.deployment;
  if (d.inventory.trafficSwitch.method === 'load-balancer')
    return switchLoadBalancer(ctx, from, to);
  if (d.inventory.trafficSwitch.method !== 'shared-ip') {
    const pointed = await d.call(to, 'POST', '/api/appliance/traffic/point-here', {});
    return { pointed, ...(await siteFollows(ctx, from, to)) };
  }
  type Status = { addresses: { address: string; kind: string; enabled: boolean }[] };
  const shared = (s: Status) => s.addresses.filter((a) => a.kind === 'shared');
  const [sf, st] = await Promise.all([
    d.call<Status>(from, 'GET', '/api/appliance/status'),
    d.call<Status>(to, 'GET', '/api/appliance/status'),
  ]);
  const addresses = [...new Set([...shared(sf), ...shared(st)].map((a) => a.address))];
  if (!addresses.length)
    throw orchestratorErrors.UPGRADE_NO_SHARED_IP(
      `Neither ${from} nor ${to} has a shared address; the inventory's traffic switch is shared-ip. Configure it under /appliance > Networking, or change trafficSwitch.method.`,
    );
  const held = shared(sf)
    .filter((x) => x.enabled)
    .map((x) => x.address);
  // The address moves, the connections on it do not: a client connected to `from` learns
  // only at its next heartbeat that its packets now reach `to` (10 s measured over a netns
  // shared IP, every session start refused meanwhile; on one kernel, never). Ask them to
  // reconnect through the site while `from` still holds the address (see moveSharedIp).
  const follows = await moveSharedIp(
    ctx,
    { from, to },
    addresses,
    held,
    (f, t) => siteFollows(ctx, f, t, SHARED_IP_FOLLOWS_MS),
    hooks,
  );
  return { moved: addresses, from, to, ...follows };
}

/**
 * The shared addresses from `from` (which holds `held` of them) to `to`; `follow(a, b)` asks
 * `a`'s clients to move, once the address leads to `b`. Its answer is the move's.
 */
async function moveSharedIp<T>(
  ctx: ExecContext,
  { from, to }: { from: string; to: string },
  addresses: string[],
  held: string[],
  follow: (a: string, b: string) => Promise<T>,
  hooks: SwitchHooks,
): Promise<T> {
  const d = ctx.deployment;
  const patch = async (name: string, enabled: boolean, list: string[]) => {
    for (const a of list)
      await d.call(name, 'PATCH', `/api/appliance/network/addresses/${encodeURIComponent(a)}`, {
        enabled,
      });
  };
  const release = () => patch(from, false, held);
  const take = () => patch(to, true, addresses);
  const undo = () =>
    undoTake(
      { from, to },
      {
        // Enabling an address it holds makes `from` announce it again (gratuitous ARP).
        takeBack: () => patch(from, true, held),
        followBack: () => follow(to, from),
        giveUp: () => patch(to, false, addresses),
      },
    );
  // One kernel (loopback) cannot bind an address twice, and an IPv6 address added without
  // nodad fails duplicate address detection against its old holder: release, then take.
  if (addresses.some((a) => isLoopback(a) || !isIPv4(a))) {
    await release();
    await take();
    return follow(from, to);
  }
  // IPv4 on two hosts: the new holder takes and announces the address before the old one lets
  // it go (make before break, as keepalived's planned switch), so a client's packet never
  // reaches a host that no longer has it, to be dropped and sent again a second later.
  await take();
  // `from`'s clients are asked to move while it still holds the address: once it is gone,
  // nothing `from` writes on their connections leaves it (the kernel has no route from an
  // address that is no longer its own), and the request would wait for their next heartbeat.
  // They reconnect through the site, which now leads to `to` (its announcement came first).
  const followed = await follow(from, to).catch(async (e: Error) => {
    e.message += await undo();
    throw e;
  });
  // A failing hook undoes the take as a failed release does: never two holders.
  await hooks.beforeRelease?.().catch(async (e: Error) => {
    e.message += await undo();
    throw e;
  });
  await retryUntil(RELEASE_RETRY_MS, release).catch(async (e: Error) => {
    throw orchestratorErrors.UPGRADE_SHARED_IP_NOT_RELEASED(
      `Switching traffic from ${from} to ${to}: ${from} did not release ${held.join(', ')} within ${RELEASE_RETRY_MS / 1000} s (${e.message.replace(/\.$/, '')}), so the switch was undone: ${to} gave it up and ${from} keeps it.${await undo()} Make ${from}'s API reachable from the orchestrator (or disable the address there under /appliance > Networking), then \`gatehouse upgrade resume\`.`,
      { cause: e },
    );
  });
  // Enabling again on `to` announces it once more (gratuitous ARP): a neighbour that asked
  // during the overlap and heard the old host's MAC learns the new one now, not on expiry.
  await take();
  return followed;
}

/**
 * Never leave both hosts holding the address, and put the site back as it was, make before
 * break again: `from` takes it back and announces it (neighbours learned `to`'s MAC), `to`'s
 * clients are asked back through the site while `to` can still write to them, then `to`
 * gives it up. Returns what of it failed ('' when nothing), for the error that caused it.
 */
async function undoTake(
  { from, to }: { from: string; to: string },
  steps: {
    takeBack: () => Promise<void>;
    followBack: () => Promise<unknown>;
    giveUp: () => Promise<void>;
  },
): Promise<string> {
  const failed = await retryUntil(RELEASE_RETRY_MS, steps.takeBack).then(
    () =>
      steps.followBack().then(
        () => '',
        (e: Error) => ` ${to}'s clients could not be asked back (${e.message}).`,
      ),
    (e: Error) =>
      ` ${from} could not be asked to announce it again (${e.message}): neighbours that learned ${to}'s MAC reach ${from} once their ARP entries expire.`,
  );
  await steps.giveUp();
  return failed;
}

/** How long the old holder of a shared IPv4 address is asked to release it, once the new one took it. */
const RELEASE_RETRY_MS = 5_000;

/** `fn` again, half a second apart, until it succeeds or `ms` have passed (then its last error). */
async function retryUntil(ms: number, fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * A load balancer checking GET /health/primary: `from` gives up the site's clients and `to`
 * takes them (src/traffic/load-balancer.ts); the switch is done when a new connection to the
 * site reaches `to` (the balancer's next checks), and the clients still on `from` are asked to
 * reconnect through the site (a balancer with on-marked-down shutdown-sessions cuts them anyway).
 */
async function switchLoadBalancer(ctx: ExecContext, from: string, to: string) {
  const d = ctx.deployment;
  // One appliance at a time: `to` takes the site once the balancer stopped sending it to `from`.
  await d.call(from, 'PUT', '/api/appliance/traffic/load-balancer', { serves: false });
  const siteLeftAfterMs = await untilSiteLeaves(
    siteEndpoint(d.inventory),
    d.entry(from).fingerprint,
    from,
    LOAD_BALANCER_MS,
  );
  await d.call(to, 'PUT', '/api/appliance/traffic/load-balancer', { serves: true });
  return { released: from, serves: to, siteLeftAfterMs, ...(await siteFollows(ctx, from, to)) };
}

/** After a switch that does not move `from`'s connections: wait for the site, then move them. */
async function siteFollows(ctx: ExecContext, from: string, to: string, withinMs = SITE_FOLLOWS_MS) {
  const d = ctx.deployment;
  // Resolvers keep a DNS answer for its TTL: until the name leads new clients to `to`,
  // clients asked to reconnect would come back to `from`. (The NAT and hosts file: at once.)
  const siteLedThereAfterMs = await untilSiteLeadsTo(
    siteEndpoint(d.inventory),
    d.entry(to).fingerprint,
    to,
    withinMs,
  );
  // `to` is still the backup (the cluster runbook switches before the handover): `from` is
  // the primary until its Become Backup, which sends its clients straight to `to` once primary.
  if ((await d.health(to)).role === 'backup') return { siteLedThereAfterMs, clientsSentFrom: {} };
  // The site now leads to `to`, but clients connected to `from` stay there until they
  // reconnect: ask them to, through the site.
  const sent = await d
    .call<{ asked: number }>(from, 'POST', '/api/login/status/clients/reconnect', {})
    .catch((e: Error) => ({ asked: 0, error: e.message }));
  return { siteLedThereAfterMs, clientsSentFrom: { [from]: sent } };
}
