// syncguard portal: progressive enhancement only. Every page works without
// this file. It makes the <details class="menu"> dropdowns behave like menus:
// opening one focuses its first item and closes the others, Escape closes it
// and returns focus to its summary, a click outside or tabbing away closes it.
// It moves through the scope picker's tree in place, hides the LDAP
// settings of a source that is an LDIF file, and shows a target's settings
// of its kind only.
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
})();
