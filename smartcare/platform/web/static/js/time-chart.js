/* Time-series line charts (ECharts), shared by the ward's bedside trend and the home-monitoring charts. Points are
   [time, value, ...]; each line names the index of its value in a point, and may carry mark lines (thresholds). */
window.SmartCareTimeChart = (function () {
  "use strict";
  var colours = ["#0b57d0", "#b3261e"];
  var drawn = [];
  window.addEventListener("resize", function () { drawn.forEach(function (chart) { chart.resize(); }); });

  function rounded(value, up) {
    var step = Math.abs(value) >= 20 ? 10 : 1;
    return (up ? Math.ceil(value / step) : Math.floor(value / step)) * step;
  }

  function series(spec, points, colour) {
    var made = {
      name: spec.name, type: "line", showSymbol: true, symbolSize: 5, connectNulls: true,
      lineStyle: { width: 2, color: colour }, itemStyle: { color: colour },
      data: points.map(function (p) { return [new Date(p[0]).getTime(), p[spec.index]]; })
    };
    if (spec.marks) { made.markLine = { symbol: "none", silent: true, data: spec.marks }; }
    return made;
  }

  /* Draw lines ([{name, index, marks?}]) of points in holder; options: unit, left, right, minInterval. */
  function draw(holder, points, lines, options) {
    var ink = getComputedStyle(document.body).color;
    var unit = options.unit || "";
    var yAxis = { type: "value", scale: true, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } };
    if (options.minInterval) { yAxis.minInterval = options.minInterval; }
    // Thresholds outside the readings' range still show: the axis stretches to take them in.
    var marked = [];
    lines.forEach(function (spec) { (spec.marks || []).forEach(function (m) { marked.push(m.yAxis); }); });
    if (marked.length) {
      yAxis.min = function (range) { return rounded(Math.min(range.min, Math.min.apply(null, marked)) * 0.95, false); };
      yAxis.max = function (range) { return rounded(Math.max(range.max, Math.max.apply(null, marked)) * 1.05, true); };
    }
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: options.left || 40, right: options.right || 10, top: lines.length > 1 ? 24 : 12, bottom: 24 },
      textStyle: { color: ink },
      legend: lines.length > 1 ? { top: 0, right: 0, textStyle: { color: ink } } : undefined,
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) { return value === null || value === undefined ? "—" : (value + " " + unit).trim(); }
      },
      xAxis: { type: "time", axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } },
      yAxis: yAxis,
      series: lines.map(function (spec, i) { return series(spec, points, colours[i % colours.length]); })
    });
    drawn.push(chart);
    return chart;
  }

  return { draw: draw };
})();
