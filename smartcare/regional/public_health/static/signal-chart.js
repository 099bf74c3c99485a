/* The signal page's chart (ECharts): the counts of the series as bars, the detector's expected count as a line, the
   band from the expected count up to the upper bound shaded, the periods that alarmed marked, and the signal's own
   period ringed. The figures come from the page's #signal-chart-data JSON (the detector's output the signal keeps);
   the same figures are in the table under the chart. Periods the detector could not judge yet have no line.
   The legend sits under the chart, clear of the axes: on a phone it takes two lines, and the plot makes room. */
(function () {
  "use strict";
  var source = document.getElementById("signal-chart-data");
  var holder = document.getElementById("signal-chart");
  if (!source || !holder || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var text = holder.dataset;
  var ink = getComputedStyle(document.body).color;
  var base = data.expected.map(function (value, i) {
    return value === null || data.upper[i] === null ? null : value;
  });
  var band = data.upper.map(function (value, i) {
    return value === null || base[i] === null ? null : Math.max(0, value - base[i]);
  });
  var alarms = [];
  data.alarms.forEach(function (alarm, i) { if (alarm) { alarms.push([i, data.counts[i]]); } });
  function shown(value) { return value === null ? "–" : String(Math.round(value * 10) / 10); }
  // Room under the plot for the axis labels and the legend: one line of legend on a wide screen, two on a phone.
  function layout() {
    var narrow = holder.clientWidth < 560;
    return { grid: { left: 8, right: 24, top: 28, bottom: narrow ? 58 : 34, containLabel: true },
             legend: { itemGap: narrow ? 10 : 20 } };
  }

  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    aria: { enabled: false },
    animation: false,
    grid: layout().grid,
    textStyle: { color: ink },
    legend: { bottom: 0, left: "center", itemGap: layout().legend.itemGap, itemWidth: 18, itemHeight: 10,
              textStyle: { color: ink }, data: [text.counts, text.expected, text.band, text.alarm] },
    tooltip: {
      trigger: "axis",
      formatter: function (items) {
        var i = items[0].dataIndex;
        return data.labels[i] + "<br>" + text.counts + ": " + data.counts[i] + "<br>" + text.expected + ": " +
          shown(data.expected[i]) + "<br>" + text.upper + ": " + shown(data.upper[i]) +
          (data.alarms[i] ? "<br><strong>" + text.alarm + "</strong>" : "");
      }
    },
    xAxis: { type: "category", data: data.labels, axisLabel: { color: ink, hideOverlap: true },
             axisLine: { lineStyle: { color: ink } } },
    yAxis: { type: "value", minInterval: 1, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
    series: [
      { name: text.counts, type: "bar", data: data.counts, itemStyle: { color: "#5b7c99" }, barMaxWidth: 14,
        markPoint: data.marked === null ? undefined : {
          symbol: "circle", symbolSize: 22, itemStyle: { color: "rgba(0,0,0,0)", borderColor: "#b42318", borderWidth: 2 },
          label: { show: false }, data: [{ coord: [data.marked, data.counts[data.marked]] }] } },
      { name: "base", type: "line", stack: "band", data: base, symbol: "none", lineStyle: { opacity: 0 },
        silent: true, tooltip: { show: false } },
      { name: text.band, type: "line", stack: "band", data: band, symbol: "none", lineStyle: { opacity: 0 },
        areaStyle: { color: "#e0a526", opacity: 0.25 }, itemStyle: { color: "#e0a526" }, silent: true },
      { name: text.expected, type: "line", data: data.expected, symbol: "none", connectNulls: false,
        lineStyle: { color: "#1f6f43", type: "dashed", width: 2 }, itemStyle: { color: "#1f6f43" } },
      { name: text.alarm, type: "scatter", data: alarms, symbol: "triangle", symbolSize: 11,
        itemStyle: { color: "#b42318" } }
    ]
  });
  window.addEventListener("resize", function () { chart.setOption(layout()); chart.resize(); });
})();
