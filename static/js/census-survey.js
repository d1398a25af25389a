// Survey page: follow density fits running in the background and show them when done.
(function () {
  "use strict";
  const bars = document.querySelectorAll("progress.density-progress[data-status-url]");
  if (!bars.length) {
    return;
  }
  function poll() {
    const pending = Array.from(bars).map(function (bar) {
      return fetch(bar.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) {
            return false;
          }
          bar.value = data.progress;
          bar.textContent = data.progress + "%";
          const label = bar.parentElement.querySelector(".density-status");
          if (label) {
            label.textContent = data.status_label;
          }
          return data.finished;
        })
        .catch(function () { return false; });
    });
    Promise.all(pending).then(function (finished) {
      if (finished.some(Boolean)) {
        // The finished row renders its figures on the server, in the page's language.
        window.location.reload();
      } else {
        window.setTimeout(poll, 1000);
      }
    });
  }
  window.setTimeout(poll, 1000);
})();
