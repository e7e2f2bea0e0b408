// Widget editor: as the merchant edits, ask the preview endpoint for the real recommendations the
// unsaved settings give, and show them. Every text goes in as text.
(function () {
  "use strict";
  var form = document.getElementById("widget-form");
  if (!form) return;
  var list = document.getElementById("preview-items");
  var state = document.getElementById("preview-state");
  var heading = document.getElementById("preview-heading");
  var timer = null;
  var seq = 0;

  function money(price, currency) {
    if (price === null || price === undefined) return "";
    try {
      return new Intl.NumberFormat(form.dataset.locale || undefined, { style: "currency", currency: currency || form.dataset.currency }).format(price);
    } catch (e) {
      return String(price);
    }
  }

  function safeUrl(url) {
    return /^https?:\/\//i.test(url || "") || /^\/(?!\/)/.test(url || "") ? url : "";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function markErrors(errors) {
    form.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
    Object.keys(errors || {}).forEach(function (name) {
      var field = form.elements[name];
      if (field && field.setAttribute) field.setAttribute("aria-invalid", "true");
    });
  }

  function render(data) {
    heading.textContent = data.title;
    list.textContent = "";
    data.items.forEach(function (item) {
      var li = el("li", "rec");
      li.dataset.productId = item.product_id;
      var src = safeUrl(item.image_url);
      if (src) {
        var img = el("img");
        img.src = src;
        img.alt = "";
        img.loading = "lazy";
        li.append(img);
      } else {
        li.append(el("div", "rec__noimg"));
      }
      var body = el("div", "rec__body");
      body.append(el("p", "rec__title", item.title), el("p", "rec__price", money(item.price, item.currency)), el("p", "rec__reason", item.reason));
      li.append(body);
      list.append(li);
    });
    state.textContent = data.items.length
      ? data.items.length + " products" + (data.model_version ? " · model version " + data.model_version : " · no trained model: fallbacks") +
        (data.product_id ? " · on product " + data.product_id : "")
      : "No products match these settings.";
  }

  function refresh() {
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrfmiddlewaretoken");
    var mine = ++seq;
    state.textContent = "Updating…";
    form.dataset.previewState = "loading";
    fetch(form.dataset.previewUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (mine !== seq) return; // a newer edit already asked again
        markErrors(res.ok ? {} : res.body.errors);
        if (res.ok) render(res.body);
        else state.textContent = "Not previewed: " + Object.keys(res.body.errors || {}).map(function (k) { return k + ": " + res.body.errors[k].join(" "); }).join("; ");
        form.dataset.previewState = res.ok ? "ready" : "invalid";
      })
      .catch(function () {
        if (mine === seq) { state.textContent = "Preview unavailable; try again."; form.dataset.previewState = "error"; }
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }
  // One more rule row: the formset's empty form, numbered next.
  var add = document.getElementById("add-rule");
  var template = document.getElementById("rule-template");
  if (add && template) {
    add.addEventListener("click", function () {
      var total = form.elements["rules-TOTAL_FORMS"];
      var n = parseInt(total.value, 10);
      var row = template.content.firstElementChild.cloneNode(true);
      row.querySelectorAll("[id],[for],[name]").forEach(function (e) {
        ["id", "for", "name"].forEach(function (a) {
          if (e.hasAttribute(a)) e.setAttribute(a, e.getAttribute(a).replace("__prefix__", String(n)));
        });
      });
      form.querySelector(".rules-table tbody").append(row);
      total.value = String(n + 1);
      row.querySelector("select").focus();
    });
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
})();
