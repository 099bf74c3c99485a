/* The monitored patient's readings (ECharts): one chart per kind of reading from the JSON in #monitoring-data,
   points [time, value] (blood pressure: [time, systolic, diastolic]), the plan's thresholds as mark lines. */
(function () {
  "use strict";
  var source = document.getElementById("monitoring-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var words = (document.getElementById("monitoring-words") || { dataset: {} }).dataset;
  var ink = getComputedStyle(document.body).color;
  var colours = ["#0b57d0", "#b3261e"];
  var severityColours = { routine: "#8a6d00", urgent: "#c05600", asap: "#b3261e", stat: "#7a0010" };
  var drawn = [];

  function marks(kind, field) {
    return (data.thresholds[kind] || []).filter(function (t) { return t.field === field; }).map(function (t) {
      return { yAxis: t.value, name: t.rule, lineStyle: { type: "dashed", color: severityColours[t.severity] || ink },
               label: { formatter: String(t.value), color: ink } };
    });
  }

  function line(name, points, index, colour, kind, field) {
    return {
      name: name, type: "line", showSymbol: true, symbolSize: 5, connectNulls: true,
      lineStyle: { width: 2, color: colour }, itemStyle: { color: colour },
      markLine: { symbol: "none", silent: true, data: marks(kind, field) },
      data: points.map(function (p) { return [new Date(p[0]).getTime(), p[index]]; })
    };
  }

  document.querySelectorAll(".monitoring-chart[data-kind]").forEach(function (holder) {
    var kind = holder.dataset.kind;
    var points = data.series[kind] || [];
    if (!points.length) { holder.parentNode.hidden = true; return; }
    holder.style.height = "220px";
    var series = kind === "blood-pressure"
      ? [line(words.systolic || "", points, 1, colours[0], kind, "systolic"),
         line(words.diastolic || "", points, 2, colours[1], kind, "diastolic")]
      : [line(kind, points, 1, colours[0], kind, "value")];
    var unit = holder.dataset.unit || "";
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 44, right: 36, top: series.length > 1 ? 24 : 12, bottom: 24 },
      textStyle: { color: ink },
      legend: series.length > 1 ? { top: 0, right: 0, textStyle: { color: ink } } : undefined,
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) { return value === null || value === undefined ? "—" : (value + " " + unit).trim(); }
      },
      xAxis: { type: "time", axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } },
      yAxis: { type: "value", scale: true, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
      series: series
    });
    drawn.push(chart);
  });

  window.addEventListener("resize", function () { drawn.forEach(function (chart) { chart.resize(); }); });
})();
