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
  const PARALLEL = 3;
  const LOOKUP_BATCH = 200;
  const MAX_TRIES = 6;
  const PROPOSE_BYTES = 128 * 1024;

  const select = $("deployment");
  const startButton = $("start");
  let files = [];
  let running = false;
  let counts = null;
  let bytesTotal = 0;
  let bytesDone = 0;
  const inFlight = new Map();

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

  let fallbackHasher = null;

  function toHex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function loadFallback() {
    // crypto.subtle exists only in secure contexts (HTTPS or localhost): on a
    // plain-HTTP field server use the vendored implementation instead.
    if (!fallbackHasher) {
      fallbackHasher = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = form.dataset.sha256Fallback;
        script.onload = () => resolve(window.sha256);
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return fallbackHasher;
  }

  async function hashFile(file) {
    const buffer = await file.arrayBuffer();
    if (window.crypto && window.crypto.subtle) {
      return toHex(await window.crypto.subtle.digest("SHA-256", buffer));
    }
    const sha256 = await loadFallback();
    return sha256.hex(buffer);
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
          body: JSON.stringify({ sha256: hashes }),
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
    if (reason) addRejected(item.file, reason);
    if (photo && photo.time_warning) addWarning(item.file, photo.time_warning);
    showProgress();
  }

  // ---- the run ------------------------------------------------------------------

  async function start() {
    const deploymentId = select.value;
    if (!deploymentId || !files.length || running) return;
    running = true;
    refreshStart();
    counts = { total: files.length, hashed: 0, sent: 0, stored: 0, duplicates: 0, rejected: 0, failed: 0 };
    bytesTotal = files.reduce((sum, file) => sum + file.size, 0) || 1;
    bytesDone = 0;
    $("rejected-list").replaceChildren();
    $("rejected-panel").hidden = true;
    $("warning-list").replaceChildren();
    $("warning-panel").hidden = true;
    $("progress-panel").hidden = false;
    $("deployment-link").hidden = true;
    showProgress();

    const queue = [];
    let producing = true;
    const waiters = [];
    const wake = () => waiters.splice(0).forEach((resolve) => resolve());
    const next = async () => {
      for (;;) {
        if (queue.length) return queue.shift();
        if (!producing) return null;
        await new Promise((resolve) => waiters.push(resolve));
      }
    };
    let stopped = false;
    const worker = async () => {
      for (;;) {
        const item = await next();
        if (!item || stopped) return;
        await upload(item, deploymentId);
      }
    };

    const workers = Array.from({ length: PARALLEL }, () =>
      worker().catch((error) => {
        if (!(error instanceof StopAll)) throw error;
        stopped = true;
      }),
    );
    try {
      showStatus(messages.checking);
      for (let offset = 0; offset < files.length && !stopped; offset += LOOKUP_BATCH) {
        const batch = [];
        for (const file of files.slice(offset, offset + LOOKUP_BATCH)) {
          if (file.size > maxBytes) {
            counts.hashed += 1;
            finish({ file }, "rejected", null, messages.too_large);
            continue;
          }
          batch.push({ file, hash: await hashFile(file) });
          counts.hashed += 1;
          showProgress();
        }
        const known = await lookup(batch.map((item) => item.hash));
        const found = new Map(known.found.map((photo) => [photo.sha256, photo]));
        const elsewhere = new Set(known.elsewhere);
        for (const item of batch) {
          if (found.has(item.hash)) finish(item, "duplicates", found.get(item.hash));
          else if (elsewhere.has(item.hash)) finish(item, "duplicates", null, messages.elsewhere);
          else queue.push(item);
        }
        wake();
        showStatus(messages.sending);
      }
    } catch (error) {
      if (!(error instanceof StopAll)) throw error;
      stopped = true;
    } finally {
      producing = false;
      wake();
    }
    await Promise.all(workers);
    running = false;
    refreshStart();
    if (stopped) {
      showStatus(messages.session);
    } else {
      showStatus(format(counts.failed ? messages.done_failed : messages.done, counts));
    }
    const link = $("deployment-link");
    link.querySelector("a").href = form.dataset.deploymentUrl.replace("/0/", "/" + deploymentId + "/");
    link.hidden = false;
    showProgress();
  }

  startButton.addEventListener("click", () => {
    start().catch((error) => {
      running = false;
      refreshStart();
      showStatus(String(error));
    });
  });

  window.addEventListener("beforeunload", (event) => {
    if (!running) return;
    // Photos already stored stay stored; the warning is about the rest.
    event.preventDefault();
    event.returnValue = messages.leave;
  });

  // ---- showing progress -------------------------------------------------------------

  function showStatus(text) {
    $("status").textContent = text;
  }

  function showProgress() {
    if (!counts) return;
    for (const key of Object.keys(counts)) {
      const cell = $("count-" + key);
      if (cell) cell.textContent = counts[key];
    }
    let partial = 0;
    inFlight.forEach((loaded) => (partial += loaded));
    $("progress").value = Math.min(1, (bytesDone + partial) / bytesTotal);
  }

  function addRejected(file, reason) {
    addRow("rejected", file, reason);
  }

  function addWarning(file, text) {
    addRow("warning", file, text);
  }

  function addRow(panel, file, text) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = file.webkitRelativePath || file.name;
    const why = document.createElement("td");
    why.textContent = text;
    row.append(name, why);
    $(panel + "-list").append(row);
    $(panel + "-panel").hidden = false;
  }
})();
