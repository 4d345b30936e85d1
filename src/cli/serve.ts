import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { ServeOptions } from '../shared/http/server.js';
import { run } from './errors.js';

/** HOST:PORT or [IPv6]:PORT. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) {
    throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443');
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * A command that serves HTTPS from a data directory until SIGTERM (`appliance start|run`,
 * `update-server start`): the same three options and error handling for each. `serve` is
 * loaded inside the action so that `--help` does not pay for the server's modules.
 */
export function serveCommand(spec: {
  name: string;
  description: string;
  dataDirHelp: string;
  examplePort: number;
  serve: (o: ServeOptions) => Promise<void>;
}): Command {
  return new Command(spec.name)
    .description(spec.description)
    .requiredOption('--data-dir <dir>', spec.dataDirHelp)
    .requiredOption(
      '--listen <host:port>',
      `HTTPS listen address, e.g. 127.0.0.1:${spec.examplePort} (port 0 picks a free port, printed at start)`,
      parseListen,
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', 'info')
    .action(
      run(async (o: { dataDir: string; listen: ServeOptions['listen']; logLevel: string }) => {
        await spec.serve({
          dataDir: path.resolve(o.dataDir),
          listen: o.listen,
          logLevel: o.logLevel,
        });
      }),
    );
}
