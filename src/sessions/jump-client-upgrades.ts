import { compareVersions } from '../shared/version.js';

/**
 * S13: after the site is upgraded, its Jump Clients upgrade themselves to the site's build in
 * throttled waves (as Teleport's managed updates and BeyondTrust's Jump Client upgrade
 * throttling do): a canary wave first, then at most `waveSize` at once, the next wave only when
 * every client of the last one came back on the site's version. A wave whose clients do not
 * come back within the deadline, or one of which reports that it could not upgrade, halts the
 * upgrade until an administrator resumes it: a bad build reaches a canary, not every computer.
 *
 * Each appliance upgrades the Jump Clients connected to it (their control connections are
 * here); the settings are the site's, so every node of a cluster throttles alike. The state
 * lives in memory: an appliance that restarts (it was upgraded) starts the rollout afresh,
 * and the clients already on its version count as done.
 */
export interface WaveSettings {
  /** At most this many Jump Clients upgrade at once; 0 turns automatic upgrades off. */
  waveSize: number;
  /** The group that upgrades first, alone; '' for none. */
  canaryGroup: string;
  /** Without a connected canary group: how many clients make the first wave. */
  canarySize: number;
  /** How long a wave's clients have to come back on the new version. */
  returnSeconds: number;
}

/** A Jump Client connected to this appliance, as the rollout sees it. */
export interface RolloutClient {
  name: string;
  group: string;
  version: string;
  /** It runs from an installation that can replace itself (else it is upgraded by hand). */
  upgradable: boolean;
}

export interface RolloutHost {
  /** The version the site runs: the one Jump Clients upgrade to. */
  target(): string;
  settings(): WaveSettings;
  connected(): RolloutClient[];
  /** Ask a connected Jump Client to upgrade; false when it is not connected any more. */
  askToUpgrade(name: string, version: string): boolean;
  event(action: string, target: string, details: Record<string, unknown>): void;
  now(): number;
}

export interface Wave {
  number: number;
  canary: boolean;
  clients: string[];
  startedAt: string;
  endedAt: string | null;
  outcome: 'running' | 'done' | 'halted';
  /** The clients that came back on the target version. */
  returned: string[];
}

export type RolloutState = 'off' | 'up-to-date' | 'running' | 'halted';

export interface RolloutStatus {
  target: string;
  state: RolloutState;
  settings: WaveSettings;
  waves: Wave[];
  /** Connected Jump Clients older than the site, waiting for a wave. */
  waiting: string[];
  /** Connected Jump Clients older than the site that cannot upgrade themselves. */
  manual: string[];
  upToDate: number;
  /** Why it halted: the clients missing and what they said. */
  halt: { wave: number; missing: string[]; reason: string } | null;
  /** Clients left out after a halt (an administrator resumed without them). */
  skipped: string[];
}

export class JumpClientUpgrades {
  private target = '';
  private waves: Wave[] = [];
  private started = new Map<number, number>();
  private halt: RolloutStatus['halt'] = null;
  private failed = new Map<string, string>();
  private skipped = new Set<string>();
  /** When the rollout first saw a client to upgrade (clients come back one by one after the site restarts). */
  private firstSeen: number | undefined;

  constructor(private readonly host: RolloutHost) {}

  /** Look at the connected clients: close the running wave, halt, or start the next. */
  tick(): void {
    this.follow(this.host.target());
    const s = this.host.settings();
    if (s.waveSize === 0 || this.halt) return;
    const running = this.waves.find((w) => w.outcome === 'running');
    if (running) return this.check(running, s);
    const next = this.nextWave(s);
    if (next.clients.length > 0) this.start(next);
  }

  /** A Jump Client of a running wave said it could not upgrade: the wave halts at once. */
  upgradeFailed(name: string, reason: string): void {
    const wave = this.waves.find((w) => w.outcome === 'running' && w.clients.includes(name));
    if (!wave) return;
    this.failed.set(name, reason);
    this.stop(wave, [name], `${name} could not upgrade: ${reason}`);
  }

  /** An administrator resumes a halted upgrade; the clients missing from its wave are left out. */
  resume(): { resumed: boolean; skipped: string[] } {
    if (!this.halt) return { resumed: false, skipped: [] };
    for (const n of this.halt.missing) this.skipped.add(n);
    const skipped = this.halt.missing;
    this.halt = null;
    return { resumed: true, skipped };
  }

  status(): RolloutStatus {
    this.follow(this.host.target());
    const settings = this.host.settings();
    const outdated = this.outdated();
    const inWave = new Set(this.waves.flatMap((w) => w.clients));
    const running = this.waves.some((w) => w.outcome === 'running');
    const waiting = outdated.filter(
      (c) => c.upgradable && !inWave.has(c.name) && !this.skipped.has(c.name),
    );
    const state: RolloutState =
      settings.waveSize === 0
        ? 'off'
        : this.halt
          ? 'halted'
          : running || waiting.length > 0
            ? 'running'
            : 'up-to-date';
    return {
      target: this.target,
      state,
      settings,
      waves: this.waves.map((w) => ({ ...w })),
      waiting: waiting.map((c) => c.name).sort(),
      manual: outdated
        .filter((c) => !c.upgradable)
        .map((c) => c.name)
        .sort(),
      upToDate: this.host.connected().length - outdated.length,
      halt: this.halt,
      skipped: [...this.skipped].sort(),
    };
  }

  /** A new site version starts a new rollout. */
  private follow(target: string): void {
    if (target === this.target) return;
    this.target = target;
    this.waves = [];
    this.started.clear();
    this.halt = null;
    this.failed.clear();
    this.skipped.clear();
    this.firstSeen = undefined;
  }

  private outdated(): RolloutClient[] {
    return this.host.connected().filter((c) => compareVersions(c.version, this.target) < 0);
  }

  /**
   * The next wave: the canary group's clients first (waiting up to the return deadline for one
   * of them to reconnect, else the first `canarySize` clients are the canary), then by name.
   */
  private nextWave(s: WaveSettings): { canary: boolean; clients: string[] } {
    const done = new Set(this.waves.flatMap((w) => w.clients));
    const candidates = this.outdated()
      .filter((c) => c.upgradable && !done.has(c.name) && !this.skipped.has(c.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    if (this.waves.length > 0)
      return { canary: false, clients: candidates.slice(0, s.waveSize).map((c) => c.name) };
    if (candidates.length === 0) return { canary: false, clients: [] };
    this.firstSeen ??= this.host.now();
    const group = s.canaryGroup ? candidates.filter((c) => c.group === s.canaryGroup) : [];
    const waitForGroup =
      s.canaryGroup !== '' && this.host.now() - this.firstSeen < s.returnSeconds * 1000;
    if (group.length === 0 && waitForGroup) return { canary: true, clients: [] };
    const canary = group.length > 0 ? group : candidates.slice(0, s.canarySize);
    if (canary.length === 0)
      return { canary: false, clients: candidates.slice(0, s.waveSize).map((c) => c.name) };
    return { canary: true, clients: canary.slice(0, s.waveSize).map((c) => c.name) };
  }

  private start(next: { canary: boolean; clients: string[] }): void {
    const now = this.host.now();
    const wave: Wave = {
      number: this.waves.length + 1,
      canary: next.canary,
      clients: next.clients,
      startedAt: new Date(now).toISOString(),
      endedAt: null,
      outcome: 'running',
      returned: [],
    };
    this.waves.push(wave);
    this.started.set(wave.number, now);
    this.host.event('jump-client.upgrade.wave-started', this.target, {
      wave: wave.number,
      canary: wave.canary,
      clients: wave.clients,
    });
    for (const name of wave.clients) this.host.askToUpgrade(name, this.target);
  }

  private check(wave: Wave, s: WaveSettings): void {
    const back = new Set(
      this.host
        .connected()
        .filter((c) => compareVersions(c.version, this.target) >= 0)
        .map((c) => c.name),
    );
    wave.returned = wave.clients.filter((n) => back.has(n));
    const missing = wave.clients.filter((n) => !back.has(n));
    if (missing.length === 0) {
      wave.outcome = 'done';
      wave.endedAt = new Date(this.host.now()).toISOString();
      this.host.event('jump-client.upgrade.wave-done', this.target, {
        wave: wave.number,
        clients: wave.clients,
      });
      return;
    }
    const deadline = this.started.get(wave.number)! + s.returnSeconds * 1000;
    if (this.host.now() > deadline)
      this.stop(
        wave,
        missing,
        `${missing.join(', ')} did not come back on ${this.target} within ${s.returnSeconds} s`,
      );
  }

  private stop(wave: Wave, missing: string[], reason: string): void {
    wave.outcome = 'halted';
    wave.endedAt = new Date(this.host.now()).toISOString();
    this.halt = { wave: wave.number, missing, reason };
    this.host.event('jump-client.upgrade.halted', this.target, {
      wave: wave.number,
      missing,
      reason,
    });
  }
}
