/* The public-health console's weekly cases (public_health/console.html), with small counts hidden as the
   release rules say (ECharts). The figures come as JSON in #weekly-data. */
(function () {
  var holder = document.getElementById("weekly-chart");
  if (!holder || !window.echarts) { return; }
  var data = JSON.parse(document.getElementById("weekly-data").textContent);
  var ink = getComputedStyle(document.body).color;
  var hiddenAt = [];
  data.values.forEach(function (value, i) { if (value === null) { hiddenAt.push([i, 0]); } });
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    aria: { enabled: false },
    animation: false,
    grid: { left: 40, right: 16, top: 24, bottom: 48 },
    textStyle: { color: ink },
    tooltip: {
      trigger: "axis",
      formatter: function (items) {
        var i = items[0].dataIndex;
        var shown = data.shown[i];
        return data.weeks[i] + "<br>" + holder.dataset.series + ": " + shown +
          (data.values[i] === null ? " (" + holder.dataset.hiddenNote + ")" : "");
      }
    },
    xAxis: {
      type: "category",
      data: data.weeks.map(function (week) { return week.slice(5); }),
      axisLabel: { color: ink, hideOverlap: true },
      axisLine: { lineStyle: { color: ink } }
    },
    yAxis: {
      type: "value", minInterval: 1,
      axisLabel: { color: ink },
      splitLine: { lineStyle: { opacity: 0.3 } }
    },
    series: [
      { name: holder.dataset.series, type: "bar", data: data.values, itemStyle: { color: "#0b6e4f" },
        label: { show: data.values.length <= 16, position: "top", color: ink,
                 formatter: function (p) { return p.value ? String(p.value) : ""; } } },
      { type: "scatter", data: hiddenAt, symbolSize: 0, silent: true,
        label: { show: true, position: "top", color: ink,
                 formatter: function (p) { return data.shown[p.data[0]]; } } }
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
