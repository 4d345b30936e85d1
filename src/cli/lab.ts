import { Command } from 'commander';
import path from 'node:path';
import { run } from './errors.js';
import { addNetnsCommands } from './lab-netns.js';

const DIR = ['--dir <dir>', 'the lab directory', './gatehouse-lab'] as const;
const out = (line: string): void => void process.stdout.write(`${line}\n`);
// Progress lines go to whatever reads them; a reader that goes away must not stop `lab up` half-way.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

export function labCommand(): Command {
  const cmd = new Command('lab').description(
    'a whole deployment on this machine (loopback 127.0.1.x, no root): appliances, update server, traffic switch, Jump Clients and consoles running synthetic sessions',
  );

  cmd
    .command('up')
    .description('start a lab and write its inventory; prints every web console and how to sign in')
    .option('--topology <name>', 'standalone, pair, cluster or cluster-failover', 'standalone')
    .option('--traffic-nodes <n>', 'clusters: traffic nodes (default 4)')
    .option('--regions <n>', 'clusters: regions the traffic nodes are spread over (default 2)')
    .option(
      '--switch <method>',
      'traffic switch: shared-ip, hosts-file, nat-forwarder, nat or dns (netns), none (default shared-ip for pair and cluster-failover, else none)',
    )
    .option('--jump-clients <n>', 'Jump Clients (default 2, or one per region if more)')
    .option('--session-rate <n>', 'new short synthetic sessions per second (default 1)')
    .option('--long-sessions <n>', 'long-lived synthetic sessions kept open (default 2)')
    .option(...DIR)
    .option(
      '--network <mode>',
      'loopback (default: 127.0.1.x, no root) or netns (root, Linux: a network namespace per host, real VIP, NAT and DNS)',
    )
    .option('--json', 'print lab.json instead of text')
    .action(
      run(async (o: Record<string, string | undefined> & { dir: string; json?: boolean }) => {
        const { parseLabOptions } = await import('../lab/plan.js');
        const options = parseLabOptions({
          topology: o.topology,
          trafficNodes: o.trafficNodes,
          regions: o.regions,
          switch: o.switch,
          jumpClients: o.jumpClients,
          sessionRate: o.sessionRate,
          longSessions: o.longSessions,
          network: o.network,
        });
        const { labUp } = await import('../lab/up.js');
        const log = o.json ? (l: string) => process.stderr.write(`${l}\n`) : out;
        const state = await labUp(o.dir, options, log);
        if (o.json) return out(JSON.stringify(state, null, 2));
        const { describeLab } = await import('../lab/summary.js');
        describeLab(state).forEach(out);
      }),
    );

  cmd
    .command('status')
    .description(
      'whether each process runs, each appliance’s role and version, each traffic node accepting or draining and its connected clients, the agent’s sessions',
    )
    .option(...DIR)
    .option('--json', 'print JSON')
    .action(
      run(async (o: { dir: string; json?: boolean }) => {
        const { rerunInAdmin } = await import('../lab/up-netns.js');
        const args = ['lab', 'status', '--dir', path.resolve(o.dir), ...(o.json ? ['--json'] : [])];
        if (await rerunInAdmin(o.dir, args, out)) return;
        const { labStatus, formatStatus } = await import('../lab/lifecycle.js');
        const s = await labStatus(o.dir);
        if (o.json) return out(JSON.stringify(s, null, 2));
        formatStatus(s).forEach(out);
      }),
    );

  cmd
    .command('down')
    .description('stop every process the lab started (SIGTERM, SIGKILL after a deadline)')
    .option(...DIR)
    .option('--purge', 'also remove the lab directory (appliance data, keys, passwords, logs)')
    .action(
      run(async (o: { dir: string; purge?: boolean }) => {
        const { labDown } = await import('../lab/lifecycle.js');
        const r = await labDown(o.dir, { purge: !!o.purge });
        out(
          `Stopped ${r.stopped.length} process(es)${r.killed.length ? `; killed after the deadline: ${r.killed.join(', ')}` : ''}.`,
        );
        if (r.namespaces.length) out(`Removed ${r.namespaces.length} network namespace(s).`);
        out(r.purged ? `Removed ${o.dir}.` : `Data kept in ${o.dir} (remove it with --purge).`);
      }),
    );

  cmd
    .command('publish-next')
    .description(
      "build signed packages of the next patch version from this code tree and publish them to the lab's update server",
    )
    .option(...DIR)
    .option('--version <version>', 'product version (default: the next patch of this code)')
    .option(
      '--base <version>',
      'also build a base package of this version, required by the product',
    )
    .action(
      run(async (o: { dir: string; version?: string; base?: string }) => {
        const { rerunInAdmin } = await import('../lab/up-netns.js');
        const args = ['lab', 'publish-next', '--dir', path.resolve(o.dir)];
        if (o.version) args.push('--version', o.version);
        if (o.base) args.push('--base', o.base);
        if (await rerunInAdmin(o.dir, args, out)) return;
        const { publishNext } = await import('../lab/publish.js');
        for (const p of await publishNext(o.dir, { version: o.version, base: o.base }))
          out(`Published ${p.kind} ${p.version} (${p.file})`);
      }),
    );

  cmd
    .command('agent', { hidden: true })
    .description('the lab agent (started by `lab up`): targets, Jump Clients, synthetic sessions')
    .option(...DIR)
    .action(
      run(async (o: { dir: string }) => {
        const { runAgent } = await import('../lab/agent.js');
        await runAgent(o.dir, (l) => out(`${new Date().toISOString()} ${l}`));
        process.exit(0);
      }),
    );
  addNetnsCommands(cmd, out);
  return cmd;
}
