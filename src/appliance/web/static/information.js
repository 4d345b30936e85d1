// Status > Information, live: every 2 s, GET /api/login/status/information (the page's session
// cookie) and re-render the Connected Clients and Live Sessions tables. The server renders the
// same rows (src/appliance/web/pages-status.ts), so the page works without this script.
(() => {
  const PERIOD_MS = 2000;
  const KIND = {
    'jump-client': 'Jump Client',
    'representative-console': 'Representative console',
    'customer-client': 'Customer client',
  };
  const clientsBody = document.querySelector('#clients tbody');
  const sessionsBody = document.querySelector('#live-sessions tbody');
  const status = document.getElementById('info-refresh');
  if (!clientsBody || !sessionsBody || !status) return;

  const time = (ms) =>
    new Date(ms)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC');
  const bytes = (n) => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
  };

  function cell(row, text, opts = {}) {
    const td = document.createElement('td');
    if (opts.className) td.className = opts.className;
    if (opts.colSpan) td.colSpan = opts.colSpan;
    const inner = opts.wrap ? document.createElement(opts.wrap) : td;
    if (opts.wrap) {
      if (opts.wrapClass) inner.className = opts.wrapClass;
      td.appendChild(inner);
    }
    inner.textContent = String(text);
    row.appendChild(td);
  }

  function empty(body, columns, text) {
    const row = document.createElement('tr');
    row.className = 'empty';
    cell(row, text, { colSpan: columns });
    body.replaceChildren(row);
  }

  function render(info) {
    const clients = info.connectedClients;
    if (!clients.length) empty(clientsBody, 6, 'No clients are connected.');
    else
      clientsBody.replaceChildren(
        ...clients.map((c) => {
          const row = document.createElement('tr');
          row.dataset.client = c.id;
          cell(row, KIND[c.kind] || c.kind);
          cell(row, c.representative ? `${c.name} (customer of ${c.representative})` : c.name);
          cell(row, c.address, { wrap: 'code' });
          cell(row, c.version, {
            wrap: 'span',
            wrapClass: c.version === info.productVersion ? 'tag' : 'tag warn',
          });
          cell(row, time(c.connectedAt));
          cell(row, c.sessions.length, { className: 'num' });
          return row;
        }),
      );
    const byId = new Map();
    for (const c of clients) for (const s of c.sessions) byId.set(s.id, s);
    const sessions = [...byId.values()].sort((a, b) => a.startedAt - b.startedAt);
    if (!sessions.length) empty(sessionsBody, 7, 'No session is running.');
    else
      sessionsBody.replaceChildren(
        ...sessions.map((s) => {
          const row = document.createElement('tr');
          row.dataset.session = s.id;
          cell(row, time(s.startedAt));
          cell(row, s.representative);
          cell(row, s.jumpClient);
          cell(row, s.target, { wrap: 'code' });
          cell(row, bytes(s.bytesOut), { className: 'num' });
          cell(row, bytes(s.bytesIn), { className: 'num' });
          // A resumable session's moves and total pause (src/pages-status.ts says the same).
          const moved = s.moves ? `${s.moves} (${((s.pausedMs ?? 0) / 1000).toFixed(1)} s)` : '0';
          cell(row, moved, { className: 'num' });
          return row;
        }),
      );
    status.textContent = `Live: refreshed every ${PERIOD_MS / 1000} s, last at ${time(Date.now())}.`;
  }

  async function refresh() {
    try {
      const res = await fetch('/api/login/status/information', {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      });
      if (res.status === 401) {
        status.textContent = 'Live refresh stopped: the session ended. Sign in again.';
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
    } catch (e) {
      status.textContent = `Live refresh failed (${e.message}); retrying.`;
    }
    setTimeout(refresh, PERIOD_MS);
  }
  setTimeout(refresh, PERIOD_MS);
})();
