/* The bedside vital-signs trend (ECharts, through time-chart.js): one small chart per series of the stay, from the
   JSON in #ward-trend. Points are [time, value] (blood pressure: [time, systolic, diastolic]). */
(function () {
  "use strict";
  var source = document.getElementById("ward-trend");
  if (!source || !window.echarts || !window.SmartCareTimeChart) { return; }
  var data = JSON.parse(source.textContent);
  var words = (document.getElementById("ward-words") || { dataset: {} }).dataset;

  document.querySelectorAll(".ward-chart[data-series]").forEach(function (holder) {
    var points = data[holder.dataset.series] || [];
    if (!points.length) { holder.parentNode.hidden = true; return; }
    var lines = holder.dataset.series === "bp"
      ? [{ name: words.systolic || "", index: 1 }, { name: words.diastolic || "", index: 2 }]
      : [{ name: holder.dataset.label, index: 1 }];
    window.SmartCareTimeChart.draw(holder, points, lines,
                                   { unit: holder.dataset.unit, left: 40, right: 10, minInterval: 1 });
  });
})();
