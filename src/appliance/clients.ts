/**
 * Clients connected to this appliance (representative consoles, Jump Clients, customer
 * clients), shown on /login > Status > Information. The client gateway registers them.
 */
export interface ConnectedClient {
  id: string;
  kind: 'representative-console' | 'jump-client' | 'customer-client';
  name: string;
  address: string;
  version: string;
  connectedAt: number;
  sessions: string[];
}

export class ClientRegistry {
  private readonly clients = new Map<string, ConnectedClient>();

  add(client: ConnectedClient): void {
    this.clients.set(client.id, client);
  }

  remove(id: string): void {
    this.clients.delete(id);
  }

  list(): ConnectedClient[] {
    return [...this.clients.values()].sort((a, b) => a.connectedAt - b.connectedAt);
  }
}
