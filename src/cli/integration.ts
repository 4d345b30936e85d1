import path from 'node:path';
import { Command } from 'commander';
import { fieldError } from '../shared/errors.js';
import { secretFrom } from './clients.js';
import { pinOf, siteSignInOptions, type PinFlags } from './options.js';
import { run } from './errors.js';

/** `--since`: an ISO 8601 time (2024-05-01, 2024-05-01T12:00:00Z) or milliseconds since 1970. */
export function parseSince(value: string): number {
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw fieldError(
      '--since',
      `"${value}" is not a time: give an ISO 8601 time such as 2024-05-01T00:00:00Z or milliseconds since 1970`,
    );
  return ms;
}

function parseOverlap(value: string): number {
  const hours = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(hours))
    throw fieldError('--overlap-hours', `"${value}" must be a number of hours, e.g. 24`);
  return Math.round(hours * 3600_000);
}

interface ExportFlags extends PinFlags {
  site: string;
  user: string;
  passwordFile?: string;
  out: string;
  since?: string;
  overlapHours: string;
  sqlite?: string;
  requirePrimary?: boolean;
  json?: boolean;
}

async function runExport(o: ExportFlags): Promise<void> {
  const { parseSite } = await import('../clients/tunnel.js');
  const site = { ...parseSite(o.site, '--site'), ...pinOf(o) };
  const since = o.since === undefined ? undefined : parseSince(o.since);
  const overlapMs = parseOverlap(o.overlapHours);
  const password = secretFrom('--password-file', o.passwordFile, 'GATEHOUSE_PASSWORD');
  if (!o.out.trim()) throw fieldError('--out', 'must name a folder');
  const { IntegrationClient } = await import('../clients/integration.js');
  const client = new IntegrationClient({
    site,
    username: o.user,
    password,
    dir: path.resolve(o.out),
    since,
    overlapMs,
    sqlite: o.sqlite && path.resolve(o.sqlite),
    requirePrimary: o.requirePrimary,
    // Progress goes to stderr so that --json leaves stdout to the summary.
    log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  try {
    const s = await client.export();
    if (o.json) return void process.stdout.write(JSON.stringify(s) + '\n');
    process.stdout.write(
      `Exported ${s.site} (${s.appliance}) into ${s.dir}\n` +
        `  sessions:   ${s.sessions.new} new, ${s.sessions.alreadyHad} already had (since ${new Date(s.since.sessions).toISOString()})\n` +
        `  recordings: ${s.recordings.downloaded} downloaded, ${s.recordings.bytes} bytes, sha256 verified\n` +
        `  events:     ${s.events.new} new, ${s.events.alreadyHad} already had (since ${new Date(s.since.events).toISOString()})\n` +
        (s.sqlite ? `  SQLite:     ${s.sqlite} updated\n` : '') +
        (s.primary.primary === true ? '' : `  WARNING:    ${s.primary.why}\n`),
    );
  } finally {
    await client.close();
  }
}

export function integrationCommand(): Command {
  const cmd = new Command('integration').description(
    'the Integration Client: export session records, recordings and logs of a site into a folder',
  );
  const exportCmd = cmd
    .command('export')
    .description(
      'pull what is new since the last run (state.json in --out) into --out; re-runs never duplicate',
    );
  siteSignInOptions(exportCmd, 'a /login user (an API account)')
    .requiredOption('--out <dir>', 'the export folder (created if missing)')
    .option(
      '--since <time>',
      'start here (ISO 8601 or ms since 1970) instead of at the last run (default: everything)',
    )
    .option(
      '--overlap-hours <hours>',
      'how far before the last run to look again, for records merged late (failover)',
      '24',
    )
    .option('--sqlite <file>', 'also upsert the rows into this SQLite file')
    .option(
      '--require-primary',
      "fail (exit 2, nothing exported) unless the appliance read is the site's primary; without it, a warning",
    )
    .option('--json', 'print the summary as JSON (progress stays on stderr)')
    .addHelpText(
      'after',
      `
Layout of --out: sessions/<id>.json, recordings/<id>.rec, logs/YYYY-MM-DD.ndjson, state.json
(docs/clients.md). Example:
  GATEHOUSE_PASSWORD=… gatehouse integration export --site support.example.com:443 \\
    --site-ca AB:CD:… --user integration --out /srv/gatehouse-export --sqlite /srv/export.db
Pin the site CA (--site-ca): the same command keeps working after a failover or traffic switch,
by hostname or address. A folder exported with --fingerprint learns the site CA at its first run.`,
    )
    .action(
      run(async (o: ExportFlags) => {
        await runExport(o);
      }),
    );
  return cmd;
}
