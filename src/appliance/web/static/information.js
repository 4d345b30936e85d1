// Status > Information, live: every 2 s, fetch this page again (the page's session cookie) and
// swap in its Connected Clients and Live Sessions rows. The server is the only one to render the
// rows (src/appliance/web/pages-status.ts), so the page works without this script and the live
// rows never differ from the server's.
(() => {
  const PERIOD_MS = 2000;
  const BODIES = ['#clients tbody', '#live-sessions tbody'];
  const status = document.getElementById('info-refresh');
  if (!status || BODIES.some((b) => !document.querySelector(b))) return;

  const time = (ms) =>
    new Date(ms)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC');

  function render(page) {
    for (const selector of BODIES) {
      const fresh = page.querySelector(selector);
      if (!fresh) throw new Error('the page came back without its tables');
      document.querySelector(selector).replaceChildren(...fresh.childNodes);
    }
    status.textContent = `Live: refreshed every ${PERIOD_MS / 1000} s, last at ${time(Date.now())}.`;
  }

  async function refresh() {
    try {
      // A page whose session ended redirects to the sign-in page: not followed, it stops here.
      const res = await fetch(location.pathname, {
        credentials: 'same-origin',
        headers: { accept: 'text/html' },
        redirect: 'manual',
      });
      if (res.status === 401 || res.type === 'opaqueredirect') {
        status.textContent = 'Live refresh stopped: the session ended. Sign in again.';
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(new DOMParser().parseFromString(await res.text(), 'text/html'));
    } catch (e) {
      status.textContent = `Live refresh failed (${e.message}); retrying.`;
    }
    setTimeout(refresh, PERIOD_MS);
  }
  setTimeout(refresh, PERIOD_MS);
})();
