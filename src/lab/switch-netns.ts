import { connect } from 'node:net';
import path from 'node:path';

import { prepareResolvers } from './dns-netns.js';
import { ipIn, nftIn, nsExec, sh } from './netns.js';
import type { LabNetwork } from './network-plan.js';
import { GATEHOUSE_BIN } from './processes.js';
import { requireState, type LabState } from './state.js';
import { labErrors } from './error-codes.js';

const NAT_TABLE = 'gatehouse_nat';

/**
 * The switch's fixed parts, made by `lab up` from the host before anything starts: with `nat`
 * the router answers for the public address and masquerades hairpin flows; with `dns` the
 * client namespaces resolve through the lab's caching resolver.
 */
export async function prepareSwitch(state: LabState): Promise<void> {
  const net = state.network!;
  if (state.site.switch === 'dns') prepareResolvers(state);
  if (state.site.switch !== 'nat') return;
  const out = net.segments.find((s) => s.name === 'out')!;
  await ipIn(net.routerNs, 'addr', 'add', `${net.natAddress}/32`, 'dev', out.routerIface);
  const site = net.segments.find((s) => s.name === 'region-1')!;
  await nftIn(
    net.routerNs,
    [
      `table ip ${NAT_TABLE} {`,
      '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
      '  chain postrouting { type nat hook postrouting priority srcnat; policy accept;',
      // A host of the site's own LAN reaching the public address: without this the
      // appliance would answer it directly, from an address it never asked.
      `    ct status dnat ip saddr ${site.cidr} oifname "${site.routerIface}" masquerade`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
}

/**
 * Point the router's DNAT of the public address at ADDRESS:PORT. Flows conntrack still sends to
 * another appliance stay there while it answers: sessions under way finish, and Gatehouse asks
 * that appliance's clients to reconnect (through the site, so to the new one) — a flush would
 * reset them all at once, and each client would find out only at its next packet. Flows to an
 * appliance that does not answer (dead, cut off) are deleted: their next packet is NATed to the
 * new appliance, which answers with a reset, so the client reconnects at once instead of
 * retransmitting into nothing until TCP gives up.
 */
export async function natPoint(net: LabNetwork, address: string, port: number): Promise<void> {
  if (!/^198\.1[89]\.\d+\.\d+$/.test(address))
    throw labErrors.LAB_NAT_BAD_TARGET(
      `GATEHOUSE_TARGET_ADDRESS: "${address}" is not a lab address (198.18.0.0/15).`,
    );
  // One transaction: no instant without a rule.
  await nftIn(
    net.routerNs,
    [
      `flush chain ip ${NAT_TABLE} prerouting`,
      `add rule ip ${NAT_TABLE} prerouting ip daddr ${net.natAddress} tcp dport 443 dnat to ${address}:${port}`,
      '',
    ].join('\n'),
  );
  for (const old of await flowTargets(net))
    if (old !== address && !(await answers(old, port))) await flushFlows(net, old);
}

/** The appliances conntrack sends the public address's flows to (each reply's source). */
async function flowTargets(net: LabNetwork): Promise<string[]> {
  const argv = ['conntrack', '-L', '-p', 'tcp', '--orig-dst', net.natAddress];
  const flows = await sh('ip', nsExec(net.routerNs, argv).slice(1));
  return [...new Set([...flows.matchAll(/dport=\d+ src=([\d.]+)/g)].map((m) => m[1]!))];
}

/** Whether ADDRESS:PORT accepts a TCP connection within half a second. */
function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port, timeout: 500 }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Delete the public address's conntrack entries that lead to OLD. An entry may end on its own
 * while conntrack deletes it ("such conntrack doesn't exist"), which stops that pass: passes
 * repeat until one finds nothing.
 */
async function flushFlows(net: LabNetwork, old: string): Promise<void> {
  const argv = ['conntrack', '-D', '-p', 'tcp', '--orig-dst', net.natAddress, '--reply-src', old];
  for (let pass = 0; pass < 5; pass++) {
    const done = await sh('ip', nsExec(net.routerNs, argv).slice(1)).then(
      () => false,
      (e: Error) => {
        // conntrack exits 1 when nothing matched: the flows are gone.
        if (/0 flow entries have been deleted/.test(e.message)) return true;
        if (/such conntrack doesn't exist/.test(e.message)) return false;
        throw e;
      },
    );
    if (done) return;
  }
}

/** Where the router's DNAT sends the public address now (the address only). */
export async function natCurrent(net: LabNetwork): Promise<string | undefined> {
  const out = await sh(
    'ip',
    nsExec(net.routerNs, ['nft', 'list', 'chain', 'ip', NAT_TABLE, 'prerouting']).slice(1),
  );
  return /dnat to ([\d.]+)/.exec(out)?.[1];
}

/** The `command` provider's settings for the lab's NAT: this CLI, run by each appliance. */
export function natCommand(state: LabState) {
  const base = [process.execPath, GATEHOUSE_BIN, 'lab', 'nat-point', '--dir', state.dir];
  return { provider: 'command', argv: base, currentArgv: [...base, '--show'] };
}

/** `lab nat-point`: with ENV, point the DNAT at its GATEHOUSE_TARGET_*; else print where it points. */
export async function natSwing(
  dir: string,
  env: NodeJS.ProcessEnv | undefined,
): Promise<string | undefined> {
  const net = requireState(path.resolve(dir)).network;
  if (!net) throw labErrors.LAB_NOT_NETNS(`--dir ${dir}: not a netns lab with --switch nat.`);
  if (!env) return natCurrent(net);
  await natPoint(net, env.GATEHOUSE_TARGET_ADDRESS ?? '', Number(env.GATEHOUSE_TARGET_PORT) || 443);
  return undefined;
}
