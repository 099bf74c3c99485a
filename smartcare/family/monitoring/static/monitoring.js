/* The monitored patient's readings (ECharts, through time-chart.js): one chart per kind of reading from the JSON in
   #monitoring-data, points [time, value] (blood pressure: [time, systolic, diastolic]), the plan's thresholds as
   dashed mark lines in their severity's colour. */
(function () {
  "use strict";
  var source = document.getElementById("monitoring-data");
  if (!source || !window.echarts || !window.SmartCareTimeChart) { return; }
  var data = JSON.parse(source.textContent);
  var words = (document.getElementById("monitoring-words") || { dataset: {} }).dataset;
  var ink = getComputedStyle(document.body).color;
  var severityColours = { routine: "#8a6d00", urgent: "#c05600", asap: "#b3261e", stat: "#7a0010" };

  function marks(kind, field) {
    return (data.thresholds[kind] || []).filter(function (t) { return t.field === field; }).map(function (t) {
      return { yAxis: t.value, name: t.rule, lineStyle: { type: "dashed", color: severityColours[t.severity] || ink },
               label: { formatter: String(t.value), color: ink } };
    });
  }

  document.querySelectorAll(".monitoring-chart[data-kind]").forEach(function (holder) {
    var kind = holder.dataset.kind;
    var points = data.series[kind] || [];
    if (!points.length) { holder.parentNode.hidden = true; return; }
    holder.style.height = "220px";
    var lines = kind === "blood-pressure"
      ? [{ name: words.systolic || "", index: 1, marks: marks(kind, "systolic") },
         { name: words.diastolic || "", index: 2, marks: marks(kind, "diastolic") }]
      : [{ name: kind, index: 1, marks: marks(kind, "value") }];
    window.SmartCareTimeChart.draw(holder, points, lines, { unit: holder.dataset.unit, left: 44, right: 36 });
  });
})();
