/**
 * The direction of dependencies between the top-level folders of src/ (docs/architecture.md):
 * each folder imports only from folders in layers below its own, never from its own layer's
 * other folders, so there is no loop. Unit tests beside their module are left out: a test may
 * start the real appliance, which its module may not.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SITE_TABLES } from '../src/store/migrations.js';
import { sourceFiles } from './support/source-files.js';

/** Lowest first. Folders in one layer do not import each other. */
const LAYERS: string[][] = [
  // Platform pieces with no domain words: errors, TLS, pinned connections, the HTTPS server
  // base, the operation definition, the HTML kit, throttles.
  ['shared'],
  ['store'],
  ['site'],
  ['sessions', 'failover', 'traffic', 'updates', 'monitoring', 'syslog'],
  // Traffic nodes talk to each other over the failover peer protocol and route sessions.
  ['cluster'],
  // The clients of an appliance (console, Jump Client, admin API client); they speak its
  // protocols, they never start it in-process.
  ['clients'],
  ['orchestrator'],
  // Local deployments start appliances as processes (the `gatehouse` binary), not by import.
  ['lab'],
  // The one place that wires the domains into a running appliance.
  ['appliance'],
  ['cli'],
];

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
const IMPORT =
  /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

interface Edge {
  from: string;
  to: string;
  where: string;
}

const topFolder = (file: string) => path.relative(SRC, file).split(path.sep)[0]!;

/** Every import from one top-level folder of src/ into another, with file and line. */
function folderImports(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), m[1] ?? m[2]!);
      if (path.relative(SRC, target).startsWith('..')) continue;
      const from = topFolder(file);
      const to = topFolder(target);
      if (from === to) continue;
      const line = text.slice(0, m.index).split('\n').length;
      edges.push({ from, to, where: `${path.relative(SRC, file)}:${line}` });
    }
  }
  return edges;
}

const layerOf = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

/** The loops of the folder graph, each as a path that comes back to its start. */
function loops(edges: Edge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, trail: string[]) => {
    const at = trail.indexOf(node);
    if (at >= 0) return void found.push([...trail.slice(at), node]);
    if (done.has(node)) return;
    for (const n of next.get(node) ?? []) visit(n, [...trail, node]);
    done.add(node);
  };
  for (const node of next.keys()) visit(node, []);
  return found;
}

/**
 * The URL prefixes of each domain that owns its HTTP surface (a Fastify plugin in its folder):
 * its admin API and its pages are registered there, none in src/appliance/.
 */
const OWNED_SURFACES: Record<string, string[]> = {
  failover: [
    '/api/login/failover',
    '/login/failover',
    '/api/peer/hello',
    '/api/peer/failover',
    '/api/peer/sync',
  ],
  traffic: ['/api/appliance/traffic', '/appliance/networking/traffic'],
  cluster: ['/api/login/cluster', '/login/management/cluster', '/api/peer/cluster'],
  sessions: ['/api/login/jump-clients', '/login/jump-clients', '/api/client'],
  site: [
    '/api/login/users',
    '/api/login/settings',
    '/api/login/files',
    '/api/login/logs',
    '/api/login/security',
    '/api/login/integrity',
    '/login/users',
    '/login/configuration',
    '/login/files',
    '/login/logs',
    '/login/management/security',
  ],
  syslog: ['/api/login/management/syslog', '/login/management/syslog'],
  updates: [
    '/api/appliance/updates',
    '/appliance/updates',
    '/api/client/console/build',
    '/api/client/console/builds',
  ],
};

/**
 * A route registered in a file, as the code writes them: an operation's route (`'PUT /…'`) or
 * `path:`, a page's `.get(`/`.post(`/`.upload(`, or a constant (`const PATH = '/…'`) that one of
 * those uses.
 */
const ROUTE =
  /(?:(?:path:\s*|\.(?:get|post|put|patch|delete|upload|route)\(\s*|const [A-Z_]+\s*=\s*)['"`]|['"`](?:GET|POST|PUT|PATCH|DELETE) )(\/[^'"`$]*)/g;

/** Every route template a file of `folder` registers, with file and line. */
function routesUnder(folder: string): { url: string; where: string }[] {
  return sourceFiles(path.join(SRC, folder)).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(ROUTE)].map((m) => ({
      url: m[1]!,
      where: `${path.relative(SRC, file)}:${text.slice(0, m.index).split('\n').length}`,
    }));
  });
}

/**
 * Who may write each site table (`SITE_TABLES`, src/store/migrations.ts): the domain service
 * that owns its rows, and the one site-data copier (src/site/site-data.ts with the restore's
 * rule, keep-revocations.ts), through which every copy from elsewhere goes: restore, failover
 * sync, the cluster's configuration push and history pull. Settings of other domains are keys
 * of `site_settings` written by their own settings module.
 */
const SITE_COPIER = ['site/site-data.ts', 'site/keep-revocations.ts'];
const SITE_TABLE_WRITERS: Record<string, string[]> = {
  users: ['site/users.ts'],
  site_settings: ['site/settings.ts', 'syslog/settings.ts', 'sessions/jump-client-identities.ts'],
  events: ['site/events.ts'],
  files: ['site/files.ts'],
  session_records: ['sessions/session-records.ts'],
  cluster_nodes: ['cluster/nodes-store.ts'],
  jump_client_tokens: ['sessions/enrolment-tokens.ts'],
  jump_client_installations: ['sessions/jump-client-identities.ts'],
};
/** Files whose SQL writes no appliance store: the schema itself, and a client's export file. */
const NOT_THE_STORE = ['store/migrations.ts', 'clients/export-sqlite.ts'];

/** SQL that writes a table: the table as written (a `${…}` where the code chooses it). */
const SQL_WRITE = /\b(?:INTO|DELETE\s+FROM|UPDATE)\s+((?:main\.)?[\w"$.{}()]+)/g;

/** Each write of a site table (or of a table the code chooses) by a file that may not. */
function siteWritesOutsideOwners(files: { file: string; text: string }[]): string[] {
  return files.flatMap(({ file, text }) => {
    if (SITE_COPIER.includes(file) || NOT_THE_STORE.includes(file)) return [];
    return [...text.matchAll(SQL_WRITE)].flatMap((m) => {
      const table = m[1]!.replace(/^main\./, '').replace(/"/g, '');
      const chosen = table.includes('${');
      if (!chosen && !SITE_TABLE_WRITERS[table]?.length) return [];
      if (!chosen && SITE_TABLE_WRITERS[table]!.includes(file)) return [];
      const line = text.slice(0, m.index).split('\n').length;
      return [`src/${file}:${line} writes ${table} (only ${SITE_COPIER[0]} may copy site data)`];
    });
  });
}

/**
 * Sites that build a GatehouseError from a code and status another party chose (a peer's or a
 * site's problem document, Fastify's own error), so they name
 * no catalogue entry and may map a status.
 */
const RELAYED_ERRORS: Record<string, string> = {
  'shared/errors.ts': 'the catalogue factories and the helpers themselves',
  'shared/http/server.ts': "Fastify's own errors, with their code and status",
  'failover/peer-client.ts': "the peer's problem, a 401 or 409 kept, anything else a 502",
  'failover/relationship-errors.ts': "the peer's refusal as the administrator's API returns it",
  'updates/update-client.ts': "the update server's problem, answered as a 502",
  'clients/admin-client.ts': "the appliance's problem, with its status",
  'clients/tunnel.ts': "the site's refusal of an upgrade, with its status",
  'sessions/mux.ts': "the peer's RESET of a stream, with its problem",
  'traffic/nat/forwarder-client.ts': "the NAT forwarder's problem, with its status",
  'orchestrator/step-packages.ts': "the first node's refusal of an install, kept as it came",
};

/** The code and status arguments of each `new GatehouseError(` of a file, with its line. */
function gatehouseErrorsIn(text: string): { code: string; status: string; line: number }[] {
  return [...text.matchAll(/new GatehouseError\(/g)].map((m) => {
    const args: string[] = [''];
    let depth = 0;
    for (let i = m.index + m[0].length; i < text.length && args.length < 3; i++) {
      const c = text[i]!;
      depth += '([{'.includes(c) ? 1 : ')]}'.includes(c) ? -1 : 0;
      if (depth < 0) break;
      if (c === ',' && depth === 0) args.push('');
      else args[args.length - 1] += c;
    }
    const line = text.slice(0, m.index).split('\n').length;
    return { code: args[0]!.trim(), status: (args[1] ?? '').trim(), line };
  });
}

/**
 * Each throw site that writes a code as a string or an HTTP status, or names the catalogue of
 * a folder its own may not import.
 */
function untypedThrows(files: { file: string; text: string }[]): string[] {
  return files.flatMap(({ file, text }) => {
    const folder = file.split('/')[0]!;
    const own = gatehouseErrorsIn(text).flatMap(({ code, status, line }) => {
      if (RELAYED_ERRORS[file]) return [];
      const where = `src/${file}:${line}`;
      return [
        ...(/^['`]/.test(code) ? [`${where} names ${code} as a string: use its catalogue`] : []),
        ...(/\b\d{3}\b/.test(status) ? [`${where} writes status ${status}`] : []),
      ];
    });
    const foreign = [...text.matchAll(/\b([a-z]+)Errors\.[A-Z]/g)]
      .filter((m) => m[1] !== folder && !(layerOf(m[1]!) >= 0 && layerOf(m[1]!) < layerOf(folder)))
      .map(
        (m) => `src/${file}:${text.slice(0, m.index).split('\n').length} throws a ${m[1]}/ code`,
      );
    return [...own, ...foreign];
  });
}

const within = (url: string, prefix: string) => url === prefix || url.startsWith(`${prefix}/`);

describe('the direction of dependencies in src/', () => {
  const edges = folderImports();

  it('knows the layer of every top-level folder of src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => layerOf(f) < 0)).toEqual([]);
    expect(edges.length).toBeGreaterThan(0);
  });

  it('imports only from folders in lower layers', () => {
    const against = edges
      .filter((e) => layerOf(e.to) >= layerOf(e.from))
      .map((e) => `${e.where} imports ${e.to}/ (${e.from}/ may not)`);
    expect(against).toEqual([]);
  });

  it('has no loop between top-level folders', () => {
    expect(loops(edges).map((l) => l.join(' -> '))).toEqual([]);
  });

  it('registers each owned surface in its domain, none of it in src/appliance/', () => {
    const wired = routesUnder('appliance');
    const wrong = Object.entries(OWNED_SURFACES).flatMap(([domain, prefixes]) => {
      const own = routesUnder(domain);
      return prefixes.flatMap((prefix) => [
        ...(own.some((r) => within(r.url, prefix))
          ? []
          : [`src/${domain}/ registers nothing under ${prefix}`]),
        ...wired
          .filter((r) => within(r.url, prefix))
          .map((r) => `${r.where} registers ${r.url}, which src/${domain}/ owns`),
      ]);
    });
    expect(wrong).toEqual([]);
  });

  it('writes site tables only in their domain service and the one site-data copier', () => {
    const files = sourceFiles(SRC).map((f) => ({
      file: path.relative(SRC, f).split(path.sep).join('/'),
      text: readFileSync(f, 'utf8'),
    }));
    expect(Object.keys(SITE_TABLE_WRITERS).sort()).toEqual([...SITE_TABLES].sort());
    expect(siteWritesOutsideOwners(files)).toEqual([]);
  });

  it('finds SQL that writes a site table outside its owners, when there is some', () => {
    const wrong = siteWritesOutsideOwners([
      { file: 'cluster/x.ts', text: 'db.prepare(`DELETE FROM users`)' },
      { file: 'failover/y.ts', text: 'db.prepare(`INSERT OR REPLACE INTO ${table} VALUES (?)`)' },
      { file: 'site/users.ts', text: "db.prepare('UPDATE users SET disabled = 1')" },
      { file: 'appliance/z.ts', text: "db.prepare('UPDATE appliance_settings SET value = 1')" },
    ]);
    expect(wrong).toEqual([
      'src/cluster/x.ts:1 writes users (only site/site-data.ts may copy site data)',
      'src/failover/y.ts:1 writes ${table} (only site/site-data.ts may copy site data)',
    ]);
  });

  it('throws codes by their catalogue entry, with no status at the throw site', () => {
    const files = sourceFiles(SRC).map((f) => ({
      file: path.relative(SRC, f).split(path.sep).join('/'),
      text: readFileSync(f, 'utf8'),
    }));
    expect(untypedThrows(files)).toEqual([]);
  });

  it("keeps each folder's error codes as data, its error-codes.ts only typing them", () => {
    // Entries written as TypeScript are alike by shape: `duplicates` reports them as pairs.
    const wrong = readdirSync(SRC).flatMap((folder) => {
      const file = path.join(SRC, folder, 'error-codes.ts');
      if (!existsSync(file)) return [];
      const code = readFileSync(file, 'utf8').replace(/\/\*\*[\s\S]*?\*\/\n/, '');
      const factory = folder === 'shared' ? './errors.js' : '../shared/errors.js';
      const thin = [
        `import { errorCatalogue } from '${factory}';`,
        `import codes from './error-codes.json' with { type: 'json' };`,
        '',
        `export const ${folder}Errors = errorCatalogue(codes);`,
        '',
      ].join('\n');
      return code === thin && existsSync(path.join(SRC, folder, 'error-codes.json'))
        ? []
        : [`src/${folder}/error-codes.ts declares more than errorCatalogue(codes) of its JSON`];
    });
    expect(wrong).toEqual([]);
  });

  it('finds a code written as a string, a status and a catalogue from above', () => {
    const wrong = untypedThrows([
      {
        file: 'cluster/x.ts',
        text: "throw new GatehouseError('CLUSTER_X', 409, 'm');\nthrow appErrors.X('m');\nthrow new GatehouseError(c, f(1, 2) ? 502 : 504, 'm');",
      },
      {
        file: 'cluster/y.ts',
        text: "throw clusterErrors.X('m');\nthrow siteErrors.Y('m', { a: 1 });",
      },
    ]);
    expect(wrong).toEqual([
      "src/cluster/x.ts:1 names 'CLUSTER_X' as a string: use its catalogue",
      'src/cluster/x.ts:1 writes status 409',
      'src/cluster/x.ts:3 writes status f(1, 2) ? 502 : 504',
      'src/cluster/x.ts:2 throws a app/ code',
    ]);
  });

  it('finds an import that runs against the order and a loop, when there is one', () => {
    const wrong: Edge[] = [
      { from: 'failover', to: 'appliance', where: 'failover/x.ts:1' },
      { from: 'appliance', to: 'failover', where: 'appliance/y.ts:1' },
    ];
    expect(wrong.filter((e) => layerOf(e.to) >= layerOf(e.from))).toHaveLength(1);
    expect(loops(wrong)).toEqual([['failover', 'appliance', 'failover']]);
  });
});
