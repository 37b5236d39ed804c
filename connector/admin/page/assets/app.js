// onoffsync admin page: the little script the page needs. Served as a file (the Content-Security-Policy allows
// no inline script); the page works without it, except for the overview's refresh and bulk confirmations.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Bulk actions ask first, with the browser's own confirm().
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        ev.preventDefault();
      }
    });
  });

  // The overview refreshes itself from a same-origin fragment, rendered (and escaped) by the server.
  var box = document.getElementById("overview");
  if (!box) {
    return;
  }
  var url = box.getAttribute("data-refresh");
  var period = parseInt(box.getAttribute("data-period"), 10) || 5000;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (resp.status === 401) {
          window.location.assign("/signin?next=" + encodeURIComponent(window.location.pathname));
          return null;
        }
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        // Keep focus where it was when the refreshed part holds it (a link in a card).
        var focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
        box.innerHTML = html;
        box.removeAttribute("data-stale");
        if (focused) {
          var again = box.querySelector('a[href="' + CSS.escape(focused) + '"]');
          if (again) {
            again.focus();
          }
        }
      })
      .catch(function () {
        box.setAttribute("data-stale", "true");
      })
      .finally(function () {
        busy = false;
      });
  }
  window.setInterval(refresh, period);
  document.addEventListener("visibilitychange", refresh);
});
