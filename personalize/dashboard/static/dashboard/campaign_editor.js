// Campaign editor: draws the dialog as the snippet does (widgets_js/src/dialog.js: the same DOM, the
// same stylesheet, in a shadow root, every text as text), from the unsaved form, as it is edited.
// The one difference: the overlay covers the preview stage instead of the whole window.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  if (!form) return;
  var stage = document.getElementById("campaign-stage");
  var state = document.getElementById("campaign-preview-state");
  var picker = document.getElementById("preview-variant");

  // Copied from widgets_js/src/dialog.js (keep in step), with .o absolute instead of fixed and the
  // host sized as the stage (the snippet resets it with all:initial).
  var CSS = ":host{display:block;position:relative;min-height:26rem}" +
    ".o{position:absolute;inset:0;z-index:1;display:flex;align-items:center;justify-content:center;background:#0008;font-family:var(--pz-font,system-ui,sans-serif);color:var(--pz-text,#222)}" +
    ".d{position:relative;box-sizing:border-box;width:min(92%,440px);max-height:90%;overflow:auto;padding:24px;background:var(--pz-card-bg,#fff);border-radius:var(--pz-radius,8px);box-shadow:0 10px 40px #0005}" +
    ".x{position:absolute;top:8px;right:8px;width:36px;height:36px;border:0;border-radius:50%;background:none;color:inherit;font-size:24px;line-height:1;cursor:pointer}" +
    "h2{margin:0 32px 8px 0;font-size:22px}" +
    "p{margin:0 0 16px;line-height:1.4}" +
    "img{display:block;width:100%;height:auto;margin:0 0 16px;border-radius:var(--pz-radius,8px)}" +
    ".cp{display:flex;gap:8px;align-items:center;margin:0 0 16px}" +
    "code{flex:1;padding:8px;border:1px dashed;border-radius:4px;font-size:18px;text-align:center}" +
    ".a,button.c{display:inline-block;padding:10px 18px;border:0;border-radius:var(--pz-radius,8px);background:var(--pz-accent,#2563eb);color:#fff;font:inherit;text-decoration:none;cursor:pointer}" +
    ".w{margin:16px 0 0}.g{display:grid;grid-auto-flow:column;grid-auto-columns:120px;gap:12px;overflow-x:auto}" +
    ".k{display:flex;flex-direction:column;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 3px #0003;font-size:13px}" +
    ".k img{height:90px;object-fit:cover;background:#0001;margin:0;border-radius:0}.k .n{margin:6px 8px 0;height:36px;overflow:hidden}.k .pr{margin:2px 8px 8px;font-weight:600}";

  var root = stage.attachShadow({ mode: "open" });
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
  var blockCache = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function safeUrl(url) {
    return /^https?:\/\//i.test(url || "") || /^\/(?!\/)/.test(url || "") ? url : "";
  }
  function val(name) {
    var f = form.elements[name];
    return f ? String(f.value || "").trim() : "";
  }
  var CONTENT = ["title", "text", "image_url", "cta_text", "cta_url", "coupon_code"];

  function variantRows() {
    return Array.prototype.slice.call(form.querySelectorAll("[data-variant-row]")).map(function (row, i) {
      var get = function (name) { var f = form.elements["variants-" + i + "-" + name]; return f ? String(f.value || "").trim() : ""; };
      var del = form.elements["variants-" + i + "-DELETE"];
      return { index: i, key: get("key"), share: get("share"), deleted: !!(del && del.checked), get: get };
    }).filter(function (v) { return !v.deleted && (v.share || CONTENT.some(function (n) { return v.get(n); })); });
  }

  function syncPicker() {
    var chosen = picker.value;
    var rows = variantRows();
    picker.textContent = "";
    picker.append(new Option("A (original)", "A"));
    rows.forEach(function (v, n) {
      var label = (v.key || "new " + (n + 1)) + (v.share ? " (" + v.share + "%)" : "");
      picker.append(new Option(label, "row-" + v.index));
    });
    picker.value = Array.prototype.some.call(picker.options, function (o) { return o.value === chosen; }) ? chosen : "A";
    return rows;
  }

  function content(rows) {
    var c = {};
    CONTENT.forEach(function (n) { c[n] = val(n); });
    var row = rows.filter(function (v) { return "row-" + v.index === picker.value; })[0];
    if (row) CONTENT.forEach(function (n) { c[n] = row.get(n); });
    c.widget = val("widget");
    c.widget_limit = parseInt(val("widget_limit"), 10) || 4;
    return c;
  }

  function money(price, currency) {
    if (price === null || price === undefined) return "";
    try { return new Intl.NumberFormat(form.dataset.locale || undefined, { style: "currency", currency: currency || form.dataset.currency }).format(price); }
    catch (e) { return String(price); }
  }

  function fillBlock(box, widget, limit) {
    var key = widget + ":" + limit;
    var draw = function (data) {
      var list = el("div", "g");
      (data.items || []).forEach(function (item) {
        var card = el("a", "k");
        var img = el("img");
        var src = safeUrl(item.image_url);
        if (src) img.src = src;
        img.alt = "";
        card.append(img, el("div", "n", item.title), el("div", "pr", money(item.price, item.currency)));
        list.append(card);
      });
      box.replaceChildren(list);
    };
    if (blockCache[key]) return draw(blockCache[key]);
    fetch(form.dataset.blockUrl + "?" + new URLSearchParams({ widget: widget, limit: String(limit) }), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) { blockCache[key] = data; draw(data); })
      .catch(function () { box.textContent = "(recommendations unavailable)"; });
  }

  function render() {
    var rows = syncPicker();
    var c = content(rows);
    var overlay = el("div", "o");
    var box = el("div", "d");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Preview: " + (c.title || val("name") || "campaign"));
    var close = el("button", "x", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close");
    box.append(close);
    var img = safeUrl(c.image_url);
    if (img) { var i = el("img"); i.src = img; i.alt = ""; box.append(i); }
    box.append(el("h2", "", c.title));
    if (c.text) box.append(el("p", "", c.text));
    if (c.coupon_code) {
      var row = el("div", "cp");
      row.append(el("code", "", c.coupon_code), el("button", "c", "Copy"));
      box.append(row);
    }
    if (c.cta_text) {
      var cta = el("a", "a", c.cta_text);
      var href = safeUrl(c.cta_url);
      if (href) cta.href = "#";
      box.append(cta);
    }
    if (c.widget) {
      var w = el("div", "w");
      box.append(w);
      fillBlock(w, c.widget, c.widget_limit);
    }
    overlay.append(box);
    root.replaceChildren(overlay);
    var kind = form.elements.kind ? form.elements.kind.value : "popup";
    state.textContent = (kind === "exit_intent" ? "Exit-intent overlay" : "Pop-up") + ", variant " + (picker.value === "A" ? "A" : picker.options[picker.selectedIndex].text);
    stage.dataset.previewTitle = c.title;
  }

  var timer = null;
  function later() { window.clearTimeout(timer); timer = window.setTimeout(render, 150); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  picker.addEventListener("change", render);
  render();
})();
