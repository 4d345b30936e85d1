/**
 * A tiny HTML templating helper: `html` escapes every interpolated value unless it is itself
 * the result of `html` (or `raw`), so pages cannot inject markup by accident.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

type Value = SafeHtml | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

export const raw = (s: string) => new SafeHtml(s);

/**
 * An input of a sign-in form, named so that password managers fill it: the username (with the
 * value typed before, after a failed attempt) or the current password.
 */
export function signInInput(
  label: string,
  name: 'username' | 'password',
  opts: { value?: string; autofocus?: boolean } = {},
): SafeHtml {
  const password = name === 'password';
  return html`<label class="field"
    ><span>${label}</span
    ><input
      name="${name}"
      id="f-${name}"
      ${password ? html`type="password"` : html`value="${opts.value ?? ''}"`}
      autocomplete="${password ? 'current-password' : 'username'}"
      required
      ${opts.autofocus ? html`autofocus` : ''}
  /></label>`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const formatTime = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');

/** A table's head row: each column a title, or [title, class] (e.g. ['Size', 'num']). */
/** A column heading, or a heading and the class of its cells (`['Size', 'num']`). */
type Column = string | [string, string];

export function tableHead(columns: Column[]): SafeHtml {
  const cell = (c: Column) =>
    typeof c === 'string' ? html`<th>${c}</th>` : html`<th class="${c[1]}">${c[0]}</th>`;
  return html`<thead>
    <tr>
      ${columns.map(cell)}
    </tr>
  </thead>`;
}

/**
 * A table's heading and body: a row per item or, with none, one row across every column saying
 * what is missing.
 */
export function tableOf<T>(
  columns: Column[],
  items: T[],
  empty: Value,
  row: (item: T) => SafeHtml,
): SafeHtml {
  return html`${tableHead(columns)}
    <tbody>
      ${
        items.length === 0
          ? html`<tr class="empty">
              <td colspan="${columns.length}">${empty}</td>
            </tr>`
          : items.map(row)
      }
    </tbody>`;
}
