import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { RepresentativeConsole } from '../src/clients/console.js';
import { JumpClient } from '../src/clients/jump-client.js';
import type { MuxStream } from '../src/sessions/mux.js';
import {
  LOGIN_PASSWORD,
  startTestAppliance,
  until,
  type TestAppliance,
} from './support/appliance.js';
import { enrolmentToken } from './support/jump-clients.js';
import { startTargets, type Targets } from './support/targets.js';

const KEY = 'cluster-drain-waiting-key-0123456789abcd';

const siteOf = (t: TestAppliance) => ({
  host: t.proc.host,
  port: t.proc.port,
  fingerprint: t.proc.fingerprint,
});

function echoThrough(socket: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer) => {
      got += c.toString();
      if (got.length >= text.length) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(text);
  });
}

describe('a traffic node drained while a resumable leg waits there to be paired', () => {
  /** Stopped after the file by the support's own cleanups. */
  const appliances: TestAppliance[] = [];
  let targets: Targets | undefined;
  let jump: JumpClient | undefined;
  let rep: RepresentativeConsole | undefined;
  afterAll(async () => {
    await rep?.close();
    await jump?.stop();
    await targets?.close();
  });

  it('sends the waiting leg on: the session resumes on the node its Jump Client moved to, not ended after the resume window', async () => {
    const [primary, n1, n2, t] = await Promise.all([
      startTestAppliance({ name: 'dw-primary', host: '127.0.0.110', interApplianceKey: KEY }),
      startTestAppliance({ name: 'dw-node-1', host: '127.0.0.111', interApplianceKey: KEY }),
      startTestAppliance({ name: 'dw-node-2', host: '127.0.0.112', interApplianceKey: KEY }),
      startTargets(),
    ]);
    appliances.push(primary, n1, n2);
    targets = t;
    for (const node of [n1, n2]) {
      const added = await primary.api.call('POST', '/api/login/cluster/nodes', {
        json: { host: node.proc.host, port: node.proc.port, region: 'east', key: KEY },
      });
      expect(added.status).toBe(201);
    }
    await until(
      async () =>
        (
          await primary.api.call<{ nodes: { eligible: boolean }[] }>('GET', '/api/login/cluster')
        ).body.nodes.filter((n) => n.eligible).length === 2,
      20_000,
      'both nodes eligible',
    );
    const lines: string[] = [];
    const t0 = Date.now();
    const note = (who: string) => (line: string) =>
      lines.push(`+${((Date.now() - t0) / 1000).toFixed(1)} s ${who}: ${line}`);
    jump = new JumpClient({
      site: siteOf(primary),
      name: 'waiting-db',
      group: 'east',
      token: await enrolmentToken(primary.api),
      allow: [targets.echo],
      region: 'east',
      log: note('jump client'),
    });
    jump.start();
    await until(() => jump!.state === 'connected', 20_000, 'the Jump Client to connect');
    const drained = jump.connectedTo!;
    rep = await RepresentativeConsole.signIn(siteOf(primary), 'admin', LOGIN_PASSWORD, 'east');
    rep.log = note('console');
    await until(
      async () => (await rep!.jumpClients()).some((j) => j.name === 'waiting-db'),
      20_000,
      'the primary node to list the Jump Client',
    );
    const s = await rep.openSession('waiting-db', targets.echo);
    expect(s.node).toBe(drained);
    expect(await echoThrough(s.socket, 'before')).toBe('before');

    // The console is slow to ask the site where to resume (held here, as a console on a slow
    // link would be): the Jump Client's leg comes back to the node first and waits there.
    const api = (rep as unknown as { api: { resumeRelay: (...a: unknown[]) => Promise<unknown> } })
      .api;
    const resumeRelay = api.resumeRelay.bind(api);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let asked = 0;
    api.resumeRelay = async (...a: unknown[]) => {
      asked++;
      await held;
      return resumeRelay(...a);
    };
    const report = () =>
      [
        `the Jump Client on ${jump?.connectedTo ?? 'no appliance'}`,
        ...lines,
        ...appliances.flatMap((x) =>
          x.proc.output.filter((l) => l.includes(s.session)).map((l) => `${x.proc.host}: ${l}`),
        ),
      ].join('\n');
    try {
      // The console's leg breaks (its stream reset, as when its link drops): the part pauses.
      (s.socket as unknown as { leg: MuxStream }).leg.destroy(new Error('cut by the test'));
      await until(() => asked > 0, 10_000, 'the console to ask where to resume');
      const waiting = () =>
        [n1, n2].some((n) =>
          n.proc.output.some(
            (l) =>
              l.includes('session leg waits for the other side') &&
              l.includes(s.session) &&
              l.includes('jump'),
          ),
        );
      await until(waiting, 10_000, `the Jump Client's leg to wait at ${drained}:\n${report()}`);

      // The node is drained: its Jump Client moves to the other node.
      const patch = await primary.api.call('PATCH', `/api/login/cluster/nodes/${drained}`, {
        json: { accepting: false },
      });
      expect(patch.status).toBe(200);
      await until(
        () => jump!.state === 'connected' && jump!.connectedTo !== drained,
        20_000,
        `the Jump Client to move:\n${report()}`,
      );
    } finally {
      release();
    }
    // The session resumes where the Jump Client went: its leg that waited at the drained node
    // was sent on (SESSION_PAUSED, "The session moves"). Before, it waited there for the
    // console's, which went to the other node, until the 120 s window ended the session (60 s:
    // room for a loaded machine, and still well before the window).
    const echoed = await Promise.race([
      echoThrough(s.socket, 'after the drain'),
      new Promise<string>((_, reject) =>
        setTimeout(
          () => reject(new Error(`no echo within 60 s of the drain:\n${report()}`)),
          60_000,
        ).unref(),
      ),
    ]);
    expect(echoed).toBe('after the drain');
    expect(
      lines.some((l) => l.includes('The session moves: this node is draining.')),
      report(),
    ).toBe(true);
    expect(
      lines.some((l) => /resumed after \d+ ms \(part 2\)/.test(l)),
      report(),
    ).toBe(true);
    // Over cleanly: the console ends its side, the target ends its own, the leg closes.
    s.socket.on('error', () => undefined);
    s.socket.resume();
    s.socket.end();
    await until(() => s.socket.destroyed, 20_000, `the session to end:\n${report()}`);
  }, 180_000);
});
