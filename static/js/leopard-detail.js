/* An individual's page: the 0.1° cells of the stations where it was seen, drawn by
   registry-map.js over the outlines of their parks. */
(function () {
  "use strict";
  var element = document.getElementById("leopard-map");
  if (!element || !window.RegistryMap) return;
  var stations = window.RegistryMap.readJson("leopard-stations") || [];
  var boundaries = window.RegistryMap.readJson("leopard-parks") || [];
  var most = Math.max.apply(null, [1].concat(stations.map(function (s) { return s.count; })));
  var cells = stations.map(function (s) {
    return {
      lat: s.lat,
      lon: s.lon,
      precision: s.precision,
      strength: Math.sqrt(s.count / most),
      lines: [s.park, s.code, element.dataset.textSightings.replace("{count}", s.count)],
    };
  });
  window.RegistryMap.draw(element, boundaries, cells);
})();
