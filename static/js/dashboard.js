/* Draws the dashboard charts with the vendored ECharts. The numbers come
   from the JSON block #dashboard-data (not executed), the same numbers the
   page shows in tables; no inline script, so the CSP can say script-src 'self'. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  var COLORS = { green: "#1a7f37", yellow: "#b7791f", red: "#b81c22", plan: "#667085", actual: "#1d4ed8" };

  function sectionsChart(el, data) {
    var names = data.sections.map(function (s) { return s.name; });
    function series(key, label) {
      return { name: label, type: "bar", stack: "lights", itemStyle: { color: COLORS[key] },
               data: data.sections.map(function (s) { return s[key]; }) };
    }
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { data: ["红灯", "黄灯", "绿灯"] },
      grid: { left: 8, right: 16, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: names, inverse: true, axisLabel: { width: 180, overflow: "truncate" } },
      series: [series("red", "红灯"), series("yellow", "黄灯"), series("green", "绿灯")]
    };
  }

  function targetChart(el, target) {
    var actual = { name: "审核通过值", type: "line", data: target.actual, connectNulls: true,
                   itemStyle: { color: COLORS.actual }, lineStyle: { color: COLORS.actual } };
    if (!target.baseline_known) {
      // No baseline in the document: no 序时 line from a made-up 0, only the
      // approved figures against the target level; the axis is not forced to 0.
      actual.markLine = { symbol: "none", label: { formatter: "目标 " + target.goal },
                          lineStyle: { type: "dashed", color: COLORS.plan }, data: [{ yAxis: target.goal }] };
      return {
        tooltip: { trigger: "axis" },
        legend: { data: ["审核通过值"] },
        grid: { left: 8, right: 16, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: target.periods, axisLabel: { rotate: 45 } },
        yAxis: { type: "value", name: target.measure, scale: true },
        series: [actual]
      };
    }
    return {
      tooltip: { trigger: "axis" },
      legend: { data: ["序时目标", "审核通过值"] },
      grid: { left: 8, right: 16, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: target.periods, axisLabel: { rotate: 45 } },
      yAxis: { type: "value", name: target.measure },
      series: [
        { name: "序时目标", type: "line", data: target.planned, showSymbol: false,
          lineStyle: { type: "dashed", color: COLORS.plan }, itemStyle: { color: COLORS.plan } },
        actual
      ]
    };
  }

  ready(function () {
    var block = document.getElementById("dashboard-data");
    if (!block || typeof window.echarts === "undefined") { return; }
    var data = JSON.parse(block.textContent);
    var byId = {};
    data.targets.forEach(function (t) { byId[String(t.id)] = t; });
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var option = null;
      if (el.getAttribute("data-chart") === "sections") {
        option = sectionsChart(el, data);
      } else if (el.getAttribute("data-chart") === "target") {
        var target = byId[el.getAttribute("data-target")];
        if (target) { option = targetChart(el, target); }
      }
      if (option) {
        var chart = window.echarts.init(el);
        chart.setOption(option);
        charts.push(chart);
      }
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
