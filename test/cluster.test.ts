import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import { parseRecording } from '../src/sessions/recording.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { interactive } from './support/resume-load.js';
import { startTargets, type Targets } from './support/targets.js';
import { enrolmentToken } from './support/jump-clients.js';

const KEY = 'cluster-test-key-0123456789abcdefghijkl';

interface NodeView {
  name: string;
  region: string;
  accepting: boolean;
  eligible: boolean;
  status: { connectedClients: number; productVersion: string } | null;
}

const siteOf = (t: TestAppliance) => ({
  host: t.proc.host,
  port: t.proc.port,
  fingerprint: t.proc.fingerprint,
});

function echoThrough(socket: Duplex, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer) => {
      got.push(c);
      n += c.length;
      if (n >= data.length) {
        socket.off('data', onData);
        resolve(Buffer.concat(got));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}
const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a cluster: a primary node and four traffic nodes in two regions', () => {
  let primary: TestAppliance;
  let nodes: TestAppliance[];
  let targets: Targets;
  const jumps: JumpClient[] = [];
  let rep: RepresentativeConsole;
  const nodeRegion: Record<string, string> = {};
  /** Each Jump Client's log lines. */
  const logs: Record<string, string[]> = {};

  const cluster = async () =>
    (await primary.api.call<{ role: string; nodes: NodeView[] }>('GET', '/api/login/cluster')).body;
  const jumpClient = (name: string, region: string, token: string) => {
    const j = new JumpClient({
      site: siteOf(primary),
      name,
      group: region,
      token,
      allow: [targets.echo],
      region,
      log: (line) => (logs[name] ??= []).push(line),
    });
    jumps.push(j);
    j.start();
    return j;
  };

  /**
   * A session that opened at its first try (no start failed and asked again), echoing `text`;
   * the node that relayed it.
   */
  const startedFirstTime = async (jumpClient: string, text: string) => {
    const starts: string[] = [];
    rep.log = (line) => starts.push(line);
    const s = await rep.openSession(jumpClient, targets.echo).finally(() => (rep.log = undefined));
    const failed = starts.filter((l) => l.startsWith('session start through'));
    expect(failed, starts.join('\n')).toEqual([]);
    expect((await echoThrough(s.socket, Buffer.from(text))).toString()).toBe(text);
    s.socket.end();
    return s.node!;
  };

  beforeAll(async () => {
    [primary, targets, ...nodes] = (await Promise.all([
      startTestAppliance({ name: 'atlas-primary', host: '127.0.0.80', interApplianceKey: KEY }),
      startTargets(),
      ...[1, 2, 3, 4].map((i) =>
        startTestAppliance({
          name: `atlas-node-${i}`,
          host: `127.0.0.8${i}`,
          interApplianceKey: KEY,
        }),
      ),
    ])) as [TestAppliance, Targets, ...TestAppliance[]];
  }, 60_000);
  afterAll(async () => {
    await rep?.close();
    await Promise.all(jumps.map((j) => j.stop()));
    await targets?.close();
  });

  it('adds traffic nodes only with the same key and a reachable address, each with its own error', async () => {
    const wrongKey = await primary.api.call('POST', '/api/login/cluster/nodes', {
      json: {
        host: nodes[0]!.proc.host,
        port: nodes[0]!.proc.port,
        region: 'east',
        key: 'x'.repeat(40),
      },
    });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.body).toMatchObject({ code: 'CLUSTER_KEY_MISMATCH' });
    const closed = await primary.api.call('POST', '/api/login/cluster/nodes', {
      json: { host: '127.0.0.89', port: 9, region: 'east', key: KEY },
    });
    expect(closed.status).toBe(502);
    expect(closed.body).toMatchObject({ code: 'CLUSTER_NODE_UNREACHABLE' });
    const badRegion = await primary.api.call('POST', '/api/login/cluster/nodes', {
      json: {
        host: nodes[0]!.proc.host,
        port: nodes[0]!.proc.port,
        region: 'not a region!',
        key: KEY,
      },
    });
    expect(badRegion.status).toBe(400);
    expect(JSON.stringify(badRegion.body)).toContain('region');
    expect((await cluster()).nodes).toHaveLength(0);

    for (const [i, node] of nodes.entries()) {
      const region = i < 2 ? 'east' : 'west';
      const res = await primary.api.call<NodeView>('POST', '/api/login/cluster/nodes', {
        json: { host: node.proc.host, port: node.proc.port, region, key: KEY },
      });
      expect(res.status).toBe(201);
      nodeRegion[res.body.name] = region;
    }
    await until(
      async () => (await cluster()).nodes.filter((n) => n.eligible).length === 4,
      10_000,
      'all four nodes eligible',
    );
    expect((await cluster()).role).toBe('primary-node');
    const asNode = await nodes[0]!.api.call<{ role: string; membership: { primary: string } }>(
      'GET',
      '/api/login/cluster',
    );
    expect(asNode.body).toMatchObject({
      role: 'traffic-node',
      membership: { primary: 'atlas-primary' },
    });
    // Every node took the primary node's site certificate authority (S20): one site identity.
    const siteCaOf = async (t: TestAppliance) =>
      (await t.api.call<{ siteCa: string }>('GET', '/api/login/status/information')).body.siteCa;
    const siteCa = await siteCaOf(primary);
    await until(
      async () => (await Promise.all(nodes.map(siteCaOf))).every((f) => f === siteCa),
      10_000,
      "every node to hold the primary node's site CA",
    );
    // A node already in this cluster cannot be added twice.
    const again = await primary.api.call('POST', '/api/login/cluster/nodes', {
      json: { host: nodes[0]!.proc.host, port: nodes[0]!.proc.port, region: 'east', key: KEY },
    });
    expect(again.status).toBe(409);
  });

  it('sends each client to an accepting node of its region, and relays sessions byte for byte', async () => {
    const token = await enrolmentToken(primary.api);
    const east = jumpClient('jump-east', 'east', token);
    const west = jumpClient('jump-west', 'west', token);
    await until(
      () => east.state === 'connected' && west.state === 'connected',
      15_000,
      'Jump Clients to connect',
    );
    expect(nodeRegion[east.connectedTo!]).toBe('east');
    expect(nodeRegion[west.connectedTo!]).toBe('west');

    rep = await RepresentativeConsole.signIn(siteOf(primary), 'admin', LOGIN_PASSWORD, 'east');
    await until(
      async () => (await rep.jumpClients()).length === 2,
      10_000,
      'the primary to list both Jump Clients',
    );
    const listed = await rep.jumpClients();
    expect(listed.find((j) => j.name === 'jump-west')?.node).toBe(west.connectedTo);

    const data = randomBytes(2 * 1024 * 1024);
    const { session, socket } = await rep.openSession('jump-west', targets.echo);
    expect(digest(await echoThrough(socket, data))).toBe(digest(data));
    socket.end();

    // The record and its recording flow back to the primary node.
    let record: { appliance: string; bytesOut: number } | undefined;
    await until(
      async () => {
        const res = await primary.api.call<{
          sessions: { id: string; appliance: string; bytesOut: number }[];
        }>('GET', '/api/login/sessions');
        record = res.body.sessions.find((s) => s.id === session);
        return record;
      },
      15_000,
      'the session record on the primary node',
    );
    expect(record).toMatchObject({ appliance: west.connectedTo, bytesOut: data.length });
    const file = await primary.api.call<Buffer>('GET', `/api/login/sessions/${session}/recording`);
    const frames = parseRecording(file.body).frames.filter((f) => f.direction === 'from-target');
    expect(digest(Buffer.concat(frames.map((f) => f.data)))).toBe(digest(data));
  });

  it('sends a customer client to a node of its region; its representative reaches it through that node', async () => {
    const issued = await rep.sessionKey();
    const customer = new JumpClient({
      site: siteOf(primary),
      sessionKey: issued.key,
      allow: [targets.echo],
      region: 'west',
    });
    customer.start();
    try {
      await until(
        async () => (await rep.jumpClients()).some((j) => j.name === issued.customerClient),
        15_000,
        'the primary to list the customer client',
      );
      expect(nodeRegion[customer.connectedTo!]).toBe('west');
      expect((await rep.jumpClients()).find((j) => j.name === issued.customerClient)).toMatchObject(
        { kind: 'customer-client', representative: 'admin', node: customer.connectedTo },
      );
      const { socket } = await rep.openSession(issued.customerClient, targets.echo);
      expect((await echoThrough(socket, Buffer.from('to the customer'))).toString()).toBe(
        'to the customer',
      );
      socket.end();
    } finally {
      await customer.stop();
    }
    await until(
      async () => !(await rep.jumpClients()).some((j) => j.name === issued.customerClient),
      10_000,
      'the customer client to leave the list',
    );
  });

  it('drains a node: its clients and their sessions move at once (the session resumes on another node, byte for byte), new sessions go elsewhere, it reaches zero in seconds', async () => {
    const east = jumps.find((j) => j.name === 'jump-east')!;
    const drained = east.connectedTo!;
    const old = await rep.openSession('jump-east', targets.echo);
    expect((await echoThrough(old.socket, Buffer.from('before'))).toString()).toBe('before');
    // An interactive session on the same node: 1 KiB echoed every 50 ms through the drain.
    const chat = await rep.openSession('jump-east', targets.echo);
    const typing = interactive(chat.socket);
    await until(() => typing.rounds() > 3, 10_000, 'the interactive session to run');

    // A node of another region hangs meanwhile (stopped, its connections still open): the
    // primary node's polls of it get no answer, and the session start below must not wait on
    // them. (This start does not always need a poll, so it also passed on the code without the
    // bound; the bound itself is tested in src/failover/peer-client.test.ts and
    // src/cluster/one-poll.test.ts.)
    const hung = nodes[3]!.proc.child;
    hung.kill('SIGSTOP');
    let during: string;
    try {
      const patch = await primary.api.call<NodeView>(
        'PATCH',
        `/api/login/cluster/nodes/${drained}`,
        { json: { accepting: false } },
      );
      expect(patch.status).toBe(200);
      expect(patch.body.accepting).toBe(false);
      // A session started while its Jump Client moves away opens the first time where it
      // lands: the primary node asks the nodes afresh rather than send the leg to the node it
      // left (refused there, JUMP_CLIENT_NOT_CONNECTED, before the node it went to was next
      // polled), and within the wait's 5 s although one node does not answer.
      const t = Date.now();
      during = await startedFirstTime('jump-east', 'while moving');
      expect(Date.now() - t).toBeLessThan(8_000);
    } finally {
      hung.kill('SIGCONT');
    }
    expect(during).not.toBe(drained);
    expect(nodeRegion[during]).toBe('east');
    // A new Jump Client of that region goes to the other east node.
    const token = await enrolmentToken(primary.api);
    const late = jumpClient('jump-east-2', 'east', token);
    await until(() => late.state === 'connected', 15_000, 'the new Jump Client to connect');
    expect(late.connectedTo).not.toBe(drained);
    expect(nodeRegion[late.connectedTo!]).toBe('east');

    // The Jump Client moves at once to an accepting node of its region; its session stays.
    await until(
      () => east.state === 'connected' && east.connectedTo !== drained,
      15_000,
      'the Jump Client to move',
    );
    expect(nodeRegion[east.connectedTo!]).toBe('east');
    // The draining node said where to go (an accepting node of the region, named by the
    // primary node) and the Jump Client went straight there: its first try connected.
    const lines = logs['jump-east']!;
    const asked = lines
      .map((l) => l.startsWith('asked to move: this node is draining'))
      .lastIndexOf(true);
    const to = /\(to ([\w-]+)\)$/.exec(lines[asked] ?? '')?.[1];
    expect(to, lines.join('\n')).toBe(east.connectedTo);
    expect(
      lines.slice(asked + 1).find((l) => /^(connected to|cannot connect)/.test(l)),
      lines.join('\n'),
    ).toMatch(new RegExp(`^connected to ${to} `));
    await until(
      async () =>
        (await rep.jumpClients()).find((j) => j.name === 'jump-east')?.node === east.connectedTo,
      10_000,
      'the primary to see the move',
    );
    // Its sessions moved too: the drained node reaches zero while they still run, through
    // the node the Jump Client moved to, nothing lost or repeated.
    const done = await primary.api.call<{ drained: boolean }>(
      'POST',
      `/api/login/cluster/nodes/${drained}/wait-drained`,
      { json: { timeoutSeconds: 20 } },
    );
    expect(done.body.drained).toBe(true);
    expect((await echoThrough(old.socket, Buffer.from('after the move'))).toString()).toBe(
      'after the move',
    );
    const rounds = typing.rounds();
    await until(() => typing.rounds() > rounds + 3, 20_000, 'the interactive session to go on');
    typing.stop();
    expect(typing.problems).toEqual([]);
    console.log(`drain: longest echo wait ${typing.longestWaitMs()} ms`);
    old.socket.end();
    const fresh = await rep.openSession('jump-east', targets.echo);
    expect((await echoThrough(fresh.socket, Buffer.from('after'))).toString()).toBe('after');
    fresh.socket.end();
    await primary.api.call('PATCH', `/api/login/cluster/nodes/${drained}`, {
      json: { accepting: true },
    });
    // Accepting again, it gets new clients again: no poll begun while it was draining and
    // answered late bars it for good (polls of a node overlapped before).
    await until(
      async () => (await cluster()).nodes.find((n) => n.name === drained)?.eligible,
      10_000,
      `${drained} to be eligible again`,
    );
  });

  it('sends a client of a region without an accepting node to another region', async () => {
    const west = Object.keys(nodeRegion).filter((n) => nodeRegion[n] === 'west');
    for (const n of west)
      await primary.api.call('PATCH', `/api/login/cluster/nodes/${n}`, {
        json: { accepting: false },
      });
    const token = await enrolmentToken(primary.api);
    const wanderer = jumpClient('jump-west-late', 'west', token);
    await until(() => wanderer.state === 'connected', 15_000, 'the west Jump Client to connect');
    expect(nodeRegion[wanderer.connectedTo!]).toBe('east');
    for (const n of west)
      await primary.api.call('PATCH', `/api/login/cluster/nodes/${n}`, {
        json: { accepting: true },
      });
    await until(
      async () =>
        (await cluster()).nodes.filter((n) => west.includes(n.name) && n.eligible).length ===
        west.length,
      10_000,
      'the west nodes to be eligible again',
    );
  });

  it('Cluster Sync Now pushes configuration to every node', async () => {
    const created = await primary.api.call('POST', '/api/login/users', {
      json: { username: 'cluster.rep', displayName: 'Cluster Rep', password: 'Sturdy-Pass-303' },
    });
    expect(created.status).toBe(201);
    const sync = await primary.api.call<{ results: { node: string; ok: boolean }[] }>(
      'POST',
      '/api/login/cluster/sync',
    );
    expect(sync.status).toBe(200);
    expect(sync.body.results.every((r) => r.ok)).toBe(true);
    for (const node of nodes) {
      const users = await node.api.call<{ users: { username: string }[] }>(
        'GET',
        '/api/login/users',
      );
      expect(users.body.users.map((u) => u.username)).toContain('cluster.rep');
    }
  });

  it('removes a node: its clients reconnect through the site to an accepting node at the first try, and a session started meanwhile opens where its Jump Client lands', async () => {
    const east = jumps.find((j) => j.name === 'jump-east')!;
    const leaving = east.connectedTo!;
    const from = logs['jump-east']!.length;
    const removed = await primary.api.call('DELETE', `/api/login/cluster/nodes/${leaving}`);
    expect(removed.status).toBe(204);
    expect(await startedFirstTime('jump-east', 'after leaving')).not.toBe(leaving);
    // The site (the primary node) sent it to a node of the cluster, not back to the one leaving.
    const lines = logs['jump-east']!.slice(from);
    const asked = lines.indexOf('asked to move: this node left the cluster');
    expect(asked, lines.join('\n')).toBeGreaterThanOrEqual(0);
    const first = lines.slice(asked + 1).find((l) => /^(connected to|cannot connect)/.test(l));
    expect(first, lines.join('\n')).toMatch(/^connected to /);
    expect(first).not.toContain(leaving);
    expect(east.connectedTo).not.toBe(leaving);
  });
});
