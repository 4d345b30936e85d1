import { compareVersions } from '../shared/version.js';
import { installOrder } from '../updates/install-order.js';
import type { ApplianceState } from './deployment.js';
import type { Check, PlannedPackage } from './plan-types.js';
import type { PlanInput } from './plan-input.js';

/** What the preconditions found: the checks, and the topology and packages they read. */
export interface Preconditions {
  checks: Check[];
  primary: ApplianceState | undefined;
  backup: ApplianceState | undefined;
  nodeNames: { name: string; region: string }[];
  /** The packages in install order (bases first). */
  pkgs: PlannedPackage[];
  product: PlannedPackage | undefined;
  base: PlannedPackage | undefined;
}

/**
 * The preconditions of an upgrade, pure (tested through planner.test.ts): every appliance
 * answers with the same key and none is installing, the topology fits the strategy, the roles
 * are as the inventory says, and each appliance in scope can take the packages.
 */
export function checkPreconditions(input: PlanInput): Preconditions {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const all = input.appliances;
  const byName = new Map(all.map((a) => [a.name, a]));

  const unreachable = all.filter((a) => !a.reachable);
  check(
    'every appliance reachable',
    unreachable.length === 0,
    unreachable.length
      ? unreachable.map((a) => `${a.name}: ${a.error}`).join('; ')
      : `${all.length} appliances answered and signed in`,
  );
  const keys = new Set(all.filter((a) => a.reachable).map((a) => a.keyFingerprint));
  check(
    'Inter-Appliance keys identical',
    keys.size <= 1,
    keys.size <= 1
      ? 'every appliance holds the same key'
      : `the keys differ: ${all.map((a) => `${a.name} ${a.keyFingerprint}`).join(', ')}. Set the same key on every appliance (Management > Security).`,
  );
  const busy = all.filter((a) => a.update);
  check(
    'no install in progress',
    busy.length === 0,
    busy.length ? busy.map((a) => `${a.name}: ${a.update}`).join('; ') : 'none',
  );

  // Topology.
  const primaries = all.filter(
    (a) => a.role === 'primary' || (a.role === 'standalone' && a.cluster?.role !== 'traffic-node'),
  );
  const primary =
    primaries.find((a) => a.cluster?.role === 'primary-node') ??
    primaries.find((a) => a.role === 'primary') ??
    primaries[0];
  const backup = primary?.failover ? byName.get(primary.failover.peer) : undefined;
  const nodeNames = primary?.cluster?.nodes.map((n) => ({ name: n.name, region: n.region })) ?? [];
  const syncHealthy = (p: ApplianceState) =>
    check(
      'failover sync healthy',
      !!p.failover?.lastSync && p.failover?.peerReachable !== false,
      p.failover?.lastSync
        ? `last sync ${p.failover.lastSync}${p.failover.peerReachable === false ? ', but the backup does not answer now' : ''}`
        : `no sync has completed yet: run Sync Now on ${p.name} first`,
    );
  if (input.strategy === 'cluster') {
    check(
      'a cluster primary node',
      primary?.cluster?.role === 'primary-node',
      primary?.cluster?.role === 'primary-node'
        ? `${primary.name} with ${nodeNames.length} traffic nodes in ${new Set(nodeNames.map((n) => n.region)).size} regions`
        : 'no appliance of the inventory is the primary node of a cluster; use --strategy synchronous or asynchronous for a failover pair',
    );
    const missing = nodeNames.filter((n) => !byName.has(n.name));
    check(
      'every traffic node in the inventory',
      missing.length === 0,
      missing.length
        ? `add ${missing.map((n) => n.name).join(', ')} to the inventory (address, fingerprint)`
        : 'yes',
    );
    // A node on another version than its primary node gets no clients: a previous upgrade
    // did not finish. Finish it (gatehouse upgrade resume) before starting another.
    const offVersion = nodeNames
      .map((n) => byName.get(n.name))
      .filter((n) => n?.reachable && n.productVersion !== primary?.productVersion);
    check(
      "traffic nodes on the primary node's version",
      offVersion.length === 0,
      offVersion.length
        ? `${offVersion.map((n) => `${n!.name} runs ${n!.productVersion}`).join(', ')}, the primary node ${primary?.productVersion}: finish the previous upgrade first (gatehouse upgrade resume)`
        : `every node runs ${primary?.productVersion ?? '?'}`,
    );
    if (primary && backup) syncHealthy(primary);
  } else {
    const pairOk = !!primary && primary.role === 'primary' && !!backup && backup.role === 'backup';
    check(
      'a failover pair',
      pairOk,
      pairOk
        ? `${primary!.name} is primary, ${backup!.name} its backup`
        : 'the synchronous and asynchronous strategies upgrade a primary and its backup; establish the relationship first (or use --strategy cluster)',
    );
    if (pairOk) syncHealthy(primary!);
    if (input.strategy === 'asynchronous') {
      // The second window moves the site from the primary to the backup: it needs a switch.
      const shared = primary?.sharedAddresses?.filter((x) => x.enabled) ?? [];
      const ok =
        input.trafficSwitch === 'none'
          ? false
          : input.trafficSwitch === 'shared-ip'
            ? shared.length > 0
            : true;
      check(
        'traffic switch',
        ok,
        input.trafficSwitch === 'none'
          ? 'the asynchronous strategy moves the site to the backup: set trafficSwitch.method (shared-ip, hosts-file, dns, nat-forwarder, nat-command or load-balancer) in the inventory, or use --strategy synchronous'
          : input.trafficSwitch === 'shared-ip' && !ok
            ? `${primary?.name ?? 'the primary'} has no shared address enabled: enable it (/appliance > Networking > IP Configuration) or name the method the site really uses`
            : `${input.trafficSwitch}${shared.length ? ` (${shared.map((x) => x.address).join(', ')} on ${primary!.name})` : ''}`,
      );
    }
  }
  const mismatched = all.filter((a) => {
    const want = input.declaredRoles?.[a.name];
    if (!want || !a.reachable) return false;
    const is = a.cluster?.role === 'traffic-node' ? 'traffic-node' : a.role;
    return want !== is;
  });
  check(
    'roles as the inventory says',
    mismatched.length === 0,
    mismatched.length
      ? mismatched
          .map(
            (a) =>
              `${a.name} is ${a.cluster?.role === 'traffic-node' ? 'a traffic node' : a.role}, the inventory says ${input.declaredRoles![a.name]}`,
          )
          .join('; ')
      : 'yes',
  );

  // Packages: what they bring, whether they fit, in which order.
  const pkgs = installOrder(input.packages);
  const product = pkgs.filter((p) => p.kind === 'product').at(-1);
  const base = pkgs.filter((p) => p.kind === 'base').at(-1);
  check(
    'packages to install',
    pkgs.length > 0,
    pkgs.length
      ? pkgs.map((p) => `${p.kind} ${p.version}`).join(', ')
      : 'none: give --packages DIR (signed .ghpkg files) or --to VERSION',
  );
  const inScope =
    input.strategy === 'cluster'
      ? [primary, backup, ...nodeNames.map((n) => byName.get(n.name))].filter(
          (a): a is ApplianceState => !!a,
        )
      : [primary, backup].filter((a): a is ApplianceState => !!a);
  for (const a of inScope.filter((x) => x.reachable)) {
    const problems: string[] = [];
    if (product && compareVersions(product.version, a.productVersion!) <= 0)
      problems.push(`already runs product ${a.productVersion} (not older than ${product.version})`);
    if (
      product?.requiresBase &&
      compareVersions(base?.version ?? a.baseVersion!, product.requiresBase) < 0
    )
      problems.push(
        `product ${product.version} needs base ${product.requiresBase}; it runs base ${a.baseVersion} and no base package is given`,
      );
    const need = pkgs.reduce((n, p) => n + p.size, 0) * 3 + 512 * 1024 * 1024;
    if ((a.freeBytes ?? 0) < need)
      problems.push(
        `${Math.round((a.freeBytes ?? 0) / 2 ** 20)} MiB free, ${Math.round(need / 2 ** 20)} MiB needed`,
      );
    check(
      `${a.name} can take the packages`,
      problems.length === 0,
      problems.join('; ') || `runs ${a.productVersion}; free disk is enough`,
    );
  }

  return { checks, primary, backup, nodeNames, pkgs, product, base };
}
