/* Review page: boxes over photos (draw, move, resize), zoom, matched-spot lines between a
   sighting and its candidates, and keyboard shortcuts for the common actions. */
(function () {
  "use strict";
  var data = document.getElementById("review-data") || document.body;
  var api = data.getAttribute("data-api-sightings");

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function showError(text) {
    var list = document.querySelector(".messages");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messages";
      var main = document.querySelector("main");
      main.insertBefore(list, main.firstChild);
    }
    var item = document.createElement("li");
    item.className = "message message-error";
    item.textContent = text;
    list.appendChild(item);
    item.scrollIntoView({ block: "center" });
  }

  function send(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.ok) {
        staying = true;
        window.location.reload();
        return;
      }
      return response.json().then(
        function (problem) {
          showError(problem.detail || data.getAttribute("data-failed"));
        },
        function () { showError(data.getAttribute("data-failed")); }
      );
    }, function () { showError(data.getAttribute("data-failed")); });
  }

  // -- boxes ---------------------------------------------------------------------------
  function place(element, box) {
    element.style.left = box[0] * 100 + "%";
    element.style.top = box[1] * 100 + "%";
    element.style.width = box[2] * 100 + "%";
    element.style.height = box[3] * 100 + "%";
  }

  document.querySelectorAll(".box[data-box]").forEach(function (element) {
    var box = JSON.parse(element.getAttribute("data-box") || "null");
    if (box) place(element, box);
  });

  function relative(frame, event) {
    var rect = frame.getBoundingClientRect();
    return [
      Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
      Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)),
    ];
  }

  function round(value) { return Math.round(value * 10000) / 10000; }

  function startDrag(frame, event, onMove, onDone) {
    event.preventDefault();
    var start = relative(frame, event);
    function move(e) { onMove(start, relative(frame, e)); }
    function up(e) {
      document.removeEventListener("mousemove", move);
      document.removeEventListener("mouseup", up);
      onDone(start, relative(frame, e));
    }
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up);
  }

  document.querySelectorAll(".photo-frame[data-editable]").forEach(function (frame) {
    var section = frame.closest(".review-photo");
    var photoId = section.getAttribute("data-photo");

    frame.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      var target = event.target;
      var boxElement = target.closest(".box");
      if (section.classList.contains("drawing")) {
        var drawn = document.createElement("div");
        drawn.className = "box box-drawing";
        frame.appendChild(drawn);
        startDrag(frame, event, function (a, b) {
          place(drawn, [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1])]);
        }, function (a, b) {
          var w = Math.abs(b[0] - a[0]);
          var h = Math.abs(b[1] - a[1]);
          if (w < 0.01 || h < 0.01) { drawn.remove(); return; }
          send("POST", api, {
            photo: Number(photoId),
            bbox_x: round(Math.min(a[0], b[0])),
            bbox_y: round(Math.min(a[1], b[1])),
            bbox_w: round(w),
            bbox_h: round(h),
          });
        });
        return;
      }
      if (!boxElement || !boxElement.hasAttribute("data-sighting")) return;
      var original = JSON.parse(boxElement.getAttribute("data-box"));
      var resizing = target.classList.contains("box-handle");
      var current = original.slice();
      startDrag(frame, event, function (a, b) {
        var dx = b[0] - a[0];
        var dy = b[1] - a[1];
        if (resizing) {
          current = [original[0], original[1], Math.max(0.01, original[2] + dx), Math.max(0.01, original[3] + dy)];
        } else {
          current = [
            Math.min(1 - original[2], Math.max(0, original[0] + dx)),
            Math.min(1 - original[3], Math.max(0, original[1] + dy)),
            original[2],
            original[3],
          ];
        }
        place(boxElement, current);
      }, function () {
        var moved = current.some(function (v, i) { return Math.abs(v - original[i]) > 0.002; });
        if (!moved) {
          var article = document.getElementById("sighting-" + boxElement.getAttribute("data-sighting"));
          if (article) focusSighting(sightings().indexOf(article));
          return;
        }
        send("PATCH", api + boxElement.getAttribute("data-sighting") + "/", {
          version: Number(boxElement.getAttribute("data-version")),
          bbox_x: round(current[0]),
          bbox_y: round(current[1]),
          bbox_w: round(Math.min(current[2], 1 - current[0])),
          bbox_h: round(Math.min(current[3], 1 - current[1])),
        });
      });
    });
  });

  document.querySelectorAll(".draw-toggle").forEach(function (button) {
    button.addEventListener("click", function () { toggleDraw(button.closest(".review-photo")); });
  });

  function toggleDraw(section) {
    if (!section) return;
    var on = section.classList.toggle("drawing");
    var hint = section.querySelector(".draw-hint");
    if (on && !hint) {
      hint = document.createElement("p");
      hint.className = "draw-hint muted";
      hint.textContent = section.querySelector(".draw-toggle").getAttribute("data-draw-label");
      section.querySelector(".photo-stage").before(hint);
    } else if (!on && hint) {
      hint.remove();
    }
  }

  // -- zoom and people -------------------------------------------------------------------
  function toggleZoom(section) {
    if (!section) return;
    section.querySelector(".photo-stage").classList.toggle("zoomed");
    drawAllLines();
  }
  document.querySelectorAll(".zoom-toggle").forEach(function (button) {
    button.addEventListener("click", function () { toggleZoom(button.closest(".review-photo")); });
  });
  document.querySelectorAll(".person-reveal").forEach(function (button) {
    button.addEventListener("click", function () {
      var section = button.closest(".review-photo");
      section.querySelector(".photo-stage").classList.remove("photo-private");
      button.remove();
    });
  });

  // -- matched spots ---------------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";

  function drawLines(candidate) {
    var svg = candidate.querySelector(".pair-lines");
    var query = candidate.querySelector(".pair-query");
    var reference = candidate.querySelector(".pair-ref");
    if (!svg || !query || !reference || !query.complete || !reference.complete) return;
    var matches = JSON.parse(candidate.getAttribute("data-matches") || "[]");
    var queryBox = JSON.parse(candidate.getAttribute("data-query-box") || "null");
    var refBox = JSON.parse(candidate.getAttribute("data-ref-box") || "null");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (!queryBox || !refBox) return;
    var pair = candidate.querySelector(".pair").getBoundingClientRect();
    var q = query.getBoundingClientRect();
    var r = reference.getBoundingClientRect();
    svg.setAttribute("width", pair.width);
    svg.setAttribute("height", pair.height);
    var drawn = 0;
    matches.forEach(function (m) {
      // Matches are relative to each whole photo; the crops show only the boxes.
      var qx = (m[0] - queryBox[0]) / queryBox[2];
      var qy = (m[1] - queryBox[1]) / queryBox[3];
      var rx = (m[2] - refBox[0]) / refBox[2];
      var ry = (m[3] - refBox[1]) / refBox[3];
      if ([qx, qy, rx, ry].some(function (v) { return v < 0 || v > 1; })) return;
      var line = document.createElementNS(SVG, "line");
      line.setAttribute("x1", q.left - pair.left + qx * q.width);
      line.setAttribute("y1", q.top - pair.top + qy * q.height);
      line.setAttribute("x2", r.left - pair.left + rx * r.width);
      line.setAttribute("y2", r.top - pair.top + ry * r.height);
      svg.appendChild(line);
      [[line.getAttribute("x1"), line.getAttribute("y1")], [line.getAttribute("x2"), line.getAttribute("y2")]].forEach(function (p) {
        var dot = document.createElementNS(SVG, "circle");
        dot.setAttribute("cx", p[0]);
        dot.setAttribute("cy", p[1]);
        dot.setAttribute("r", 2.5);
        svg.appendChild(dot);
      });
      drawn += 1;
    });
    candidate.setAttribute("data-lines", String(drawn));
  }

  function drawAllLines() {
    document.querySelectorAll(".candidate").forEach(drawLines);
  }
  document.querySelectorAll(".candidate img").forEach(function (image) {
    image.addEventListener("load", function () { drawLines(image.closest(".candidate")); });
  });
  window.addEventListener("resize", drawAllLines);
  drawAllLines();

  // -- mother and kitten: the kitten's record is the one written, so send its version ------
  document.querySelectorAll(".mother-form").forEach(function (form) {
    var select = form.querySelector(".kitten-select");
    var version = form.querySelector(".kitten-version");
    if (!select || !version) return;
    function sync() {
      var option = select.options[select.selectedIndex];
      version.value = option ? option.getAttribute("data-version") : "";
    }
    select.addEventListener("change", sync);
    sync();
  });

  // -- confirming against the matcher ---------------------------------------------------
  // A candidate flagged "probably new" or below the probability the registry asks for takes
  // a second, deliberate step; cancelling leaves the sighting as it was.
  document.querySelectorAll("form.candidate-confirm[data-override]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var field = form.querySelector(".override-field");
      if (!window.confirm(form.getAttribute("data-override"))) {
        event.preventDefault();
        if (field) field.value = "";
        return;
      }
      if (field) field.value = "1";
    });
  });

  // -- keyboard --------------------------------------------------------------------------
  function sightings() {
    return Array.prototype.slice.call(document.querySelectorAll("article.sighting"));
  }
  var currentIndex = -1;

  function focusSighting(index, scroll) {
    var all = sightings();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (el) { el.classList.remove("current"); });
    document.querySelectorAll(".box.current").forEach(function (el) { el.classList.remove("current"); });
    var article = all[index];
    article.classList.add("current");
    var box = document.querySelector('.box[data-sighting="' + article.getAttribute("data-sighting") + '"]');
    if (box) box.classList.add("current");
    article.focus({ preventScroll: true });
    if (scroll !== false) article.scrollIntoView({ block: "nearest", behavior: "smooth" });
    currentIndex = index;
  }

  function firstUndecided() {
    var all = sightings();
    for (var i = 0; i < all.length; i += 1) {
      if (all[i].querySelector(".status-proposed")) return i;
    }
    return 0;
  }

  document.querySelectorAll(".skip-sighting").forEach(function (button) {
    button.addEventListener("click", function () {
      focusSighting(sightings().indexOf(button.closest("article.sighting")) + 1);
    });
  });

  function clickKey(scope, key) {
    var button = scope.querySelector('[data-key="' + key + '"]:not([disabled])');
    if (button) { button.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    var key = event.key.toLowerCase();
    if (key === "escape") {
      document.querySelectorAll(".review-photo.drawing").forEach(toggleDraw);
      return;
    }
    var all = sightings();
    var article = all[currentIndex];
    if (key === "j") { focusSighting(currentIndex + 1); event.preventDefault(); return; }
    if (key === "k") { focusSighting(currentIndex - 1); event.preventDefault(); return; }
    if (article && /^[1-9]$/.test(key)) {
      if (clickKey(article, key)) event.preventDefault();
      return;
    }
    if (article && (key === "n" || key === "u" || key === "s")) {
      if (clickKey(article, key)) event.preventDefault();
      return;
    }
    if (key === "z" || key === "d") {
      var section = article ? article.closest(".review-photo") : document.querySelector(".review-photo");
      if (key === "z") toggleZoom(section); else toggleDraw(section);
      event.preventDefault();
      return;
    }
    if (clickKey(document, key)) event.preventDefault();
  });

  // Opening an event shows its photo: the first undecided box is marked, not scrolled to,
  // and the page moves down just enough for the whole first photo to show below the
  // sticky toolbar (the header above it takes a third of a laptop's screen).
  if (sightings().length) focusSighting(firstUndecided(), false);
  function showFirstPhoto() {
    var stage = document.querySelector(".review-photo .photo-stage");
    if (!stage || window.location.hash || window.scrollY > 0) return;
    var rect = stage.getBoundingClientRect();
    var below = rect.bottom - window.innerHeight;
    if (below <= 0) return;
    var toolbar = document.querySelector(".review-toolbar");
    var covered = toolbar && window.getComputedStyle(toolbar).position === "sticky"
      ? toolbar.getBoundingClientRect().height + 8 : 0;
    window.scrollBy(0, Math.max(0, Math.min(below, rect.top - covered)));
  }
  showFirstPhoto();

  // -- the claim ---------------------------------------------------------------------------
  // Opening the page claimed the event. Leaving it for another page without a save gives
  // the claim back, so a colleague finds the event waiting; the server releases only the
  // claim this page opened with, never one a save or a newer visit has renewed.
  var release = data.getAttribute("data-release");
  var claimedAt = data.getAttribute("data-claimed-at");
  var staying = false;
  document.addEventListener("submit", function (event) {
    if (!event.defaultPrevented) staying = true;
  });
  window.addEventListener("pagehide", function () {
    if (staying || !release || !claimedAt || !navigator.sendBeacon) return;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrfToken());
    body.append("claimed_at", claimedAt);
    navigator.sendBeacon(release, body);
  });
  window.addEventListener("pageshow", function (event) {
    // Back to this page from the browser's memory: the claim went on leaving, so open
    // the event again to claim it again.
    if (event.persisted && release) window.location.reload();
  });
})();
