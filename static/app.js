// syncguard portal: progressive enhancement only. Every page works without
// this file.
//
// - The ellipsis (⋯) menus are popovers: the browser opens them, and
//   closes them on Escape or a click outside. This moves the focus to the
//   first item when one opens, and back to its button when it closes.
// - It moves through the scope picker's tree in place, hides the LDAP
//   settings of a source that is an LDIF file, and shows a target's
//   settings of its kind only.
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

  // toggle does not bubble: listen in the capture phase.
  document.addEventListener("toggle", function (e) {
    var panel = e.target;
    if (!(panel instanceof HTMLElement) || !panel.classList.contains("menu-panel")) return;
    var button = document.querySelector('[popovertarget="' + panel.id + '"]');
    if (e.newState === "open") {
      var first = items(panel)[0];
      if (first) first.focus();
    } else if (button && (panel.contains(document.activeElement) || document.activeElement === document.body)) {
      button.focus();
    }
  }, true);

  // Tabbing out of an open menu closes it.
  document.addEventListener("focusout", function (e) {
    var panel = e.target.closest && e.target.closest(".menu-panel");
    if (panel && e.relatedTarget && !panel.contains(e.relatedTarget) && panel.matches(":popover-open")) {
      panel.hidePopover();
    }
  });

  // The scope picker: its buttons (open an OU, go up, another page,
  // filter, remove) post the form as they would without this script, and
  // the picker of the page that comes back replaces this one: the page
  // does not jump, and focus goes to the list that changed.
  var moves = { browse: 1, goto: 1, remove: 1 };
  document.addEventListener("submit", function (e) {
    var btn = e.submitter, form = e.target;
    var picker = btn && !form.dataset.plain && btn.closest("[data-ou-browser]");
    if (!picker || !(moves[btn.name] || (btn.name === "action" && (btn.value === "filter" || btn.value === "stay")))) return;
    e.preventDefault();
    var plain = function () { // let the server answer with a page, as without this script
      form.dataset.plain = "1";
      form.requestSubmit(btn);
    };
    var body = new URLSearchParams(new FormData(form, btn));
    picker.setAttribute("aria-busy", "true");
    // form.action would be the buttons named "action": read the attribute.
    fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (res) {
        return res.text().then(function (html) { return { url: res.url, html: html, ok: res.ok || res.status === 422 }; });
      })
      .then(function (r) {
        var fresh = r.ok && new DOMParser().parseFromString(r.html, "text/html").getElementById("ou-browser");
        if (!fresh) {
          plain();
          return;
        }
        picker.replaceWith(fresh);
        history.replaceState(null, "", r.url);
        var target = fresh.querySelector(btn.name === "remove" ? "#selected-heading" : "#ou-level-heading");
        if (target) {
          target.setAttribute("tabindex", "-1");
          target.focus();
        }
      })
      .catch(plain);
  });

  // A source that is an LDIF file has no bind or TLS settings.
  function ldapOnly() {
    var src = document.getElementById("source");
    var set = document.querySelector("[data-ldap-only]");
    if (src && set) set.hidden = /^\s*ldif:/i.test(src.value);
  }
  document.addEventListener("input", function (e) {
    if (e.target.id === "source") ldapOnly();
  });
  ldapOnly();

  // A target shows the settings of its kind only.
  function targetKind() {
    var kind = document.getElementById("target_kind");
    if (!kind) return;
    document.querySelectorAll("[data-target-kinds]").forEach(function (el) {
      el.hidden = el.getAttribute("data-target-kinds").split(" ").indexOf(kind.value) < 0;
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.id === "target_kind") targetKind();
  });
  targetKind();

  // A running cycle: show its progress as it goes.
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
