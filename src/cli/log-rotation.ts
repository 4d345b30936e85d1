import { Command } from 'commander';
import { adminApiOptions, apiError, withAdminApi, type AdminApiOptions } from './admin-api.js';
import { run } from './errors.js';

interface LogRotation {
  maxFileMiB: number;
  keepFiles: number;
}

const PATH = '/api/appliance/logs/rotation';
const said = (r: LogRotation) =>
  `Log files are rotated at ${r.maxFileMiB} MiB; ${r.keepFiles} rotated files are kept per log.\n`;
/** A number as given, else the text itself: the appliance's answer names the field and the range. */
const numberOr = (s: string) => (s.trim() !== '' && !Number.isNaN(Number(s)) ? Number(s) : s);

/** `gatehouse appliance log-rotation show|set`: when the appliance's log files are rotated. */
export function logRotationCommand(): Command {
  const cmd = new Command('log-rotation').description(
    "the size at which the appliance's log files are rotated and how many are kept (an /appliance administrator sets it)",
  );
  adminApiOptions(cmd.command('show'), 'appliance')
    .description('print the log rotation setting')
    .action(
      run(async (o: AdminApiOptions) => {
        await withAdminApi(o, 'appliance', async (api) => {
          const res = await api.call<LogRotation>('GET', PATH);
          if (res.status !== 200) throw await apiError(res);
          process.stdout.write(said(res.body));
        });
      }),
    );
  adminApiOptions(cmd.command('set'), 'appliance')
    .description('set the log rotation: applies to the next line each log file is written')
    .requiredOption('--max-file-mib <n>', 'rotate a file at this size, 1 to 1024 MiB (default 50)')
    .requiredOption('--keep-files <n>', 'rotated files kept per log, 1 to 100 (default 10)')
    .action(
      run(async (o: AdminApiOptions & { maxFileMib: string; keepFiles: string }) => {
        await withAdminApi(o, 'appliance', async (api) => {
          const res = await api.call<LogRotation>('PUT', PATH, {
            json: { maxFileMiB: numberOr(o.maxFileMib), keepFiles: numberOr(o.keepFiles) },
          });
          if (res.status !== 200) throw await apiError(res);
          process.stdout.write(said(res.body));
        });
      }),
    );
  return cmd;
}
