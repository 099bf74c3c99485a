/* The bedside vital-signs trend (ECharts): one small chart per series of the stay, from the JSON in
   #ward-trend. Points are [time, value] (blood pressure: [time, systolic, diastolic]). */
(function () {
  "use strict";
  var source = document.getElementById("ward-trend");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var words = (document.getElementById("ward-words") || { dataset: {} }).dataset;
  var ink = getComputedStyle(document.body).color;
  var colours = ["#0b57d0", "#b3261e"];
  var drawn = [];

  function line(name, points, index, colour) {
    return {
      name: name, type: "line", showSymbol: true, symbolSize: 5, connectNulls: true,
      lineStyle: { width: 2, color: colour }, itemStyle: { color: colour },
      data: points.map(function (p) { return [new Date(p[0]).getTime(), p[index]]; })
    };
  }

  document.querySelectorAll(".ward-chart[data-series]").forEach(function (holder) {
    var points = data[holder.dataset.series] || [];
    if (!points.length) { holder.parentNode.hidden = true; return; }
    var series = holder.dataset.series === "bp"
      ? [line(words.systolic || "", points, 1, colours[0]), line(words.diastolic || "", points, 2, colours[1])]
      : [line(holder.dataset.label, points, 1, colours[0])];
    var unit = holder.dataset.unit || "";
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 40, right: 10, top: series.length > 1 ? 24 : 12, bottom: 24 },
      textStyle: { color: ink },
      legend: series.length > 1 ? { top: 0, right: 0, textStyle: { color: ink } } : undefined,
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) { return value === null || value === undefined ? "—" : (value + " " + unit).trim(); }
      },
      xAxis: { type: "time", axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } },
      yAxis: { type: "value", scale: true, minInterval: 1, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
      series: series
    });
    drawn.push(chart);
  });

  window.addEventListener("resize", function () { drawn.forEach(function (chart) { chart.resize(); }); });
})();
