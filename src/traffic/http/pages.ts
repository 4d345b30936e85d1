import { isGatehouseError } from '../../shared/errors.js';
import { PROVIDERS } from '../switch.js';
import { html } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import type { TrafficSite } from './site.js';

type Ctx = kit.PageContext<TrafficSite>;

const TITLE = 'Networking > Traffic Switch';
const PATH = '/appliance/networking/traffic';

type Provider = (typeof PROVIDERS)[number];
type Kind = 'text' | 'number' | 'lines' | 'secret' | 'algorithm';
interface Setting {
  /** The setting's path in the configuration (`tsig.secret`); the input is `PROVIDER.path`. */
  path: string;
  label: string;
  kind?: Kind;
  help?: string;
  /** A secret: the settings that must be unchanged for an empty field to keep the stored one. */
  sameAs?: string[];
}

/** Each method's settings, as `gatehouse traffic` and the API take them. */
const METHODS: Record<Provider, { title: string; settings: Setting[] }> = {
  'shared-ip': {
    title: 'Shared IP: an address that moves between the two appliances',
    settings: [
      { path: 'address', label: 'Shared address', help: 'e.g. 192.0.2.10' },
      { path: 'prefixLength', label: 'Prefix length', kind: 'number', help: '32 for IPv4' },
      {
        path: 'device',
        label: 'Network device',
        help: 'lo for a loopback address, else e.g. eth0',
      },
      {
        path: 'localName',
        label: "This appliance's name",
        help: 'pointing here takes the address; pointing at the other appliance releases it',
      },
    ],
  },
  'hosts-file': {
    title: 'DNS swing through a hosts file (one machine)',
    settings: [
      { path: 'file', label: 'Hosts file', help: 'e.g. /etc/hosts' },
      { path: 'hostname', label: 'Site hostname', help: 'e.g. support.example.com' },
    ],
  },
  rfc2136: {
    title: 'DNS swing by RFC 2136 dynamic update (BIND, PowerDNS)',
    settings: [
      { path: 'server', label: 'DNS server', help: "the zone's primary server, host or address" },
      { path: 'port', label: 'Port', kind: 'number', help: '53' },
      { path: 'zone', label: 'Zone', help: 'e.g. example.com' },
      { path: 'hostname', label: 'Site hostname', help: 'inside the zone' },
      { path: 'ttl', label: 'TTL (seconds)', kind: 'number', help: '60' },
      { path: 'tsig.name', label: 'TSIG key name' },
      { path: 'tsig.algorithm', label: 'TSIG algorithm', kind: 'algorithm' },
      {
        path: 'tsig.secret',
        label: 'TSIG secret',
        kind: 'secret',
        help: 'base64, as tsig-keygen prints it; leave empty to keep the one set for this server, zone and key',
        sameAs: ['server', 'port', 'zone', 'tsig.name'],
      },
      { path: 'timeoutMs', label: 'Timeout (ms)', kind: 'number', help: '5000' },
    ],
  },
  command: {
    title: "NAT swing by a command (your firewall's tool)",
    settings: [
      {
        path: 'argv',
        label: 'Command',
        kind: 'lines',
        help: 'the program, then one argument per line; run without a shell, with GATEHOUSE_TARGET_NAME, GATEHOUSE_TARGET_ADDRESS and GATEHOUSE_TARGET_PORT set',
      },
      {
        path: 'currentArgv',
        label: 'Command that prints where traffic goes (optional)',
        kind: 'lines',
        help: 'its first line of output is the address',
      },
      { path: 'timeoutMs', label: 'Timeout (ms)', kind: 'number', help: '30000' },
    ],
  },
  'nat-forwarder': {
    title: 'NAT swing through the Gatehouse NAT forwarder',
    settings: [
      { path: 'control', label: 'Control API', help: 'HOST:PORT, e.g. 127.0.0.1:9443' },
      {
        path: 'fingerprint',
        label: 'Certificate fingerprint',
        help: 'as the forwarder printed it',
      },
      {
        path: 'token',
        label: 'Control token',
        kind: 'secret',
        help: 'as the forwarder printed it; leave empty to keep the one set for this forwarder',
        sameAs: ['control', 'fingerprint'],
      },
      { path: 'defaultPort', label: 'Default port', kind: 'number', help: '443' },
      { path: 'timeoutMs', label: 'Timeout (ms)', kind: 'number', help: '10000' },
    ],
  },
};

const inputName = (provider: string, path: string) => `${provider}.${path}`;

function get(obj: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

function put(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[keys.at(-1)!] = value;
}

/** The form's values (input name → text) of a stored configuration. Secrets are never shown. */
function valuesOf(config: Record<string, unknown> | null): Record<string, string> {
  const values: Record<string, string> = {};
  if (!config) return values;
  const provider = config.provider as Provider;
  for (const s of Object.hasOwn(METHODS, provider) ? METHODS[provider].settings : []) {
    if (s.kind === 'secret') continue;
    const v = get(config, s.path);
    if (v === undefined) continue;
    values[inputName(provider, s.path)] = Array.isArray(v) ? v.join('\n') : String(v);
  }
  return values;
}

/**
 * The configuration the form describes for its method: numbers as numbers, one argument per
 * line, an empty optional setting left out (its default applies). An empty secret keeps the
 * stored one only while it goes to the same place (`sameAs` unchanged): a secret is never sent
 * to a server or forwarder it was not typed for.
 */
function configFrom(
  provider: string,
  body: Record<string, string | undefined>,
  stored: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const config: Record<string, unknown> = { provider };
  for (const s of Object.hasOwn(METHODS, provider) ? METHODS[provider as Provider].settings : []) {
    const raw = (body[inputName(provider, s.path)] ?? '').trim();
    if (!raw) continue;
    if (s.kind === 'number') put(config, s.path, /^\d+$/.test(raw) ? Number(raw) : raw);
    else if (s.kind === 'lines')
      put(
        config,
        s.path,
        raw
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter(Boolean),
      );
    else put(config, s.path, raw);
  }
  const same = (path: string) =>
    String(get(config, path) ?? '').toLowerCase() === String(get(stored, path) ?? '').toLowerCase();
  for (const s of Object.hasOwn(METHODS, provider) ? METHODS[provider as Provider].settings : [])
    if (
      s.kind === 'secret' &&
      get(config, s.path) === undefined &&
      stored?.provider === provider &&
      (s.sameAs ?? []).every(same)
    ) {
      const kept = get(stored, s.path);
      if (kept !== undefined) put(config, s.path, kept);
    }
  return config;
}

function settingInput(
  provider: Provider,
  s: Setting,
  values: Record<string, string>,
  errors: Record<string, string>,
) {
  const name = inputName(provider, s.path);
  if (s.kind === 'lines')
    return kit.textarea(s.label, name, values[name] ?? '', errors, { rows: 3, help: s.help });
  if (s.kind === 'algorithm')
    return kit.select(
      s.label,
      name,
      ['hmac-sha256', 'hmac-sha384', 'hmac-sha512'].map((a) => ({ value: a, label: a })),
      values[name] ?? 'hmac-sha256',
      errors,
    );
  return kit.field(s.label, name, values[name], errors, {
    type: s.kind === 'secret' ? 'password' : s.kind === 'number' ? 'number' : 'text',
    help: s.help,
    ...(s.kind === 'secret' ? { autocomplete: 'new-password' } : {}),
  });
}

async function page(
  ctx: Ctx,
  form: { provider: string; values: Record<string, string> } | undefined,
  problem: kit.FormProblem,
) {
  const shown = await ctx.appliance.traffic.shown();
  const config = shown.config as Record<string, unknown> | null;
  const provider = form?.provider ?? (config?.provider as string | undefined) ?? 'hosts-file';
  const values = form?.values ?? valuesOf(config);
  // Errors name the setting (`tsig.secret`); the inputs carry their method's prefix.
  const errors: Record<string, string> = { provider: problem.fields.provider ?? '' };
  if (!errors.provider) delete errors.provider;
  for (const [f, m] of Object.entries(problem.fields))
    if (f !== 'provider') errors[inputName(provider, f)] = m;
  const known = Object.hasOwn(METHODS, provider)
    ? METHODS[provider as Provider].settings.map((s) => s.path)
    : [];
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    TITLE,
    html`<p class="note">
        The traffic switch makes the site hostname reach the primary (S19): a shared IP that moves
        between the appliances, a DNS swing (RFC 2136 dynamic update, or a hosts file for one
        machine) or a NAT swing (a command for a real firewall, or the Gatehouse NAT forwarder). The
        same settings work with <code>gatehouse traffic</code> and
        <code>PUT /api/appliance/traffic</code>.
      </p>
      <dl class="facts" id="traffic-current">
        <dt>Method</dt>
        <dd id="traffic-method">
          ${shown.description ?? html`<span class="muted">none configured</span>`}
        </dd>
        <dt>Traffic goes to</dt>
        <dd id="traffic-target">
          ${
            shown.current?.address ??
            html`<span class="muted">${shown.currentError ?? 'unknown'}</span>`
          }
        </dd>
      </dl>
      ${shown.config ? kit.actionButton(ctx, `${PATH}/point-here`, 'Point traffic here') : ''}
      <section>
        <h2>Method and settings</h2>
        ${kit.formAlert(problem, ['provider', ...known])}
        <form method="post" action="${PATH}" id="traffic-form" class="stacked">
          ${kit.csrfInput(ctx)}
          ${kit.select(
            'Method',
            'provider',
            PROVIDERS.map((p) => ({ value: p, label: p })),
            provider,
            errors,
          )}
          <p class="help">Fill in the settings of the chosen method; the others are ignored.</p>
          ${PROVIDERS.map(
            (p) =>
              html`<details class="method" id="method-${p}" ${p === provider ? html`open` : ''}>
                <summary>${p}: ${METHODS[p].title}</summary>
                ${METHODS[p].settings.map((s) => settingInput(p, s, values, errors))}
              </details>`,
          )}
          <div class="buttons"><button type="submit">Save traffic switch</button></div>
        </form>
      </section>
      <script src="/static/traffic.js" defer></script>`,
  );
}

/** A secret typed into a form that failed is not sent back in the page. */
const isSecretInput = (name: string) =>
  PROVIDERS.some((p) =>
    METHODS[p].settings.some((s) => s.kind === 'secret' && inputName(p, s.path) === name),
  );

/** Networking > Traffic Switch: method, settings and Point Here (S19). */
export function registerTrafficPages(p: kit.Pages<TrafficSite>): void {
  p.get(PATH, (ctx) => page(ctx, undefined, kit.NO_PROBLEM));

  p.post(PATH, async (ctx) => {
    const b = kit.formBody(ctx);
    const provider = b.provider ?? '';
    const values = Object.fromEntries(
      Object.entries(b).filter(
        ([k, v]) => k.startsWith(`${provider}.`) && v !== undefined && !isSecretInput(k),
      ),
    ) as Record<string, string>;
    try {
      const stored = ctx.appliance.traffic.get() as Record<string, unknown> | undefined;
      const config = await ctx.appliance.traffic.set(ctx.actor, configFrom(provider, b, stored));
      return kit.redirect(ctx.reply, PATH, `Traffic switch set to ${config.provider}.`);
    } catch (e) {
      return page(ctx, { provider, values }, kit.formErrors(e));
    }
  });

  p.post(`${PATH}/point-here`, async (ctx) => {
    try {
      const r = await ctx.appliance.traffic.pointHere(ctx.actor);
      return kit.redirect(
        ctx.reply,
        PATH,
        `Traffic now goes to ${r.target.address} (${r.description}).`,
      );
    } catch (e) {
      if (!isGatehouseError(e)) throw e;
      return page(ctx, undefined, { ...kit.formErrors(e), fields: {} });
    }
  });
}
