/* Draws the home page's and the funnel page's charts with ECharts from the JSON in #chart-data.
   Labels arrive already translated and are drawn as text (never as HTML): tooltips use
   ECharts' rich-text mode, so a hostile tag cannot become markup. The tables next to each
   chart carry the same figures for screen readers and for browsers without JavaScript. */
(function () {
  "use strict";

  function pieOption(spec) {
    return {
      tooltip: { trigger: "item", renderMode: "richText" },
      series: [{
        type: "pie",
        name: spec.series[0].name,
        radius: ["28%", "52%"],
        label: { formatter: "{b}\n{c}" },
        data: spec.labels.map(function (label, index) {
          return { name: label, value: spec.series[0].data[index] };
        })
      }]
    };
  }

  function barOption(spec) {
    var categories = { type: "category", data: spec.labels, inverse: Boolean(spec.horizontal) };
    var values = { type: "value", minInterval: 1 };
    return {
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: spec.series.length > 1 ? { top: 0 } : undefined,
      grid: { containLabel: true, left: 8, right: 24, top: spec.series.length > 1 ? 32 : 8, bottom: 8 },
      xAxis: spec.horizontal ? values : categories,
      yAxis: spec.horizontal ? categories : values,
      series: spec.series.map(function (series) {
        return { type: "bar", name: series.name, data: series.data, stack: spec.stacked ? "all" : undefined };
      })
    };
  }

  function funnelOption(spec) {
    return {
      tooltip: { trigger: "item", renderMode: "richText" },
      series: [{
        type: "funnel",
        name: spec.series[0].name,
        sort: "none",  // stages in funnel order, as the table lists them
        // The labels sit to the right of the funnel: leave them room, or the longest
        // ("Requested: 1,234") is cut off at the chart's edge.
        left: 8,
        width: "55%",
        top: 8,
        bottom: 8,
        minSize: "8%",
        label: { formatter: "{b}: {c}" },
        data: spec.labels.map(function (label, index) {
          return { name: label, value: spec.series[0].data[index] };
        })
      }]
    };
  }

  function lineOption(spec) {
    var option = barOption(spec);
    option.series.forEach(function (series) { series.type = "line"; });
    return option;
  }

  var OPTIONS = { pie: pieOption, funnel: funnelOption, line: lineOption, bar: barOption };

  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || !window.echarts) {
      return;
    }
    var specs = JSON.parse(source.textContent);
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var spec = specs[element.getAttribute("data-chart")];
      if (!spec) {
        return;
      }
      var chart = window.echarts.init(element, null, { renderer: "svg" });
      chart.setOption((OPTIONS[spec.type] || barOption)(spec));
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
