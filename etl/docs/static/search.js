// Filters the index's table list as the reader types: by table or column name.
(function () {
  "use strict";
  var input = document.getElementById("search");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#tables tbody tr"));
  var none = document.getElementById("no-match");
  input.addEventListener("input", function () {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-search").toLowerCase();
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    none.hidden = shown !== 0;
  });
})();
