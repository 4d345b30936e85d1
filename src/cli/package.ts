import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { fieldError } from '../shared/errors.js';
import { generateEd25519, keyId, loadPrivateKey } from '../shared/crypto.js';
import { CODE_ROOT } from '../shared/version.js';
import { reportAndExit, run } from './errors.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function packageCommand(): Command {
  const cmd = new Command('package').description(
    'make and inspect signed update packages (base = runtime layer, product = the appliance software)',
  );

  cmd
    .command('keygen')
    .description('create an Ed25519 release signing key pair: KEY (private) and KEY.pub')
    .requiredOption(
      '--out <file>',
      'where to write the private key; the public key goes to <file>.pub',
    )
    .action((o) => {
      try {
        if (existsSync(o.out))
          throw fieldError(
            'out',
            `${o.out} already exists; choose a new file (keys are never overwritten)`,
          );
        const pair = generateEd25519();
        writeFileSync(o.out, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
        writeFileSync(`${o.out}.pub`, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
        process.stdout.write(
          `Wrote ${o.out} (private, keep it offline) and ${o.out}.pub\nKey id: ${keyId(pair.publicKeyPem)}\nGive ${o.out}.pub to \`gatehouse appliance init --release-key\` and \`gatehouse update-server init --release-key\`.\n`,
        );
      } catch (e) {
        reportAndExit(e);
      }
    });

  cmd
    .command('build')
    .description('build one signed package file from a built code tree')
    .addOption(
      new Option('--kind <kind>', 'base or product')
        .choices(['base', 'product'])
        .makeOptionMandatory(),
    )
    .requiredOption('--version <version>', 'version of the package, MAJOR.MINOR.PATCH')
    .requiredOption(
      '--signing-key <file>',
      'private release key (repeatable: several signatures)',
      collect,
      [],
    )
    .requiredOption('--out <file>', 'package file to write (.ghpkg)')
    .option('--from <dir>', 'built code tree the payload is taken from', CODE_ROOT)
    .option('--requires-base <version>', 'product only: the minimum base version it runs on')
    .option('--notes <text>', 'release notes shown on the Updates page', '')
    .action(
      run(async (o) => {
        const { buildPackage } = await import('../updates/package.js');
        if (o.requiresBase && o.kind !== 'product')
          throw fieldError('requires-base', 'only a product package names a minimum base version');
        const signers = (o.signingKey as string[]).map((file) => {
          try {
            const key = loadPrivateKey(readFileSync(file, 'utf8'));
            return { key, keyId: keyId(createPublicKey(key)) };
          } catch {
            throw fieldError(
              'signing-key',
              `${file} is not a readable private key; create one with \`gatehouse package keygen\``,
            );
          }
        });
        const started = Date.now();
        const manifest = await buildPackage({
          kind: o.kind,
          version: o.version,
          from: path.resolve(o.from),
          out: path.resolve(o.out),
          signers,
          releaseNotes: o.notes,
          requiresBase: o.requiresBase,
          tmpDir: path.join(os.tmpdir(), `gatehouse-package-${process.pid}`),
        });
        const bytes = manifest.entries.reduce((n, e) => n + e.size, 0);
        process.stdout.write(
          `Built ${manifest.kind} ${manifest.version}: ${manifest.entries.length} files, ${(bytes / 1048576).toFixed(1)} MiB, signed by ${signers.length} key(s) in ${Date.now() - started} ms → ${o.out}\n`,
        );
      }),
    );

  cmd
    .command('inspect')
    .description('print a package manifest; with --trusted-key, also verify its signature')
    .argument('<file>', 'package file')
    .option(
      '--trusted-key <file>',
      'release public key to verify against (repeatable)',
      collect,
      [],
    )
    .option('--json', 'print JSON')
    .action(
      run(async (file: string, o) => {
        const { inspectPackage, verifyPackage, releaseKeyFromPem } =
          await import('../updates/package.js');
        const keys = (o.trustedKey as string[]).map((k) =>
          releaseKeyFromPem(readFileSync(k, 'utf8')),
        );
        const pkg = keys.length ? await verifyPackage(file, keys) : await inspectPackage(file);
        const { entries, ...manifest } = pkg.manifest;
        const summary = {
          ...manifest,
          files: entries.length,
          payloadBytes: entries.reduce((n, e) => n + e.size, 0),
          size: pkg.size,
          sha256: pkg.sha256,
          signers: pkg.signerKeyIds,
          verified: keys.length > 0,
        };
        process.stdout.write(
          o.json
            ? JSON.stringify(summary, null, 2) + '\n'
            : Object.entries(summary)
                .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
                .join('\n') + '\n',
        );
      }),
    );
  return cmd;
}
