/* The risk console's charts (risk/console.html): residents per risk category, stacked, by district or age group
   (ECharts). The figures come as JSON in #risk-data; each .risk-chart names its calculator and dimension. */
(function () {
  if (!window.echarts) { return; }
  var data = JSON.parse(document.getElementById("risk-data").textContent);
  var ink = getComputedStyle(document.body).color;
  // Lower categories in green and yellow, high ones in orange and red (the darkest for the highest).
  var calm = ["#9ccfb4", "#f2c14e", "#c9b458"], alarm = ["#e07b39", "#b3261e"];
  function colours(series) {
    var high = series.filter(function (line) { return line.high; }).length;
    var seenLow = 0, seenHigh = 0;
    return series.map(function (line) {
      if (line.high) { seenHigh += 1; return alarm[alarm.length - high + seenHigh - 1] || alarm[0]; }
      seenLow += 1;
      return calm[Math.min(seenLow - 1, calm.length - 1)];
    });
  }
  document.querySelectorAll(".risk-chart").forEach(function (holder) {
    var calc = holder.dataset.calculator;
    var chartData = (data.charts[calc] || {})[holder.dataset.dimension];
    if (!chartData) { return; }
    var labels = data.names[calc].categories;
    var fill = colours(chartData.series);
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      aria: { enabled: false },
      animation: false,
      grid: { left: 48, right: 16, top: 40, bottom: 48 },
      textStyle: { color: ink },
      legend: { top: 0, textStyle: { color: ink } },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var i = items[0].dataIndex;
          return [items[0].axisValue].concat(chartData.series.map(function (line) {
            var shown = line.shown[i];
            return (labels[line.category] || line.category) + ": " + shown +
              (line.values[i] === null && shown !== 0 ? " (" + holder.dataset.hiddenNote + ")" : "");
          })).join("<br>");
        }
      },
      xAxis: { type: "category", data: chartData.groups.map(function (g) {
                 return g === null ? data.unknownDistrict : (g === "unknown" ? data.unknownAge : g); }),
               axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
      series: chartData.series.map(function (line, n) {
        return { name: labels[line.category] || line.category, type: "bar", stack: "residents",
                 itemStyle: { color: fill[n] }, data: line.values };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
