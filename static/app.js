// syncguard portal: progressive enhancement only. Every page works without
// this file.
//
// - The ellipsis (⋯) menus are popovers: the browser opens them, and
//   closes them on Escape or a click outside. This moves the focus to the
//   first item when one opens, and back to its button when Escape closes it.
// - A page showing a running cycle (body[data-live]) refreshes without
//   JavaScript (a meta refresh in <noscript>); with it, the page is
//   fetched again every few seconds and the parts that change
//   ([data-live-part]) are replaced in place, keeping the focus and the
//   scroll, until no cycle runs.
(function () {
  "use strict";

  function items(panel) {
    return panel.querySelectorAll("a[href], button:not([disabled])");
  }

  document.addEventListener("toggle", function (e) {
    var panel = e.target;
    if (!(panel instanceof HTMLElement) || !panel.classList.contains("menu-panel")) return;
    var button = document.querySelector('[popovertarget="' + panel.id + '"]');
    if (e.newState === "open") {
      var first = items(panel)[0];
      if (first) first.focus();
    } else if (button && panel.contains(document.activeElement) || document.activeElement === document.body) {
      if (button) button.focus();
    }
  }, true);

  // Tabbing out of an open menu closes it.
  document.addEventListener("focusout", function (e) {
    var panel = e.target.closest && e.target.closest(".menu-panel");
    if (panel && e.relatedTarget && !panel.contains(e.relatedTarget) && panel.matches(":popover-open")) {
      panel.hidePopover();
    }
  });

  var live = document.body && document.body.getAttribute("data-live");
  if (!live) return;
  var every = Math.max(1, parseInt(live, 10) || 2) * 1000;

  function refresh() {
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-part]").forEach(function (part) {
          var fresh = next.querySelector('[data-live-part="' + part.getAttribute("data-live-part") + '"]');
          if (fresh && fresh.innerHTML !== part.innerHTML && !part.contains(document.activeElement)) {
            part.innerHTML = fresh.innerHTML;
          }
        });
        var banner = next.querySelector("section.banner");
        var here = document.querySelector("section.banner");
        if (!!banner !== !!here) {
          location.reload(); // the guard stopped sync, or sync resumed: the page changes shape
          return;
        }
        if (next.body.getAttribute("data-live")) setTimeout(refresh, every);
      })
      .catch(function () { setTimeout(refresh, every * 2); });
  }
  setTimeout(refresh, every);
})();
