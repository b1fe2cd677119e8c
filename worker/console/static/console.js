// caredrip console: draws Operations' charts (sends per minute, lateness p50/p99 over 24 hours)
// with the vendored uPlot from one fetch of series.json; no inline script (the pages'
// Content-Security-Policy allows only the console's own files).
(function () {
  "use strict";
  function plot(el, series, axis, data) {
    el.textContent = "";
    var width = Math.max(300, el.clientWidth || 600);
    new uPlot({ width: width, height: 220, series: [{}].concat(series), axes: [{}, { label: axis }] }, data, el);
  }
  function draw(sends, late) {
    fetch(sends.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s || typeof uPlot === "undefined") { return; }
        plot(sends, [{ label: "sent", stroke: "#14532d" }, { label: "failed", stroke: "#8a1c1c" },
                     { label: "unknown", stroke: "#7a4b00" }, { label: "retrying", stroke: "#555555" }],
             "per minute", [s.t, s.sent, s.failed, s.unknown, s.retrying]);
        if (late) {
          plot(late, [{ label: "p50 (s)", stroke: "#0b4f8a" }, { label: "p99 (s)", stroke: "#8a1c1c" }],
               "seconds late", [s.t, s.late_p50_s, s.late_p99_s]);
        }
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var sends = document.getElementById("sends-chart");
    if (sends) { draw(sends, document.getElementById("lateness-chart")); }
  });
})();
