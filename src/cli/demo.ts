import { Command, InvalidArgumentError } from 'commander';
import { parseListen } from './serve.js';
import { run } from './errors.js';

const count = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError('expected a whole number of at least 1');
  return Number(v);
};

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      "the main job on embedded defaults: a cluster with a backup primary node on loopback, upgraded by the orchestrator under live sessions, with its report (--walkthrough: one appliance's features instead)",
    )
    .option('--traffic-nodes <n>', 'traffic nodes of the demo cluster', count, 4)
    .option('--regions <n>', 'regions of the demo cluster', count, 2)
    .option('--dir <dir>', 'where the lab lives (default: a new temporary directory)')
    .option('--keep', 'leave the lab running afterwards (stop it with gatehouse lab down)')
    .option(
      '--walkthrough',
      "instead: one appliance's features (users, files, backup, restore, an update)",
    )
    .option(
      '--exit',
      'with --walkthrough: stop after the walkthrough instead of serving until Ctrl-C',
    )
    .option(
      '--listen <host:port>',
      'with --walkthrough: where the appliance listens',
      parseListen,
      {
        host: '127.0.0.1',
        port: 0,
      },
    )
    .action(
      run(async (o) => {
        const log = (l: string) => process.stdout.write(l + '\n');
        if (o.walkthrough) {
          const { runDemo } = await import('../lab/demo.js');
          await runDemo({
            exit: !!o.exit,
            host: o.listen.host,
            port: o.listen.port || undefined,
            log,
          });
          return;
        }
        const { runUpgradeDemo } = await import('../lab/demo-upgrade.js');
        const outcome = await runUpgradeDemo({
          trafficNodes: o.trafficNodes,
          regions: o.regions,
          keep: !!o.keep,
          dir: o.dir,
          log,
        });
        process.exitCode = outcome === 'finished' ? 0 : 1;
      }),
    );
}
