// Feed import progress: polls each unfinished import's JSON endpoint and updates its card in place.
(function () {
  "use strict";

  var INTERVAL_MS = 2000;

  function set(card, field, value) {
    var el = card.querySelector('[data-field="' + field + '"]');
    if (el) el.textContent = String(value);
    return el;
  }

  function render(card, data) {
    var status = set(card, "status", data.status);
    if (status) status.className = "badge badge--" + data.status;
    var bar = card.querySelector("progress");
    if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
    ["rows_read", "created", "updated", "rejected"].forEach(function (f) { set(card, f, data[f]); });
    var failure = set(card, "failure", data.failure || "");
    if (failure) failure.hidden = !data.failure;
    var list = card.querySelector('[data-field="errors"]');
    if (list) {
      list.textContent = "";
      data.errors.forEach(function (row) {
        var li = document.createElement("li");
        var where = row.where;
        if (row.product_id) where += " (" + row.product_id + ")";
        li.textContent = where + ": " + row.messages.join("; ");
        list.appendChild(li);
      });
      set(card, "error_count", data.errors.length);
      card.querySelector(".import__errors").hidden = data.errors.length === 0;
    }
    card.setAttribute("data-finished", data.finished ? "true" : "false");
    document.querySelectorAll('[data-count="products"]').forEach(function (el) {
      el.textContent = String(data.product_count);
    });
  }

  function poll(card) {
    fetch(card.getAttribute("data-import-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status >= 400 && response.status < 500) return null; // gone or logged out: stop
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (data === null) return;
        render(card, data);
        if (!data.finished) window.setTimeout(function () { poll(card); }, INTERVAL_MS);
      })
      .catch(function () {
        // A blip (deploy, network): try again, more slowly.
        window.setTimeout(function () { poll(card); }, INTERVAL_MS * 5);
      });
  }

  document.querySelectorAll('.import[data-finished="false"]').forEach(poll);
})();
