/* Buttons that lock or issue something ask first: <button data-confirm="…">.
   A file of ours, not an inline script, so the CSP can say script-src 'self'. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
