import type { PlannedPackage, Step, Strategy } from './plan-types.js';
import { PREDICTED_MS, installMs } from './plan-input.js';
import { builder } from './runbook-builder.js';

/** The synchronous (S2) and asynchronous (S3) runbooks of a failover pair, in two windows (S4). */
export function pairSteps(
  strategy: Strategy,
  a: string,
  b: string,
  pkgs: PlannedPackage[],
  method: string,
): Step[] {
  const { steps, add, integrity, syncFirst } = builder();
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
  integrity('before', 1);
  add(['S6'], `Back up ${a}`, 1, { type: 'backup', appliance: a }, PREDICTED_MS.backup);
  syncFirst(a, 1);
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
  integrity('after', 2);
  return steps;
}
