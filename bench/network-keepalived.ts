/**
 * The anchor of `npm run bench -- network`: keepalived (VRRP) in the same two namespaces as
 * the pair, moving its own address between two bare Node TLS servers that hold the appliances'
 * certificates, with the same faults and the same prober as the pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { LabFaults } from '../src/lab/faults.js';
import type { Target } from '../src/lab/lab-client.js';
import { nsExec } from '../src/lab/netns.js';
import { hostOf } from '../src/lab/network-plan.js';
import type { LabState } from '../src/lab/state.js';
import { until } from '../src/shared/until.js';
import { Prober, type Probes } from './network-prober.js';
import type { Mark } from './network-timeline.js';
import type { Cleanup } from './support.js';

const ANCHOR_SCRIPT = fileURLToPath(new URL('./https-anchor.js', import.meta.url));
export const KA_VIP = '198.18.1.20';
const KA_PORT = 8444;

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

export interface KeepalivedContext {
  state: LabState;
  root: string;
  reps: number;
  faults: LabFaults;
  cleanup: Cleanup;
  pair: [Target, Target];
  logTo: (name: string) => number;
  logs: () => string;
  /** The steps of one switch from `t0` (address moves, the router's entry, the prober). */
  marks: (vip: string, t0: number, probes: Probes, to: Target) => Mark[];
}

export interface KeepalivedRun {
  unplanned: number[];
  planned: number[];
  unplannedMarks: Mark[][];
  plannedMarks: Mark[][];
}

/** keepalived with `advert` s between adverts: REPS unplanned (link cut) and planned switches. */
export async function keepalivedRun(c: KeepalivedContext, advert: number): Promise<KeepalivedRun> {
  const { state, root, faults, cleanup } = c;
  const [a, b] = c.pair;
  const procs: ChildProcess[] = [];
  const nsOf = (t: Target) => hostOf(state.network!, t.name)!.ns;
  for (const t of [a, b]) {
    const appDir = state.appliances.find((x) => x.name === t.name)!.dataDir;
    const [file, ...args] = nsExec(nsOf(t), [process.execPath, ANCHOR_SCRIPT]);
    // The appliance's own certificate: the prober tells the two apart by its fingerprint.
    const log = c.logTo(`anchor-${t.name}`);
    const server = spawn(file!, args, {
      stdio: ['ignore', log, log],
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
    const log = c.logTo(`ka-${t.name}`);
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
      throw new Error(`keepalived's VIP: ${e.message}\n${c.logs()}`);
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
  const run: KeepalivedRun = { unplanned: [], planned: [], unplannedMarks: [], plannedMarks: [] };
  for (let i = 0; i < c.reps; i++) {
    const cut = await fresh();
    const t0 = Date.now();
    await faults.isolate(a.name);
    run.unplanned.push(await cut.prober.firstBy(b.fingerprint, t0));
    run.unplannedMarks.push(c.marks(KA_VIP, t0, cut.prober, b));
    await faults.heal({ all: true });
    await cut.stop();
    // Planned: the backup's priority above the master's, applied by a reload (SIGHUP).
    const move = await fresh();
    const t1 = Date.now();
    writeFileSync(move.b.conf, kaConfig(200, advert));
    move.b.p.kill('SIGHUP');
    await move.prober.firstBy(b.fingerprint, t1);
    await until(() => Date.now() > t1 + 1_000, 5_000, 'a second after the switch');
    const gap = move.prober.longestGap(t1, Date.now());
    run.planned.push(gap.to - gap.from);
    run.plannedMarks.push(c.marks(KA_VIP, t1, move.prober, b));
    await move.stop();
  }
  procs.forEach((p) => p.kill('SIGKILL'));
  return run;
}
