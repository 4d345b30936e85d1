import { describe, expect, it } from 'vitest';
import {
  JumpClientUpgrades,
  type RolloutClient,
  type WaveSettings,
} from './jump-client-upgrades.js';

/** A site with connected Jump Clients that upgrade (come back on the target) when asked. */
function site(clients: RolloutClient[], settings: Partial<WaveSettings> = {}) {
  const s = {
    now: 0,
    target: '1.1.0',
    connected: new Map(clients.map((c) => [c.name, { ...c }])),
    asked: [] as string[][],
    events: [] as { action: string; details: Record<string, unknown> }[],
    settings: {
      waveSize: 2,
      canaryGroup: 'canary',
      canarySize: 1,
      returnSeconds: 60,
      ...settings,
    } as WaveSettings,
  };
  let wave: string[] = [];
  const rollout = new JumpClientUpgrades({
    target: () => s.target,
    settings: () => s.settings,
    connected: () => [...s.connected.values()],
    askToUpgrade: (name) => {
      wave.push(name);
      return s.connected.has(name);
    },
    event: (action, _target, details) => s.events.push({ action, details }),
    now: () => s.now,
  });
  const tick = () => {
    wave = [];
    rollout.tick();
    if (wave.length) s.asked.push(wave);
  };
  /** The clients asked so far come back on the target version. */
  const comeBack = (...names: string[]) => {
    for (const n of names) s.connected.get(n)!.version = s.target;
  };
  return { s, rollout, tick, comeBack };
}

const jc = (name: string, group = 'servers', version = '1.0.0'): RolloutClient => ({
  name,
  group,
  version,
  upgradable: true,
});

describe('Jump Client upgrades in throttled waves', () => {
  it('upgrades the canary group alone first, then at most waveSize at once', () => {
    const t = site([jc('a'), jc('b'), jc('c'), jc('d'), jc('z', 'canary')]);
    t.tick();
    expect(t.s.asked).toEqual([['z']]);
    t.tick(); // z has not come back yet: no new wave
    expect(t.s.asked).toHaveLength(1);
    t.comeBack('z');
    t.tick(); // wave 1 done
    t.tick();
    expect(t.s.asked).toEqual([['z'], ['a', 'b']]);
    t.comeBack('a', 'b');
    t.tick();
    t.tick();
    t.comeBack('c', 'd');
    t.tick();
    t.tick();
    expect(t.s.asked).toEqual([['z'], ['a', 'b'], ['c', 'd']]);
    const st = t.rollout.status();
    expect(st.state).toBe('up-to-date');
    expect(st.waves.map((w) => [w.canary, w.outcome, w.returned.length])).toEqual([
      [true, 'done', 1],
      [false, 'done', 2],
      [false, 'done', 2],
    ]);
  });

  it('without a canary group, the first canarySize clients are the canary', () => {
    const t = site([jc('a'), jc('b'), jc('c')], { canaryGroup: '', canarySize: 2, waveSize: 1 });
    t.tick();
    // The canary is never larger than a wave.
    expect(t.s.asked).toEqual([['a']]);
    expect(t.rollout.status().waves[0]!.canary).toBe(true);
  });

  it('waits up to the return deadline for the canary group to reconnect, then takes the first clients', () => {
    const t = site([jc('a'), jc('b')], { returnSeconds: 10 });
    t.tick();
    t.s.now = 9_000;
    t.tick();
    expect(t.s.asked).toEqual([]);
    t.s.connected.set('z', jc('z', 'canary'));
    t.tick();
    expect(t.s.asked).toEqual([['z']]);
    const late = site([jc('a'), jc('b')], { returnSeconds: 10 });
    late.tick();
    late.s.now = 10_000;
    late.tick();
    expect(late.s.asked).toEqual([['a']]);
    expect(late.rollout.status().waves[0]!.canary).toBe(true);
  });

  it('halts when a wave does not come back within the deadline, and resumes without it', () => {
    const t = site([jc('a'), jc('b'), jc('c'), jc('z', 'canary')], { returnSeconds: 10 });
    t.tick();
    t.s.now = 10_001;
    t.tick();
    const st = t.rollout.status();
    expect(st.state).toBe('halted');
    expect(st.halt).toMatchObject({ wave: 1, missing: ['z'] });
    expect(st.halt!.reason).toContain('did not come back on 1.1.0 within 10 s');
    expect(t.s.events.map((e) => e.action)).toContain('jump-client.upgrade.halted');
    t.tick();
    expect(t.s.asked).toEqual([['z']]);
    expect(t.rollout.resume()).toEqual({ resumed: true, skipped: ['z'] });
    t.tick();
    expect(t.s.asked).toEqual([['z'], ['a', 'b']]);
    expect(t.rollout.status().skipped).toEqual(['z']);
  });

  it('halts at once when a client of the wave says it could not upgrade', () => {
    const t = site([jc('a'), jc('z', 'canary')]);
    t.tick();
    t.rollout.upgradeFailed('z', 'PACKAGE_UNTRUSTED_SIGNER: …');
    t.tick();
    expect(t.rollout.status().halt).toMatchObject({
      missing: ['z'],
      reason: 'z could not upgrade: PACKAGE_UNTRUSTED_SIGNER: …',
    });
    expect(t.s.asked).toEqual([['z']]);
  });

  it('leaves out clients that cannot upgrade themselves, and is off with wave size 0', () => {
    const t = site([{ ...jc('dev'), upgradable: false }, jc('a', 'servers', '1.1.0')]);
    t.tick();
    expect(t.s.asked).toEqual([]);
    expect(t.rollout.status()).toMatchObject({ manual: ['dev'], upToDate: 1 });
    const off = site([jc('a')], { waveSize: 0 });
    off.tick();
    expect(off.s.asked).toEqual([]);
    expect(off.rollout.status().state).toBe('off');
  });

  it('starts afresh when the site runs a new version', () => {
    const t = site([jc('z', 'canary')], { returnSeconds: 10 });
    t.tick();
    t.s.now = 20_000;
    t.tick();
    expect(t.rollout.status().state).toBe('halted');
    t.s.target = '1.2.0';
    t.tick();
    expect(t.rollout.status()).toMatchObject({ state: 'running', target: '1.2.0', halt: null });
    expect(t.s.asked).toEqual([['z'], ['z']]);
  });
});
