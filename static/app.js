// syncguard portal: progressive enhancement only. Every page works without
// this file; it makes the <details class="menu"> dropdowns behave like menus:
// opening one focuses its first item and closes the others, Escape closes it
// and returns focus to its summary, a click outside or tabbing away closes it.
(function () {
  "use strict";

  function items(menu) {
    return menu.querySelectorAll(".menu-panel a[href], .menu-panel button:not([disabled])");
  }

  function close(menu, refocus) {
    if (!menu.open) return;
    menu.open = false;
    if (refocus) {
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    }
  }

  function openMenus() {
    return document.querySelectorAll("details.menu[open]");
  }

  // toggle does not bubble: listen in the capture phase.
  document.addEventListener("toggle", function (e) {
    var menu = e.target;
    if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("menu") || !menu.open) return;
    openMenus().forEach(function (other) {
      if (other !== menu) close(other, false);
    });
    var first = items(menu)[0];
    if (first) first.focus();
  }, true);

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" && e.key !== "Esc") return;
    openMenus().forEach(function (menu) {
      close(menu, true);
    });
  });

  // Tabbing out of an open menu closes it.
  document.addEventListener("focusout", function (e) {
    var menu = e.target.closest && e.target.closest("details.menu[open]");
    if (menu && e.relatedTarget && !menu.contains(e.relatedTarget)) close(menu, false);
  });

  document.addEventListener("click", function (e) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(e.target)) close(menu, false);
    });
  });
})();
