// Networking > Traffic Switch: choosing a method opens its settings and closes the others.
// Without this script every method's settings can still be opened by hand.
'use strict';
(() => {
  const select = document.getElementById('f-provider');
  if (!select) return;
  const show = () => {
    for (const d of document.querySelectorAll('details.method'))
      d.open = d.id === `method-${select.value}`;
  };
  select.addEventListener('change', show);
})();
