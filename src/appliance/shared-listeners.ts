import net from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { GatehouseError } from '../shared/errors.js';
import type { NetworkAddress } from './network.js';
import { applianceErrors } from './error-codes.js';

/**
 * The shared addresses this appliance really serves (S19): one TCP listener per enabled shared
 * address, on the appliance's port, handing each connection to the same HTTPS server. Enabling
 * binds the address; disabling releases it at once (connections already open finish), so the
 * other appliance can bind it.
 */
export class SharedAddressListeners {
  private readonly bound = new Map<string, net.Server>();
  private server: TlsServer | undefined;
  private port = 0;

  attach(server: TlsServer, port: number): void {
    this.server = server;
    this.port = port;
  }

  /** The appliance's TLS port (once attached): shared addresses are served on it too. */
  get listenPort(): number | undefined {
    return this.server ? this.port : undefined;
  }

  /** Addresses currently bound. */
  list(): string[] {
    return [...this.bound.keys()].sort();
  }

  /**
   * Bind every enabled shared address not bound yet and release the others. Returns the
   * addresses that could not be bound, with the reason; bound ones stay bound.
   */
  async reconcile(addresses: NetworkAddress[]): Promise<{ address: string; reason: string }[]> {
    if (!this.server) return [];
    const wanted = new Set(
      addresses.filter((a) => a.kind === 'shared' && a.enabled).map((a) => a.address),
    );
    for (const [address, listener] of this.bound) {
      if (wanted.has(address)) continue;
      this.bound.delete(address);
      // close() releases the address at once; its callback would wait for every connection
      // made through it to end, which long-lived Jump Client connections never do.
      listener.close();
    }
    const failed: { address: string; reason: string }[] = [];
    for (const address of wanted) {
      if (this.bound.has(address)) continue;
      try {
        this.bound.set(address, await this.bind(address));
      } catch (e) {
        failed.push({ address, reason: describe(e as NodeJS.ErrnoException, address, this.port) });
      }
    }
    return failed;
  }

  private bind(address: string): Promise<net.Server> {
    const server = this.server!;
    return new Promise((resolve, reject) => {
      const listener = net.createServer({ pauseOnConnect: false }, (socket) =>
        server.emit('connection', socket),
      );
      listener.once('error', reject);
      listener.listen({ host: address, port: this.port, exclusive: true }, () => {
        listener.off('error', reject);
        resolve(listener);
      });
    });
  }

  /**
   * Release every shared address at once. The connections made through them belong to the web
   * server and the client gateway, which end them; waiting for close()'s callback here would
   * wait for every Jump Client to hang up (it held a stopping primary 30 s, until the forced exit).
   */
  closeAll(): void {
    for (const l of this.bound.values()) l.close();
    this.bound.clear();
  }
}

function describe(e: NodeJS.ErrnoException, address: string, port: number): string {
  if (e.code === 'EADDRINUSE')
    return `${address}:${port} is still held by another process (the other appliance?). Disable the shared address there first.`;
  if (e.code === 'EADDRNOTAVAIL')
    return `${address} is not configured on this machine. Add it to a network interface (ip addr add) or use the traffic switch's shared-IP provider.`;
  return `${address}:${port} cannot be bound (${e.code ?? e.message}).`;
}

export function sharedAddressError(failed: { address: string; reason: string }[]): GatehouseError {
  return applianceErrors.SHARED_ADDRESS_UNAVAILABLE(failed.map((f) => f.reason).join(' '), {
    fields: [{ field: 'enabled', message: failed.map((f) => f.reason).join(' ') }],
  });
}
