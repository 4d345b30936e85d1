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
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { LabFaults } from '../src/lab/faults.js';
import { callFrom, targets, type Target } from '../src/lab/lab-client.js';
import { labDown } from '../src/lab/lifecycle.js';
import { nsExec, sweepNamespaces } from '../src/lab/netns.js';
import { hostOf } from '../src/lab/network-plan.js';
import { GATEHOUSE_BIN } from '../src/lab/processes.js';
import { readState, type LabState } from '../src/lab/state.js';
import { automaticWithWitness, startWitnessIn } from '../src/lab/witness.js';
import { until } from '../src/shared/until.js';
import { Cleanup, figureTable, machine, median, type Figure } from './support.js';

const exec = promisify(execFile);
const ANCHOR_SCRIPT = fileURLToPath(new URL('./https-anchor.js', import.meta.url));
/** Repetitions of each switch (GATEHOUSE_BENCH_NETWORK_REPS=1 for a short run). */
const REPS = Math.max(1, Number(process.env.GATEHOUSE_BENCH_NETWORK_REPS ?? 3));
const KA_VIP = '198.18.1.20';
const KA_PORT = 8444;
const LEASE_S = 1;
const UNREACHABLE_S = 0.5;

/** Handshakes every 10 ms on host:port; each answered one printed as "ms fingerprint". */
const PROBER = `
const tls = require('node:tls');
const [host, port] = [process.argv[1], Number(process.argv[2])];
setInterval(() => {
  const s = tls.connect({ host, port, rejectUnauthorized: false, timeout: 500 }, () => {
    console.log(Date.now() + ' ' + s.getPeerCertificate().fingerprint256);
    s.destroy();
  });
  s.on('timeout', () => s.destroy());
  s.on('error', () => undefined);
}, 10);`;

class Prober {
  readonly seen: [number, string][] = [];
  private readonly child: ChildProcess;

  constructor(state: LabState, host: string, port: number) {
    const ns = hostOf(state.network!, 'client')!.ns;
    const [file, ...args] = nsExec(ns, [process.execPath, '-e', PROBER, host, String(port)]);
    this.child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      const [t, fp] = l.split(' ');
      this.seen.push([Number(t), fp!]);
    });
  }

  /** The first answer by `fingerprint` after `from` (ms since `from`). */
  async firstBy(fingerprint: string, from: number, timeoutMs = 60_000): Promise<number> {
    let at: number | undefined;
    await until(
      () => (at = this.seen.find(([t, fp]) => t >= from && fp === fingerprint)?.[0]) !== undefined,
      timeoutMs,
      'the backup to answer on the VIP',
      5,
    );
    return at! - from;
  }

  /** The longest time without an answered handshake between `from` and `to`. */
  longestGap(from: number, to: number): number {
    const ts = [from, ...this.seen.map(([t]) => t).filter((t) => t > from && t < to), to];
    return Math.max(...ts.slice(1).map((t, i) => t - ts[i]!));
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/** Sub-second adverts need VRRP version 3 (version 2, the default, rounds them up to 1 s). */
const kaConfig = (priority: number, advert: number) => `vrrp_instance gatehouse_bench {
  state BACKUP${advert < 1 ? '\n  version 3' : ''}
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int ${advert}
  virtual_ipaddress {
    ${KA_VIP}/32 dev eth0
  }
}
`;

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

    const witness = await startWitnessIn(state, 'updates', 8443);
    cleanup.add(() => witness.child.kill('SIGKILL'));
    for (const t of [a, b])
      await call(
        t,
        'PUT',
        '/api/login/failover/automatic',
        automaticWithWitness(witness, LEASE_S, UNREACHABLE_S),
      );
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

    // Gatehouse: unplanned (link cut), then planned (Become Primary on the backup).
    const ghUnplanned: number[] = [];
    const ghPlanned: number[] = [];
    const vip = state.network!.vip;
    for (let i = 0; i < REPS; i++) {
      const [primary, backup] = await servingPrimary();
      const prober = new Prober(state, vip, 443);
      cleanup.add(() => prober.stop());
      await prober.firstBy(primary.fingerprint, Date.now());
      const t0 = Date.now();
      await faults.isolate(primary.name);
      ghUnplanned.push(await prober.firstBy(backup.fingerprint, t0));
      await faults.heal({ all: true });
      prober.stop();
    }
    for (let i = 0; i < REPS; i++) {
      const [, backup] = await servingPrimary();
      const prober = new Prober(state, vip, 443);
      cleanup.add(() => prober.stop());
      await prober.firstBy((await servingPrimary())[0].fingerprint, Date.now());
      const t0 = Date.now();
      const r = await call(backup, 'POST', '/api/login/failover/become-primary', {});
      if (r.status !== 200) throw new Error(`Become Primary: ${JSON.stringify(r.body)}`);
      await prober.firstBy(backup.fingerprint, t0);
      await until(() => Date.now() > t0 + 1_000, 5_000, 'a second of handshakes after the switch');
      ghPlanned.push(prober.longestGap(t0, Date.now()));
      prober.stop();
    }
    for (const t of [a, b])
      await call(t, 'PUT', '/api/login/failover/automatic', {
        enabled: false,
        unreachableForSeconds: 60,
        checkAddresses: [],
      });

    // keepalived in the same two namespaces: a bare TLS server in each on KA_PORT.
    const kaRun = async (advert: number) => {
      const procs: ChildProcess[] = [];
      const nsOf = (t: Target) => hostOf(state.network!, t.name)!.ns;
      for (const t of [a, b]) {
        const appDir = state.appliances.find((x) => x.name === t.name)!.dataDir;
        const [file, ...args] = nsExec(nsOf(t), [process.execPath, ANCHOR_SCRIPT]);
        // The appliance's own certificate: the prober tells the two apart by its fingerprint.
        const server = spawn(file!, args, {
          stdio: ['ignore', logTo(`anchor-${t.name}`), logTo(`anchor-${t.name}`)],
          env: {
            ...process.env,
            ANCHOR_LISTEN: `0.0.0.0:${KA_PORT}`,
            ANCHOR_TLS_KEY: path.join(appDir, 'tls', 'key.pem'),
            ANCHOR_TLS_CERT: path.join(appDir, 'tls', 'cert.pem'),
          },
        });
        procs.push(server);
      }
      const ka = (t: Target, priority: number) => {
        const conf = path.join(root, `ka-${t.name}.conf`);
        writeFileSync(conf, kaConfig(priority, advert));
        const pid = (k: string) => path.join(root, `ka-${t.name}-${k}.pid`);
        const [file, ...args] = nsExec(nsOf(t), [
          'keepalived',
          '--dont-fork',
          '--log-console',
          '--vrrp',
          '--use-file',
          conf,
          '--pid',
          pid('main'),
          '--vrrp_pid',
          pid('vrrp'),
          '--checkers_pid',
          pid('checkers'),
        ]);
        const log = logTo(`ka-${t.name}`);
        const p = spawn(file!, args, { stdio: ['ignore', log, log] });
        procs.push(p);
        return { conf, p };
      };
      /**
       * Each measurement starts keepalived afresh, A the master (priority 150), B the backup:
       * a master that stayed master through a cut sends no gratuitous ARP when it wins again,
       * so the router would keep B's address for the VIP until its neighbour entry expired.
       */
      const fresh = async () => {
        const pair = { a: ka(a, 150), b: ka(b, 100) };
        const prober = new Prober(state, KA_VIP, KA_PORT);
        cleanup.add(() => prober.stop());
        await prober.firstBy(a.fingerprint, Date.now(), 60_000).catch((e: Error) => {
          throw new Error(`keepalived's VIP: ${e.message}\n${logs()}`);
        });
        const stop = async () => {
          prober.stop();
          for (const k of [pair.a.p, pair.b.p]) {
            k.kill('SIGTERM'); // keepalived removes its VIP as it stops
            await until(
              () => k.exitCode !== null || k.signalCode !== null,
              10_000,
              'keepalived to stop',
            );
          }
        };
        return { ...pair, prober, stop };
      };
      cleanup.add(() => procs.forEach((p) => p.kill('SIGKILL')));
      const unplanned: number[] = [];
      const planned: number[] = [];
      for (let i = 0; i < REPS; i++) {
        const cut = await fresh();
        const t0 = Date.now();
        await faults.isolate(a.name);
        unplanned.push(await cut.prober.firstBy(b.fingerprint, t0));
        await faults.heal({ all: true });
        await cut.stop();
        // Planned: the backup's priority above the master's, applied by a reload (SIGHUP).
        const move = await fresh();
        const t1 = Date.now();
        writeFileSync(move.b.conf, kaConfig(200, advert));
        move.b.p.kill('SIGHUP');
        await move.prober.firstBy(b.fingerprint, t1);
        await until(() => Date.now() > t1 + 1_000, 5_000, 'a second after the switch');
        planned.push(move.prober.longestGap(t1, Date.now()));
        await move.stop();
      }
      procs.forEach((p) => p.kill('SIGKILL'));
      return { unplanned, planned };
    };
    const kaDefault = await kaRun(1);
    const kaTuned = await kaRun(0.1);

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
        figure: 'unplanned failover (link cut), vs keepalived advert_int 0.1',
        unit: 'ms',
        gatehouse: median(ghUnplanned),
        anchor: median(kaTuned.unplanned),
        goal: `≤ 1.5×: ${median(ghUnplanned) <= 1.5 * median(kaTuned.unplanned) ? 'met' : 'NOT met'}`,
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
      JSON.stringify({
        samples: { ghUnplanned, ghPlanned, kaDefault, kaTuned },
        settings: { leaseSeconds: LEASE_S, unreachableForSeconds: UNREACHABLE_S },
        machine: { ...machine(), loadAverage1mBefore: loadBefore },
      }),
    );
  });
}
