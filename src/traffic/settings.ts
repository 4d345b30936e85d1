import { z } from 'zod';
import { conflict } from '../shared/errors.js';
import type { Actor } from '../shared/actor.js';
import type { EventLog } from '../site/events.js';
import type { MovingAddress } from '../site/moving-address.js';
import type { Db } from '../store/db.js';
import { readApplianceSetting, writeApplianceSetting } from '../store/appliance-settings.js';
import {
  parseTrafficSwitchConfig,
  providerFor,
  type TrafficSwitchConfig,
  type TrafficTarget,
} from './switch.js';
import { trafficErrors } from './error-codes.js';

const KEY = 'traffic.switch';
const SECRET = '(set: enter it again to change it)';

/** Point Here: the address traffic goes to, this appliance's own unless given. */
export const PointHereInput = z
  .object({
    address: z
      .string()
      .trim()
      .refine((v) => v === '' || z.ipv4().safeParse(v).success || z.ipv6().safeParse(v).success, {
        message: 'must be an IPv4 or IPv6 address of this appliance, e.g. 192.0.2.10',
      })
      .optional(),
  })
  .strict();

/**
 * What the traffic switch needs of the appliance's IP configuration (Networking > IP
 * Configuration): its unique addresses, which traffic is sent to, and its shared ones, which
 * move with the primary role.
 */
export interface OwnAddresses {
  list(): { address: string; kind: 'unique' | 'shared'; enabled: boolean }[];
}

/** How long the answer of a method's `current` is shown before it is asked again. */
const CURRENT_FOR_MS = 30_000;

/**
 * /appliance > Networking > Traffic Switch (S19): which method moves the site's traffic (shared
 * IP, DNS swing, NAT swing) with its settings, kept in appliance_settings (each appliance its
 * own: never synchronised), and Point Here, which sends the site's traffic to this appliance.
 */
export class TrafficSwitchSettings {
  private asked?: {
    key: string;
    at: number;
    answer: Promise<{ current: { address: string } | null; currentError?: string }>;
  };

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
    private readonly network: OwnAddresses,
    private readonly self: { name: string; port: () => number | undefined },
  ) {}

  /**
   * The addresses that follow the primary role (S14, S19): shared addresses, the site
   * hostnames and whatever the traffic switch moves.
   */
  movingAddresses(siteHostnames: string[]): MovingAddress[] {
    const moving: MovingAddress[] = this.network
      .list()
      .filter((a) => a.kind === 'shared')
      .map((a) => ({
        address: a.address,
        why: 'a shared address, which moves to whichever appliance is primary',
      }));
    const hostname = (h: string) => ({
      address: h,
      why: 'the site hostname, which resolves to whichever appliance is primary (S1)',
    });
    moving.push(...siteHostnames.map(hostname));
    const c = this.get();
    if (c?.provider === 'shared-ip')
      moving.push({ address: c.address, why: "the traffic switch's shared address" });
    if (c?.provider === 'hosts-file' || c?.provider === 'rfc2136')
      moving.push(hostname(c.hostname));
    return moving;
  }

  /** The appliance's own first unique address (never moved by a switch), if it has one. */
  uniqueAddress(): string | undefined {
    return this.network.list().find((a) => a.kind === 'unique' && a.enabled)?.address;
  }

  get(): TrafficSwitchConfig | undefined {
    const stored = readApplianceSetting<unknown>(this.db, KEY);
    return stored === undefined ? undefined : parseTrafficSwitchConfig(stored);
  }

  /**
   * The configuration as the API and the page show it (secrets are never sent back), and where
   * the site's traffic goes now as far as the method can tell.
   */
  async shown(): Promise<{
    config: TrafficSwitchConfig | null;
    description: string | null;
    current: { address: string } | null;
    currentError?: string;
  }> {
    const c = this.get();
    if (!c) return { config: null, description: null, current: null };
    const config =
      c.provider === 'rfc2136'
        ? { ...c, tsig: { ...c.tsig, secret: SECRET } }
        : c.provider === 'nat-forwarder'
          ? { ...c, token: SECRET }
          : c;
    const provider = await providerFor(c);
    const current = await this.currentOf(c, provider);
    return { config, description: provider.describe(), ...current };
  }

  /**
   * Where traffic goes now, asked of the method at most once per CURRENT_FOR_MS and once at a
   * time: a `command` method runs the administrator's program to tell, and every GET of the
   * page or API running it again would let a reader of the page keep it busy.
   */
  private async currentOf(
    config: TrafficSwitchConfig,
    provider: { current(): Promise<{ address: string } | undefined> },
  ): Promise<{ current: { address: string } | null; currentError?: string }> {
    const key = JSON.stringify(config);
    const now = Date.now();
    if (this.asked?.key !== key || now - this.asked.at > CURRENT_FOR_MS) {
      const answer = provider.current().then(
        (current) => ({ current: current ?? null }),
        (e: unknown) => ({ current: null, currentError: (e as Error).message }),
      );
      this.asked = { key, at: now, answer };
    }
    return this.asked.answer;
  }

  /** Validate (field errors name each setting) and store, with the event; nothing on error. */
  async set(actor: Actor, value: unknown): Promise<TrafficSwitchConfig> {
    const config = parseTrafficSwitchConfig(value);
    const description = (await providerFor(config)).describe();
    this.db.transaction(() => {
      writeApplianceSetting(this.db, KEY, config);
      this.events.record(actor, 'traffic.configured', config.provider, {
        description,
      });
    })();
    await this.readyShared();
    return config;
  }

  /**
   * A shared address that the shared-IP switch carries on a real interface (S19) is put on the
   * interface here before its listener binds, and taken off before the listener closes (until
   * it leaves, clients that reach it here are answered), so the other appliance can take it.
   * Any other address needs nothing.
   */
  async carryShared(address: string, enabled: boolean): Promise<void> {
    const c = this.carried(address);
    if (!c) return;
    const { addSharedAddress, releaseSharedAddress } = await import('./shared-ip.js');
    if (enabled) await addSharedAddress(c);
    else await releaseSharedAddress(c);
    // Released here: taking it back is this appliance's next move.
    if (!enabled) await this.readyShared();
  }

  /**
   * Have the announcement of the carried shared address ready (a gratuitous ARP process
   * waiting for its word), so that a takeover starts no process on its way: at start, after
   * a release, and re-armed after each announcement (./arping.ts).
   */
  async readyShared(): Promise<void> {
    const c = this.get();
    if (c?.provider !== 'shared-ip') return;
    (await import('./shared-ip.js')).readyToAnnounce(c);
  }

  /**
   * Once its listener is bound: announce a carried shared address by gratuitous ARP, so the
   * first client that follows the announcement finds the appliance listening. It does not wait
   * for arping beyond its start. It never throws: the address is held and served by then, so a
   * failure (arping missing or not permitted, at start or later) is a warning logged with the
   * reason, not a refused takeover (neighbours learn the address when their entries expire).
   */
  async announceShared(actor: Actor, address: string): Promise<void> {
    const c = this.carried(address);
    if (!c) return;
    const { announceSharedAddress } = await import('./shared-ip.js');
    const warn = (e: Error) =>
      this.events.record(
        actor,
        'traffic.announce-failed',
        address,
        { reason: e.message },
        'failed',
      );
    await announceSharedAddress(c, warn).catch(warn);
  }

  private carried(address: string) {
    const c = this.get();
    return c?.provider === 'shared-ip' && c.address === address ? c : undefined;
  }

  /** This appliance as a traffic target: the given address or its first enabled unique one. */
  target(address?: string): TrafficTarget {
    const own = this.network.list().find((a) => a.kind === 'unique' && a.enabled)?.address;
    const chosen = address || own;
    if (!chosen)
      throw conflict(
        trafficErrors.TRAFFIC_NO_ADDRESS,
        'This appliance has no enabled unique address to send traffic to. Add one under Networking > IP Configuration, or give the address.',
      );
    const port = this.self.port();
    return { name: this.self.name, address: chosen, ...(port ? { port } : {}) };
  }

  /** Point Here: send the site's traffic to this appliance through the configured method. */
  async pointHere(actor: Actor, address?: string) {
    const config = this.get();
    if (!config)
      throw conflict(
        trafficErrors.TRAFFIC_NOT_CONFIGURED,
        'No traffic switch is configured on this appliance. Choose its method and settings under Networking > Traffic Switch first.',
      );
    const target = this.target(address);
    const provider = await providerFor(config);
    try {
      await provider.pointAt(target);
    } catch (e) {
      this.events.record(
        actor,
        'traffic.pointed',
        target.address,
        { provider: config.provider, reason: (e as Error).message },
        'failed',
      );
      throw e;
    }
    this.asked = undefined;
    this.events.record(actor, 'traffic.pointed', target.address, {
      provider: config.provider,
      name: target.name,
    });
    return { provider: config.provider, description: provider.describe(), target };
  }
}
