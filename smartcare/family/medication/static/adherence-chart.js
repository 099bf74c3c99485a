/* The weekly medication adherence chart (ECharts): bars of doses taken per 100 due, from #med-adherence-data. */
(function () {
  "use strict";
  var source = document.getElementById("med-adherence-data");
  var holder = document.getElementById("med-adherence-chart");
  if (!source || !holder || !window.echarts) { return; }
  var weeks = JSON.parse(source.textContent);
  var words = (document.getElementById("med-words") || { dataset: {} }).dataset;
  var ink = getComputedStyle(document.body).color;
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    grid: { left: 40, right: 10, top: 16, bottom: 28 },
    textStyle: { color: ink },
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
    xAxis: { type: "category", data: weeks.map(function (w) { return w.week.slice(5); }), axisLabel: { color: ink } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { color: ink, formatter: "{value}%" } },
    series: [{ name: words.taken || "", type: "bar", itemStyle: { color: "#0b57d0" },
               data: weeks.map(function (w) { return w.rate; }) }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
}());
