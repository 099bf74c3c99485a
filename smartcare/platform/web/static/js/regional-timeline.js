/* The regional record's timeline (records/_timeline.html): every encounter, result, image and immunisation as a
   point on a time axis, one row per institution (ECharts). The points come as JSON in #regional-timeline-data. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var holder = document.getElementById("regional-timeline");
  var source = document.getElementById("regional-timeline-data");
  if (!holder || !source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var rows = [];
  data.points.forEach(function (p) { var row = p.institution || data.other; if (rows.indexOf(row) < 0) { rows.push(row); } });
  var symbols = { encounters: "circle", results: "diamond", imaging: "rect", immunisations: "triangle" };
  var ink = getComputedStyle(document.body).color;
  // A record of a few days still gets an axis of dates, not of hours: at least a month either side.
  var times = data.points.map(function (p) { return new Date(p.date).getTime(); });
  var month = 30 * 24 * 3600 * 1000;
  var first = Math.min.apply(null, times), last = Math.max.apply(null, times);
  var pad = last - first < 4 * month ? month : 0;
  holder.style.height = Math.max(160, 70 + rows.length * 44) + "px";
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false, textStyle: { color: ink },
    grid: { left: 8, right: 16, top: 32, bottom: 28, containLabel: true },
    legend: { top: 0, textStyle: { color: ink } },
    tooltip: { trigger: "item", formatter: function (p) {
      // Titles come from records other systems sent: escaped, as the tooltip is HTML.
      var esc = echarts.format.encodeHTML;
      return esc(p.data[3]) + "<br>" + esc(p.data[2]) + " · " + esc(p.seriesName);
    } },
    xAxis: { type: "time", min: first - pad, max: last + pad, axisLabel: { color: ink, hideOverlap: true } },
    yAxis: { type: "category", data: rows, axisLabel: { color: ink, width: 120, overflow: "truncate" } },
    series: Object.keys(data.kinds).map(function (kind) {
      return {
        name: data.kinds[kind], type: "scatter", symbol: symbols[kind], symbolSize: 12,
        data: data.points.filter(function (p) { return p.kind === kind; }).map(function (p) {
          return [new Date(p.date).getTime(), p.institution || data.other, p.date, p.title || data.kinds[kind]];
        })
      };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
