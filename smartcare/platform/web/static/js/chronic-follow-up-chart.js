/* A follow-up's trend of blood pressure and fasting glucose (chronic/follow_up.html), on two axes (ECharts).
   The points and the series names come as JSON in #fu-data. */
(function () {
  var holder = document.getElementById("fu-chart");
  if (!holder || !window.echarts) { return; }
  var data = JSON.parse(document.getElementById("fu-data").textContent);
  var ink = getComputedStyle(document.body).color;
  var days = data.points.map(function (p) { return p.day; });
  function line(key, axis) {
    return { name: data.names[key], type: "line", yAxisIndex: axis, connectNulls: true,
             data: data.points.map(function (p) { return p[key]; }) };
  }
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    aria: { enabled: false }, animation: false, textStyle: { color: ink },
    grid: { left: 48, right: 48, top: 32, bottom: 32 }, legend: { top: 0, textStyle: { color: ink } },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: days, axisLabel: { color: ink } },
    yAxis: [{ type: "value", name: "mmHg", axisLabel: { color: ink } },
            { type: "value", name: "mmol/L", axisLabel: { color: ink }, splitLine: { show: false } }],
    series: [line("systolic", 0), line("diastolic", 0), line("glucose", 1)]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
