// Models page: while a training is queued or running, poll its state and reload when it ends.
(function () {
  "use strict";
  var box = document.getElementById("training-state");
  if (!box || !box.dataset.pending) return;
  var pending = box.dataset.pending;
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (!data.pending || String(data.pending.id) !== pending) { window.location.reload(); return; }
        var s = box.querySelector('[data-field="pending-status"]');
        if (s) s.textContent = data.pending.status;
        window.setTimeout(poll, 3000);
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 3000);
})();
