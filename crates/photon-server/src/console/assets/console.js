// Progressive behaviour for the Photon console. Every page works without it; with it, lists
// refresh their state badges in place, the region selector switches on change, and row
// editors add and remove rows without a round trip.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

  function ready(fn) {
    if (document.readyState !== 'loading') fn(); else document.addEventListener('DOMContentLoaded', fn);
  }

  // Region selector: switch on change.
  function autosubmit() {
    document.querySelectorAll('select[data-autosubmit]').forEach(function (sel) {
      sel.addEventListener('change', function () { sel.form.submit(); });
    });
  }

  // Sign-in: show the fields of the chosen method only.
  function signinMethod() {
    var radios = document.querySelectorAll('input[name="method"]');
    if (!radios.length) return;
    function show() {
      var chosen = document.querySelector('input[name="method"]:checked');
      document.querySelectorAll('[data-method]').forEach(function (el) {
        el.hidden = !chosen || el.getAttribute('data-method') !== chosen.value;
      });
    }
    radios.forEach(function (r) { r.addEventListener('change', show); });
    show();
  }

  // State badges: poll while the resource is busy. The next round starts only when every
  // answer of this one is in, so a slow server never gets a pile of requests.
  function pollBadges() {
    var busy = Array.prototype.slice.call(document.querySelectorAll('.badge[data-busy]'));
    if (!busy.length) return;
    Promise.all(busy.map(function (b) {
      var url = '/console/state?kind=' + encodeURIComponent(b.dataset.kind) +
        '&id=' + encodeURIComponent(b.dataset.id);
      return fetch(url, { credentials: 'same-origin', headers: { 'accept': 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) { if (s) paint(b, s); })
        .catch(function () {});
    })).then(function () { setTimeout(pollBadges, 1500); });
  }

  function paint(b, s) {
    if (!s.busy) b.removeAttribute('data-busy');
    if (s.state === b.dataset.state) return;
    b.dataset.state = s.state;
    b.className = 'badge s-' + s.state.toLowerCase();
    b.textContent = '';
    if (s.state === 'FAILED') {
      var icon = document.createElement('span');
      icon.className = 'alert-icon';
      icon.setAttribute('aria-hidden', 'true');
      icon.textContent = '!';
      b.appendChild(icon);
      b.appendChild(document.createTextNode(' '));
    }
    b.appendChild(document.createTextNode(s.label));
  }

  // Row editors (accounts of a share, tags): add from the template, remove with the X.
  function rowEditors() {
    document.querySelectorAll('[data-rows]').forEach(function (box) {
      var kind = box.getAttribute('data-rows');
      var tpl = box.querySelector('template');
      var list = box.querySelector('.rows');
      box.addEventListener('click', function (ev) {
        var btn = ev.target.closest('button');
        if (!btn) return;
        if (btn.name === 'add_row' && btn.value === kind && tpl) {
          ev.preventDefault();
          var next = 0;
          list.querySelectorAll('input[name="' + kind + '_row"]').forEach(function (i) {
            next = Math.max(next, parseInt(i.value, 10) + 1);
          });
          var html = tpl.innerHTML.split('__I__').join(String(next));
          list.insertAdjacentHTML('beforeend', html);
          var added = list.lastElementChild && list.lastElementChild.querySelector('input:not([type="hidden"])');
          if (added) added.focus();
        } else if (btn.name === 'remove_row' && btn.value.indexOf(kind + ':') === 0) {
          ev.preventDefault();
          var row = btn.closest('.row');
          if (row) row.remove();
        }
      });
    });
  }

  // Menus close when something else is clicked.
  function menus() {
    document.addEventListener('click', function (ev) {
      document.querySelectorAll('details.menu[open]').forEach(function (d) {
        if (!d.contains(ev.target)) d.removeAttribute('open');
      });
    });
  }

  ready(function () {
    autosubmit();
    signinMethod();
    rowEditors();
    menus();
    setTimeout(pollBadges, 1000);
  });
})();
