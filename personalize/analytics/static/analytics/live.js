// The overview's live card and install check: a websocket to the shop's feed, falling back to polling
// the same snapshot as JSON when websockets are unavailable or keep failing. A file, not inline (CSP).
(function () {
  "use strict";

  var root = document.getElementById("live");
  if (!root) return;
  var POLL_MS = 5000;
  var mode = root.querySelector("[data-live-mode]");
  var polling = null;
  var failures = 0;

  function set(name, value) {
    var el = root.querySelector('[data-live="' + name + '"]');
    if (el) el.textContent = String(value);
  }

  function describe(e) {
    var when = new Date(e.ts).toLocaleTimeString();
    var what = e.type.replace(/_/g, " ");
    if (e.product_id) what += " · " + e.product_id;
    if (e.revenue) what += " · " + e.revenue;
    return when + " — " + what + " (visitor " + e.visitor + ")";
  }

  function render(data) {
    set("events_last_minute", data.events_last_minute);
    set("events_30", data.per_minute.reduce(function (a, b) { return a + b; }, 0));
    set("orders_today", data.orders_today);
    set("revenue_today", data.currency + " " + Number(data.revenue_today).toFixed(2));
    var list = root.querySelector('[data-live="latest"]');
    if (list && data.latest.length) {
      list.textContent = "";
      data.latest.forEach(function (e) {
        var li = document.createElement("li");
        li.textContent = describe(e);
        list.appendChild(li);
      });
    }
    var check = root.querySelector("[data-install-check]");
    if (check && data.installed && !check.classList.contains("install-check--ok")) {
      check.classList.add("install-check--ok");
      check.querySelector("[data-install-text]").textContent =
        "Installed: your store's first event arrived. The numbers below catch up within 5 minutes.";
    }
  }

  function setMode(text) { if (mode) mode.textContent = text; }

  function poll() {
    if (polling) return;
    setMode("updating every 5 s");
    var tick = function () {
      fetch(root.getAttribute("data-live-json"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(render)
        .catch(function () { setMode("offline, retrying"); });
    };
    tick();
    polling = window.setInterval(tick, POLL_MS);
  }

  function connect() {
    if (!("WebSocket" in window)) return poll();
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + root.getAttribute("data-live-ws"));
    } catch (e) {
      return poll();
    }
    var opened = false;
    socket.onopen = function () { opened = true; failures = 0; setMode("live"); };
    socket.onmessage = function (message) { render(JSON.parse(message.data)); };
    socket.onclose = function () {
      // Never opened (no websocket server, a proxy that drops upgrades): poll. Dropped later: reconnect.
      failures += 1;
      if (!opened || failures > 3) return poll();
      setMode("reconnecting…");
      window.setTimeout(connect, 1000 * failures);
    };
  }

  connect();
})();
