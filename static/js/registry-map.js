/* The registry's maps: park outlines, 0.1° grid cells with their labels, a scale in km,
   a north arrow and, when the deployment names a tile server, a base map underneath.
   Leaflet is vendored; the page gives its texts in data-text-* attributes and the tile
   server in the "map-tiles" json_script block. */
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

  var NorthArrow = L.Control.extend({
    options: { position: "topright", text: "N" },
    onAdd: function () {
      var div = L.DomUtil.create("div", "map-north");
      div.setAttribute("aria-hidden", "true");
      div.textContent = "↑ " + this.options.text;
      return div;
    },
  });

  function baseMap(map) {
    var tiles = readJson("map-tiles");
    if (!tiles || !tiles.url) return;
    L.control.attribution({ prefix: false }).addTo(map);
    // Tiles are never asked for finer than max_native_zoom (a generalisation cell):
    // closer in, Leaflet enlarges those it has.
    L.tileLayer(tiles.url, {
      attribution: tiles.attribution,
      maxNativeZoom: tiles.max_native_zoom,
      maxZoom: 18,
    }).addTo(map);
    map.getContainer().classList.add("map-with-tiles");
  }

  // Make a cell readable without a mouse: focusable, named, its tooltip shown on focus.
  function label(layer, lines) {
    var text = lines.join(" · ");
    layer.bindTooltip(lines.map(escapeHtml).join("<br>"));
    var path = layer.getElement();
    if (!path) return;
    var title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = text;
    path.appendChild(title);
    path.setAttribute("tabindex", "0");
    path.setAttribute("role", "img");
    path.setAttribute("aria-label", text);
    path.classList.add("map-cell");
    path.addEventListener("focus", function () { layer.openTooltip(); });
    path.addEventListener("blur", function () { layer.closeTooltip(); });
  }

  // cells: [{lat, lon, precision, lines: [..], strength: 0..1 or 0 for none}]
  function draw(element, boundaries, cells) {
    var data = element.dataset;
    var map = L.map(element, { attributionControl: false, zoomControl: false, zoomSnap: 0.25 });
    // Leaflet's own button titles are English; the page gives them in the user's language.
    L.control.zoom({ zoomInTitle: data.textZoomIn, zoomOutTitle: data.textZoomOut }).addTo(map);
    L.control.scale({ imperial: false, position: "bottomleft", maxWidth: 120 }).addTo(map);
    new NorthArrow({ text: data.textNorth || "N" }).addTo(map);
    baseMap(map);
    // Vector layers need a view before they are added, so find the bounds first.
    var bounds = L.latLngBounds([]);
    var outlines = boundaries.map(function (boundary) {
      var outline = L.geoJSON(boundary, {
        interactive: false,
        className: "map-outline",
        style: { color: "#8a4a12", weight: 2, fillColor: "#e9dcc0", fillOpacity: 0.3 },
      });
      bounds.extend(outline.getBounds());
      return outline;
    });
    var squares = cells.map(function (cell) {
      var half = cell.precision / 2;
      var square = L.latLngBounds(
        [cell.lat - half, cell.lon - half],
        [cell.lat + half, cell.lon + half]
      );
      bounds.extend(square);
      return square;
    });
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: 12 });
    } else {
      map.setView([43.1, 131.0], 8);
    }
    outlines.forEach(function (outline) { outline.addTo(map); });
    cells.forEach(function (cell, i) {
      var found = cell.strength > 0;
      var layer = L.rectangle(squares[i], {
        color: found ? "#5a2e0a" : "#6b6356",
        weight: found ? 1.5 : 1,
        fillColor: found ? "#b5651d" : "#ffffff",
        fillOpacity: found ? 0.3 + 0.55 * cell.strength : 0.55,
      }).addTo(map);
      label(layer, cell.lines);
    });
    // The outlines' edges again over the cells, which would otherwise hide them.
    boundaries.forEach(function (boundary) {
      L.geoJSON(boundary, {
        interactive: false,
        className: "map-outline-edge",
        style: { color: "#8a4a12", weight: 2, fill: false },
      }).addTo(map);
    });
    element.setAttribute("data-points", String(cells.length));
    element.setAttribute("data-outlines", String(outlines.length));
    return map;
  }

  window.RegistryMap = { draw: draw, readJson: readJson };
})();
