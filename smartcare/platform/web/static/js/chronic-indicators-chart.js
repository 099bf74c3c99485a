/* The chronic-disease indicators by month (chronic/indicators.html), as percentages (ECharts). The figures
   come as JSON in #ind-data. */
(function () {
  var holder = document.getElementById("ind-chart");
  if (!holder || !window.echarts) { return; }
  var data = JSON.parse(document.getElementById("ind-data").textContent);
  var ink = getComputedStyle(document.body).color;
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    aria: { enabled: false }, animation: false, textStyle: { color: ink },
    grid: { left: 48, right: 16, top: 48, bottom: 32 }, legend: { top: 0, textStyle: { color: ink } },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: data.months, axisLabel: { color: ink } },
    yAxis: { type: "value", min: 0, max: 100, axisLabel: { color: ink, formatter: "{value}%" } },
    series: data.series.map(function (line) {
      return { name: line.name, type: "line", connectNulls: false, data: line.values };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
