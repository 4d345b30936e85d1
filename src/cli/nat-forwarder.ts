import path from 'node:path';
import { Command } from 'commander';
import { parseListen } from './serve.js';
import { run } from './errors.js';

export function natForwarderCommand(): Command {
  return new Command('nat-forwarder')
    .description(
      'run a TCP forwarder for the site (NAT swing on one machine): new connections go to the current target, set through an authenticated HTTPS control API',
    )
    .requiredOption(
      '--listen <host:port>',
      'where clients connect, e.g. 127.0.0.1:8443',
      parseListen,
    )
    .requiredOption(
      '--control <host:port>',
      'HTTPS control API (PUT/GET /target with the bearer token), e.g. 127.0.0.1:9443',
      parseListen,
    )
    .requiredOption(
      '--data-dir <dir>',
      'keeps the certificate, the control token (0600) and the current target across restarts',
    )
    .option('--target <host:port>', 'first target, when none is stored yet', parseListen)
    .addHelpText(
      'after',
      `
The first start makes a self-signed certificate and a control token, printed once (also in
DIR/control-token). Example:
  gatehouse nat-forwarder --listen 0.0.0.0:443 --control 127.0.0.1:9443 --data-dir /var/lib/gatehouse-fwd
  curl -k -H "Authorization: Bearer $(cat /var/lib/gatehouse-fwd/control-token)" \\
      -X PUT -d '{"address":"192.0.2.11","port":443}' https://127.0.0.1:9443/target`,
    )
    .action(
      run(async (o) => {
        const { startNatForwarder } = await import('../traffic/nat/forwarder.js');
        const at = (h: { host: string; port: number }) =>
          `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
        const fwd = await startNatForwarder({
          listen: o.listen,
          control: o.control,
          dataDir: path.resolve(o.dataDir),
          ...(o.target ? { initialTarget: { address: o.target.host, port: o.target.port } } : {}),
          log: (line) => process.stdout.write(`${line}\n`),
        });
        const t = fwd.target();
        process.stdout.write(
          [
            `Forwarding ${at(fwd.listen)} to ${t ? at({ host: t.address, port: t.port }) : 'no target yet (connections are closed until one is set)'}`,
            `Control API https://${at(fwd.control)}/target`,
            `Control certificate SHA-256 fingerprint: ${fwd.fingerprint}`,
            ...(fwd.newToken
              ? [`Control token (shown once, also in ${fwd.tokenFile}): ${fwd.newToken}`]
              : []),
            '',
          ].join('\n'),
        );
        const stop = () => void fwd.close().then(() => process.exit(0));
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      }),
    );
}
