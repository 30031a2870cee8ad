// review-pack.html: a filter box above every table and sortable columns. Inline, no requests.
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    return cell ? cell.textContent.trim() : "";
  }
  function compare(a, b) {
    var x = Number(a.replace(/,/g, "")), y = Number(b.replace(/,/g, ""));
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) { return x - y; }
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  function makeSortable(table) {
    var body = table.tBodies[0];
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.classList.add("sortable");
      th.setAttribute("tabindex", "0");
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var order = compare(cellValue(r1, index), cellValue(r2, index));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  function addFilter(table) {
    var input = document.createElement("input");
    input.type = "search";
    input.className = "filter";
    input.placeholder = "Filter these rows…";
    input.setAttribute("aria-label", "Filter table");
    var count = document.createElement("span");
    count.className = "filter-count";
    table.parentNode.insertBefore(input, table);
    table.parentNode.insertBefore(count, table);
    var grouped = table.classList.contains("evidence");
    var units = grouped ? Array.prototype.slice.call(table.tBodies)
                        : Array.prototype.slice.call(table.tBodies[0].rows);
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase();
      var shown = 0;
      units.forEach(function (unit) {
        var match = query === "" || unit.textContent.toLowerCase().indexOf(query) !== -1;
        unit.classList.toggle("hidden", !match);
        if (match) { shown += 1; }
      });
      count.textContent = query === "" ? "" : shown + " of " + units.length + (grouped ? " subjects" : " rows");
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.data"), function (table) {
    if (!table.tBodies.length) { return; }
    addFilter(table);
    if (!table.classList.contains("evidence")) { makeSortable(table); }
  });
}());
