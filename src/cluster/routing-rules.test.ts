import { describe, expect, it } from 'vitest';
import { chooseNode, eligibleNode, STALE_MS, type NodeHeard } from './routing-rules.js';

const node = (name: string, region: string) => ({ name, region });
const heard = (over: Partial<NonNullable<NodeHeard['status']>> = {}): NodeHeard => ({
  status: {
    membership: { name: 'n', region: 'eu', primary: 'p', accepting: true, joinedAt: 0 },
    ready: true,
    update: null,
    productVersion: '2.0.0',
    connectedClients: 0,
    ...over,
  },
  lastContact: 1_000,
  assigned: 0,
});

describe('which node a new client goes to', () => {
  const load = new Map([
    ['eu-1', 5],
    ['eu-2', 2],
    ['us-1', 0],
  ]);
  const nodes = [node('eu-1', 'eu'), node('eu-2', 'eu'), node('us-1', 'us')];

  it('takes the least loaded node of the client’s region, even when another region’s is idler', () => {
    expect(chooseNode(nodes, 'eu', (n) => load.get(n.name)!)?.name).toBe('eu-2');
  });

  it('falls back to every eligible node when the region has none', () => {
    expect(chooseNode(nodes, 'apac', (n) => load.get(n.name)!)?.name).toBe('us-1');
    expect(chooseNode(nodes, undefined, (n) => load.get(n.name)!)?.name).toBe('us-1');
  });

  it('keeps the first of equally loaded nodes, and has none to give from none', () => {
    expect(chooseNode(nodes.slice(0, 2), 'eu', () => 1)?.name).toBe('eu-1');
    expect(chooseNode([], 'eu', () => 0)).toBeUndefined();
  });
});

describe('whether a node gets new clients', () => {
  const at = 1_000 + STALE_MS - 1;

  it('does when accepting on both sides, heard from lately, ready and on the same version', () => {
    expect(eligibleNode({ accepting: true }, heard(), '2.0.0', at)).toBe(true);
  });

  it('does not when any one of those fails', () => {
    expect(eligibleNode({ accepting: false }, heard(), '2.0.0', at)).toBe(false);
    expect(eligibleNode({ accepting: true }, heard(), '2.0.0', 1_000 + STALE_MS)).toBe(false);
    expect(eligibleNode({ accepting: true }, heard(), '2.1.0', at)).toBe(false);
    expect(eligibleNode({ accepting: true }, heard({ ready: false }), '2.0.0', at)).toBe(false);
    expect(eligibleNode({ accepting: true }, heard({ update: 'installing' }), '2.0.0', at)).toBe(
      false,
    );
    expect(eligibleNode({ accepting: true }, heard({ membership: null }), '2.0.0', at)).toBe(false);
    expect(eligibleNode({ accepting: true }, undefined, '2.0.0', at)).toBe(false);
    expect(eligibleNode({ accepting: true }, { ...heard(), status: null }, '2.0.0', at)).toBe(
      false,
    );
  });
});
