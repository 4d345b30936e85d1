import { drainTitle } from './drain.js';
import { compareVersions } from '../shared/version.js';
import type { ApplianceState } from './deployment.js';
import type { Action, Check, Plan, PlannedPackage, Step, Strategy } from './plan-types.js';

/** Predictions, from `npm run bench -- update` on the reference machine (docs/benchmarks.md). */
export const PREDICTED_MS = {
  installProduct: 4_000,
  installBase: 8_000,
  backup: 1_000,
  sync: 1_000,
  roleChange: 1_000,
  switch: 100,
  verify: 1_500,
  drain: 5_000,
  other: 300,
};

export interface PlanInput {
  strategy: Strategy;
  inventory: string;
  trafficSwitch: string;
  appliances: ApplianceState[];
  packages: PlannedPackage[];
  drainTimeoutMs: number;
  onDrainTimeout: 'abort' | 'proceed';
  /** Roles the inventory declares, checked against what the appliances say. */
  declaredRoles?: Record<string, string | undefined>;
  now?: Date;
}

const installMs = (pkgs: PlannedPackage[]) =>
  pkgs.reduce(
    (n, p) => n + (p.kind === 'base' ? PREDICTED_MS.installBase : PREDICTED_MS.installProduct),
    0,
  );

/** Half of the traffic nodes of each region (rounded up), the ones upgraded first (S22). */
export function offlineHalf(nodes: { name: string; region: string }[]): string[] {
  const byRegion = new Map<string, string[]>();
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name)))
    byRegion.set(n.region, [...(byRegion.get(n.region) ?? []), n.name]);
  return [...byRegion.values()].flatMap((names) => names.slice(0, Math.ceil(names.length / 2)));
}

/**
 * Plan an upgrade: check the preconditions and lay out the runbook of the source document for
 * the strategy, each step tagged with the behaviours it carries out. Pure: everything it needs
 * was read from the appliances before.
 */
export function planUpgrade(input: PlanInput): Plan {
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
          ? 'the asynchronous strategy moves the site to the backup: set trafficSwitch.method (shared-ip, hosts-file, dns, nat-forwarder or nat-command) in the inventory, or use --strategy synchronous'
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
  const pkgs = [...input.packages].sort((a, b) =>
    a.kind !== b.kind ? (a.kind === 'base' ? -1 : 1) : compareVersions(a.version, b.version),
  );
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

  const steps = primary
    ? input.strategy === 'cluster'
      ? clusterSteps(primary.name, backup?.name, nodeNames, pkgs, input)
      : pairSteps(input.strategy, primary.name, backup?.name ?? '?', pkgs, input.trafficSwitch)
    : [];
  const siteDowntimeMs = steps
    .filter((s) => s.impact === 'site-down')
    .reduce((n, s) => n + s.predictedMs, 0);
  const totalMs = steps.reduce((n, s) => n + s.predictedMs, 0);
  let withoutFailoverMs = 0;
  let counting = false;
  for (const s of steps) {
    if (
      s.action.type === 'break' ||
      (input.strategy === 'cluster' &&
        s.action.type === 'install' &&
        s.action.appliance === backup?.name)
    )
      counting = true;
    if (counting && s.action.type !== 'pause') withoutFailoverMs += s.predictedMs;
    if (
      s.action.type === 'establish' ||
      (s.action.type === 'backup-operations' && s.action.enabled)
    )
      counting = false;
  }
  return {
    strategy: input.strategy,
    createdAt: (input.now ?? new Date()).toISOString(),
    inventory: input.inventory,
    target: { product: product?.version, base: base?.version },
    packages: pkgs,
    topology: {
      primary: primary?.name ?? '?',
      backup: backup?.name,
      trafficNodes: nodeNames,
      offlineFirst: input.strategy === 'cluster' ? offlineHalf(nodeNames) : [],
    },
    checks,
    steps,
    predicted: { siteDowntimeMs, withoutFailoverMs: backup ? withoutFailoverMs : 0, totalMs },
    options: { drainTimeoutMs: input.drainTimeoutMs, onDrainTimeout: input.onDrainTimeout },
  };
}

function builder() {
  const steps: Step[] = [];
  let rollbackSafe = true;
  const add = (
    s: string[],
    title: string,
    window: Step['window'],
    action: Action,
    predictedMs: number,
    impact: Step['impact'] = 'none',
  ) => {
    const n = steps.filter((x) => x.action.type === action.type).length;
    steps.push({
      id: `${action.type}-${n + 1}`,
      s,
      title,
      window,
      action,
      impact,
      predictedMs,
      rollbackSafe,
    });
    if (
      action.type === 'switch-traffic' ||
      action.type === 'become-backup' ||
      (action.type === 'install' && impact === 'site-down')
    )
      rollbackSafe = false;
  };
  return { steps, add };
}

/** The synchronous (S2) and asynchronous (S3) runbooks of a failover pair, in two windows (S4). */
function pairSteps(
  strategy: Strategy,
  a: string,
  b: string,
  pkgs: PlannedPackage[],
  method: string,
): Step[] {
  const { steps, add } = builder();
  const [first, second] = strategy === 'synchronous' ? [a, b] : [b, a];
  const install = (x: string, w: 1 | 2, siteDown: boolean) => {
    add(
      ['S8', 'S10'],
      `Stage the packages on ${x}`,
      w,
      { type: 'stage', appliance: x },
      PREDICTED_MS.other,
    );
    add(
      ['S9'],
      `Install ${pkgs.map((p) => `${p.kind} ${p.version}`).join(', then ')} on ${x}`,
      w,
      { type: 'install', appliance: x },
      installMs(pkgs),
      siteDown ? 'site-down' : 'no-failover',
    );
  };
  add(
    ['S16'],
    'Record counts and digests of the site data on every appliance',
    1,
    { type: 'integrity', phase: 'before' },
    PREDICTED_MS.other,
  );
  add(['S6'], `Back up ${a}`, 1, { type: 'backup', appliance: a }, PREDICTED_MS.backup);
  add(
    ['S7'],
    `Sync Now on ${a} and wait for it`,
    1,
    { type: 'sync', primary: a },
    PREDICTED_MS.sync,
  );
  add(
    ['S7', 'S4'],
    `Break the failover relationship (${a} ⇄ ${b})`,
    1,
    { type: 'break', primary: a },
    PREDICTED_MS.other,
    'no-failover',
  );
  install(first, 1, strategy === 'synchronous');
  if (strategy === 'synchronous') {
    add(
      ['S12'],
      `Verify ${a}: version, health and a session through the site`,
      1,
      { type: 'verify', appliances: [a], via: a, site: true },
      PREDICTED_MS.verify,
    );
  } else {
    add(
      ['S12', 'S18'],
      `Verify ${b} directly (as a hosts-file entry would): version, health and a session`,
      1,
      { type: 'verify', appliances: [b], via: b, site: false },
      PREDICTED_MS.verify,
    );
    add(
      ['S19', 'S3'],
      `Switch the site's traffic from ${a} to ${b} (${method})`,
      1,
      { type: 'switch-traffic', from: a, to: b },
      PREDICTED_MS.switch,
      'site-down',
    );
    add(
      ['S12', 'S20'],
      `Verify the site on ${b}: a session through the site hostname`,
      1,
      { type: 'verify', appliances: [b], via: b, site: true },
      PREDICTED_MS.verify,
    );
  }
  add(
    ['S4'],
    'Interim period: confirm the new version in production, then `gatehouse upgrade continue`',
    1,
    { type: 'pause', reason: 'interim period between the maintenance windows (S4)' },
    0,
    'no-failover',
  );
  install(second, 2, false);
  add(
    ['S12'],
    `Verify ${second} directly: version, health and a session`,
    2,
    { type: 'verify', appliances: [second], via: second, site: false },
    PREDICTED_MS.verify,
    'no-failover',
  );
  const [newPrimary, newBackup] = strategy === 'synchronous' ? [a, b] : [b, a];
  add(
    ['S14'],
    `Re-establish failover: ${newPrimary} primary, ${newBackup} backup`,
    2,
    { type: 'establish', primary: newPrimary, backup: newBackup },
    PREDICTED_MS.other,
  );
  add(
    ['S15', 'S16', 'S21'],
    `Sync Now on ${newPrimary}: sessions of both sides merge`,
    2,
    { type: 'sync', primary: newPrimary },
    PREDICTED_MS.sync,
  );
  add(
    ['S12'],
    `Verify both: versions, health and a session through the site`,
    2,
    { type: 'verify', appliances: [a, b], via: newPrimary, site: true },
    PREDICTED_MS.verify,
  );
  add(
    ['S16', 'S21'],
    'Compare counts and digests: nothing lost on any appliance',
    2,
    { type: 'integrity', phase: 'after' },
    PREDICTED_MS.other,
  );
  return steps;
}

/** The Atlas cluster runbook (S22–S30), with a backup primary node (S17) or without (S30). */
function clusterSteps(
  a: string,
  b: string | undefined,
  nodes: { name: string; region: string }[],
  pkgs: PlannedPackage[],
  input: PlanInput,
): Step[] {
  const { steps, add } = builder();
  const offline = offlineHalf(nodes);
  const rest = nodes.map((n) => n.name).filter((n) => !offline.includes(n));
  const installOn = (x: string, w: 0 | 1 | 2, s: string[], impact: Step['impact'] = 'none') =>
    add(
      s,
      `Install ${pkgs.map((p) => `${p.kind} ${p.version}`).join(', then ')} on ${x}`,
      w,
      { type: 'install', appliance: x },
      installMs(pkgs),
      impact,
    );
  // Traffic nodes of one half do not depend on each other: they install at the same time.
  const installAll = (names: string[], s: string[]) => {
    if (!names.length) return;
    add(
      s,
      `Install ${pkgs.map((p) => `${p.kind} ${p.version}`).join(', then ')} on ${names.join(', ')} (in parallel)`,
      1,
      { type: 'install-many', appliances: names },
      installMs(pkgs),
    );
  };
  const drain = (names: string[], w: 0 | 1 | 2, s: string[], primary: string) => {
    if (!names.length) return;
    add(
      s,
      `Stop ${names.join(', ')} accepting new client connections`,
      w,
      { type: 'set-accepting', primary, nodes: names, accepting: false },
      PREDICTED_MS.other,
    );
    add(
      s,
      drainTitle(names, input),
      w,
      { type: 'wait-drained', primary, nodes: names },
      PREDICTED_MS.drain,
    );
  };
  add(
    ['S16'],
    'Record counts and digests of the site data on every appliance',
    0,
    { type: 'integrity', phase: 'before' },
    PREDICTED_MS.other,
  );
  add(['S6'], `Back up ${a}`, 0, { type: 'backup', appliance: a }, PREDICTED_MS.backup);
  add(
    ['S10', 'S22'],
    `Stage the packages on ${a} (download, do not install)`,
    0,
    { type: 'stage', appliance: a },
    PREDICTED_MS.other,
  );
  add(
    ['S22', 'S30'],
    `Distribute to Cluster from ${a}`,
    0,
    { type: 'distribute', primary: a },
    PREDICTED_MS.other * nodes.length,
  );
  drain(offline, 0, ['S22'], a);
  if (b) {
    add(
      ['S7'],
      `Sync Now on ${a} and wait for it`,
      1,
      { type: 'sync', primary: a },
      PREDICTED_MS.sync,
    );
    add(
      ['S10'],
      `Stage the packages on ${b}`,
      1,
      { type: 'stage', appliance: b },
      PREDICTED_MS.other,
    );
    installOn(b, 1, ['S23', 'S9'], 'no-failover');
  }
  installAll(offline, ['S24', 'S9']);
  if (b) {
    add(
      ['S25'],
      `${a}: Become Backup even if the peer cannot be contacted`,
      1,
      { type: 'become-backup', appliance: a },
      PREDICTED_MS.roleChange,
      'site-down',
    );
    if (input.trafficSwitch !== 'shared-ip')
      add(
        ['S19'],
        `Switch the site's traffic from ${a} to ${b} (${input.trafficSwitch})`,
        1,
        { type: 'switch-traffic', from: a, to: b },
        PREDICTED_MS.switch,
        'site-down',
      );
    add(
      ['S25'],
      `${b}: Become Primary`,
      1,
      { type: 'become-primary', appliance: b },
      PREDICTED_MS.other,
    );
    add(
      ['S25'],
      `${a}: disable backup operations while it runs the older version`,
      1,
      { type: 'backup-operations', appliance: a, enabled: false },
      PREDICTED_MS.other,
    );
  } else installOn(a, 1, ['S23', 'S30', 'S9'], 'site-down');
  const p = b ?? a;
  add(
    ['S26'],
    `${p}: the upgraded traffic nodes accept new client connections`,
    1,
    { type: 'set-accepting', primary: p, nodes: offline, accepting: true },
    PREDICTED_MS.other,
  );
  add(
    ['S26'],
    `${p}: Cluster Sync Now`,
    1,
    { type: 'cluster-sync', primary: p },
    PREDICTED_MS.sync,
  );
  add(
    ['S12'],
    `Verify ${[p, ...offline].join(', ')}: versions, health and a session through the site`,
    1,
    { type: 'verify', appliances: [p, ...offline], via: p, site: true },
    PREDICTED_MS.verify,
  );
  drain(rest, 1, ['S27'], p);
  installAll(rest, ['S27', 'S9']);
  if (rest.length)
    add(
      ['S27'],
      `${p}: the rest of the traffic nodes accept new client connections`,
      1,
      { type: 'set-accepting', primary: p, nodes: rest, accepting: true },
      PREDICTED_MS.other,
    );
  if (b) {
    installOn(a, 1, ['S28', 'S9'], 'no-failover');
    add(
      ['S29'],
      `${a}: enable backup operations again`,
      1,
      { type: 'backup-operations', appliance: a, enabled: true },
      PREDICTED_MS.other,
    );
    add(
      ['S29', 'S17', 'S21'],
      `Sync Now on ${b}: failover restored, ${a} is the backup primary node`,
      1,
      { type: 'sync', primary: b },
      PREDICTED_MS.sync,
    );
  }
  add(
    ['S29'],
    `${p}: Cluster Sync Now`,
    1,
    { type: 'cluster-sync', primary: p },
    PREDICTED_MS.sync,
  );
  add(
    ['S12'],
    'Verify every appliance: versions, health and a session through the site',
    1,
    {
      type: 'verify',
      appliances: [p, ...(b ? [a] : []), ...nodes.map((n) => n.name)],
      via: p,
      site: true,
    },
    PREDICTED_MS.verify,
  );
  add(
    ['S16', 'S21'],
    'Compare counts and digests: nothing lost on any appliance',
    1,
    { type: 'integrity', phase: 'after' },
    PREDICTED_MS.other,
  );
  return steps;
}
