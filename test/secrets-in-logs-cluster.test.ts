/**
 * No secret in logs, for a cluster (BRIEF, CONVENTIONS): the Inter-Appliance key a traffic node
 * joins with (and a refused one), the secrets derived from it (the tickets a node accepts for
 * the primary node), the site certificate authority's key the primary node sends the node, each
 * appliance's own private keys, a Jump Client's enrolment token and installation key, and the
 * tickets of a console session relayed by the node appear nowhere either appliance writes —
 * stdout, stderr, every file of its log directory, its event log — at the trace level, nor in
 * what the clients print.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  tempDir,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { enrolmentToken } from './support/jump-clients.js';
import {
  applianceKeySecrets,
  filesUnder,
  interApplianceKeySecrets,
  leaksIn,
  privateKeySecret,
  secret,
  type Secret,
  type Written,
  writtenByAppliance,
} from './support/log-scan.js';
import { startTargets, type Targets } from './support/targets.js';

const KEY = 'secrets-cluster-key-0123456789abcdefghijk';

let primary: TestAppliance;
let node: TestAppliance;
let targets: Targets;
let jump: JumpClient | undefined;
let rep: RepresentativeConsole | undefined;

beforeAll(async () => {
  [primary, node, targets] = await Promise.all([
    startTestAppliance({
      name: 'secrets-primary',
      host: '127.0.0.165',
      interApplianceKey: KEY,
      logLevel: 'trace',
    }),
    startTestAppliance({
      name: 'secrets-node',
      host: '127.0.0.166',
      interApplianceKey: KEY,
      logLevel: 'trace',
    }),
    startTargets(),
  ]);
  // ~10 s alone on a shared 2-core machine (two inits and starts side by side); 4× under CI.
}, 180_000);
afterAll(async () => {
  await rep?.close();
  await jump?.stop();
  await targets?.close();
});

const siteOf = (t: TestAppliance) => ({
  host: t.proc.host,
  port: t.proc.port,
  fingerprint: t.proc.fingerprint,
});

describe('a cluster logs', () => {
  it("no Inter-Appliance key, derived secret, site CA key or private key while a traffic node joins, nor a Jump Client's secrets or a session's tickets the node relays", async () => {
    const secrets: Secret[] = [...interApplianceKeySecrets('the cluster key', KEY)];

    // A join with another key is refused; the key asked with is not written either.
    const wrongKey = 'Refused-Cluster-Key-0123456789abcdefghij';
    secrets.push(...interApplianceKeySecrets('a refused cluster key', wrongKey));
    const join = (key: string) =>
      primary.api.call<{ code?: string; name?: string }>('POST', '/api/login/cluster/nodes', {
        json: { host: node.proc.host, port: node.proc.port, region: 'east', key },
      });
    const refused = await join(wrongKey);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('CLUSTER_KEY_MISMATCH');
    const joined = await join(KEY);
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    await until(
      async () =>
        (
          await primary.api.call<{ nodes: { eligible: boolean }[] }>('GET', '/api/login/cluster')
        ).body.nodes.some((n) => n.eligible),
      30_000,
      'the traffic node to be eligible',
    );
    // The node took the primary node's site certificate authority (its key sent to it).
    const siteCaOf = async (t: TestAppliance) =>
      (await t.api.call<{ siteCa: string }>('GET', '/api/login/status/information')).body.siteCa;
    const siteCa = await siteCaOf(primary);
    await until(
      async () => (await siteCaOf(node)) === siteCa,
      30_000,
      "the node to hold the primary node's site CA",
    );

    // A Jump Client of the node's region enrols at the primary node and is sent to the node.
    const token = await enrolmentToken(primary.api);
    secrets.push(secret("the Jump Client's enrolment token", token));
    const jumpLines: string[] = [];
    const identity = path.join(tempDir('gh-secrets-cluster-'), 'secrets-east.json');
    jump = new JumpClient({
      site: siteOf(primary),
      name: 'secrets-east',
      group: 'east',
      token,
      allow: [targets.echo],
      region: 'east',
      identity,
      log: (line) => jumpLines.push(line),
    });
    jump.start();
    await until(() => jump!.state === 'connected', 30_000, 'the Jump Client to connect');
    expect(jump.connectedTo).toBe('secrets-node');
    const { privateKeyPem } = JSON.parse(readFileSync(identity, 'utf8')) as {
      privateKeyPem: string;
    };
    secrets.push(privateKeySecret("the Jump Client's installation key", privateKeyPem));

    // A console of that region signs in (a console ticket) and opens a session the node relays.
    rep = await RepresentativeConsole.signIn(siteOf(primary), 'admin', LOGIN_PASSWORD, 'east');
    const repLines: string[] = [];
    rep.log = (line) => repLines.push(line);
    secrets.push(secret('the console ticket', rep.signIn.ticket));
    await until(
      async () => (await rep!.jumpClients()).length === 1,
      15_000,
      'the primary node to list the Jump Client',
    );
    const { socket } = await rep.openSession('secrets-east', targets.echo);
    try {
      socket.write('through the node\n');
      const [echoed] = (await once(socket, 'data')) as [Buffer];
      expect(echoed.toString()).toContain('through the node');
    } finally {
      socket.destroy();
    }

    await rep.close();
    rep = undefined;
    await jump.stop();
    jump = undefined;
    secrets.push(
      ...applianceKeySecrets(primary.dataDir, 'the primary node'),
      ...applianceKeySecrets(node.dataDir, 'the traffic node'),
    );
    await Promise.all([primary.proc.stop(), node.proc.stop()]);
    await Promise.all([primary.proc.outputClosed, node.proc.outputClosed]);
    const logFiles = (t: TestAppliance) => filesUnder(path.join(t.dataDir, 'logs'));
    const written: Written[] = [
      ...writtenByAppliance('the primary node', primary.proc.output, primary.dataDir),
      ...writtenByAppliance('the traffic node', node.proc.output, node.dataDir),
      { source: "the Jump Client's log", text: jumpLines.join('\n') },
      { source: "the console's log", text: repLines.join('\n') },
    ];
    // The node's own log files hold what it was asked and did: the leaks would be among them.
    const nodeLogged = logFiles(node)
      .map((w) => w.text)
      .join('\n');
    for (const done of [
      '/api/peer/cluster/join',
      '/api/peer/cluster/site-ca',
      'jump client connected',
    ])
      expect(nodeLogged, `${done} in the node's log files`).toContain(done);
    const primaryLogged = logFiles(primary)
      .map((w) => w.text)
      .join('\n');
    expect(primaryLogged).toContain('/api/login/cluster/nodes');
    expect(leaksIn(written, secrets)).toEqual([]);
  }, 180_000);
});
