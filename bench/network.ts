/**
 * `npm run bench -- network` (root, Linux): failover of a pair over a real network, beside
 * keepalived (VRRP) in the same two namespaces, in the same run. A netns lab pair with automatic
 * failover and a witness; a prober in the `client` namespace tries a TLS handshake on the site
 * address every 10 ms and records which appliance answered.
 *
 * - unplanned failover: the primary's link is cut (`lab fault isolate`) → the first handshake
 *   the backup answers on the VIP; anchor keepalived with Debian's defaults (advert_int 1) and
 *   tuned (advert_int 0.1), the same fault, its own VIP and a bare TLS server in each namespace;
 * - planned switch: Become Primary on the backup → the longest gap between answered handshakes;
 *   anchor: keepalived's priority change (SIGHUP with a higher priority on the backup).
 *
 * Each switch's steps are printed after the figures (bench/network-timeline.ts).
 * GATEHOUSE_BENCH_NETWORK_TUNED="lease,unreachable" sets the tuned pair's lease and unreachable
 * time in seconds (default 0.4,0.3: keepalived's tuned anchor's counterpart, see below).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LabFaults } from '../src/lab/faults.js';
import { callFrom, targets, type Target } from '../src/lab/lab-client.js';
import { labDown } from '../src/lab/lifecycle.js';
import { sweepNamespaces } from '../src/lab/netns.js';
import { hostOf } from '../src/lab/network-plan.js';
import { GATEHOUSE_BIN } from '../src/lab/processes.js';
import { readState } from '../src/lab/state.js';
import { automaticWithWitness, startWitnessIn } from '../src/lab/witness.js';
import { until } from '../src/shared/until.js';
import { keepalivedRun } from './network-keepalived.js';
import { applianceEvents, gapTimeline, type LogEvent, type TimedEvent } from './network-gap.js';
import { Prober, type Probes } from './network-prober.js';
import {
  addressLine,
  breakdown,
  IpMonitor,
  macOf,
  neighLine,
  witnessLog,
  type Mark,
} from './network-timeline.js';
import { Cleanup, figureTable, machine, median, type Figure } from './support.js';

const exec = promisify(execFile);
/** Repetitions of each switch (GATEHOUSE_BENCH_NETWORK_REPS=1 for a short run). */
const REPS = Math.max(1, Number(process.env.GATEHOUSE_BENCH_NETWORK_REPS ?? 3));
/**
 * The pair's automatic-failover settings (s): as the earlier figures (lease 1 s), and tuned, as
 * keepalived's tuned anchor is (GATEHOUSE_BENCH_NETWORK_TUNED="lease,unreachable"). Tuned is
 * VRRP's `advert_int 0.1` in Gatehouse's terms: the primary renews every L/4 = 0.1 s (as the
 * master adverts every 0.1 s), and the backup may take over once 4 renewals were missed (L =
 * 0.4 s), as VRRP's backup does after its master-down interval of 3 adverts plus its skew
 * (3.6 adverts at priority 100, 0.36 s). Both then detect the loss 0.75–1 times that after it.
 */
const SETTINGS = { leaseSeconds: 1, unreachableForSeconds: 0.5 };
const [TUNED_LEASE, TUNED_UNREACHABLE] = (process.env.GATEHOUSE_BENCH_NETWORK_TUNED ?? '0.4,0.3')
  .split(',')
  .map(Number);
const TUNED = { leaseSeconds: TUNED_LEASE!, unreachableForSeconds: TUNED_UNREACHABLE! };

export async function runNetworkBenchmark(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('network: needs root (network namespaces); run it as root');
    process.exitCode = 2;
    return;
  }
  await new Cleanup().around(async (cleanup) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-net-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    const dir = path.join(root, 'lab');
    const logTo = (name: string) => openSync(path.join(root, `${name}.log`), 'a');
    /** The anchors' and keepalived's own words, when their VIP does not answer. */
    const logs = () =>
      readdirSync(root)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${readFileSync(path.join(root, f), 'utf8').slice(-2_000)}`)
        .join('\n');
    cleanup.add(async () => {
      const s = readState(dir);
      await labDown(dir, { purge: false, graceMs: 5_000 }).catch(() => undefined);
      if (s?.network) await sweepNamespaces(s.network.prefix);
    });
    const loadBefore = machine().loadAverage1m;
    await exec(
      process.execPath,
      [GATEHOUSE_BIN, 'lab', 'up', '--network', 'netns', '--topology', 'pair', '--dir', dir].concat(
        ['--long-sessions', '0', '--session-rate', '0'],
      ),
      { timeout: 300_000 },
    );
    const state = readState(dir)!;
    const faults = new LabFaults(dir);
    const password = readFileSync(
      path.join(dir, state.credentials.login.passwordFile),
      'utf8',
    ).trim();
    const [a, b] = targets(state) as [Target, Target];
    const call = (t: Target, method: string, p: string, json?: unknown) =>
      callFrom(state, password, t, method, p, json);
    const net = state.network!;
    const nsOf = (t: Target) => hostOf(net, t.name)!.ns;

    // The kernel's word on each move: addresses in both appliances, neighbours at the router.
    const addrs = new Map([a, b].map((t) => [t.name, new IpMonitor(nsOf(t), 'address')]));
    const neigh = new IpMonitor(net.routerNs, 'neigh');
    cleanup.add(() => [...addrs.values(), neigh].forEach((m) => m.stop()));
    const macs = new Map([a, b].map((t) => [t.name, '']));
    for (const t of [a, b]) macs.set(t.name, await macOf(nsOf(t)));
    /** The steps every switch shares, from `t0`, moving `vip` to `to`. */
    const marks = (vip: string, t0: number, probes: Probes, to: Target): Mark[] => {
      const from = to === a ? b : a;
      const rel = (at: number | undefined, step: string) =>
        at === undefined ? [] : [{ step, at: at - t0 }];
      const firstTo = probes.seen.find(([t, fp]) => t >= t0 && fp === to.fingerprint)?.[0];
      const lastFrom = probes.seen
        .filter(([t, fp]) => t >= t0 && fp === from.fingerprint && t < (firstTo ?? Infinity))
        .at(-1)?.[0];
      return [
        ...rel(
          addrs.get(from.name)!.first(t0, addressLine(vip, true)),
          'old primary removed the address',
        ),
        ...rel(
          addrs.get(to.name)!.first(t0, addressLine(vip, false)),
          'new primary added the address',
        ),
        ...rel(
          neigh.first(t0, neighLine(vip, macs.get(to.name)!)),
          "the router's entry → the new primary",
        ),
        ...rel(
          probes.errors.find(([t, c]) => t >= t0 && c === 'ECONNREFUSED')?.[0],
          'first refusal on the address',
        ),
        ...rel(lastFrom, 'last handshake answered by the old primary'),
        ...rel(firstTo, 'first handshake answered by the new primary'),
      ];
    };
    /** The appliances' own events since `t0` as marks (one per action, the first). */
    const eventMarks = async (t0: number, to: Target, wanted: string[]): Promise<Mark[]> => {
      const out: Mark[] = [];
      for (const t of [a, b]) {
        const who = t === to ? 'new primary' : 'old primary';
        const r = await call(t, 'GET', `/api/login/logs?since=${t0}&pageSize=200`);
        const items = ((r.body.items ?? []) as LogEvent[]).sort((x, y) => x.ts - y.ts);
        for (const action of wanted) {
          const e = items.find((x) => x.action === action);
          if (!e) continue;
          out.push({ step: `${who}: ${action.replace('failover.', '')}`, at: e.ts - t0 });
          const since = e.details.since ?? e.details.fencedSince;
          if (typeof since === 'string')
            out.push({
              step: `${who}: last vote ran out (its since)`,
              at: Date.parse(since) - t0,
            });
          if (action.endsWith('withheld'))
            out.push({
              step: `  (${who} withheld: ${String(e.details.reason).split(', but ')[1]?.slice(0, 48)}…)`,
              at: e.ts - t0,
            });
        }
      }
      return out;
    };

    const witness = await startWitnessIn(state, 'updates', 8443);
    cleanup.add(() => witness.child.kill('SIGKILL'));
    const granted = witnessLog(witness.child.stdout!);
    const configure = async (c: typeof SETTINGS) => {
      for (const t of [a, b])
        await call(
          t,
          'PUT',
          '/api/login/failover/automatic',
          automaticWithWitness(witness, c.leaseSeconds, c.unreachableForSeconds),
        );
    };
    const servingPrimary = async (): Promise<[Target, Target]> => {
      let pair: [Target, Target] | undefined;
      await until(
        async () => {
          const [ra, rb] = await Promise.all([a, b].map((t) => call(t, 'GET', '/health/primary')));
          if (ra!.status === 200 && rb!.body.role === 'backup') pair = [a, b];
          if (rb!.status === 200 && ra!.body.role === 'backup') pair = [b, a];
          return pair !== undefined;
        },
        90_000,
        'one serving primary and one backup',
      );
      return pair!;
    };

    // Gatehouse: unplanned (link cut) at both settings, then planned (Become Primary).
    const vip = net.vip;
    let lastHeal = 0;
    const unplanned = async (c: typeof SETTINGS) => {
      await configure(c);
      const run = { ms: [] as number[], marks: [] as Mark[][] };
      for (let i = 0; i < REPS; i++) {
        const [primary, backup] = await servingPrimary();
        const prober = new Prober(state, vip, 443);
        cleanup.add(() => prober.stop());
        await prober.firstBy(primary.fingerprint, Date.now());
        const t0 = Date.now();
        await faults.isolate(primary.name);
        run.ms.push(await prober.firstBy(backup.fingerprint, t0));
        await faults.heal({ all: true });
        lastHeal = Date.now();
        prober.stop();
        const grant = granted.find(
          (g) => g.at >= t0 && g.event === 'granted' && g.to === backup.name,
        );
        run.marks.push([
          ...marks(vip, t0, prober, backup),
          ...(grant
            ? [{ step: 'the witness granted the new primary the lease', at: grant.at - t0 }]
            : []),
          ...(await eventMarks(t0, backup, [
            'failover.fenced',
            'failover.automatic-takeover-withheld',
            'failover.automatic-takeover',
          ])),
        ]);
      }
      return run;
    };
    const ghTuned = await unplanned(TUNED);
    const ghUn = await unplanned(SETTINGS);
    const ghUnplanned = ghUn.ms;
    const ghPlanned: number[] = [];
    const ghPlannedMarks: Mark[][] = [];
    const ghPlannedGaps: string[] = [];
    for (let i = 0; i < REPS; i++) {
      const [primary, backup] = await servingPrimary();
      const paired = Date.now();
      const prober = new Prober(state, vip, 443);
      cleanup.add(() => prober.stop());
      await prober.firstBy((await servingPrimary())[0].fingerprint, Date.now());
      const t0 = Date.now();
      const r = await call(backup, 'POST', '/api/login/failover/become-primary', {});
      const answered = Date.now();
      if (r.status !== 200) throw new Error(`Become Primary: ${JSON.stringify(r.body)}`);
      await prober.firstBy(backup.fingerprint, t0);
      await until(() => Date.now() > t0 + 1_000, 5_000, 'a second of handshakes after the switch');
      const gap = prober.longestGap(t0, Date.now());
      ghPlanned.push(gap.to - gap.from);
      prober.stop();
      // From the last heal when it is recent (run 1: the pair just back together), else 5 s.
      const since = Math.min(t0 - 5_000, Math.max(lastHeal, t0 - 30_000));
      const logged: TimedEvent[] = [
        { at: t0, what: 'Become Primary sent to the backup (admin client starting)' },
        { at: answered, what: 'Become Primary answered' },
        { at: lastHeal, what: "the unplanned runs' last heal" },
        { at: paired, what: 'the bench saw one serving primary and one backup' },
      ];
      for (const [t, who] of [
        [primary, `${primary.name} (primary)`],
        [backup, `${backup.name} (backup)`],
      ] as const) {
        const logs = await call(t, 'GET', `/api/login/logs?since=${since}&pageSize=200`);
        logged.push(...applianceEvents(who, (logs.body.items ?? []) as LogEvent[]));
      }
      const names = new Map([
        [primary.fingerprint, `${primary.name} (primary)`],
        [backup.fingerprint, `${backup.name} (backup)`],
      ]);
      ghPlannedGaps.push(
        gapTimeline(`planned run ${i + 1}`, t0, gap, prober, names, logged, since),
      );
      // From the start of the gap: the admin client's own start-up comes before it.
      const steps = [
        ...marks(vip, t0, prober, backup),
        { step: 'Become Primary answered (to the admin client)', at: answered - t0 },
        ...(await eventMarks(t0, backup, ['failover.became-backup', 'failover.became-primary'])),
      ];
      const gapFrom = steps.find((m) => m.step.startsWith('last handshake'))?.at ?? 0;
      ghPlannedMarks.push(steps.map((m) => ({ ...m, at: m.at - gapFrom })));
    }
    for (const t of [a, b])
      await call(t, 'PUT', '/api/login/failover/automatic', {
        enabled: false,
        unreachableForSeconds: 60,
        checkAddresses: [],
      });

    // keepalived in the same two namespaces: a bare TLS server in each on its own port.
    const ctx = { state, root, reps: REPS, faults, cleanup, pair: [a, b] as [Target, Target] };
    const kaDefault = await keepalivedRun({ ...ctx, logTo, logs, marks }, 1);
    const kaTuned = await keepalivedRun({ ...ctx, logTo, logs, marks }, 0.1);

    const figures: Figure[] = [
      {
        figure:
          'unplanned failover (link cut) → VIP answers from the backup, vs keepalived defaults',
        unit: 'ms',
        gatehouse: median(ghUnplanned),
        anchor: median(kaDefault.unplanned),
        goal: `< 1×: ${median(ghUnplanned) < median(kaDefault.unplanned) ? 'met' : 'NOT met'}`,
      },
      {
        figure: `unplanned failover (link cut), lease ${SETTINGS.leaseSeconds} s, vs keepalived advert_int 0.1`,
        unit: 'ms',
        gatehouse: median(ghUnplanned),
        anchor: median(kaTuned.unplanned),
      },
      {
        figure: `unplanned failover (link cut), tuned: lease ${TUNED.leaseSeconds} s, unreachable ${TUNED.unreachableForSeconds} s, vs keepalived advert_int 0.1`,
        unit: 'ms',
        gatehouse: median(ghTuned.ms),
        anchor: median(kaTuned.unplanned),
        goal: `≤ 1.5×: ${median(ghTuned.ms) <= 1.5 * median(kaTuned.unplanned) ? 'met' : 'NOT met'}`,
      },
      {
        figure:
          'planned switch (Become Primary) longest client gap, vs keepalived priority change (defaults)',
        unit: 'ms',
        gatehouse: median(ghPlanned),
        anchor: median(kaDefault.planned),
        goal: `< 100 ms: ${median(ghPlanned) < 100 ? 'met' : 'NOT met'}`,
      },
      {
        figure: 'planned switch, vs keepalived priority change (advert_int 0.1)',
        unit: 'ms',
        gatehouse: median(ghPlanned),
        anchor: median(kaTuned.planned),
      },
    ];
    console.log(figureTable(figures));
    console.log(
      [
        breakdown(
          `Gatehouse unplanned (lease ${SETTINGS.leaseSeconds} s, unreachable ${SETTINGS.unreachableForSeconds} s)`,
          ghUn.marks,
        ),
        breakdown(
          `Gatehouse unplanned, tuned (lease ${TUNED.leaseSeconds} s, unreachable ${TUNED.unreachableForSeconds} s)`,
          ghTuned.marks,
        ),
        breakdown(
          'Gatehouse planned (Become Primary), from the last handshake the old primary answered',
          ghPlannedMarks,
        ),
        `Gatehouse planned (Become Primary), the prober around each run's longest gap\n${ghPlannedGaps.join('\n')}`,
        breakdown('keepalived defaults, unplanned', kaDefault.unplannedMarks),
        breakdown('keepalived defaults, planned', kaDefault.plannedMarks),
        breakdown('keepalived advert_int 0.1, unplanned', kaTuned.unplannedMarks),
        breakdown('keepalived advert_int 0.1, planned', kaTuned.plannedMarks),
      ].join('\n\n'),
    );
    console.log(
      JSON.stringify({
        samples: {
          ghUnplanned,
          ghTunedUnplanned: ghTuned.ms,
          ghPlanned,
          kaDefault: { unplanned: kaDefault.unplanned, planned: kaDefault.planned },
          kaTuned: { unplanned: kaTuned.unplanned, planned: kaTuned.planned },
        },
        settings: { standard: SETTINGS, tuned: TUNED },
        machine: { ...machine(), loadAverage1mBefore: loadBefore },
      }),
    );
  });
}
