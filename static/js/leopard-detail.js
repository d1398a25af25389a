/* An individual's page: the stations where it was seen, on a map without tiles. */
(function () {
  "use strict";
  var element = document.getElementById("leopard-map");
  var data = document.getElementById("leopard-stations");
  if (!element || !data || typeof L === "undefined") return;
  var stations = JSON.parse(data.textContent);
  // No tile layer: tiles are not reachable offline; stations on a plain background
  // show the home range well enough.
  var map = L.map(element, { attributionControl: false, zoomControl: false, zoomSnap: 0.25 });
  // Leaflet's own button titles are English; the page gives them in the user's language.
  L.control.zoom({
    zoomInTitle: element.dataset.textZoomIn,
    zoomOutTitle: element.dataset.textZoomOut,
  }).addTo(map);
  var bounds = L.latLngBounds([]);
  stations.forEach(function (s) { bounds.extend([s.lat, s.lon]); });
  if (bounds.isValid()) {
    map.fitBounds(bounds.pad(0.3), { maxZoom: 12 });
  } else {
    map.setView([43.1, 131.0], 8);
  }
  var most = Math.max.apply(null, [1].concat(stations.map(function (s) { return s.count; })));
  function escapeHtml(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }
  stations.forEach(function (s) {
    L.circleMarker([s.lat, s.lon], {
      radius: 5 + 10 * Math.sqrt(s.count / most),
      color: "#5a2e0a",
      weight: 1.5,
      fillColor: s.exact ? "#b5651d" : "#ffffff",
      fillOpacity: 0.8,
      dashArray: s.exact ? null : "3 3",
    }).addTo(map).bindTooltip(escapeHtml(
      s.park + " · " + s.code + " · " + element.dataset.textSightings.replace("{count}", s.count)
    ));
  });
  element.setAttribute("data-points", String(stations.length));
})();
