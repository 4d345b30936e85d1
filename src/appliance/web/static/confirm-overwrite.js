// S23: while an upgrade of the site is in progress (the banner), every form that changes
// something asks for the confirmation that the change is overwritten by the first sync after
// the upgrade: a box to tick, then the flag in the form's address. Without this script the
// appliance refuses the change with a page that says so (UPGRADE_CHANGE_NOT_CONFIRMED).
(() => {
  if (!document.getElementById('upgrade-banner')) return;
  for (const form of document.querySelectorAll('main form')) {
    if ((form.getAttribute('method') || 'get').toLowerCase() !== 'post') continue;
    const label = document.createElement('label');
    label.className = 'confirm-overwrite';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.required = true;
    box.className = 'confirm-overwrite-box';
    label.append(
      box,
      ' I understand: this change is overwritten by the first sync after the upgrade.',
    );
    const submit = form.querySelector(
      'button[type="submit"], button:not([type]), input[type="submit"]',
    );
    if (submit) submit.before(label);
    else form.append(label);
    form.addEventListener('submit', () => {
      const url = new URL(form.getAttribute('action') || location.pathname, location.href);
      url.searchParams.set('confirmOverwrite', 'true');
      form.setAttribute('action', url.pathname + url.search);
    });
  }
})();
