// Follow a queued export or import: update its progress bar, reload once it is finished.
(function () {
  "use strict";
  const box = document.getElementById("job");
  if (!box || box.dataset.finished === "true") return;
  const bar = box.querySelector(".job-progress");
  const status = box.querySelector(".job-status");
  const count = box.querySelector(".job-count");

  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((job) => {
        if (job.finished) {
          window.location.reload();
          return;
        }
        status.textContent = job.status_label;
        if (bar && job.percent !== null) bar.value = job.percent;
        if (count && job.total) {
          // Grouped as the page's language writes numbers: 10 000 in Russian.
          const number = new Intl.NumberFormat(document.documentElement.lang || undefined);
          count.textContent = number.format(job.done) + " / " + number.format(job.total);
        }
        window.setTimeout(poll, 2000);
      })
      .catch(() => window.setTimeout(poll, 5000));
  }
  window.setTimeout(poll, 1000);
})();
