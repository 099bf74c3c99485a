/* The patient chart's trend charts (ECharts): vital signs drawn at once, a laboratory test's trend when it is
   opened. The points come as JSON in #chart-trends; the normal band is shaded behind the line. */
(function () {
  "use strict";
  var source = document.getElementById("chart-trends");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var words = (document.getElementById("chart-words") || { dataset: {} }).dataset;
  var ink = getComputedStyle(document.body).color;
  var colours = ["#0b57d0", "#b3261e"];
  var drawn = [];

  function at(point) { return new Date(point[0]).getTime(); }

  function band(low, high, values, colour) {
    if (low === null && high === null) { return undefined; }
    var top = high !== null ? high : Math.max.apply(null, values.concat([low])) * 1.1;
    var bottom = low !== null ? low : 0;
    return {
      silent: true, itemStyle: { color: colour, opacity: 0.12 }, label: { show: false },
      data: [[{ yAxis: bottom, name: words.normal || "" }, { yAxis: top }]]
    };
  }

  function line(name, points, index, limits, colour) {
    var values = points.map(function (p) { return p[index]; }).filter(function (v) { return v !== null; });
    return {
      name: name, type: "line", showSymbol: true, symbolSize: 5, connectNulls: true,
      lineStyle: { width: 2, color: colour }, itemStyle: { color: colour },
      data: points.map(function (p) { return [at(p), p[index]]; }),
      markArea: limits ? band(limits[0], limits[1], values, colour) : undefined
    };
  }

  // The y axis spans the readings and the normal band (so a band beside the readings still shows),
  // on round steps so the labels do not crowd.
  function scale(series) {
    var found = [];
    series.forEach(function (s) {
      s.data.forEach(function (p) { if (p[1] !== null) { found.push(p[1]); } });
      if (s.markArea) { found.push(s.markArea.data[0][0].yAxis, s.markArea.data[0][1].yAxis); }
    });
    var low = Math.min.apply(null, found), high = Math.max.apply(null, found);
    var raw = (high - low) / 4 || Math.abs(high) / 10 || 1;
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / magnitude;
    var step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
    return { min: Math.floor(low / step) * step, max: Math.ceil(high / step) * step, interval: step };
  }

  function draw(holder, series, unit) {
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      aria: { enabled: false },
      animation: false,
      grid: { left: 44, right: 12, top: series.length > 1 ? 28 : 12, bottom: 28 },
      textStyle: { color: ink },
      legend: series.length > 1 ? { top: 0, right: 0, textStyle: { color: ink } } : undefined,
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) { return value === null || value === undefined ? "—" : value + " " + unit; }
      },
      xAxis: { type: "time", axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } },
      yAxis: Object.assign({ type: "value", axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
                           scale(series)),
      series: series
    });
    drawn.push(chart);
  }

  document.querySelectorAll("[data-vital]").forEach(function (holder) {
    var vital = data.vitals[holder.dataset.vital];
    if (!vital) { return; }
    if (holder.dataset.vital === "bp") {
      var limits = vital.band || {};
      draw(holder, [
        line(words.systolic || "", vital.points, 1, limits.systolic, colours[0]),
        line(words.diastolic || "", vital.points, 2, limits.diastolic, colours[1])
      ], vital.unit);
    } else {
      draw(holder, [line(holder.dataset.label, vital.points, 1, vital.band, colours[0])], vital.unit);
    }
  });

  document.querySelectorAll("details[data-lab]").forEach(function (details) {
    details.addEventListener("toggle", function () {
      var holder = details.querySelector("[data-trend]");
      var lab = data.labs[details.dataset.lab];
      if (!details.open || !holder || !lab || holder.dataset.drawn) { return; }
      holder.dataset.drawn = "1";
      draw(holder, [line(holder.dataset.label, lab.points, 1, lab.band, colours[0])], lab.unit);
    });
  });

  window.addEventListener("resize", function () { drawn.forEach(function (chart) { chart.resize(); }); });
})();
