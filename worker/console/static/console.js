// caredrip console: draws the sends-per-minute chart with the vendored uPlot; no inline script
// (the pages' Content-Security-Policy allows only the console's own files).
(function () {
  "use strict";
  function draw(el) {
    fetch(el.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s || typeof uPlot === "undefined") { return; }
        el.textContent = "";
        var width = Math.max(300, el.clientWidth || 600);
        new uPlot({
          width: width, height: 220,
          series: [{}, { label: "sent", stroke: "#14532d" }, { label: "failed", stroke: "#8a1c1c" },
                   { label: "unknown", stroke: "#7a4b00" }],
          axes: [{}, { label: "per minute" }]
        }, [s.t, s.sent, s.failed, s.unknown], el);
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("sends-chart");
    if (el) { draw(el); }
  });
})();
