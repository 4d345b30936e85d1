import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { GatehouseError } from '../../shared/errors.js';
import { keyId, loadPublicKey, signEd25519, verifyEd25519 } from '../../shared/crypto.js';

/**
 * The backup archive: one file, signed header first, payload after.
 *
 *   "GATEHOUSE-BACKUP\n" | u32 header length | header JSON | u16 signature length | Ed25519
 *   signature of the header bytes | entry 1 bytes | entry 2 bytes | …
 *
 * The header lists every entry with its size and sha256, so a reader verifies the signature
 * before it trusts a single payload byte, and each entry before it uses it.
 */
const MAGIC = Buffer.from('GATEHOUSE-BACKUP\n');
const MAX_HEADER = 16 * 1024 * 1024;

export const BackupHeader = z.object({
  format: z.literal(1),
  product: z.literal('gatehouse'),
  productVersion: z.string(),
  schemaVersion: z.number().int(),
  appliance: z.string(),
  createdAt: z.string(),
  includesRecordings: z.boolean(),
  signer: z.object({ keyId: z.string(), publicKey: z.string() }),
  entries: z.array(
    z.object({
      name: z
        .string()
        .regex(/^[A-Za-z0-9._/-]+$/)
        .refine((n) => !n.includes('..')),
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
});
export type BackupHeader = z.infer<typeof BackupHeader>;

export interface ArchiveEntrySource {
  name: string;
  file: string;
}

async function digestFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    size += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  return { size, sha256: hash.digest('hex') };
}

export async function writeArchive(
  out: string,
  header: Omit<BackupHeader, 'entries' | 'signer' | 'format' | 'product'>,
  entries: ArchiveEntrySource[],
  signingKey: KeyObject,
  publicKeyPem: string,
): Promise<BackupHeader> {
  const listed = [];
  for (const e of entries) listed.push({ name: e.name, ...(await digestFile(e.file)) });
  const full: BackupHeader = {
    format: 1,
    product: 'gatehouse',
    ...header,
    signer: { keyId: keyId(publicKeyPem), publicKey: publicKeyPem },
    entries: listed,
  };
  const headerBytes = Buffer.from(JSON.stringify(full));
  const signature = signEd25519(signingKey, headerBytes);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(headerBytes.length);
  const sigLen = Buffer.alloc(2);
  sigLen.writeUInt16BE(signature.length);
  const ws = createWriteStream(out, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    ws.on('finish', resolve);
    ws.on('error', reject);
  });
  ws.write(Buffer.concat([MAGIC, prefix, headerBytes, sigLen, signature]));
  for (const e of entries) {
    for await (const chunk of createReadStream(e.file)) {
      if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
  }
  ws.end();
  await done;
  return full;
}

const refuse = (code: string, message: string) => new GatehouseError(code, 400, message);

/**
 * Verify an archive completely and unpack its entries into `intoDir`. Throws before returning
 * anything if the archive is truncated, altered, signed by an untrusted key or malformed.
 */
export async function readArchive(
  file: string,
  intoDir: string,
  isTrustedSigner: (keyId: string) => boolean,
): Promise<BackupHeader> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size: total } = await fh.stat();
    const read = async (pos: number, len: number, what: string) => {
      if (pos + len > total) {
        throw refuse(
          'BACKUP_TRUNCATED',
          `The backup archive is truncated: it ends at byte ${total} but its ${what} needs bytes up to ${pos + len}. Download the backup again.`,
        );
      }
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      return buf;
    };
    const magic = await read(0, MAGIC.length, 'signature marker');
    if (!magic.equals(MAGIC)) {
      throw refuse(
        'BACKUP_NOT_AN_ARCHIVE',
        'This file is not a Gatehouse backup archive. Choose a file downloaded from /appliance > Backup.',
      );
    }
    const headerLen = (await read(MAGIC.length, 4, 'header length')).readUInt32BE(0);
    if (headerLen > MAX_HEADER)
      throw refuse(
        'BACKUP_CORRUPT',
        'The backup archive header is implausibly large: the file is damaged.',
      );
    const headerBytes = await read(MAGIC.length + 4, headerLen, 'header');
    const sigLen = (await read(MAGIC.length + 4 + headerLen, 2, 'signature length')).readUInt16BE(
      0,
    );
    const signature = await read(MAGIC.length + 6 + headerLen, sigLen, 'signature');
    let parsed: unknown;
    try {
      parsed = JSON.parse(headerBytes.toString('utf8'));
    } catch {
      throw refuse(
        'BACKUP_CORRUPT',
        'The backup archive header is not readable: the file is damaged.',
      );
    }
    const header = BackupHeader.safeParse(parsed);
    if (!header.success)
      throw refuse(
        'BACKUP_CORRUPT',
        `The backup archive header is malformed (${header.error.issues[0]?.path.join('.')}): the file is damaged or not from Gatehouse.`,
      );
    const signer = header.data.signer;
    let publicKey: KeyObject;
    try {
      publicKey = loadPublicKey(signer.publicKey);
    } catch {
      throw refuse('BACKUP_CORRUPT', 'The backup archive names a signing key that cannot be read.');
    }
    if (keyId(publicKey) !== signer.keyId || !verifyEd25519(publicKey, headerBytes, signature)) {
      throw refuse(
        'BACKUP_BAD_SIGNATURE',
        'The backup archive signature does not verify: the archive was altered after it was made. Use an unaltered copy.',
      );
    }
    if (!isTrustedSigner(signer.keyId)) {
      throw new GatehouseError(
        'BACKUP_UNTRUSTED_SIGNER',
        400,
        `The backup was signed by appliance key ${signer.keyId.slice(0, 16)}… ("${header.data.appliance}"), which this appliance does not trust. If you trust that appliance, pass its key id as trustedSigner (shown on its /appliance > Backup page).`,
        {
          fields: [
            {
              field: 'trustedSigner',
              message: `pass ${signer.keyId} to trust this archive's signer`,
            },
          ],
        },
      );
    }
    let pos = MAGIC.length + 6 + headerLen + sigLen;
    const payloadEnd = pos + header.data.entries.reduce((n, e) => n + e.size, 0);
    if (payloadEnd > total) {
      throw refuse(
        'BACKUP_TRUNCATED',
        `The backup archive is truncated: it has ${total} bytes but its header promises ${payloadEnd}. Download the backup again.`,
      );
    }
    if (payloadEnd < total)
      throw refuse(
        'BACKUP_CORRUPT',
        'The backup archive has unexpected bytes after its last entry: the file is damaged.',
      );
    await fsp.mkdir(intoDir, { recursive: true });
    for (const entry of header.data.entries) {
      const dest = path.join(intoDir, entry.name);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      const hash = createHash('sha256');
      if (entry.size > 0) {
        const source = createReadStream(file, { start: pos, end: pos + entry.size - 1 });
        source.on('data', (c) => hash.update(c as Buffer));
        await pipeline(source, createWriteStream(dest, { mode: 0o600 }));
      } else {
        await fsp.writeFile(dest, '', { mode: 0o600 });
      }
      if (hash.digest('hex') !== entry.sha256) {
        throw refuse(
          'BACKUP_CORRUPT',
          `Entry ${entry.name} of the backup archive does not match its recorded sha256: the file is damaged. Use another copy.`,
        );
      }
      pos += entry.size;
    }
    return header.data;
  } finally {
    await fh.close();
  }
}
