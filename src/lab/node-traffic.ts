import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplianceClient } from '../clients/admin-client.js';
import { readLabSecret } from './secrets.js';
import { labUrl, type LabAppliance, type LabState } from './state.js';

/** A traffic node as it sees itself: taking new clients or draining, and who is connected. */
export interface NodeTraffic {
  accepting: boolean;
  clients: { kind: string; name: string; sessions: number }[];
}

/**
 * Asks the node itself (its membership and Status > Information, signed in to /login), not the
 * primary: during an upgrade the primary moves, and a node's own state is what its clients get.
 * Undefined when the node does not answer or refuses the lab's sign-in.
 */
export async function nodeTraffic(
  state: LabState,
  a: LabAppliance,
): Promise<NodeTraffic | undefined> {
  let certPem: string;
  try {
    certPem = readFileSync(path.join(a.dataDir, 'tls', 'cert.pem'), 'utf8');
  } catch {
    return undefined;
  }
  const api = new ApplianceClient(labUrl(a.host, a.port), { certPem }, { connections: 1 });
  try {
    const { login } = state.credentials;
    await api.signIn('login', login.username, readLabSecret(state.dir, login.passwordFile));
    const [cluster, info] = await Promise.all([
      api.call<{ membership: { accepting: boolean } | null }>('GET', '/api/login/cluster'),
      api.call<{ connectedClients: { kind: string; name: string; sessions: unknown[] }[] }>(
        'GET',
        '/api/login/status/information',
      ),
    ]);
    if (cluster.status !== 200 || info.status !== 200) return undefined;
    return {
      accepting: cluster.body.membership?.accepting ?? true,
      clients: info.body.connectedClients.map((c) => ({
        kind: c.kind,
        name: c.name,
        sessions: c.sessions.length,
      })),
    };
  } catch {
    return undefined;
  } finally {
    await api.close();
  }
}

/** `accepting, 2 connected clients: jump-client jc-1 (1 session), …` */
export function describeTraffic(t: NodeTraffic): string {
  const clients = t.clients
    .map((c) => `${c.kind} ${c.name}${c.sessions ? ` (${c.sessions} session(s))` : ''}`)
    .join(', ');
  return `${t.accepting ? 'accepting' : 'draining (accepts no new clients)'}, ${t.clients.length} connected client(s)${clients ? `: ${clients}` : ''}`;
}
