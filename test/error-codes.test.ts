/**
 * The error-code catalogue (in the manner of Fastify's lib/errors.js): every code a
 * `GatehouseError` is thrown with, the HTTP status it carries and what the operator does about
 * it. Each top-level folder of src/ that throws declares its codes, as data, in its
 * `error-codes.json`, which its `error-codes.ts` types (`export const failoverErrors =
 * errorCatalogue(codes)`; src/shared/ has the codes of shared pieces and those several domains
 * throw), and a throw site names its code there:
 * `failoverErrors.FAILOVER_BUSY(message)`, `conflict(failoverErrors.X, …)`, `fieldError(…,
 * siteErrors.X)`; the compiler refuses a code no catalogue has (test/architecture.test.ts, a
 * code written as a string or a status at a throw site). Each code is in exactly
 * one catalogue, with the status it is thrown with (a status passed at a throw site among its
 * `also`) and a fix; no catalogue keeps a code nothing throws; docs/errors.md lists them all.
 * After adding a code to a catalogue, regenerate the page:
 *   GATEHOUSE_WRITE_ERROR_DOCS=1 npx vitest run test/error-codes.test.ts
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sourceFiles } from './support/source-files.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
const DOC = path.join(ROOT, 'docs', 'errors.md');

/** One code of a catalogue: its HTTP status, others some call sites give it, and the fix. */
const ErrorEntry = z
  .object({
    status: z.number().int().min(100).max(599),
    also: z.array(z.number().int().min(100).max(599)).optional(),
    fix: z.string(),
  })
  .strict();
type ErrorCatalogue = Readonly<Record<string, z.infer<typeof ErrorEntry>>>;

/** The catalogues in the order docs/errors.md lists them: shared pieces first, the CLI last. */
const DOMAINS = [
  'shared',
  'store',
  'site',
  'sessions',
  'failover',
  'traffic',
  'updates',
  'monitoring',
  'cluster',
  'clients',
  'orchestrator',
  'lab',
  'appliance',
  'cli',
];

/** The module that exports a folder's catalogue (docs/errors.md names it). */
const catalogueFile = (domain: string) => `src/${domain}/error-codes.ts`;
/** Where a folder declares its codes: the data its catalogue module types. */
const codesFile = (domain: string) => path.join(SRC, domain, 'error-codes.json');
const hasCatalogue = (domain: string) => existsSync(codesFile(domain));

/** Each folder's catalogue: codes, statuses and fixes. */
const CATALOGUES: Record<string, ErrorCatalogue> = Object.fromEntries(
  DOMAINS.map((domain) => {
    const file = codesFile(domain);
    const parsed = z
      .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), ErrorEntry)
      .safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file}: ${parsed.error.message}`);
    return [domain, parsed.data] as const;
  }),
);

interface Thrown {
  code: string;
  /** As the throw site writes it; none where the site takes its status from a catalogue. */
  status: number | undefined;
  where: string;
}

const THROWS: [RegExp, number | undefined][] = [
  [/new GatehouseError\(\s*'([A-Z][A-Z0-9_]*)',\s*(\d{3})/g, undefined],
  [/\bconflict\(\s*'([A-Z][A-Z0-9_]*)'/g, 409],
];
/** A code named in its catalogue (`failoverErrors.FAILOVER_BUSY`): the catalogue's status. */
const NAMED = /\b[a-z][A-Za-z]*Errors\.([A-Z][A-Z0-9_]*)\b/g;

/** The arguments of a call whose opening parenthesis ends at `from`, to its closing one. */
function argumentsAt(text: string, from: number): string {
  let depth = 1;
  let i = from;
  for (; i < text.length && depth; i++) depth += text[i] === '(' ? 1 : text[i] === ')' ? -1 : 0;
  return text.slice(from, i - 1);
}

/** Every code thrown with a literal code in src/, with its status and place. */
function thrownCodes(files: { name: string; text: string }[]): Thrown[] {
  return files.flatMap(({ name, text }) => {
    const at = (index: number) => `${name}:${text.slice(0, index).split('\n').length}`;
    const direct = THROWS.flatMap(([rx, status]) =>
      [...text.matchAll(rx)].map((m) => ({
        code: m[1]!,
        status: status ?? Number(m[2]),
        where: at(m.index),
      })),
    );
    // fieldError(field, message, 'CODE'): a 400 whose code is its last argument.
    const fields = [...text.matchAll(/\bfieldError\(/g)].flatMap((m) => {
      const code = /,\s*'([A-Z][A-Z0-9_]*)'\s*,?\s*$/.exec(
        argumentsAt(text, m.index + m[0].length),
      )?.[1];
      return code ? [{ code, status: 400, where: at(m.index) }] : [];
    });
    // A status a call passes (`{ status: 503 }`) must be among the entry's `also`.
    const named = [...text.matchAll(NAMED)].map((m) => {
      const end = m.index + m[0].length;
      const passed =
        text[end] === '(' ? /\bstatus: (\d{3})\b/.exec(argumentsAt(text, end + 1)) : null;
      return { code: m[1]!, status: passed ? Number(passed[1]) : undefined, where: at(m.index) };
    });
    return [...direct, ...fields, ...named];
  });
}

/** What is wrong between the throw sites and the catalogues, one line each. */
function mismatches(thrown: Thrown[], catalogues: Record<string, ErrorCatalogue>): string[] {
  const problems: string[] = [];
  const owners = new Map<string, string[]>();
  for (const [domain, cat] of Object.entries(catalogues))
    for (const code of Object.keys(cat)) owners.set(code, [...(owners.get(code) ?? []), domain]);
  for (const [code, domains] of owners)
    if (domains.length > 1)
      problems.push(`${code} is in several catalogues: ${domains.join(', ')}`);
  for (const t of thrown) {
    const domain = owners.get(t.code)?.[0];
    const entry = domain ? catalogues[domain]![t.code]! : undefined;
    if (!entry)
      problems.push(
        `${t.where} throws ${t.code} (${t.status}), in no catalogue: add it to the catalogue of its folder`,
      );
    else if (t.status && entry.status !== t.status && !entry.also?.includes(t.status))
      problems.push(
        `${t.where} throws ${t.code} with ${t.status}; its catalogue says ${entry.status}`,
      );
  }
  const used = new Set(thrown.map((t) => t.code));
  for (const [code, domains] of owners) {
    const entry = catalogues[domains[0]!]![code]!;
    if (!used.has(code)) problems.push(`${code} (${domains[0]}) is thrown nowhere: remove it`);
    if (!entry.fix.trim()) problems.push(`${code} (${domains[0]}) has no fix text`);
  }
  return problems;
}

/** docs/errors.md: one table per catalogue. */
function render(catalogues: Record<string, ErrorCatalogue>): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const sections = Object.entries(catalogues).map(([domain, cat]) => {
    const rows = Object.entries(cat)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([code, e]) => {
        const status = [e.status, ...(e.also ?? [])].join(', ');
        return `| \`${code}\` | ${status} | ${cell(e.fix)} |`;
      });
    const file = catalogueFile(domain);
    return [
      `## ${domain} (\`${file}\`)`,
      '',
      '| code | HTTP status | fix |',
      '| --- | --- | --- |',
      ...rows,
    ].join('\n');
  });
  return [
    '# Error codes',
    '',
    'Every failure an operator can see is a `GatehouseError` with a stable code, an HTTP status and',
    'a message that says what to do (`src/shared/errors.ts`). Each domain declares its codes in its',
    '`error-codes.ts`, and a throw site names its code there: `failoverErrors.FAILOVER_BUSY(message)`',
    'takes its status from the catalogue. This page is generated from the catalogues and',
    '`test/error-codes.test.ts` keeps both in sync with the code (regenerate:',
    '`GATEHOUSE_WRITE_ERROR_DOCS=1 npx vitest run test/error-codes.test.ts`). "…" stands for a name',
    'or value the message gives.',
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
}

describe('the error-code catalogue', () => {
  const files = sourceFiles(SRC).map((f) => ({
    name: path.relative(ROOT, f),
    text: readFileSync(f, 'utf8'),
  }));
  const thrown = thrownCodes(files);

  it('has every code thrown in src/, once, with its status and a fix, and nothing else', () => {
    expect(thrown.length).toBeGreaterThan(200);
    expect(mismatches(thrown, CATALOGUES)).toEqual([]);
  });

  it('reads every catalogue of src/', () => {
    const found = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory() && hasCatalogue(e.name))
      .map((e) => e.name);
    expect(found.sort()).toEqual([...DOMAINS].sort());
  });

  it('has a catalogue for every top-level folder of src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    const throwing = new Set(thrown.map((t) => t.where.split('/')[1]!));
    expect([...throwing].filter((f) => folders.includes(f) && !CATALOGUES[f])).toEqual([]);
  });

  it('finds an unknown code, a wrong status, a duplicate and a stale entry', () => {
    const cats: Record<string, ErrorCatalogue> = {
      a: { KNOWN: { status: 409, fix: 'Do this.' }, STALE: { status: 400, fix: 'x' } },
      b: { KNOWN: { status: 409, fix: 'Do that.' } },
    };
    const sample = thrownCodes([
      {
        name: 'src/a/x.ts',
        text: "throw new GatehouseError('UNKNOWN', 400, 'm');\nthrow conflict('KNOWN', 'm');\nthrow new GatehouseError('KNOWN', 500, 'm');\nthrow fieldError('name', `bad; (really)`, 'FIELD_CODE');\nthrow bErrors.NAMED('m');\nthrow bErrors.KNOWN('m', { headers: {}, status: 503 });",
      },
    ]);
    expect(sample.map((t) => `${t.code} ${t.status}`)).toEqual([
      'UNKNOWN 400',
      'KNOWN 500',
      'KNOWN 409',
      'FIELD_CODE 400',
      'NAMED undefined',
      'KNOWN 503',
    ]);
    const found = mismatches(sample, cats);
    expect(found).toHaveLength(7);
    expect(found.join('\n')).toMatch(/NAMED \(undefined\), in no catalogue/);
    expect(found.join('\n')).toMatch(/FIELD_CODE \(400\), in no catalogue/);
    expect(found.join('\n')).toMatch(/UNKNOWN \(400\), in no catalogue/);
    expect(found.join('\n')).toMatch(/KNOWN with 500; its catalogue says 409/);
    expect(found.join('\n')).toMatch(/KNOWN with 503; its catalogue says 409/);
    expect(found.join('\n')).toMatch(/KNOWN is in several catalogues: a, b/);
    expect(found.join('\n')).toMatch(/STALE \(a\) is thrown nowhere/);
  });

  it('is listed whole in docs/errors.md', async () => {
    // Formatted as `npm run lint` wants it, so the page passes prettier --check as written.
    const page = await format(render(CATALOGUES), {
      ...(await resolveConfig(DOC)),
      filepath: DOC,
    });
    if (process.env.GATEHOUSE_WRITE_ERROR_DOCS) writeFileSync(DOC, page);
    expect(readFileSync(DOC, 'utf8')).toBe(page);
  });
});
