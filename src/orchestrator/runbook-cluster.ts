import { drainTitle } from './drain.js';
import type { PlannedPackage, Step } from './plan-types.js';
import { PREDICTED_MS, installMs, offlineHalf, type PlanInput } from './plan-input.js';
import { builder } from './runbook-builder.js';

/** The Atlas cluster runbook (S22–S30), with a backup primary node (S17) or without (S30). */
export function clusterSteps(
  a: string,
  b: string | undefined,
  nodes: { name: string; region: string }[],
  pkgs: PlannedPackage[],
  input: PlanInput,
): Step[] {
  const { steps, add, integrity, syncFirst } = builder();
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
  integrity('before', 0);
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
    syncFirst(a, 1);
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
    // The name leads to b first, then a hands the role over (b takes it in the same call): a
    // client's kept-alive connection to a is served until then, and its next connection finds
    // b primary. The other way round, every connection in between found no primary.
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
      `${a}: Become Backup even if the peer cannot be contacted`,
      1,
      { type: 'become-backup', appliance: a },
      PREDICTED_MS.roleChange,
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
  integrity('after', 1);
  return steps;
}
