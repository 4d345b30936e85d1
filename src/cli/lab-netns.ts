import { Command } from 'commander';
import { run } from './errors.js';

const DIR = ['--dir <dir>', 'the lab directory', './gatehouse-lab'] as const;

/** `lab exec` and the netns lab's inner start: commands only a netns lab has. */
export function addNetnsCommands(cmd: Command, out: (line: string) => void): void {
  cmd
    .command('start-inside', { hidden: true })
    .description('netns lab: start the processes, run by `lab up` inside the admin namespace')
    .option(...DIR)
    .action(
      run(async (o: { dir: string }) => {
        const { startLabInside } = await import('../lab/up.js');
        await startLabInside(o.dir, out);
      }),
    );

  cmd
    .command('exec')
    .description(
      'netns lab: run a command inside one host’s namespace (admin, agent, prober, client, dns, updates, router, or an appliance); a leading `gatehouse` is this code tree’s',
    )
    .argument('<host>', 'the host, e.g. admin or appliance-a')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option(...DIR)
    .action(
      run(async (host: string, argv: string[], o: { dir: string }) => {
        const { labExec } = await import('../lab/exec.js');
        process.exitCode = await labExec(o.dir, host, argv);
      }),
    );

  cmd
    .command('fault')
    .description(
      'netns lab: partition A B | isolate A | latency REGION 80ms | loss REGION 5% | heal [all] | kill NAME | freeze NAME | thaw NAME (logged with its time in lab.json)',
    )
    .argument('<fault...>', 'the fault and its arguments')
    .option(...DIR)
    .action(
      run(async (words: string[], o: { dir: string }) => {
        const { labFault } = await import('../lab/faults.js');
        const r = await labFault(o.dir, words);
        out(`${r.at} ${r.fault} ${r.args.join(' ')}`.trim());
      }),
    );

  cmd
    .command('nat-point', { hidden: true })
    .description(
      'netns lab, --switch nat: the `command` traffic-switch provider run by the appliances; points the router’s DNAT at GATEHOUSE_TARGET_ADDRESS:PORT (--show prints where it points)',
    )
    .option(...DIR)
    .option('--show', 'print the address the DNAT points at now')
    .action(
      run(async (o: { dir: string; show?: boolean }) => {
        const { natSwing } = await import('../lab/switch-netns.js');
        const current = await natSwing(o.dir, o.show ? undefined : process.env);
        if (current) out(current);
      }),
    );
}
