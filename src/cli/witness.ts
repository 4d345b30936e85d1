import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';

import { parseListen } from './serve.js';
import { run } from './errors.js';
import { cliErrors } from './error-codes.js';

/** The Inter-Appliance key from its file, read at each request so a changed key applies. */
function keyFrom(file: string): () => string {
  const read = () => {
    let key = '';
    try {
      key = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw cliErrors.WITNESS_KEY_FILE(
        `--key-file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); give the file holding the pair's Inter-Appliance key (from /login > Management > Security).`,
        { fields: [{ field: '--key-file', message: 'cannot be read' }] },
      );
    }
    if (!key)
      throw cliErrors.WITNESS_KEY_FILE(`--key-file: ${file} is empty.`, {
        fields: [{ field: '--key-file', message: 'is empty' }],
      });
    return key;
  };
  read();
  return read;
}

export function witnessCommand(): Command {
  return new Command('witness')
    .description(
      'run the witness of a failover pair on a third host: it grants the pair’s lease to one appliance at a time, so that only one serves when the link between them fails (docs/failover.md)',
    )
    .requiredOption(
      '--listen <host:port>',
      'where the appliances reach it, e.g. 192.0.2.30:8443',
      parseListen,
    )
    .requiredOption(
      '--data-dir <dir>',
      'keeps its certificate and who holds each lease across restarts',
    )
    .requiredOption(
      '--key-file <file>',
      'the pair’s Inter-Appliance key (requests are signed with it)',
    )
    .action(
      run(
        async (o: { listen: { host: string; port: number }; dataDir: string; keyFile: string }) => {
          const key = keyFrom(path.resolve(o.keyFile));
          const { startWitness } = await import('../failover/witness.js');
          const w = await startWitness({
            listen: o.listen,
            dataDir: path.resolve(o.dataDir),
            key,
            log: (line) => process.stdout.write(`${line}\n`),
          });
          process.stdout.write(
            `Witness listening on ${w.address.host}:${w.address.port}\nCertificate SHA-256 fingerprint: ${w.fingerprint}\n`,
          );
          const stop = () => void w.close().then(() => process.exit(0));
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        },
      ),
    );
}
