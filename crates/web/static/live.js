// tentacle's only script: live parts and the daily-mode fields. No build step, no framework.
//
// An element with data-live="URL" is replaced every 2 s by the HTML the URL answers; a part
// that has finished comes back without data-live, and polling stops. Focus is kept by id.
(function () {
  "use strict";
  var PERIOD_MS = 2000;

  function refresh() {
    document.querySelectorAll("[data-live]").forEach(function (part) {
      if (part.dataset.loading) return;
      part.dataset.loading = "1";
      fetch(part.dataset.live, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) throw new Error("status " + response.status);
          return response.text();
        })
        .then(function (html) {
          var focused = document.activeElement && document.activeElement.id;
          if (part.tagName === "TBODY") {
            var table = document.createElement("table");
            table.innerHTML = "<tbody>" + html + "</tbody>";
            part.innerHTML = table.tBodies[0].innerHTML;
            delete part.dataset.loading;
          } else {
            var holder = document.createElement("div");
            holder.innerHTML = html.trim();
            var fresh = holder.firstElementChild;
            if (fresh) part.replaceWith(fresh); else delete part.dataset.loading;
          }
          if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        })
        .catch(function () { delete part.dataset.loading; });
    });
  }

  function dependents() {
    document.querySelectorAll("[data-shown-by]").forEach(function (part) {
      var box = document.getElementById(part.dataset.shownBy);
      if (!box) return;
      var sync = function () { part.hidden = !box.checked; };
      box.addEventListener("change", sync);
      sync();
    });
  }

  // A select whose choice changes the whole form (the type of a new configuration) reloads the
  // page with it, e.g. /integrations/new?type=stock.
  function reloaders() {
    document.querySelectorAll("select[data-reload-with]").forEach(function (select) {
      select.addEventListener("change", function () {
        var url = new URL(window.location.href);
        url.searchParams.set(select.dataset.reloadWith, select.value);
        window.location.assign(url.toString());
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    dependents();
    reloaders();
    // A form shown again with messages: start at the first field to fix.
    var invalid = document.querySelector(".field.invalid input, .field.invalid select");
    if (invalid) invalid.focus();
    setInterval(refresh, PERIOD_MS);
  });
})();
