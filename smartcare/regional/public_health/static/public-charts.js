/* The public epidemic page's charts: an epidemic curve per disease and the district map (ECharts).
   The figures come from the page's #public-figures JSON; a hidden count is null there and is drawn as its mark
   ("<5" or "*") above an empty week, never as a zero bar. The same figures are in the page's tables. */
(function () {
  "use strict";
  var source = document.getElementById("public-figures");
  var box = document.getElementById("figures");
  if (!source || !box || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var ink = getComputedStyle(document.body).color;
  var charts = [];

  function curve(holder, series) {
    var hidden = [];
    series.values.forEach(function (value, i) { if (value === null) { hidden.push([i, 0]); } });
    var highest = Math.max.apply(null, series.values.map(function (value) { return value || 0; }));
    var chart = echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      aria: { enabled: false },
      animation: false,
      grid: { left: 36, right: 12, top: 24, bottom: 28 },
      textStyle: { color: ink },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var i = items[0].dataIndex;
          return data.weeks[i] + "<br>" + box.dataset.seriesLabel + ": " + series.shown[i] +
            (series.values[i] === null ? " (" + box.dataset.hiddenNote + ")" : "");
        }
      },
      xAxis: {
        type: "category",
        data: data.weeks.map(function (week) { return week.slice(5); }),
        axisLabel: { color: ink, hideOverlap: true },
        axisLine: { lineStyle: { color: ink } }
      },
      // A week with a hidden count had up to the threshold's cases: the scale reaches that far, so its mark sits low.
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: ink }, splitLine: { lineStyle: { opacity: 0.3 } },
               max: hidden.length && highest < data.threshold ? data.threshold : null },
      series: [
        { name: series.name, type: "bar", data: series.values, itemStyle: { color: "#0b6e4f" },
          label: { show: series.values.length <= 12, position: "top", color: ink,
                   formatter: function (p) { return p.value ? String(p.value) : ""; } } },
        { type: "scatter", data: hidden, symbolSize: 0, silent: true,
          label: { show: true, position: "top", color: ink,
                   formatter: function (p) { return series.shown[p.data[0]]; } } }
      ]
    });
    charts.push(chart);
  }

  document.querySelectorAll("[data-curve]").forEach(function (holder) {
    var series = data.series[holder.dataset.curve];
    if (series) { curve(holder, series); }
  });

  var mapHolder = document.getElementById("district-map");
  var choice = document.getElementById("map-disease");
  var mapChart = null;
  var HATCH = { symbol: "rect", dashArrayX: [1, 0], dashArrayY: [2, 6], rotation: -Math.PI / 4,
                color: "rgba(0, 0, 0, 0.3)" };

  function drawMap(key) {
    var layer = data.map.layers[key] || {};
    var codes = Object.keys(data.map.names);
    var known = codes.map(function (code) { return layer[code] ? layer[code].value : null; })
      .filter(function (value) { return value !== null; });
    var top = Math.max.apply(null, known.concat([1]));
    mapChart.setOption({
      aria: { enabled: false },
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var cell = layer[p.name];
          return data.map.names[p.name] + "<br>" + box.dataset.seriesLabel + ": " + (cell ? cell.shown : "0") +
            (cell && cell.value === null ? " (" + box.dataset.hiddenNote + ")" : "");
        }
      },
      visualMap: {
        min: 0, max: top, calculable: false, orient: "horizontal", left: "center", bottom: 0, text: [String(top), "0"],
        itemWidth: 12, itemHeight: 120, textStyle: { color: ink }, inRange: { color: ["#e5f5e0", "#0b6e4f"] }
      },
      series: [{
        type: "map", map: "region", nameProperty: "code", roam: false, selectedMode: false, aspectScale: 0.85,
        layoutCenter: ["50%", "45%"], layoutSize: "90%",
        label: {
          show: true, color: "#1b1b1b", fontSize: 12, backgroundColor: "rgba(255, 255, 255, 0.85)", padding: [2, 4],
          borderRadius: 3,
          formatter: function (p) {
            var cell = layer[p.name];
            return data.map.names[p.name] + "\n" + (cell ? cell.shown : "0");
          }
        },
        itemStyle: { borderColor: "#ffffff", borderWidth: 1.5, areaColor: "#d9d9d9" },
        emphasis: { label: { color: "#000000" }, itemStyle: { areaColor: "#f2c14e" } },
        data: codes.map(function (code) {
          var cell = layer[code];
          var value = cell ? cell.value : 0;
          // A hidden count has no colour of the scale: grey with hatching, so it never reads as zero.
          return value === null
            ? { name: code, value: NaN, itemStyle: { areaColor: "#d9d9d9", decal: HATCH } }
            : { name: code, value: value };
        })
      }]
    }, true);
  }

  if (mapHolder && window.fetch) {
    fetch(mapHolder.dataset.geojson).then(function (answer) {
      if (!answer.ok) { throw new Error("map " + answer.status); }
      return answer.json();
    }).then(function (geo) {
      echarts.registerMap("region", geo);
      mapChart = echarts.init(mapHolder, null, { renderer: "svg" });
      charts.push(mapChart);
      drawMap(choice ? choice.value : "all");
      if (choice) {
        choice.parentNode.hidden = false;
        choice.addEventListener("change", function () { drawMap(choice.value); });
      }
    }).catch(function () { mapHolder.hidden = true; });
  }

  window.addEventListener("resize", function () { charts.forEach(function (chart) { chart.resize(); }); });
})();
