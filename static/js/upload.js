// Upload page: hash each file in the browser, ask the server which hashes it
// already has, send only the missing files (a few at a time, with retries),
// and count what happened. Nothing here is needed for safety: the server
// checks every file again; this only saves the ranger's bandwidth and time.
(function () {
  "use strict";

  const form = document.getElementById("upload-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const messages = JSON.parse($("upload-messages").textContent);
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const maxBytes = Number(form.dataset.maxBytes);
  const PARALLEL = 3; // files sent at once
  const HASH_WORKERS = 2; // hashing workers
  const HASH_AHEAD = 16; // files in the hashing workers at once, small ones...
  const HASH_BYTES_AHEAD = 32 * 1024 * 1024; // ...or as many as fit in this (Web Crypto reads a file whole)
  const LOOKUP_BATCH = 500; // hashes per lookup (the API takes up to 1,000)
  const LOOKUP_BYTES = 64 * 1024 * 1024; // ask early, so that large photos start going up soon
  const LOOKUPS_AT_ONCE = 2;
  const SEND_AHEAD = 1000; // hashing waits while this many files wait to be sent
  const PROBLEMS_SHOWN = 100; // rows of the problems table; the rest go in the saved list
  const MAX_TRIES = 6;
  const PROPOSE_BYTES = 128 * 1024;
  const PROGRESS_KEY = "leopard-upload:";

  const select = $("deployment");
  const startButton = $("start");
  let files = [];
  let running = false;
  let counts = null;
  let bytesTotal = 0;
  let bytesDone = 0;
  const inFlight = new Map();
  // Per file, only what the summary needs: a name and a reason for each
  // problem, and the File handle of those not sent, to send them again.
  let problems = [];
  let failedFiles = [];
  let failedFor = null; // the deployment those files were meant for

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  function humanSize(bytes) {
    const number = (value, digits) => value.toLocaleString(document.documentElement.lang || undefined, {
      maximumFractionDigits: digits,
    });
    if (bytes >= 1024 ** 3) return format(messages.size_gb, { n: number(bytes / 1024 ** 3, 1) });
    if (bytes >= 1024 ** 2) return format(messages.size_mb, { n: number(bytes / 1024 ** 2, 1) });
    return format(messages.size_kb, { n: number(Math.ceil(bytes / 1024), 0) });
  }

  // ---- choosing files -------------------------------------------------------

  function setFiles(list) {
    files = list.filter((file) => !file.name.startsWith("."));
    const size = files.reduce((sum, file) => sum + file.size, 0);
    $("selection").textContent = format(messages.selected, { n: files.length, size: humanSize(size) });
    refreshStart();
    if (files.length && !select.value) proposeDeployment();
  }

  function refreshStart() {
    startButton.disabled = running || !files.length || !select.value;
  }

  $("files-input").addEventListener("change", (event) => setFiles(Array.from(event.target.files)));
  $("folder-input").addEventListener("change", (event) => setFiles(Array.from(event.target.files)));
  select.addEventListener("change", () => {
    $("proposal").textContent = "";
    refreshStart();
    showResumeNote();
  });

  const dropzone = $("dropzone");
  dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropzone.classList.add("dropzone-over");
  });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dropzone-over"));
  dropzone.addEventListener("drop", async (event) => {
    event.preventDefault();
    dropzone.classList.remove("dropzone-over");
    const entries = Array.from(event.dataTransfer.items || [])
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
      .filter(Boolean);
    if (!entries.length) {
      setFiles(Array.from(event.dataTransfer.files));
      return;
    }
    const collected = [];
    for (const entry of entries) await walkEntry(entry, collected);
    setFiles(collected);
  });

  async function walkEntry(entry, out) {
    if (entry.isFile) {
      out.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
      return;
    }
    const reader = entry.createReader();
    // readEntries returns at most 100 entries per call: read until empty.
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walkEntry(child, out);
    }
  }

  // ---- deployment proposal ---------------------------------------------------

  async function askProposal(sample) {
    const body = new FormData();
    body.append("file", sample.slice(0, PROPOSE_BYTES), sample.name);
    try {
      const response = await fetch(form.dataset.proposeUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrfToken },
        credentials: "same-origin",
      });
      return response.ok ? response.json() : null;
    } catch (error) {
      return null;
    }
  }

  async function proposeDeployment() {
    // Only the first 128 KB of a few photos go up: the EXIF block is at the start.
    const jpegs = files.filter((file) => /\.jpe?g$/i.test(file.name));
    let answer = null;
    for (const sample of (jpegs.length ? jpegs : files).slice(0, 5)) {
      answer = await askProposal(sample);
      if (answer && answer.serial) break;
    }
    if (!answer) return;
    const proposal = $("proposal");
    if (!answer.serial) {
      proposal.textContent = messages.proposal_no_serial;
      return;
    }
    const values = { serial: answer.serial, time: (answer.camera_time || "").replace("T", " ") };
    if (!answer.deployments.length) {
      proposal.textContent = format(messages.proposal_none, values);
      return;
    }
    if (select.value) return; // the ranger chose meanwhile
    const best = answer.deployments[0];
    if (!select.querySelector('option[value="' + best.id + '"]')) {
      // An older deployment is not listed; the proposal adds it.
      select.add(new Option(best.label, String(best.id)));
    }
    select.value = String(best.id);
    values.label = select.options[select.selectedIndex]
      ? select.options[select.selectedIndex].textContent
      : answer.deployments[0].label;
    proposal.textContent = format(
      answer.deployments.length === 1 ? messages.proposal_one : messages.proposal_many,
      values,
    );
    refreshStart();
  }

  // ---- hashing ----------------------------------------------------------------

  // Workers hash (Web Crypto, or hash-wasm in slices without it), each file going
  // to the one with the fewest in hand; a few files are handed over at a time so
  // that none waits for the next one. Two, so that a phone's or laptop's other core
  // hashes too: one worker hashed 12-megapixel photos at 0.7 times the rate of Web
  // Crypto on the page one after another (bench/README.md, "The upload page with a
  // whole card").
  function createHasher() {
    const waiting = new Map();
    let nextId = 0;
    const workers = Array.from({ length: HASH_WORKERS }, () => {
      const worker = new Worker(form.dataset.hashWorker);
      worker.postMessage({
        type: "init",
        subtle: Boolean(window.crypto && window.crypto.subtle),
        fallbackUrl: new URL(form.dataset.sha256Fallback, window.location.href).href,
      });
      worker.onmessage = (event) => {
        const { id, hash, error } = event.data;
        const promise = waiting.get(id);
        waiting.delete(id);
        if (error) promise.reject(new Error(error));
        else promise.resolve(hash);
      };
      worker.onerror = (event) => {
        waiting.forEach((promise, id) => {
          if (promise.worker !== worker) return;
          waiting.delete(id);
          promise.reject(new Error(event.message || "hash worker"));
        });
      };
      return worker;
    });
    // Files a worker has in hand: those still waiting for its answer (at most HASH_AHEAD).
    const inHand = (worker) => [...waiting.values()].filter((p) => p.worker === worker).length;
    return {
      hash(file) {
        return new Promise((resolve, reject) => {
          const id = nextId++;
          const worker = workers.reduce((least, other) =>
            inHand(other) < inHand(least) ? other : least,
          );
          waiting.set(id, { resolve, reject, worker });
          worker.postMessage({ id, file });
        });
      },
      stop() {
        workers.forEach((worker) => worker.terminate());
      },
    };
  }

  // ---- talking to the API -------------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const backoff = (attempt) => Math.min(30000, 1000 * 2 ** attempt) * (0.75 + Math.random() / 2);

  class StopAll extends Error {}

  async function lookup(hashes) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(form.dataset.lookupUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
          credentials: "same-origin",
          body: JSON.stringify({ sha256: hashes, brief: true }),
        });
      } catch (error) {
        response = null;
      }
      if (response && response.ok) return response.json();
      if (response && (response.status === 401 || response.status === 403)) throw new StopAll();
      if (attempt + 1 >= MAX_TRIES) return { found: [], elsewhere: [] }; // just send; the server dedupes
      await sleep(backoff(attempt));
    }
  }

  function send(item, deploymentId) {
    // XMLHttpRequest, not fetch: it reports upload progress.
    return new Promise((resolve) => {
      const body = new FormData();
      body.append("deployment", deploymentId);
      body.append("sha256", item.hash);
      body.append("name", item.file.name);
      body.append("file", item.file, item.file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrfToken);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (event) => {
        inFlight.set(item, Math.min(event.loaded, item.file.size));
        showProgress();
      };
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (error) {
          data = null;
        }
        resolve({ status: xhr.status, data });
      };
      xhr.onerror = () => resolve({ status: 0, data: null });
      xhr.ontimeout = () => resolve({ status: 0, data: null });
      xhr.send(body);
    });
  }

  async function upload(item, deploymentId) {
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      counts.sent += attempt === 0 ? 1 : 0;
      const { status, data } = await send(item, deploymentId);
      inFlight.delete(item);
      if (status === 201) return finish(item, "stored", data);
      if (status === 200) return finish(item, "duplicates", data);
      if (status === 401 || status === 403) throw new StopAll();
      const retryable =
        status === 0 || status === 408 || status === 429 || status >= 500 ||
        (data && data.code === "hash_mismatch");
      if (!retryable) {
        return finish(item, "rejected", null, (data && data.detail) || messages.rejected_unknown);
      }
      if (attempt + 1 >= MAX_TRIES) break;
      showStatus(format(messages.retrying, { name: item.file.name }));
      await sleep(backoff(attempt));
    }
    return finish(item, "failed", null, messages.network);
  }

  function finish(item, outcome, photo, reason) {
    counts[outcome] += 1;
    bytesDone += item.file.size;
    if (outcome === "duplicates" && photo && String(photo.deployment) !== select.value) {
      reason = messages.other_deployment;
    }
    if (outcome === "failed") failedFiles.push(item.file);
    if (reason) problems.push({ name: item.file.webkitRelativePath || item.file.name, reason });
    if (photo && photo.time_warning) addWarning(item.file, photo.time_warning);
    scheduleRender();
  }

  // ---- the run ------------------------------------------------------------------

  // Hashing, lookups and sending overlap: the worker hashes ahead while the
  // photos found missing go up, and hashes are looked up in batches. Nothing
  // of a file is kept once it is sent; memory does not grow with the card.
  async function start(list) {
    const deploymentId = select.value;
    if (!deploymentId || !list.length || running) return;
    running = true;
    refreshStart();
    counts = { total: list.length, hashed: 0, sent: 0, stored: 0, duplicates: 0, rejected: 0, failed: 0 };
    bytesTotal = list.reduce((sum, file) => sum + file.size, 0) || 1;
    bytesDone = 0;
    problems = [];
    failedFiles = [];
    shownProblems = 0;
    $("rejected-list").replaceChildren();
    $("rejected-panel").hidden = true;
    $("retry-note").hidden = true;
    $("warning-list").replaceChildren();
    $("warning-panel").hidden = true;
    shownWarnings = 0;
    $("progress-panel").hidden = false;
    $("progress-panel").dataset.state = "running";
    $("deployment-link").hidden = true;
    $("resume-note").hidden = true;
    render();

    const began = performance.now();
    let hashedBytes = 0;
    let hashingEnded = began;
    const hasher = createHasher();
    const sendQueue = [];
    let pending = [];
    let pendingBytes = 0;
    let lookups = 0;
    let hashingDone = false;
    let stopped = false;
    let waiters = [];
    const notify = () => waiters.splice(0).forEach((resolve) => resolve());
    const changed = () => new Promise((resolve) => waiters.push(resolve));
    const stopOn = (error) => {
      if (!(error instanceof StopAll)) throw error;
      stopped = true;
      notify();
    };

    async function lookupBatch(batch) {
      lookups += 1;
      try {
        const known = await lookup(batch.map((item) => item.hash));
        const found = new Map(known.found.map((photo) => [photo.sha256, photo]));
        const elsewhere = new Set(known.elsewhere);
        for (const item of batch) {
          if (found.has(item.hash)) finish(item, "duplicates", found.get(item.hash));
          else if (elsewhere.has(item.hash)) finish(item, "duplicates", null, messages.elsewhere);
          else sendQueue.push(item);
        }
      } finally {
        lookups -= 1;
        notify();
        maybeLookup();
      }
    }

    function maybeLookup() {
      if (!pending.length || lookups >= LOOKUPS_AT_ONCE || stopped) return;
      const starving = sendQueue.length === 0 && lookups === 0;
      if (hashingDone || starving || pending.length >= LOOKUP_BATCH || pendingBytes >= LOOKUP_BYTES) {
        const batch = pending.splice(0, LOOKUP_BATCH);
        pendingBytes = pending.reduce((sum, item) => sum + item.file.size, 0);
        lookupBatch(batch).catch(stopOn);
      }
    }

    async function hashLane() {
      let next;
      while (!stopped && (next = nextFile()) !== null) {
        const file = list[next];
        if (file.size > maxBytes) {
          counts.hashed += 1;
          finish({ file }, "rejected", null, messages.too_large);
          continue;
        }
        while (!stopped && hashing && hashing + file.size > HASH_BYTES_AHEAD) await changed();
        let hash;
        hashing += file.size;
        try {
          hash = await hasher.hash(file);
        } catch (error) {
          // Unreadable now (the card was taken out?): worth another try later.
          counts.hashed += 1;
          finish({ file }, "failed", null, messages.unreadable);
          continue;
        } finally {
          hashing -= file.size;
          notify();
        }
        counts.hashed += 1;
        hashedBytes += file.size;
        hashingEnded = performance.now();
        pending.push({ file, hash });
        pendingBytes += file.size;
        maybeLookup();
        scheduleRender();
        while (!stopped && (sendQueue.length >= SEND_AHEAD || pending.length >= 4 * LOOKUP_BATCH)) {
          await changed();
        }
      }
    }
    let index = 0;
    let hashing = 0; // bytes in the worker
    const nextFile = () => (index < list.length ? index++ : null);

    async function sender() {
      for (;;) {
        if (stopped) return;
        if (sendQueue.length) {
          const item = sendQueue.shift();
          notify();
          showStatus(messages.sending);
          await upload(item, deploymentId);
        } else if (hashingDone && !lookups && !pending.length) {
          return;
        } else {
          await changed();
        }
      }
    }

    showStatus(messages.checking);
    const senders = Array.from({ length: PARALLEL }, () => sender().catch(stopOn));
    try {
      await Promise.all(Array.from({ length: HASH_AHEAD }, hashLane));
    } finally {
      hasher.stop();
      hashingDone = true;
      maybeLookup();
      notify();
    }
    await Promise.all(senders);

    running = false;
    refreshStart();
    const panel = $("progress-panel");
    panel.dataset.state = "done";
    panel.dataset.hashedBytes = String(hashedBytes);
    panel.dataset.hashingMs = String(Math.round(hashingEnded - began));
    panel.dataset.elapsedMs = String(Math.round(performance.now() - began));
    if (stopped) {
      showStatus(messages.session);
    } else {
      showStatus(format(counts.failed ? messages.done_failed : messages.done, counts));
    }
    if (counts.failed && !stopped) {
      $("retry-text").textContent = format(messages.will_retry, counts);
      $("retry-note").hidden = false;
    }
    const link = $("deployment-link");
    link.querySelector("a").href = form.dataset.deploymentUrl.replace("/0/", "/" + deploymentId + "/");
    link.hidden = false;
    failedFor = deploymentId;
    saveProgress(deploymentId, !counts.failed && !stopped);
    render();
  }

  function run(list) {
    start(list).catch((error) => {
      running = false;
      refreshStart();
      showStatus(String(error));
    });
  }

  startButton.addEventListener("click", () => run(files));
  function retry() {
    if (running || !failedFiles.length) return;
    select.value = failedFor;
    run(failedFiles.slice());
  }
  $("retry").addEventListener("click", retry);
  // Files not sent for want of a connection go again as soon as it is back.
  window.addEventListener("online", retry);

  window.addEventListener("beforeunload", (event) => {
    if (!running) return;
    saveProgress(select.value, false);
    // Photos already stored stay stored; the warning is about the rest.
    event.preventDefault();
    event.returnValue = messages.leave;
  });

  // ---- an interrupted card, the next day ------------------------------------------

  // Only counts and a date, per deployment: the server knows what it has, and
  // choosing the same card again skips it through the hash lookup.
  let lastSaved = 0;

  function saveProgress(deploymentId, finished) {
    if (!counts || !deploymentId) return;
    lastSaved = Date.now();
    const record = {
      total: counts.total,
      done: counts.stored + counts.duplicates + counts.rejected,
      failed: counts.failed,
      at: lastSaved,
      finished,
    };
    try {
      window.localStorage.setItem(PROGRESS_KEY + deploymentId, JSON.stringify(record));
    } catch (error) {
      // Storage full or refused (private mode): the lookup still resumes.
    }
  }

  function showResumeNote() {
    const note = $("resume-note");
    note.hidden = true;
    if (running || !select.value) return;
    let record = null;
    try {
      record = JSON.parse(window.localStorage.getItem(PROGRESS_KEY + select.value) || "null");
    } catch (error) {
      record = null;
    }
    if (!record || record.finished) return;
    const date = new Date(record.at).toLocaleString(document.documentElement.lang || undefined);
    note.textContent = format(messages.resume, { date, done: record.done, total: record.total });
    note.hidden = false;
  }
  showResumeNote();

  // ---- showing progress -------------------------------------------------------------

  function showStatus(text) {
    const status = $("status");
    if (status.textContent !== text) status.textContent = text;
  }

  // Thousands of files finish in a minute: draw at most once a frame.
  let renderQueued = false;

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    window.requestAnimationFrame(() => {
      renderQueued = false;
      render();
    });
  }

  // Kept for the inline progress of the files being sent.
  function showProgress() {
    scheduleRender();
  }

  function render() {
    if (!counts) return;
    for (const key of Object.keys(counts)) {
      const cell = $("count-" + key);
      if (cell) cell.textContent = counts[key];
    }
    let partial = 0;
    inFlight.forEach((loaded) => (partial += loaded));
    $("progress").value = Math.min(1, (bytesDone + partial) / bytesTotal);
    renderProblems();
    if (running && Date.now() - lastSaved > 2000) saveProgress(select.value, false);
  }

  let shownProblems = 0;

  function renderProblems() {
    if (!problems.length) return;
    const body = $("rejected-list");
    while (shownProblems < problems.length && shownProblems < PROBLEMS_SHOWN) {
      const problem = problems[shownProblems++];
      appendRow(body, problem.name, problem.reason);
    }
    const more = problems.length - shownProblems;
    $("problems-more").textContent = more > 0 ? format(messages.problems_more, { n: more }) : "";
    $("rejected-panel").hidden = false;
  }

  let shownWarnings = 0;

  // Stored photos whose camera time falls outside the deployment: like the problems,
  // only the first rows are drawn, since a card may hold thousands.
  function addWarning(file, text) {
    if (shownWarnings >= PROBLEMS_SHOWN) return;
    shownWarnings += 1;
    appendRow($("warning-list"), file.webkitRelativePath || file.name, text);
    $("warning-panel").hidden = false;
  }

  // A table row of a file's name and what to know about it; text, never markup.
  function appendRow(body, fileName, text) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = fileName;
    const why = document.createElement("td");
    why.textContent = text;
    row.append(name, why);
    body.append(row);
  }

  $("save-problems").addEventListener("click", () => {
    const lines = problems.map((problem) => problem.name + "\t" + problem.reason);
    const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/plain" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = "upload-problems.txt";
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
})();
