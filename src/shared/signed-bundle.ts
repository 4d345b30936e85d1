import { createHash, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { GatehouseError } from './errors.js';
import { signEd25519 } from './crypto.js';

/**
 * A signed bundle: one file, signed header first, payload after. Backups and update packages
 * are both bundles (with their own marker and header).
 *
 *   MARKER | u32 header length | header JSON | u32 signatures length | signatures JSON |
 *   entry 1 bytes | entry 2 bytes | …
 *
 * The header lists every entry with its size and sha256; the signatures (Ed25519, each with
 * the id of its key so keys can rotate) cover the exact header bytes. A reader checks the
 * signatures before it trusts one payload byte, and each entry's digest before it uses it.
 */
const MAX_HEADER = 64 * 1024 * 1024;

export const BundleEntry = z.object({
  name: z
    .string()
    // Any printable name without control characters or backslashes; traversal is refused below.
    .regex(/^[A-Za-z0-9@+._/ ~,=()!$-]+$/)
    .refine(
      (n) => !n.split('/').some((part) => part === '..' || part === '') && !n.startsWith('/'),
    ),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  mode: z.number().int().optional(),
});
export type BundleEntry = z.infer<typeof BundleEntry>;

export const BundleSignature = z.object({ keyId: z.string(), signature: z.string() });
export type BundleSignature = z.infer<typeof BundleSignature>;

export interface BundleSource {
  name: string;
  file: string;
  mode?: number;
}

export interface OpenedBundle {
  file: string;
  headerBytes: Buffer;
  header: unknown;
  entries: BundleEntry[];
  signatures: BundleSignature[];
  payloadOffset: number;
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

/** Write a bundle whose header is `header` plus the `entries` list, signed by every signer. */
export async function writeBundle(
  out: string,
  marker: string,
  header: Record<string, unknown>,
  sources: BundleSource[],
  signers: { key: KeyObject; keyId: string }[],
): Promise<{ headerBytes: Buffer; entries: BundleEntry[] }> {
  const entries: BundleEntry[] = [];
  for (const s of sources) {
    entries.push({
      name: s.name,
      ...(await digestFile(s.file)),
      ...(s.mode !== undefined ? { mode: s.mode } : {}),
    });
  }
  const headerBytes = Buffer.from(JSON.stringify({ ...header, entries }));
  const signatures: BundleSignature[] = signers.map((s) => ({
    keyId: s.keyId,
    signature: signEd25519(s.key, headerBytes).toString('base64'),
  }));
  const sigBytes = Buffer.from(JSON.stringify(signatures));
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const ws = createWriteStream(out, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    ws.on('finish', resolve);
    ws.on('error', reject);
  });
  ws.write(
    Buffer.concat([
      Buffer.from(marker),
      u32(headerBytes.length),
      headerBytes,
      u32(sigBytes.length),
      sigBytes,
    ]),
  );
  for (const s of sources) {
    for await (const chunk of createReadStream(s.file)) {
      if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
  }
  ws.end();
  await done;
  const fh = await fsp.open(out, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { headerBytes, entries };
}

/** How errors of one kind of bundle are named: `${prefix}_TRUNCATED` and so on. */
export interface BundleKind {
  marker: string;
  prefix: string;
  /** e.g. "backup archive", "update package" */
  noun: string;
  /** What to do about a damaged file. */
  fix: string;
}

const refuse = (kind: BundleKind, what: string, message: string) =>
  new GatehouseError(`${kind.prefix}_${what}`, 400, message);

/**
 * Read and check the structure of a bundle (marker, header, signatures block, total length)
 * without trusting it yet: the caller verifies the signatures against the keys it trusts.
 */
export async function openBundle(file: string, kind: BundleKind): Promise<OpenedBundle> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size: total } = await fh.stat();
    const marker = Buffer.from(kind.marker);
    const read = async (pos: number, len: number, what: string) => {
      if (pos + len > total) {
        throw refuse(
          kind,
          'TRUNCATED',
          `The ${kind.noun} is truncated: it ends at byte ${total} but its ${what} needs bytes up to ${pos + len}. ${kind.fix}`,
        );
      }
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      return buf;
    };
    const head = Buffer.alloc(Math.min(total, marker.length));
    await fh.read(head, 0, head.length, 0);
    if (!marker.subarray(0, head.length).equals(head) || total === 0) {
      throw refuse(
        kind,
        'NOT_RECOGNISED',
        `This file is not a Gatehouse ${kind.noun}. ${kind.fix}`,
      );
    }
    await read(0, marker.length, 'marker');
    const headerLen = (await read(marker.length, 4, 'header length')).readUInt32BE(0);
    if (headerLen > MAX_HEADER)
      throw refuse(
        kind,
        'CORRUPT',
        `The ${kind.noun} header is implausibly large: the file is damaged. ${kind.fix}`,
      );
    const headerBytes = await read(marker.length + 4, headerLen, 'header');
    const sigLen = (await read(marker.length + 4 + headerLen, 4, 'signature length')).readUInt32BE(
      0,
    );
    if (sigLen > 1024 * 1024)
      throw refuse(
        kind,
        'CORRUPT',
        `The ${kind.noun} signature block is implausibly large: the file is damaged. ${kind.fix}`,
      );
    const sigBytes = await read(marker.length + 8 + headerLen, sigLen, 'signatures');
    const parse = (bytes: Buffer, what: string): unknown => {
      try {
        return JSON.parse(bytes.toString('utf8'));
      } catch {
        throw refuse(
          kind,
          'CORRUPT',
          `The ${kind.noun} ${what} is not readable: the file is damaged. ${kind.fix}`,
        );
      }
    };
    const header = parse(headerBytes, 'header');
    const entries = z.object({ entries: z.array(BundleEntry) }).safeParse(header);
    if (!entries.success)
      throw refuse(
        kind,
        'CORRUPT',
        `The ${kind.noun} lists its contents wrongly: the file is damaged. ${kind.fix}`,
      );
    const signatures = z.array(BundleSignature).safeParse(parse(sigBytes, 'signature block'));
    if (!signatures.success)
      throw refuse(kind, 'CORRUPT', `The ${kind.noun} signature block is malformed. ${kind.fix}`);
    const payloadOffset = marker.length + 8 + headerLen + sigLen;
    const payloadEnd = payloadOffset + entries.data.entries.reduce((n, e) => n + e.size, 0);
    if (payloadEnd > total) {
      throw refuse(
        kind,
        'TRUNCATED',
        `The ${kind.noun} is truncated: it has ${total} bytes but its header promises ${payloadEnd}. ${kind.fix}`,
      );
    }
    if (payloadEnd < total)
      throw refuse(
        kind,
        'CORRUPT',
        `The ${kind.noun} has unexpected bytes after its last entry: the file is damaged. ${kind.fix}`,
      );
    return {
      file,
      headerBytes,
      header,
      entries: entries.data.entries,
      signatures: signatures.data,
      payloadOffset,
    };
  } finally {
    await fh.close();
  }
}

/** Unpack every entry into `intoDir`, refusing the first whose digest differs from the header. */
export async function extractBundle(
  bundle: OpenedBundle,
  intoDir: string,
  kind: BundleKind,
): Promise<void> {
  let pos = bundle.payloadOffset;
  await fsp.mkdir(intoDir, { recursive: true });
  const made = new Set<string>();
  for (const entry of bundle.entries) {
    const dest = path.join(intoDir, entry.name);
    const dir = path.dirname(dest);
    if (!made.has(dir)) {
      await fsp.mkdir(dir, { recursive: true });
      made.add(dir);
    }
    const hash = createHash('sha256');
    const mode = entry.mode ?? 0o600;
    if (entry.size > 0) {
      const source = createReadStream(bundle.file, { start: pos, end: pos + entry.size - 1 });
      source.on('data', (c) => hash.update(c as Buffer));
      await pipeline(source, createWriteStream(dest, { mode }));
    } else {
      await fsp.writeFile(dest, '', { mode });
    }
    if (hash.digest('hex') !== entry.sha256) {
      throw refuse(
        kind,
        'CORRUPT',
        `Entry ${entry.name} of the ${kind.noun} does not match its recorded sha256: the file is damaged. ${kind.fix}`,
      );
    }
    pos += entry.size;
  }
}
