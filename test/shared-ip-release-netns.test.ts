import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostOf } from '../src/lab/network-plan.js';
import { CODE_ROOT } from '../src/shared/version.js';
import { expectHostAsBefore, hostNetwork, upNetnsLab, type NetnsLab } from './support/netns-lab.js';

const execFileP = promisify(execFile);

/**
 * The shared-IP switch when the old holder does not release the address (step-roles.ts,
 * moveSharedIp): the orchestrator, in the lab's admin namespace, runs the switch itself, and
 * an nftables rule in the old holder's namespace refuses the admin's calls to it (TCP reset)
 * for a while from the moment the orchestrator is about to ask it to release the address
 * (switchTraffic's test-only beforeRelease hook: the switch waits there until the rule is in
 * place). Blocked longer than the release's 5 s of retries, the take is undone; blocked for a
 * second, a retry releases it.
 */

/**
 * Runs the orchestrator's shared-IP switch FROM → TO: before the release it prints
 * {"release":true} and waits for a line on stdin; then its answer or error as JSON.
 */
const SWITCH = `
const [dist, inventory, from, to] = process.argv.slice(1);
(async () => {
  const { loadInventory } = await import(dist + '/orchestrator/inventory.js');
  const { Deployment } = await import(dist + '/orchestrator/deployment.js');
  const { switchTraffic } = await import(dist + '/orchestrator/step-roles.js');
  const deployment = new Deployment(loadInventory(inventory));
  const lines = require('node:readline').createInterface({ input: process.stdin });
  // "fail" makes the hook reject (as a fault test's own failure would), anything else goes on.
  const beforeRelease = () =>
    new Promise((resolve, reject) => {
      lines.once('line', (l) => (l === 'fail' ? reject(new Error('the hook failed.')) : resolve()));
      console.log(JSON.stringify({ release: true }));
    });
  const r = await switchTraffic({ deployment, log: () => {} }, from, to, { beforeRelease }).then(
    (done) => ({ done }),
    (e) => ({ code: e.code, message: e.message }),
  );
  console.log(JSON.stringify(r));
  process.exit(0);
})();`;

/** GET https://ADDRESS:PORT/health from a namespace: its status and the server's fingerprint. */
const HEALTH = `
const [host, port] = process.argv.slice(1);
const req = require('node:https').get({ host, port, path: '/health', rejectUnauthorized: false }, (res) => {
  console.log(JSON.stringify({ status: res.statusCode, fp: res.socket.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase() }));
  process.exit(0);
});
req.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });`;

describe('a shared IP the old holder does not release (netns)', () => {
  let lab: NetnsLab | undefined;
  let before: Awaited<ReturnType<typeof hostNetwork>>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    before = await hostNetwork();
    lab = await upNetnsLab(['--topology', 'pair', '--switch', 'shared-ip']);
    // Past `lab up`'s own 240 s: a slow one is stopped and swept by upNetnsLab, not left running
    // with its namespaces when the hook times out first (`lab` unset, afterAll sweeps nothing).
  }, 300_000);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (!lab) return;
    const prefix = lab.state().network!.prefix;
    await lab.down();
    await expectHostAsBefore(before, prefix);
  }, 120_000);

  const nsOf = (name: string) => hostOf(lab!.state().network!, name)!;
  const nft = (host: string, args: string[]) =>
    execFileP('ip', ['netns', 'exec', nsOf(host).ns, 'nft', ...args]);
  const vipOn = async (host: string) =>
    (
      await execFileP('ip', ['-n', nsOf(host).ns, '-o', 'addr', 'show', 'dev', 'eth0'])
    ).stdout.includes(`${lab!.state().network!.vip}/32`);
  const macOf = async (host: string) =>
    /link\/ether (\S+)/.exec(
      (await execFileP('ip', ['-n', nsOf(host).ns, '-o', 'link', 'show', 'eth0'])).stdout,
    )![1]!;
  const health = async () => {
    const s = lab!.state();
    const r = await lab!.exec('client', [
      'node',
      '-e',
      HEALTH,
      s.network!.vip,
      String(s.site.port),
    ]);
    return JSON.parse(r.stdout) as { status?: number; fp?: string; error?: string };
  };
  const fingerprint = (name: string) =>
    lab!
      .state()
      .appliances.find((x) => x.name === name)!
      .fingerprint.replace(/:/g, '')
      .toLowerCase();

  /**
   * The switch A → B, the admin's calls to A refused for `blockS` seconds from the moment the
   * orchestrator is about to ask A to release the address (an nftables set element that
   * expires by itself, added while the switch waits in its beforeRelease hook). Its answer,
   * and how many of the admin's packets to A were refused.
   */
  async function switchBlocked(a: string, b: string, blockS: number, reply = 'go') {
    const s = lab!.state();
    const admin = nsOf('admin').address;
    const table = `table inet undo16 {
      set blocked { type ipv4_addr; flags timeout; }
      chain input { type filter hook input priority 0;
        meta l4proto tcp ip saddr @blocked ip daddr ${nsOf(a).address} counter reject with tcp reset
      }
    }`;
    // A's namespace only (ip netns exec): a table of the same name from the case before goes.
    await nft(a, ['delete', 'table', 'inet', 'undo16']).catch(() => undefined);
    await execFileP('ip', [
      'netns',
      'exec',
      nsOf(a).ns,
      'sh',
      '-c',
      'printf "%s" "$0" | nft -f -',
      table,
    ]);
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsOf('admin').ns,
        process.execPath,
        '-e',
        SWITCH,
        path.join(CODE_ROOT, 'dist', 'src'),
        path.join(lab!.dir, s.inventory),
        a,
        b,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let blocked = false;
    const answer = await new Promise<{ done?: unknown; code?: string; message?: string }>(
      (resolve, reject) => {
        // The switch and its undo take ~10 s (at most ~30 s: two 10 s waits for the site, two 5 s
        // retries); a hung one fails here, with its stderr, not at the test's timeout.
        const deadline = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the switch did not answer within 50 s; stderr: ${stderr}`));
        }, 50_000);
        createInterface({ input: child.stdout! }).on('line', (l) => {
          const m = JSON.parse(l) as { release?: true; done?: unknown; code?: string };
          if (!m.release) {
            clearTimeout(deadline);
            return resolve(m);
          }
          const block = blockS
            ? nft(a, [
                'add',
                'element',
                'inet',
                'undo16',
                'blocked',
                `{ ${admin} timeout ${blockS}s }`,
              ])
            : Promise.resolve();
          void block.then(
            () => {
              blocked = true;
              child.stdin!.write(`${reply}\n`);
            },
            (e: Error) => {
              clearTimeout(deadline);
              child.kill('SIGKILL');
              reject(e);
            },
          );
        });
        child.once('exit', () =>
          setTimeout(() => {
            clearTimeout(deadline);
            reject(new Error(`the switch exited without an answer; stderr: ${stderr}`));
          }, 1_000),
        );
      },
    );
    // The switch reached its release (the block was put in place there).
    expect(blocked, JSON.stringify(answer)).toBe(true);
    const refused = Number(
      /packets (\d+)/.exec((await nft(a, ['list', 'chain', 'inet', 'undo16', 'input'])).stdout)![1],
    );
    return { answer, refused };
  }

  it('undoes the take when the old holder cannot be asked to release it: A holds it, neighbours have its MAC again, the site answers', async () => {
    const [a, b] = lab!.state().appliances.map((x) => x.name) as [string, string];
    // The router (the clients' way to the site) has a neighbour entry for the address.
    expect((await health()).fp).toBe(fingerprint(a));
    // Longer than the release's 5 s of retries, shorter than those and the undo's 5 s to take it back.
    const { answer, refused } = await switchBlocked(a, b, 8);
    expect(answer.code, JSON.stringify(answer)).toBe('UPGRADE_SHARED_IP_NOT_RELEASED');
    expect(answer.message).toContain(`Switching traffic from ${a} to ${b}: ${a} did not release`);
    expect(answer.message).toContain('gatehouse upgrade resume');
    // The undo itself went through: A announced the address again.
    expect(answer.message).not.toContain('could not be asked');
    expect(refused).toBeGreaterThan(1);
    expect([await vipOn(a), await vipOn(b)]).toEqual([true, false]);
    const neigh = (await lab!.exec('router', ['ip', 'neigh', 'show', lab!.state().network!.vip]))
      .stdout;
    expect(neigh).toContain(await macOf(a));
    const after = await health();
    expect(after).toEqual({ status: 200, fp: fingerprint(a) });
  }, 90_000);

  it('undoes the take when the hook before the release fails: never both hosts holding it', async () => {
    const [a, b] = lab!.state().appliances.map((x) => x.name) as [string, string];
    expect((await health()).fp).toBe(fingerprint(a));
    const { answer } = await switchBlocked(a, b, 0, 'fail');
    expect(answer.message, JSON.stringify(answer)).toContain('the hook failed.');
    expect(answer.message).not.toContain('could not be asked');
    expect([await vipOn(a), await vipOn(b)]).toEqual([true, false]);
    expect(await health()).toEqual({ status: 200, fp: fingerprint(a) });
  }, 90_000);

  it('releases the address on a retry when the old holder refused the first attempt', async () => {
    const [a, b] = lab!.state().appliances.map((x) => x.name) as [string, string];
    const { answer, refused } = await switchBlocked(a, b, 1);
    expect(answer.code, JSON.stringify(answer)).toBeUndefined();
    expect(answer.done).toMatchObject({ moved: [lab!.state().network!.vip], from: a, to: b });
    expect(refused).toBeGreaterThan(0);
    expect([await vipOn(a), await vipOn(b)]).toEqual([false, true]);
    expect(await health()).toEqual({ status: 200, fp: fingerprint(b) });
  }, 90_000);
});
