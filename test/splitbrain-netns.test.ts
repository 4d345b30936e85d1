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
import { automaticWithWitness, startWitnessIn } from '../src/lab/witness.js';

/*
 * Split brain, Jepsen-style (issue 16, test 2): a pair in its own namespaces with automatic
 * failover and a witness; a client outside (`client`) and one on the prober's host write users
 * and files continuously to whichever appliance accepts them, recording every acknowledged
 * write; faults at random moments (the seed is printed; GATEHOUSE_SPLITBRAIN_SEED repeats a
 * run). Short version: each fault once (about 3 minutes with the lab's start). The full run,
 * each fault GATEHOUSE_SPLITBRAIN_RUNS times (5: about 8 minutes), in random order.
 *
 * Between two faults the suite lets the healed pair catch up (a Sync Now that succeeds) before
 * the next fault strikes: that is what the witness design promises (docs/failover.md, "The
 * witness"). GATEHOUSE_SPLITBRAIN_BACK_TO_BACK=1 strikes again without waiting for it: a takeover
 * right after the primary acknowledged changes alone (its backup cut off) loses them — a known,
 * open gap (seed 1325011767 shows it: writes acknowledged by appliance-b while appliance-a was
 * isolated were missing after appliance-a took over 3 s after the heal).
 */
const LEASE_S = 2;
const UNREACHABLE_S = 2;
/** Longer than a takeover needs (unreachable time + lease + a heartbeat) on a loaded machine. */
const HOLD_MS = 8_000;
const RUNS = Math.max(1, Number(process.env.GATEHOUSE_SPLITBRAIN_RUNS ?? 1));
const BACK_TO_BACK = process.env.GATEHOUSE_SPLITBRAIN_BACK_TO_BACK === '1';
const SEED = Number(process.env.GATEHOUSE_SPLITBRAIN_SEED ?? Date.now() % 2 ** 31);
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
  it(`no two appliances accept writes as primary at once and no acknowledged write is lost (each fault ${RUNS}×, seed ${SEED})`, async () => {
    const state = lab!.state();
    const password = readFileSync(
      path.join(state.dir, state.credentials.login.passwordFile),
      'utf8',
    ).trim();
    const [a, b] = targets(state) as [Target, Target];
    const call = (t: Target, method: string, p: string, json?: unknown) =>
      callFrom(state, password, t, method, p, json);
    const faults = new LabFaults(state.dir);
    const random = seeded(SEED);
    console.log(`split-brain seed ${SEED} (GATEHOUSE_SPLITBRAIN_SEED=${SEED} repeats it)`);

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

    const roleOf = async (t: Target) => {
      const h = await call(t, 'GET', '/health/primary');
      return h.status === 0 ? 'unreachable' : String(h.body.role) + (h.status === 200 ? '' : '?');
    };
    /** One serving primary and one backup again, each answering; returns [primary, backup]. */
    const settled = async (): Promise<[Target, Target]> => {
      let pair: [Target, Target] | undefined;
      await until(
        async () => {
          const [ra, rb] = await Promise.all([roleOf(a), roleOf(b)]);
          if (ra === 'primary' && rb === 'backup?') pair = [a, b];
          if (rb === 'primary' && ra === 'backup?') pair = [b, a];
          if (!pair) throw new Error(`${a.name} ${ra}, ${b.name} ${rb} after ${applied.at(-1)}`);
          return pair;
        },
        90_000,
        'one serving primary and one backup',
        250,
      );
      return pair!;
    };

    const applied: string[] = [];
    const writers = ['client', 'prober'].map((h) => startWriter(state, h, password));
    const schedule = FAULTS.flatMap((f) => Array.from({ length: RUNS }, () => f)).sort(
      () => random() - 0.5,
    );
    for (const fault of schedule) {
      const [primary, backup] = await settled();
      if (!BACK_TO_BACK) {
        let last = '';
        await until(
          async () => {
            const r = await call(primary, 'POST', '/api/login/failover/sync');
            last = JSON.stringify(r.body);
            return r.status === 200;
          },
          60_000,
          'the healed pair to catch up (a Sync Now that succeeds)',
          250,
        ).catch((e: Error) => {
          throw new Error(`${e.message}; last answer ${last}`);
        });
      }
      // The fault strikes at a random moment of the writes.
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
    console.log(`faults: ${applied.join('; ')}`);
    console.log(
      `acknowledged writes: ${acks.length} (${a.name} ${acks.filter((x) => x.appliance === a.name).length}, ${b.name} ${acks.filter((x) => x.appliance === b.name).length}); refused: ${JSON.stringify(written.map((w) => w.refused))}`,
    );
    expect(acks.length).toBeGreaterThan(5 * schedule.length);

    // A final sync, then every acknowledged write is on both appliances.
    const synced = await call(primary, 'POST', '/api/login/failover/sync');
    expect(synced.status, JSON.stringify(synced.body)).toBe(200);
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

    // Each appliance's time as a serving primary, from its own role history.
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
    // Every acknowledgement came from an appliance while its history says it served.
    for (const x of acks) {
      const spans = intervals.get(x.appliance)!;
      expect(
        spans.some(([s, e]) => s <= x.ackAt && e >= x.sentAt),
        `${x.id} acknowledged by ${x.appliance} outside its time as primary`,
      ).toBe(true);
    }
    // The partitions of the pair alone were refused by the witness, with that reason.
    expect(withheld.some((w) => /witness refused this backup the lease/.test(w))).toBe(true);
  }, 900_000);
});
