import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { fieldError } from '../shared/errors.js';
import { adminApiOptions, apiError, withAdminApi, type AdminApiOptions } from './admin-api.js';
import { run } from './errors.js';

async function put(o: AdminApiOptions, config: Record<string, unknown>): Promise<void> {
  await withAdminApi(o, 'login', async (api) => {
    const res = await api.call('PUT', '/api/login/management/syslog', { json: config });
    if (res.status !== 200) throw await apiError(res);
  });
}

/** `gatehouse syslog show|set|disable`: /login > Management > Syslog from the command line. */
export function syslogCommand(): Command {
  const cmd = new Command('syslog').description(
    'forward the event log to a syslog collector over TLS (RFC 5424/5425); a /login administrator configures it',
  );
  adminApiOptions(cmd.command('show'), 'login')
    .description('print the configuration and the state of the forwarder')
    .action(
      run(async (o: AdminApiOptions) => {
        await withAdminApi(o, 'login', async (api) => {
          const res = await api.call('GET', '/api/login/management/syslog');
          if (res.status !== 200) throw await apiError(res);
          process.stdout.write(JSON.stringify(res.body, null, 2) + '\n');
        });
      }),
    );
  adminApiOptions(cmd.command('set'), 'login')
    .description('forward to a collector, trusted by its pinned fingerprint or by a CA')
    .requiredOption('--host <host>', 'the collector host name or IP address')
    .option('--port <port>', 'its TLS port', '6514')
    .addOption(
      new Option(
        '--collector-fingerprint <sha256>',
        "pin the collector certificate's SHA-256 fingerprint",
      ).conflicts('caFile'),
    )
    .option('--ca-file <file>', 'PEM of the CA that signed the collector certificate')
    .option('--spool-max <n>', 'messages kept on disk while the collector is down', '100000')
    .action(
      run(
        async (
          o: AdminApiOptions & {
            host: string;
            port: string;
            collectorFingerprint?: string;
            caFile?: string;
            spoolMax: string;
          },
        ) => {
          let caPem: string | undefined;
          if (o.caFile) {
            try {
              caPem = readFileSync(o.caFile, 'utf8');
            } catch {
              throw fieldError('ca-file', `${o.caFile} cannot be read; give the CA's PEM file`);
            }
          }
          await put(o, {
            enabled: true,
            host: o.host,
            port: o.port,
            ...(o.collectorFingerprint ? { fingerprint: o.collectorFingerprint } : {}),
            ...(caPem ? { caPem } : {}),
            spoolMaxMessages: o.spoolMax,
          });
          process.stdout.write(`Forwarding the event log to ${o.host}:${o.port}.\n`);
        },
      ),
    );
  adminApiOptions(cmd.command('disable'), 'login')
    .description('stop forwarding (the configuration is kept)')
    .action(
      run(async (o: AdminApiOptions) => {
        await withAdminApi(o, 'login', async (api) => {
          const res = await api.call<{ config: Record<string, unknown> | null }>(
            'GET',
            '/api/login/management/syslog',
          );
          if (res.status !== 200) throw await apiError(res);
          if (!res.body.config) {
            process.stdout.write('Syslog forwarding is not configured.\n');
            return;
          }
          const again = await api.call('PUT', '/api/login/management/syslog', {
            json: { ...res.body.config, enabled: false },
          });
          if (again.status !== 200) throw await apiError(again);
          process.stdout.write('Syslog forwarding disabled.\n');
        });
      }),
    );
  return cmd;
}
