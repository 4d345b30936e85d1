import { createHash, type KeyObject } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  openSync,
  promises as fsp,
  readSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { ErrorFactory } from './errors.js';
import { signEd25519 } from './crypto.js';
import { fsyncPath } from './fs.js';

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

/** A file's size and SHA-256, read as a stream. */
export async function fileDigest(file: string): Promise<{ size: number; sha256: string }> {
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
      ...(await fileDigest(s.file)),
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
  await fsyncPath(out);
  return { headerBytes, entries };
}

/** One kind of bundle: its marker, its words, and the catalogue entry of each way it is damaged. */
export interface BundleKind {
  marker: string;
  /** Its catalogue's BACKUP_TRUNCATED, PACKAGE_TRUNCATED and so on. */
  errors: Record<'TRUNCATED' | 'NOT_RECOGNISED' | 'CORRUPT', ErrorFactory>;
  /** e.g. "backup archive", "update package" */
  noun: string;
  /** What to do about a damaged file. */
  fix: string;
}

const refuse = (kind: BundleKind, what: keyof BundleKind['errors'], message: string) =>
  kind.errors[what](message);

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

/** Entries up to this size are held in memory whole; larger ones are streamed. */
const SMALL_ENTRY = 8 * 1024 * 1024;

type EntrySink = {
  /** A small entry, whole, after its digest was checked (synchronous: see readEntries). */
  small: (entry: BundleEntry, bytes: Buffer) => void;
  /** A large entry as a stream; its digest is checked once the stream has been consumed. */
  large: (entry: BundleEntry, source: NodeJS.ReadableStream) => Promise<void>;
};

/** Bytes read from disk at a time while walking the payload. */
const READ_CHUNK = 4 * 1024 * 1024;
/** Synchronous work runs in slices this long, so that the server keeps answering meanwhile. */
const SLICE_MS = 20;

/**
 * Read the payload once, front to back in large chunks, checking each entry against the digest
 * its (signed) header gives. Small entries are refused before anything uses them. Thousands of
 * small files (a dependency tree) make per-file async I/O the cost, so small entries are read
 * and handed over synchronously, in time slices that yield to the event loop.
 */
async function readEntries(bundle: OpenedBundle, kind: BundleKind, sink: EntrySink): Promise<void> {
  const damaged = (entry: BundleEntry) =>
    refuse(
      kind,
      'CORRUPT',
      `Entry ${entry.name} of the ${kind.noun} does not match its signed sha256: the file was altered or damaged. ${kind.fix}`,
    );
  const fd = openSync(bundle.file, 'r');
  try {
    let window = Buffer.alloc(0);
    let windowStart = 0;
    const bytesAt = (pos: number, size: number): Buffer => {
      if (pos < windowStart || pos + size > windowStart + window.length) {
        window = Buffer.allocUnsafe(Math.max(size, READ_CHUNK));
        const got = readSync(fd, window, 0, window.length, pos);
        window = window.subarray(0, got);
        windowStart = pos;
        if (got < size)
          throw refuse(
            kind,
            'TRUNCATED',
            `The ${kind.noun} ends before its last entry. ${kind.fix}`,
          );
      }
      return window.subarray(pos - windowStart, pos - windowStart + size);
    };
    let sliceStart = Date.now();
    let pos = bundle.payloadOffset;
    for (const entry of bundle.entries) {
      if (Date.now() - sliceStart > SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        sliceStart = Date.now();
      }
      const hash = createHash('sha256');
      if (entry.size <= SMALL_ENTRY) {
        const bytes = bytesAt(pos, entry.size);
        if (hash.update(bytes).digest('hex') !== entry.sha256) throw damaged(entry);
        sink.small(entry, bytes);
      } else {
        const stream = createReadStream(bundle.file, { start: pos, end: pos + entry.size - 1 });
        stream.on('data', (c) => hash.update(c as Buffer));
        await sink.large(entry, stream);
        if (hash.digest('hex') !== entry.sha256) throw damaged(entry);
        sliceStart = Date.now();
      }
      pos += entry.size;
    }
  } finally {
    closeSync(fd);
  }
}

/** Check every entry against the digest the (signed) header gives, writing nothing. */
export async function checkBundleEntries(bundle: OpenedBundle, kind: BundleKind): Promise<void> {
  await readEntries(bundle, kind, {
    small: () => undefined,
    large: async (_entry, source) => {
      for await (const chunk of source) void chunk;
    },
  });
}

/**
 * Unpack every entry into `intoDir`, refusing the first whose digest differs (a small one before
 * it is written; the caller discards `intoDir` on failure).
 */
export async function extractBundle(
  bundle: OpenedBundle,
  intoDir: string,
  kind: BundleKind,
): Promise<void> {
  const made = new Set<string>();
  const ensureDir = (dest: string) => {
    const dir = path.dirname(dest);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
  };
  mkdirSync(intoDir, { recursive: true });
  await readEntries(bundle, kind, {
    small: (entry, bytes) => {
      const dest = path.join(intoDir, entry.name);
      ensureDir(dest);
      writeFileSync(dest, bytes, { mode: entry.mode ?? 0o600 });
    },
    large: async (entry, source) => {
      const dest = path.join(intoDir, entry.name);
      ensureDir(dest);
      await pipeline(source, createWriteStream(dest, { mode: entry.mode ?? 0o600 }));
    },
  });
}
