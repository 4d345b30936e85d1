import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { updatesErrors } from './error-codes.js';

/**
 * A Jump Client installer (S13): the site it connects to, then the signed product package of
 * its version (the Jump Client's build, verified with the release keys when it is installed):
 *
 * ```
 * GATEHOUSE-JUMP-CLIENT-INSTALLER\n | u32 | site JSON | product package (GATEHOUSE-PACKAGE…)
 * ```
 *
 * The site part is what an administrator would otherwise type on every computer: its address
 * and the certificate fingerprints clients trust (the appliance's, its failover peer's and its
 * traffic nodes'). It is not signed: the installer is downloaded over the pinned, signed-in
 * /appliance session and the code in it is.
 */
export const INSTALLER_MARKER = 'GATEHOUSE-JUMP-CLIENT-INSTALLER\n';

export const InstallerSite = z.object({
  format: z.literal(1),
  client: z.literal('jump-client'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
  site: z.object({
    name: z.string(),
    /** host:port every Jump Client installed with it connects to. */
    address: z.string().min(3),
    fingerprints: z.array(z.string()).min(1),
    /** The site certificate authority (S20): pinned whichever appliance answers. */
    siteCa: z.string().optional(),
  }),
  createdAt: z.string(),
});
export type InstallerSite = z.infer<typeof InstallerSite>;

/** The bytes that go before the product package. */
export function installerHeader(site: InstallerSite): Buffer {
  const json = Buffer.from(JSON.stringify(site));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([Buffer.from(INSTALLER_MARKER), len, json]);
}

const notInstaller = (file: string, why: string) =>
  updatesErrors.JUMP_CLIENT_INSTALLER_INVALID(
    `--installer: ${file} is not a Jump Client installer (${why}). Download it from /appliance > Updates (Downloaded packages, Client installers: jump-client).`,
  );

/** Read an installer's site part; `packageOffset` is where its product package starts. */
export async function readInstaller(
  file: string,
): Promise<{ site: InstallerSite; packageOffset: number }> {
  let head: Buffer;
  const fh = await fsp.open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    throw notInstaller(file, `cannot be read: ${e.code}`);
  });
  try {
    const start = Buffer.alloc(INSTALLER_MARKER.length + 4);
    await fh.read(start, 0, start.length, 0);
    if (start.subarray(0, INSTALLER_MARKER.length).toString() !== INSTALLER_MARKER)
      throw notInstaller(file, 'it does not start with the installer marker');
    const len = start.readUInt32BE(INSTALLER_MARKER.length);
    if (len > 64 * 1024) throw notInstaller(file, 'its site part is too long');
    head = Buffer.alloc(len);
    const { bytesRead } = await fh.read(head, 0, len, start.length);
    if (bytesRead !== len) throw notInstaller(file, 'it is truncated');
  } finally {
    await fh.close();
  }
  let site: InstallerSite;
  try {
    site = InstallerSite.parse(JSON.parse(head.toString('utf8')));
  } catch {
    throw notInstaller(file, 'its site part is malformed');
  }
  return { site, packageOffset: INSTALLER_MARKER.length + 4 + head.length };
}

/** Copy an installer's product package out, to verify and unpack it as any package. */
export async function extractInstallerPackage(
  file: string,
  packageOffset: number,
  out: string,
): Promise<void> {
  await pipeline(
    createReadStream(file, { start: packageOffset }),
    createWriteStream(out, { mode: 0o600 }),
  );
}
