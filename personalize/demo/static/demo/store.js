// The demo store's own code: a basket in localStorage. Personalization comes only from the public
// tag (/p.js); product text is always inserted as text, never as HTML.
(function () {
  "use strict";
  var KEY = "demo-cart";
  var currency = document.body.getAttribute("data-currency") || "GBP";
  var money = new Intl.NumberFormat("en-GB", { style: "currency", currency: currency });

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch (e) { return []; }
  }
  function save(lines) { localStorage.setItem(KEY, JSON.stringify(lines)); updateCount(); }
  function count(lines) { return lines.reduce(function (n, l) { return n + l.quantity; }, 0); }
  function total(lines) { return lines.reduce(function (s, l) { return s + (l.price || 0) * l.quantity; }, 0); }
  function updateCount() {
    document.querySelectorAll("[data-cart-count]").forEach(function (el) { el.textContent = String(count(load())); });
  }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // Tell the snippet, if the store has it; p.js loads async, so wait for it when needed.
  function track(type, props) {
    if (typeof window.pz === "function") { window.pz("track", type, props); return; }
    var tag = document.querySelector("script[data-site-key]");
    if (tag) tag.addEventListener("load", function () {
      if (typeof window.pz === "function") window.pz("track", type, props);
    });
  }

  function add(button) {
    var quantityInput = document.querySelector("[data-quantity]");
    var quantity = Math.max(1, Math.min(999, parseInt((quantityInput && button.closest(".product-info")) ? quantityInput.value : "1", 10) || 1));
    var line = {
      product_id: button.getAttribute("data-product-id"),
      title: button.getAttribute("data-title"),
      price: parseFloat(button.getAttribute("data-price")) || 0,
      image: button.getAttribute("data-image"),
      url: button.getAttribute("data-url"),
      quantity: quantity
    };
    var lines = load();
    var known = lines.find(function (l) { return l.product_id === line.product_id; });
    if (known) known.quantity += quantity; else lines.push(line);
    save(lines);
    track("add_to_cart", { product_id: line.product_id, quantity: quantity, price: line.price, currency: currency });
    var added = document.querySelector("[data-added]");
    if (added) added.hidden = false;
    button.textContent = "Added ✓";
    setTimeout(function () { button.textContent = "Add to basket"; }, 1500);
  }

  function renderCart() {
    var body = document.querySelector("[data-cart-lines]");
    if (!body) return;
    var lines = load();
    body.replaceChildren();
    lines.forEach(function (line) {
      var row = el("tr");
      var item = el("td");
      var itemBox = el("div", undefined, "cart-item");
      item.append(itemBox);
      var link = el("a", line.title);
      link.href = line.url;
      var image = el("img");
      image.src = line.image; image.alt = ""; image.width = 56; image.height = 56;
      itemBox.append(image, link);
      var qty = el("input");
      qty.type = "number"; qty.min = "1"; qty.max = "999"; qty.value = String(line.quantity);
      qty.setAttribute("aria-label", "Quantity");
      qty.addEventListener("change", function () {
        var all = load();
        var target = all.find(function (l) { return l.product_id === line.product_id; });
        if (target) target.quantity = Math.max(1, Math.min(999, parseInt(qty.value, 10) || 1));
        save(all); renderCart();
      });
      var qtyCell = el("td"); qtyCell.append(qty);
      var remove = el("button", "Remove", "link-button");
      remove.type = "button";
      remove.addEventListener("click", function () {
        save(load().filter(function (l) { return l.product_id !== line.product_id; }));
        track("remove_from_cart", { product_id: line.product_id, quantity: line.quantity });
        renderCart();
      });
      var removeCell = el("td"); removeCell.append(remove);
      row.append(item, el("td", money.format(line.price)), qtyCell, el("td", money.format(line.price * line.quantity)), removeCell);
      body.append(row);
    });
    var empty = lines.length === 0;
    document.querySelector("[data-cart-empty]").hidden = !empty;
    document.querySelector("[data-cart-table]").hidden = empty;
    document.querySelector("[data-cart-actions]").hidden = empty;
    document.querySelectorAll("[data-cart-total]").forEach(function (t) { t.textContent = money.format(total(lines)); });
  }

  function renderSummary() {
    var list = document.querySelector("[data-summary-lines]");
    if (!list) return;
    var lines = load();
    list.replaceChildren();
    lines.forEach(function (line) { list.append(el("li", line.quantity + " × " + line.title + " — " + money.format(line.price * line.quantity))); });
    document.querySelectorAll("[data-cart-total]").forEach(function (t) { t.textContent = money.format(total(lines)); });
    var form = document.querySelector("[data-checkout]");
    form.addEventListener("submit", function () {
      var orderId = "demo-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
      sessionStorage.setItem("demo-last-order", JSON.stringify({ order_id: orderId, lines: load() }));
      localStorage.removeItem(KEY);
    });
  }

  function renderThanks() {
    var box = document.querySelector("[data-thank-you]");
    if (!box) return;
    var order = null;
    try { order = JSON.parse(sessionStorage.getItem("demo-last-order")); } catch (e) { order = null; }
    if (!order) return;
    sessionStorage.removeItem("demo-last-order");
    box.querySelector("[data-order-id]").textContent = order.order_id;
    var items = order.lines.map(function (l) { return { product_id: l.product_id, quantity: l.quantity, price: l.price }; });
    track("purchase", { order_id: order.order_id, items: items, revenue: total(order.lines), currency: currency });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-to-cart]");
    if (button && !button.disabled) add(button);
  });
  updateCount();
  renderCart();
  renderSummary();
  renderThanks();
})();
