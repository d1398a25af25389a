// Census dashboard: the yearly age-class chart, effort and detection rate, and the
// station map (drawn by registry-map.js). Data comes from json_script blocks.
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = String(text);
    return div.innerHTML;
  }

  // Chart.js formats tick and tooltip numbers with Intl.NumberFormat in its locale, which
  // is the browser's unless set: a Russian page must read "1 200" and "0,5", whatever
  // language the browser itself speaks.
  if (typeof Chart !== "undefined") {
    Chart.defaults.locale = document.documentElement.lang || "en";
  }

  var chart = readJson("census-chart-data");
  var map = readJson("census-map-data");
  var colours = {
    adults: "#8a4a12",
    subadults: "#d08a3c",
    kittens: "#f1c27d",
    unknown: "#c9c2b4",
    effort: "rgba(107, 99, 86, 0.35)",
    rate: "#2f7d32",
  };

  function ageChart() {
    var canvas = document.getElementById("census-age-chart");
    if (!canvas || !chart || typeof Chart === "undefined") return;
    var datasets = [
      { label: chart.text.adults, data: chart.adults, backgroundColor: colours.adults },
      { label: chart.text.subadults, data: chart.subadults, backgroundColor: colours.subadults },
      { label: chart.text.kittens, data: chart.kittens, backgroundColor: colours.kittens },
    ];
    if (chart.age_unknown.some(function (n) { return n > 0; })) {
      datasets.push({
        label: chart.text.age_unknown,
        data: chart.age_unknown,
        backgroundColor: colours.unknown,
      });
    }
    new Chart(canvas, {
      type: "bar",
      data: { labels: chart.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function effortChart() {
    var canvas = document.getElementById("census-effort-chart");
    if (!canvas || !chart || typeof Chart === "undefined") return;
    new Chart(canvas, {
      data: {
        labels: chart.labels,
        datasets: [
          {
            type: "bar",
            label: chart.text.trap_nights,
            data: chart.trap_nights,
            backgroundColor: colours.effort,
            yAxisID: "effort",
            order: 2,
          },
          {
            type: "line",
            label: chart.text.rai,
            data: chart.rai,
            borderColor: colours.rate,
            backgroundColor: colours.rate,
            yAxisID: "rate",
            tension: 0.2,
            order: 1,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          effort: { position: "left", beginAtZero: true, title: { display: true, text: chart.text.trap_nights } },
          rate: {
            position: "right",
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: chart.text.rai },
          },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function stationMap() {
    var element = document.getElementById("census-map");
    if (!element || !map || !window.RegistryMap) return;
    // Tooltip lines are whole translated labels ("Stations: {count}") from the page, so
    // no language has to put a bare number before a noun in the wrong plural form.
    function figure(name, count) {
      return element.dataset["text" + name.charAt(0).toUpperCase() + name.slice(1)]
        .replace("{count}", Number(count).toLocaleString(document.documentElement.lang || undefined));
    }
    var most = Math.max.apply(null, [1].concat(map.points.map(function (p) { return p.detections; })));
    var cells = map.points.map(function (point) {
      var lines = [point.label];
      lines.push(figure("stations", point.stations));
      lines.push(figure("detections", point.detections));
      if (point.individuals !== null) lines.push(figure("individuals", point.individuals));
      lines.push(figure("trapNights", point.trap_nights));
      return {
        lat: point.lat,
        lon: point.lon,
        precision: point.precision,
        strength: point.detections > 0 ? Math.sqrt(point.detections / most) : 0,
        lines: lines,
      };
    });
    window.RegistryMap.draw(element, map.boundaries, cells);
  }

  ageChart();
  effortChart();
  stationMap();
})();
