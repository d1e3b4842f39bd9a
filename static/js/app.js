/* 督查督办系统: small enhancements of every page (served by the app; the
   pages work without them).
   - On phones, tables of class "grid" read as cards: each cell is labelled
     with its column's heading (data-label, shown by app.css at ≤720 px).
     Without this script the tables scroll inside their box instead.
   - A file over the upload limit is refused before it is sent, so the
     typed text is never lost to a page saying "文件过大". */
(function () {
  "use strict";

  function labelTables() {
    document.querySelectorAll("table.grid").forEach(function (table) {
      if (table.classList.contains("tasks") || table.classList.contains("nocards") || !table.tHead) return;
      var headings = [];
      var headRow = table.tHead.rows[table.tHead.rows.length - 1];
      if (!headRow) return;
      Array.prototype.forEach.call(headRow.cells, function (th) {
        var span = th.colSpan || 1;
        for (var i = 0; i < span; i++) headings.push(th.textContent.trim());
      });
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var col = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            // A cell spanning several columns (a "暂无…" line, a group's
            // heading) belongs to none of their headings: no label.
            var span = cell.colSpan || 1;
            if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", span > 1 ? "" : headings[col] || "");
            col += span;
          });
        });
      });
      table.classList.add("cards");
    });
  }

  function guardUploads() {
    document.querySelectorAll("input[type=file][data-max-mb]").forEach(function (input) {
      var limit = parseFloat(input.getAttribute("data-max-mb")) * 1024 * 1024;
      input.addEventListener("change", function () {
        var big = Array.prototype.filter.call(input.files || [], function (f) { return f.size > limit; });
        input.setCustomValidity(big.length ? "文件“" + big[0].name + "”超过 " + input.getAttribute("data-max-mb") +
          " MB 上限,请压缩或拆分后再上传" : "");
        if (big.length) input.reportValidity();
      });
    });
    // The forms are novalidate (the server says what is wrong); the size is checked here.
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        // A file over the limit would make the whole post fail (413), typed text and all.
        var bad = form.querySelector("input[type=file][data-max-mb]");
        if (bad && bad.validity.customError) {
          event.preventDefault();
          bad.reportValidity();
        }
      });
    });
  }

  function ready() {
    labelTables();
    guardUploads();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
