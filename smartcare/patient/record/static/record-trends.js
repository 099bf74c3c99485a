/* The record's trend charts (ECharts): each series as a line over time, the reference range as a shaded band, from
   #record-trends-data. The tables under the charts hold the same figures for screen readers. */
(function () {
  "use strict";
  var source = document.getElementById("record-trends-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var ink = getComputedStyle(document.body).color;
  var colours = ["#0b57d0", "#b3261e", "#1e6b34"];
  var drawn = [];

  function draw(key, spec) {
    var holder = document.querySelector('[data-trend-chart="' + CSS.escape(key) + '"]');
    if (!holder) { return; }
    var band = (spec.low === null && spec.high === null) ? [] : [[
      { yAxis: spec.low === null ? "min" : spec.low }, { yAxis: spec.high === null ? "max" : spec.high }
    ]];
    var names = Object.keys(spec.series);
    var series = names.map(function (name, n) {
      return {
        type: "line", name: name || spec.title, showSymbol: true, connectNulls: true,
        data: spec.series[name].map(function (p) { return [p[0], p[1]]; }),
        itemStyle: { color: colours[n % colours.length] },
        markArea: n === 0 ? { silent: true, itemStyle: { color: "rgba(30, 142, 62, 0.14)" }, data: band } : undefined
      };
    });
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 44, right: 16, top: names.length > 1 ? 30 : 16, bottom: 28 },
      textStyle: { color: ink },
      legend: names.length > 1 ? { top: 0, textStyle: { color: ink } } : undefined,
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", axisLabel: { color: ink, hideOverlap: true } },
      yAxis: { type: "value", scale: true, axisLabel: { color: ink } },
      series: series
    });
    drawn.push(chart);
  }

  ["vitals", "labs"].forEach(function (group) {
    Object.keys(data[group] || {}).forEach(function (key) { draw(key, data[group][key]); });
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
}());
