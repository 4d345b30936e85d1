import { z } from 'zod';
import { parseInput } from '../../shared/http/operations.js';
import type { EventRecord } from '../events.js';
import { formatTime, html, type SafeHtml, tableHead } from '../../shared/web/html.js';
import * as kit from '../../shared/web/kit.js';
import { LOG_SEARCH_FIELDS } from './log-search.js';
import type { PageContext, Pages, SiteDataSite } from './site.js';

const PAGE_SIZE = 50;
const DETAILS_SHOWN = 100;

// The page's search: the API's fields a person fills in (src/site/http/log-search.ts).
const LogSearch = z.object(LOG_SEARCH_FIELDS);
type LogSearch = z.infer<typeof LogSearch>;

const AREAS = [
  { value: '', label: 'All areas' },
  { value: 'login', label: '/login' },
  { value: 'appliance', label: '/appliance' },
  { value: 'system', label: 'system' },
];

function pageLink(search: LogSearch, page: number): string {
  const params = new URLSearchParams();
  if (search.q) params.set('q', search.q);
  if (search.area) params.set('area', search.area);
  params.set('page', String(page));
  return `/login/logs?${params.toString()}`;
}

function row(e: EventRecord) {
  const details = JSON.stringify(e.details);
  const short = details.length > DETAILS_SHOWN ? `${details.slice(0, DETAILS_SHOWN)}…` : details;
  return html`<tr class="outcome-${e.outcome}">
    <td class="nowrap">${formatTime(e.ts)}</td>
    <td>${e.area}</td>
    <td>${e.actor}</td>
    <td><code>${e.action}</code></td>
    <td>${e.target}</td>
    <td><span class="tag ${e.outcome === 'ok' ? 'ok' : 'off'}">${e.outcome}</span></td>
    <td><code class="details" title="${details}">${short}</code></td>
  </tr>`;
}

function results(search: LogSearch, found: ReturnType<SiteDataSite['events']['search']>) {
  if (found.total === 0) return html`<p class="empty" id="no-events">No events match.</p>`;
  const first = (found.page - 1) * found.pageSize + 1;
  const last = Math.min(found.total, found.page * found.pageSize);
  const pages = Math.max(1, Math.ceil(found.total / found.pageSize));
  return html`<p class="muted" id="events-range">
      Events ${first}–${last} of ${found.total}, newest first.
    </p>
    <table id="events" class="list">
      ${tableHead(['Time', 'Area', 'Actor', 'Action', 'Target', 'Outcome', 'Details'])}
      <tbody>
        ${found.items.map(row)}
      </tbody>
    </table>
    <nav class="pager">
      ${
        found.page > 1
          ? html`<a href="${pageLink(search, found.page - 1)}" rel="prev" id="previous"
              >Previous</a
            >`
          : html`<span class="disabled">Previous</span>`
      }<span>Page ${found.page} of ${pages}</span>${
        found.page < pages
          ? html`<a href="${pageLink(search, found.page + 1)}" rel="next" id="next">Next</a>`
          : html`<span class="disabled">Next</span>`
      }
    </nav>`;
}

function page(
  ctx: PageContext,
  values: { q: string; area: string },
  problem: kit.FormProblem,
  body: SafeHtml,
) {
  ctx.reply.code(problem.status);
  return kit.layout(
    ctx,
    'Logs',
    html`<form method="get" action="/login/logs" id="log-search" class="search">
        ${kit.field('Search', 'q', values.q, problem.fields, { type: 'search', help: 'Matches action, actor, target and details' })}
        ${kit.select('Area', 'area', AREAS, values.area, problem.fields)}
        <div class="buttons"><button type="submit">Search</button></div>
      </form>
      ${problem.fields.page ? html`<p class="error" role="alert" id="form-error">page: ${problem.fields.page}</p>` : ''}
      ${body}`,
  );
}

/** Logs: search the event log, newest first, a page at a time. */
export function registerLogPages(p: Pages, appliance: SiteDataSite): void {
  p.get('/login/logs', (ctx) => {
    const query = ctx.req.query as Record<string, string | undefined>;
    const values = { q: query.q ?? '', area: query.area ?? '' };
    try {
      const search = parseInput(
        LogSearch,
        {
          q: values.q.trim() || undefined,
          area: values.area || undefined,
          page: query.page || undefined,
        },
        'query',
      );
      const found = appliance.events.search({ ...search, pageSize: PAGE_SIZE });
      return page(ctx, values, kit.NO_PROBLEM, results(search, found));
    } catch (e) {
      return page(ctx, values, kit.formErrors(e), html``);
    }
  });
}
