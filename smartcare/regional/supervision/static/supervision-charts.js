/* The health supervision charts (ECharts), drawn from the page's JSON so no script is inline:
   - #supervision-data: each quality indicator's monthly series per facility, one line chart per .supervision-chart
     holder (the indicators page and a hospital's facility page);
   - #supervision-dashboard-data: inspections per month as bars and the share that passed as a line, in
     #supervision-dashboard-chart, whose data-* attributes carry the translated series names.
   The same figures are in the tables beside each chart. */
(function () {
  "use strict";
  if (!window.echarts) { return; }
  var ink = getComputedStyle(document.body).color;
  var axis = { axisLabel: { color: ink, hideOverlap: true }, axisLine: { lineStyle: { color: ink } } };
  var charts = [];

  function indicatorCharts(source) {
    var data = JSON.parse(source.textContent);
    var byCode = {};
    data.indicators.forEach(function (indicator) { byCode[indicator.code] = indicator; });
    document.querySelectorAll(".supervision-chart").forEach(function (holder) {
      var indicator = byCode[holder.dataset.code];
      if (!indicator) { return; }
      var chart = echarts.init(holder, null, { renderer: "svg" });
      chart.setOption({
        aria: { enabled: false }, animation: false, textStyle: { color: ink },
        grid: { left: 48, right: 16, top: 32, bottom: 48 },
        legend: { top: 0, textStyle: { color: ink } },
        tooltip: { trigger: "axis" },
        xAxis: Object.assign({ type: "category", data: data.months }, axis),
        yAxis: { type: "value", axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
        series: indicator.series.map(function (line) {
          return { name: data.names[line.facility] || line.facility, type: "line", connectNulls: false,
                   data: line.values.map(function (cell) { return cell ? cell.value : null; }) };
        })
      });
      charts.push(chart);
    });
  }

  function dashboardChart(source) {
    var holder = document.getElementById("supervision-dashboard-chart");
    if (!holder) { return; }
    var data = JSON.parse(source.textContent);
    var text = holder.dataset;
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      aria: { enabled: false }, animation: false, textStyle: { color: ink },
      grid: { left: 40, right: 48, top: 36, bottom: 40 },
      legend: { top: 0, textStyle: { color: ink }, data: [text.inspections, text.passed] },
      tooltip: { trigger: "axis" },
      xAxis: Object.assign({ type: "category", data: data.months }, axis),
      yAxis: [
        { type: "value", minInterval: 1, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } } },
        { type: "value", min: 0, max: 100, axisLabel: { color: ink, formatter: "{value}%" }, splitLine: { show: false } }
      ],
      series: [
        { name: text.inspections, type: "bar", data: data.inspections, itemStyle: { color: "#5b7c99" }, barMaxWidth: 24 },
        { name: text.passed, type: "line", yAxisIndex: 1, data: data.passed_percent, connectNulls: false,
          itemStyle: { color: "#1f6f43" }, lineStyle: { color: "#1f6f43", width: 2 } }
      ]
    });
    charts.push(chart);
  }

  var indicators = document.getElementById("supervision-data");
  if (indicators) { indicatorCharts(indicators); }
  var overview = document.getElementById("supervision-dashboard-data");
  if (overview) { dashboardChart(overview); }
  window.addEventListener("resize", function () { charts.forEach(function (chart) { chart.resize(); }); });
})();
