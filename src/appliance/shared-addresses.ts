import type { Actor } from '../shared/actor.js';
import type { ClientsGo, FailoverRole } from '../failover/relationship.js';
import type { ClientGateway } from '../sessions/gateway.js';
import type { EventLog } from '../site/events.js';
import type { TrafficSwitchSettings } from '../traffic/settings.js';
import type { NetworkConfig } from './network.js';
import { sharedAddressError, type SharedAddressListeners } from './shared-listeners.js';

/**
 * This appliance's shared addresses as one thing (S19): the IP configuration that lists them,
 * the traffic switch that carries a shared IP onto the interface, the listeners that serve
 * them, and the clients that reached the site through one that moves away.
 */
export class SharedAddresses {
  constructor(
    private readonly parts: {
      network: NetworkConfig;
      traffic: Pick<TrafficSwitchSettings, 'carryShared' | 'announceShared'>;
      listeners: SharedAddressListeners;
      clients: Pick<ClientGateway, 'moveAll' | 'moveConnectedVia'>;
      events: EventLog;
    },
  ) {}

  /**
   * Change addresses, then bind or release the shared ones (S19). A shared address that
   * cannot be taken (still held by the other appliance) is disabled again and given up (off
   * the interface, listener closed), and the change is refused with the reason.
   */
  async change<T>(actor: Actor, change: () => T, keepClients = false): Promise<T> {
    const { network, traffic, listeners, clients } = this.parts;
    const enabledBefore = new Set(
      network
        .list()
        .filter((a) => a.kind === 'shared' && a.enabled)
        .map((a) => a.address),
    );
    const result = change();
    const shared = network.list().filter((a) => a.kind === 'shared');
    const carried: { address: string; reason: string }[] = [];
    for (const a of shared.filter((x) => x.enabled))
      await traffic
        .carryShared(a.address, true)
        .catch((e: Error) => carried.push({ address: a.address, reason: e.message }));
    // Off the interface before the listener closes: until the address leaves, clients that
    // still reach it here are answered (as through any address that moves), not refused.
    for (const a of shared.filter((x) => !x.enabled)) await this.release(actor, a.address);
    const bindFailed = await listeners.reconcile(network.list());
    const failed = [
      ...carried,
      ...bindFailed.filter((f) => !carried.some((c) => c.address === f.address)),
    ];
    if (failed.length) await this.undo(actor, failed);
    // Announced only now, listening: clients that follow the announcement are answered at once.
    // A failed announcement is logged by announceShared, not a refusal: the address is held.
    for (const a of shared.filter((x) => x.enabled && !failed.some((f) => f.address === x.address)))
      await traffic.announceShared(actor, a.address);
    // Clients that reached the site through a released shared address reconnect to where it
    // went (unless the role change sends them on itself, once the peer took the role).
    for (const a of keepClients ? [] : network.list())
      if (a.kind === 'shared' && !a.enabled && enabledBefore.has(a.address))
        clients.moveConnectedVia(
          a.address,
          `the shared address ${a.address} moved to another appliance`,
        );
    if (failed.length) throw sharedAddressError(failed);
    return result;
  }

  /**
   * Shared addresses that could not be taken are disabled in the configuration and really given
   * up: off the interface and their listeners closed, so that what this appliance holds is what
   * its configuration says (not left held until some later, unrelated change releases them).
   */
  private async undo(actor: Actor, failed: { address: string }[]): Promise<void> {
    const { network, listeners } = this.parts;
    for (const f of failed) network.update(actor, f.address, { enabled: false });
    for (const f of failed) await this.release(actor, f.address);
    await listeners.reconcile(network.list());
  }

  /** Take a shared address off the interface; a failure is logged with the reason. */
  private release(actor: Actor, address: string): Promise<void> {
    const { traffic, events } = this.parts;
    return traffic.carryShared(address, false).catch((e: Error) => {
      events.record(
        actor,
        'network.shared-release-failed',
        address,
        { reason: e.message },
        'failed',
      );
    });
  }

  /**
   * Shared addresses follow the primary role (S19): enabled (bound) on the primary, disabled
   * (released) on the backup. A failure does not undo the role change: it is logged with the
   * reason, and the address can be enabled by hand once the other appliance released it.
   */
  async followRole(actor: Actor, role: FailoverRole, go?: ClientsGo): Promise<void> {
    const { network, clients, events } = this.parts;
    if (role === 'standalone') return;
    if (role === 'backup' && go !== 'stay')
      clients.moveAll('this appliance became the failover backup', go?.to);
    const enabled = role === 'primary';
    const change = network.list().filter((a) => a.kind === 'shared' && a.enabled !== enabled);
    if (!change.length) return;
    try {
      await this.change(
        actor,
        () => {
          for (const a of change) network.update(actor, a.address, { enabled });
        },
        go === 'stay',
      );
    } catch (e) {
      events.record(
        actor,
        'failover.shared-addresses-failed',
        change.map((a) => a.address).join(', '),
        { role, reason: (e as Error).message },
        'failed',
      );
    }
  }
}
