/* Progress towards each goal (ECharts): the readings as a line, the target as a dashed line, from #goal-progress-data. */
(function () {
  "use strict";
  var source = document.getElementById("goal-progress-data");
  if (!source || !window.echarts) { return; }
  var charts = JSON.parse(source.textContent);
  var ink = getComputedStyle(document.body).color;
  Object.keys(charts).forEach(function (key) {
    var holder = document.querySelector('[data-progress-chart="' + CSS.escape(key) + '"]');
    if (!holder) { return; }
    var spec = charts[key];
    var chart = echarts.init(holder, null, { renderer: "svg" });
    var line = spec.target === null ? [] : [{ yAxis: spec.target }];
    chart.setOption({
      animation: false,
      grid: { left: 44, right: 56, top: 24, bottom: 28 },
      textStyle: { color: ink },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: spec.points.map(function (p) { return p[0]; }), axisLabel: { color: ink } },
      yAxis: { type: "value", scale: true, name: spec.unit, axisLabel: { color: ink } },
      series: [{ type: "line", data: spec.points.map(function (p) { return p[1]; }), itemStyle: { color: "#0b57d0" },
                 markLine: { symbol: "none", lineStyle: { type: "dashed", color: "#1e8e3e" },
                             label: { formatter: spec.comparator + " " + spec.target }, data: line } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
}());
