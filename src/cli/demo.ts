import { Command } from 'commander';
import { parseListen } from './serve.js';
import { reportAndExit } from './errors.js';

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run the demo on embedded defaults: one appliance on loopback, exercised end to end',
    )
    .option('--exit', 'stop after the walkthrough instead of serving until Ctrl-C')
    .option('--listen <host:port>', 'where the demo appliance listens', parseListen, {
      host: '127.0.0.1',
      port: 0,
    })
    .action(async (o) => {
      try {
        const { runDemo } = await import('../lab/demo.js');
        await runDemo({
          exit: !!o.exit,
          host: o.listen.host,
          port: o.listen.port || undefined,
          log: (l) => process.stdout.write(l + '\n'),
        });
      } catch (e) {
        reportAndExit(e);
      }
    });
}
