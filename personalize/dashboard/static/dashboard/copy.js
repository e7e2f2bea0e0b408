// Copy buttons: <button data-copy-target="ID"> copies the text of #ID. A file, not inline, so a strict CSP works.
(function () {
  "use strict";

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function announce(button, text) {
    var status = button.parentNode.querySelector(".copy-status");
    if (status) {
      status.textContent = text;
      window.setTimeout(function () { status.textContent = ""; }, 3000);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { announce(button, "Copied."); },
        function () { selectText(source); announce(button, "Press Ctrl+C (⌘C) to copy."); }
      );
    } else {
      // Plain-HTTP dashboards have no Clipboard API: select the text so one key press copies it.
      selectText(source);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      announce(button, ok ? "Copied." : "Press Ctrl+C (⌘C) to copy.");
    }
  });
})();
