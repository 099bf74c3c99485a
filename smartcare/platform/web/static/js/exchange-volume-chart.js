/* An exchange member's daily volume (exchange/member.html): records accepted and rejected per day, stacked
   (ECharts). The figures come as JSON in #volume-data; the series names as data-* on #volume-chart. */
(function () {
  var holder = document.getElementById("volume-chart");
  if (!holder || !window.echarts) { return; }
  var data = JSON.parse(document.getElementById("volume-data").textContent);
  var ink = getComputedStyle(document.body).color;
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    aria: { enabled: false },
    animation: false,
    grid: { left: 48, right: 16, top: 32, bottom: 48 },
    textStyle: { color: ink },
    legend: { top: 0, textStyle: { color: ink } },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: data.days.map(function (d) { return d.slice(5); }),
             axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } },
    yAxis: { type: "value", minInterval: 1, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
    series: [
      { name: holder.dataset.accepted, type: "bar", stack: "records", data: data.accepted, itemStyle: { color: "#0b6e4f" } },
      { name: holder.dataset.rejected, type: "bar", stack: "records", data: data.rejected, itemStyle: { color: "#b42318" } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
