import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabFaults } from '../src/lab/faults.js';
import { until } from './support/appliance.js';
import { expectHostAsBefore, hostNetwork, upNetnsLab, type NetnsLab } from './support/netns-lab.js';
import {
  ROLE_ACTIONS,
  seeded,
  servingIntervals,
  startWriter,
  type Ack,
  type RoleEvent,
} from './support/splitbrain.js';
import { callFrom, targets, type Target } from '../src/lab/lab-client.js';
import type { LabState } from '../src/lab/state.js';
import { automaticWithWitness, startWitnessIn } from '../src/lab/witness.js';

/*
 * Split brain, Jepsen-style (issue 16, test 2): a pair in its own namespaces with automatic
 * failover and a witness; a client outside (`client`) and one on the prober's host write users
 * and files continuously to whichever appliance accepts them, recording every acknowledged
 * write; faults at random moments, back to back: the next fault strikes 0.3–2.3 s after the
 * heal, whether or not the backup has pulled what the primary acknowledged alone meanwhile
 * (the witness refuses the lease to a backup that has not: docs/failover.md). Each seed is
 * printed; GATEHOUSE_SPLITBRAIN_SEED=1325011767,42 repeats those seeds, one after another in
 * the same lab. The suite runs one seed, each fault once (about 3 minutes with the lab's
 * start); GATEHOUSE_SPLITBRAIN_SEEDS=N runs N seeds, GATEHOUSE_SPLITBRAIN_RUNS=N each fault N
 * times per seed, in random order.
 */
const LEASE_S = 2;
const UNREACHABLE_S = 2;
/** Longer than a takeover needs (unreachable time + lease + a heartbeat) on a loaded machine. */
const HOLD_MS = 8_000;
const RUNS = Math.max(1, Number(process.env.GATEHOUSE_SPLITBRAIN_RUNS ?? 1));
const SEEDS = process.env.GATEHOUSE_SPLITBRAIN_SEED
  ? process.env.GATEHOUSE_SPLITBRAIN_SEED.split(',').map(Number)
  : Array.from(
      { length: Math.max(1, Number(process.env.GATEHOUSE_SPLITBRAIN_SEEDS ?? 1)) },
      (_, i) => (Date.now() + i * 7_919) % 2 ** 31,
    );
const FAULTS = [
  'partition-pair',
  'isolate-primary',
  'isolate-backup',
  'freeze-primary',
  'partition-during-sync',
] as const;

let lab: NetnsLab | undefined;
let before: Awaited<ReturnType<typeof hostNetwork>>;
let witness: Awaited<ReturnType<typeof startWitnessIn>> | undefined;

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  before = await hostNetwork();
  lab = await upNetnsLab(['--topology', 'pair', '--long-sessions', '0', '--session-rate', '0']);
}, 300_000);

afterAll(async () => {
  witness?.child.kill('SIGKILL');
  if (!lab) return;
  const prefix = lab.state().network!.prefix;
  await lab.down();
  await expectHostAsBefore(before, prefix);
}, 120_000);

describe('split brain, Jepsen-style, over a real network with a witness', () => {
  let state: LabState;
  let password: string;
  let a: Target;
  let b: Target;
  const call = (t: Target, method: string, p: string, json?: unknown) =>
    callFrom(state, password, t, method, p, json);

  beforeAll(async () => {
    state = lab!.state();
    const file = path.join(state.dir, state.credentials.login.passwordFile);
    password = readFileSync(file, 'utf8').trim();
    [a, b] = targets(state) as [Target, Target];
    witness = await startWitnessIn(state, 'updates', 8443);
    for (const t of [a, b]) {
      const set = await call(
        t,
        'PUT',
        '/api/login/failover/automatic',
        automaticWithWitness(witness, LEASE_S, UNREACHABLE_S),
      );
      expect(set.status, JSON.stringify(set.body)).toBe(200);
    }
  }, 120_000);

  const roleOf = async (t: Target) => {
    const h = await call(t, 'GET', '/health/primary');
    return h.status === 0 ? 'unreachable' : String(h.body.role) + (h.status === 200 ? '' : '?');
  };
  /** One serving primary and one backup again, each answering; returns [primary, backup]. */
  const settled = async (): Promise<[Target, Target]> => {
    let pair: [Target, Target] | undefined;
    let last = '';
    await until(
      async () => {
        const [ra, rb] = await Promise.all([roleOf(a), roleOf(b)]);
        last = `${a.name} ${ra}, ${b.name} ${rb}`;
        if (ra === 'primary' && rb === 'backup?') pair = [a, b];
        if (rb === 'primary' && ra === 'backup?') pair = [b, a];
        return pair !== undefined;
      },
      90_000,
      'one serving primary and one backup',
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    return pair!;
  };

  it.each(SEEDS)(
    `no two appliances accept writes as primary at once and no acknowledged write is lost (each fault ${RUNS}×, seed %i)`,
    async (seed) => {
      const faults = new LabFaults(state.dir);
      const random = seeded(seed);
      console.log(`split-brain seed ${seed} (GATEHOUSE_SPLITBRAIN_SEED=${seed} repeats it)`);
      const applied: string[] = [];
      // Names of their own per seed: the writes of earlier seeds are still there.
      const writers = ['client', 'prober'].map((h) =>
        startWriter(state, h, password, `${h}-${seed}`),
      );
      const schedule = FAULTS.flatMap((f) => Array.from({ length: RUNS }, () => f)).sort(
        () => random() - 0.5,
      );
      for (const fault of schedule) {
        const [primary, backup] = await settled();
        // The fault strikes at a random moment of the writes, caught up or not.
        await wait(300 + random() * 2_000);
        applied.push(`${new Date().toISOString()} ${fault} (primary ${primary.name})`);
        if (fault === 'partition-pair') await faults.partition(primary.name, backup.name);
        if (fault === 'isolate-primary') await faults.isolate(primary.name);
        if (fault === 'isolate-backup') await faults.isolate(backup.name);
        if (fault === 'freeze-primary') await faults.freeze(primary.name);
        if (fault === 'partition-during-sync') {
          const sync = call(primary, 'POST', '/api/login/failover/sync');
          await wait(random() * 150);
          await faults.partition(primary.name, backup.name);
          await sync;
        }
        await wait(HOLD_MS);
        await faults.heal({ all: true });
      }
      const [primary] = await settled();
      const written = await Promise.all(writers.map((w) => w.stop()));
      const acks: Ack[] = written.flatMap((w) => w.acks);
      console.log(`seed ${seed} faults: ${applied.join('; ')}`);
      console.log(
        `seed ${seed} acknowledged writes: ${acks.length} (${a.name} ${acks.filter((x) => x.appliance === a.name).length}, ${b.name} ${acks.filter((x) => x.appliance === b.name).length}); refused: ${JSON.stringify(written.map((w) => w.refused))}`,
      );
      expect(acks.length).toBeGreaterThan(5 * schedule.length);
      await expectNoneLost(primary, acks);
      await expectNoOverlap(acks);
    },
    900_000,
  );

  /** After a final sync, every acknowledged write is on both appliances. */
  async function expectNoneLost(primary: Target, acks: Ack[]): Promise<void> {
    // A sync asked while the backup's own runs may outlast the client's timeout: asked again.
    let last = '';
    await until(
      async () => {
        const r = await call(primary, 'POST', '/api/login/failover/sync');
        last = JSON.stringify(r.body);
        return r.status === 200;
      },
      90_000,
      'a final sync that succeeds',
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last answer ${last}`);
    });
    for (const t of [a, b]) {
      const users = await call(t, 'GET', '/api/login/users');
      const files = await call(t, 'GET', '/api/login/files');
      const have = new Set([
        ...(users.body.users as { username: string }[]).map((u) => u.username),
        ...(files.body.files as { name: string }[]).map((f) => f.name.replace(/\.txt$/, '')),
      ]);
      const lost = acks.filter((x) => !have.has(x.id));
      expect(lost, `acknowledged writes missing on ${t.name}`).toEqual([]);
    }
  }

  /**
   * Each appliance's times as a serving primary (from its own role history) overlap none of
   * the other's; every acknowledgement falls in its appliance's; every takeover, refusal and
   * fence gives its reason.
   */
  async function expectNoOverlap(acks: Ack[]): Promise<void> {
    const now = Date.now();
    const intervals = new Map<string, [number, number][]>();
    const withheld: string[] = [];
    for (const t of [a, b]) {
      const events: RoleEvent[] = [];
      for (const action of [...ROLE_ACTIONS, 'failover.automatic-takeover-withheld']) {
        const r = await call(t, 'GET', `/api/login/logs?action=${action}&pageSize=500`);
        events.push(...(r.body.items as RoleEvent[]).filter((e) => e.appliance === t.name));
      }
      withheld.push(
        ...events
          .filter((e) => e.action === 'failover.automatic-takeover-withheld')
          .map((e) => `${t.name}: ${String(e.details.reason)}`),
      );
      for (const e of events.filter((x) => x.action !== 'failover.automatic-takeover-withheld'))
        if (/takeover|fenced|stepped-down|serving/.test(e.action))
          expect(String(e.details.reason ?? ''), `${e.action} gives its reason`).not.toBe('');
      intervals.set(t.name, servingIntervals(events, now));
    }
    console.log(`takeovers withheld (with their reasons): ${withheld.join(' | ')}`);
    const [ia, ib] = [intervals.get(a.name)!, intervals.get(b.name)!];
    for (const [s1, e1] of ia)
      for (const [s2, e2] of ib)
        expect(
          Math.min(e1, e2) <= Math.max(s1, s2),
          `${a.name} served ${new Date(s1).toISOString()}–${new Date(e1).toISOString()} while ${b.name} served ${new Date(s2).toISOString()}–${new Date(e2).toISOString()}`,
        ).toBe(true);
    for (const x of acks) {
      const spans = intervals.get(x.appliance)!;
      expect(
        spans.some(([s, e]) => s <= x.ackAt && e >= x.sentAt),
        `${x.id} acknowledged by ${x.appliance} outside its time as primary`,
      ).toBe(true);
    }
    // The partitions of the pair alone were refused by the witness, with that reason.
    expect(withheld.some((w) => /witness refused this backup the lease/.test(w))).toBe(true);
  }
});
