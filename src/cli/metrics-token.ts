import { Command } from 'commander';
import { adminApiOptions, apiError, withAdminApi, type AdminApiOptions } from './admin-api.js';
import { run } from './errors.js';

interface Token {
  id: string;
  label: string;
  createdAt: string;
  createdBy: string;
}

/** `gatehouse appliance metrics-token create|list|revoke`: the scrape tokens of GET /metrics. */
export function metricsTokenCommand(): Command {
  const cmd = new Command('metrics-token').description(
    'scrape tokens with which Prometheus reads GET /metrics (an /appliance administrator manages them)',
  );
  adminApiOptions(cmd.command('create'), 'appliance')
    .description('create a scrape token and print it (shown once)')
    .requiredOption('--label <label>', 'name of the scraper, e.g. prometheus-1')
    .action(
      run(async (o: AdminApiOptions & { label: string }) => {
        await withAdminApi(o, 'appliance', async (api) => {
          const res = await api.call<Token & { token: string }>(
            'POST',
            '/api/appliance/monitoring/tokens',
            { json: { label: o.label } },
          );
          if (res.status !== 201) throw await apiError(res);
          process.stdout.write(
            `Scrape token "${res.body.label}" (id ${res.body.id}); shown once, store it now:\n${res.body.token}\n`,
          );
        });
      }),
    );
  adminApiOptions(cmd.command('list'), 'appliance')
    .description('list scrape tokens (labels and ids, never the tokens)')
    .action(
      run(async (o: AdminApiOptions) => {
        await withAdminApi(o, 'appliance', async (api) => {
          const res = await api.call<{ tokens: Token[] }>(
            'GET',
            '/api/appliance/monitoring/tokens',
          );
          if (res.status !== 200) throw await apiError(res);
          for (const t of res.body.tokens)
            process.stdout.write(`${t.id}  ${t.label}  created ${t.createdAt} by ${t.createdBy}\n`);
        });
      }),
    );
  adminApiOptions(cmd.command('revoke'), 'appliance')
    .description('revoke a scrape token: its next scrape is refused')
    .requiredOption('--id <id>', 'the id printed by create or list')
    .action(
      run(async (o: AdminApiOptions & { id: string }) => {
        await withAdminApi(o, 'appliance', async (api) => {
          const res = await api.call(
            'DELETE',
            `/api/appliance/monitoring/tokens/${encodeURIComponent(o.id)}`,
          );
          if (res.status !== 204) throw await apiError(res);
          process.stdout.write(`Revoked scrape token ${o.id}.\n`);
        });
      }),
    );
  return cmd;
}
