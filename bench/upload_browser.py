"""The upload page in Chromium: a card of thousands of photos, then the same card again.

    nice -n 10 python bench/upload_browser.py --photos 10000 --large 300

Starts gunicorn on loopback against a fresh PostgreSQL database
(registry_upload_bench) and Redis (db 12 unless BENCH_REDIS_URL says otherwise;
no Celery worker: processing is not measured here), logs in as a ranger in
Debian's Chromium and uploads, through the real page, N generated small JPEGs
(640x480, about 46 KB, made once into /tmp/upload-bench) and then M of 12
megapixels. For each card it prints:

- Web Crypto on its own: the same files digested one after another on the page
  (`crypto.subtle.digest` of `file.arrayBuffer()`), the baseline for hashing;
- the page's upload: time to the summary, MB/s sent, and the browser's peak
  memory (JS heap from CDP Performance.getMetrics, and the proportional set
  size of every Chromium process) against the memory before the start;
- the page's event-loop lag (p95 and max of a 50 ms timer) during the upload;
- resuming the card in a fresh tab with everything stored: time to the summary
  and the hashing rate inside the page, as a ratio to Web Crypto on its own;
- the same resume from a plain-HTTP host name (no crypto.subtle: a real
  insecure context, resolved to 127.0.0.1), hashed by hash-wasm in the worker.
"""

import argparse
import os
import re
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.stack import fresh_stack, start_web, stop, wait_http  # noqa: E402

DB_NAME = "registry_upload_bench"
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PORT = int(os.environ.get("BENCH_PORT", "8094"))
CACHE = Path(os.environ.get("BENCH_UPLOAD_FILES", "/tmp/upload-bench"))
CHROMIUM = "/usr/bin/chromium"
INSECURE_HOST = "field.station"
PASSWORD = "correct-horse-battery"

# Event-loop lag, sampled on the page by a 50 ms timer (an init script runs
# before the page's own scripts and is not subject to its CSP).
LAG_PROBE = """
window.__lags = [];
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  window.__lags.push(now - last - 50);
  last = now;
}, 50);
"""

WEB_CRYPTO_ALONE = """
async () => {
  const files = Array.from(document.getElementById("files-input").files);
  let bytes = 0;
  const began = performance.now();
  for (const file of files) {
    await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    bytes += file.size;
  }
  return { bytes, ms: performance.now() - began };
}
"""


def make_card(
    folder: Path, n: int, size: tuple[int, int], quality: int, noise: float
) -> list[Path]:
    """Make n distinct JPEGs with camera EXIF once; later runs reuse them."""
    from PIL import ExifTags, Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"IMG_{i:05d}.JPG" for i in range(n)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"making {len(missing)} JPEGs of {size[0]}x{size[1]} in {folder} ...", flush=True)
        base = Image.effect_noise(size, noise).convert("RGB")
        start = datetime(2024, 5, 1, 6, 0)
        for path in missing:
            i = int(path.stem.split("_")[1])
            image = base.copy()
            image.putpixel((i % size[0], (i // size[0]) % size[1]), (255, 0, 0))
            exif = Image.Exif()
            exif[ExifTags.Base.Make] = "Panthera V4"
            exif[ExifTags.Base.Model] = "CAM41146"
            taken = (start + timedelta(minutes=3 * i)).strftime("%Y:%m:%d %H:%M:%S")
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
            image.save(path, "JPEG", quality=quality, exif=exif)
    return paths


def chromium_pss_mb(root_pid: int) -> dict[str, float]:
    """Return the proportional set size of the Chromium processes under this one, in MB, by type."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        names[int(entry)] = name
    by_type: dict[str, float] = {}
    todo = list(children.get(root_pid, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if "chrom" not in names.get(pid, ""):
            continue
        try:
            # Chromium rewrites its children's command lines into one string.
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found = re.search(r"--type=(\S+)", command)
            kind = found.group(1) if found else "browser"
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    by_type[kind] = by_type.get(kind, 0.0) + int(line.split()[1]) / 1024
        except OSError:
            continue
    return by_type


def breakdown(by_type: dict[str, float]) -> str:
    return ", ".join(f"{kind} {mb:.0f}" for kind, mb in sorted(by_type.items()))


class MemoryWatch:
    """Sample the browser's memory twice a second and keep the peak."""

    def __init__(self, cdp) -> None:
        self.cdp = cdp
        self.peak_pss = 0.0
        self.peak_by_type: dict[str, float] = {}
        self.peak_heap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            by_type = chromium_pss_mb(os.getpid())
            if sum(by_type.values()) > self.peak_pss:
                self.peak_pss = sum(by_type.values())
                self.peak_by_type = by_type

    def heap(self) -> float:
        # CDP calls belong to the Playwright thread: the caller samples the heap.
        metrics = {
            m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]
        }
        value = metrics["JSHeapUsedSize"] / 2**20
        self.peak_heap = max(self.peak_heap, value)
        return value

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def choose(page, base: str, deployment_id: int, paths: list[Path]) -> None:
    page.goto(f"{base}/upload/")
    page.select_option("#deployment", str(deployment_id))
    page.set_input_files("#files-input", [str(p) for p in paths])
    page.wait_for_selector("#start:not([disabled])")


def run_page(page, cdp, timeout_s: float) -> dict[str, float]:
    """Click Upload, wait for the summary, and return times, counts and memory."""
    page.evaluate("window.__lags.length = 0")
    cdp.send("HeapProfiler.collectGarbage")
    before_heap = MemoryWatch(cdp).heap()
    before_by_type = chromium_pss_mb(os.getpid())
    before_pss = sum(before_by_type.values())
    with MemoryWatch(cdp) as watch:
        began = time.monotonic()
        page.click("#start")
        deadline = began + timeout_s
        while time.monotonic() < deadline:
            if page.query_selector("#progress-panel[data-state=done]"):
                break
            watch.heap()
            page.wait_for_timeout(500)
        else:
            raise SystemExit("the upload did not finish in time")
        elapsed = time.monotonic() - began
    panel = page.query_selector("#progress-panel")
    lags = sorted(page.evaluate("window.__lags.splice(0)")) or [0.0]
    counts = {k: int(page.inner_text(f"#count-{k}")) for k in ("total", "stored", "duplicates")}
    counts.update({k: int(page.inner_text(f"#count-{k}")) for k in ("rejected", "failed", "sent")})
    return {
        "elapsed": elapsed,
        "hashed_bytes": int(panel.get_attribute("data-hashed-bytes")),
        "hashing_ms": int(panel.get_attribute("data-hashing-ms")),
        "heap_before": before_heap,
        "heap_peak": watch.peak_heap,
        "pss_before": before_pss,
        "pss_peak": max(watch.peak_pss, before_pss),
        "by_type_before": breakdown(before_by_type),
        "by_type_peak": breakdown(watch.peak_by_type),
        "lag_p95": lags[int(0.95 * (len(lags) - 1))],
        "lag_max": lags[-1],
        "lag_median": statistics.median(lags),
        **counts,
    }


def bench_card(browser, base: str, deployment_id: int, paths: list[Path], label: str, args) -> None:
    mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"\n== {label}: {len(paths)} files, {mb:.0f} MB ({mb / len(paths) * 1024:.0f} KB each)")

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    context.add_init_script(LAG_PROBE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    login(page, base, "bench-ranger")

    choose(page, base, deployment_id, paths)
    first = run_page(page, cdp, args.timeout)
    shot = Path(args.screenshots) / f"upload-{label}-1366.png"
    page.screenshot(path=str(shot), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=str(shot.with_name(f"upload-{label}-360.png")), full_page=True)

    # The baseline, in the same browser on the same (now cached) files.
    alone = page.evaluate(WEB_CRYPTO_ALONE)
    alone_mbs = alone["bytes"] / 2**20 / (alone["ms"] / 1000)

    # The next day: a fresh tab, the same card, everything already stored.
    page.close()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    choose(page, base, deployment_id, paths)
    again = run_page(page, cdp, args.timeout)
    context.close()

    hash_mbs = again["hashed_bytes"] / 2**20 / (again["hashing_ms"] / 1000)
    print(f"  Web Crypto on its own (baseline): {alone_mbs:7.1f} MB/s")
    print(
        f"  upload: summary after {first['elapsed']:.1f} s, {mb / first['elapsed']:.1f} MB/s; "
        f"stored {first['stored']}, already stored {first['duplicates']}, "
        f"rejected {first['rejected']}, not sent {first['failed']}"
    )
    for name, run in (("upload", first), ("resume", again)):
        print(
            f"  {name} memory: JS heap {run['heap_before']:.0f} -> peak {run['heap_peak']:.0f} MB; "
            f"Chromium PSS {run['pss_before']:.0f} -> peak {run['pss_peak']:.0f} MB "
            f"(growth {run['pss_peak'] - run['pss_before']:.0f} MB); event-loop lag "
            f"median {run['lag_median']:.0f} ms, p95 {run['lag_p95']:.0f} ms, "
            f"max {run['lag_max']:.0f} ms"
        )
        print(f"    MB by process: {run['by_type_before']} -> at the peak {run['by_type_peak']}")
    print(
        f"  resume, all stored: summary after {again['elapsed']:.1f} s "
        f"(already stored {again['duplicates']}, sent {again['sent']}); hashing in the page "
        f"{hash_mbs:.1f} MB/s = {hash_mbs / alone_mbs:.2f}x Web Crypto on its own"
    )

    if args.fallback:
        # A field server on plain HTTP: Chromium resolves the name to loopback.
        fallback_paths = paths[: args.fallback]
        insecure = f"http://{INSECURE_HOST}:{PORT}"
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        context.add_init_script(LAG_PROBE)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        login(page, insecure, "bench-ranger")
        assert page.evaluate("Boolean(window.crypto.subtle)") is False, "not an insecure context"
        choose(page, insecure, deployment_id, fallback_paths)
        plain = run_page(page, cdp, args.timeout)
        context.close()
        plain_mbs = plain["hashed_bytes"] / 2**20 / (plain["hashing_ms"] / 1000)
        print(
            f"  resume over plain HTTP ({len(fallback_paths)} files, hash-wasm in the worker): "
            f"summary after {plain['elapsed']:.1f} s, hashing {plain_mbs:.1f} MB/s = "
            f"{plain_mbs / alone_mbs:.2f}x Web Crypto; event-loop lag p95 "
            f"{plain['lag_p95']:.0f} ms, max {plain['lag_max']:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=10_000, help="small JPEGs (640x480)")
    parser.add_argument("--large", type=int, default=300, help="JPEGs of 12 megapixels")
    parser.add_argument(
        "--fallback", type=int, default=1000, help="files resumed over plain HTTP (0: none)"
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--screenshots", default="/tmp")
    args = parser.parse_args()

    small = make_card(CACHE / "small", args.photos, (640, 480), 75, 8) if args.photos else []
    large = make_card(CACHE / "large", args.large, (4000, 3000), 90, 24) if args.large else []

    os.environ["ALLOWED_HOSTS"] = f"127.0.0.1,localhost,{INSECURE_HOST}"
    tmp, env = fresh_stack(DB_NAME, REDIS, "upload-bench-")
    from django.core.management import call_command

    from accounts.roles import Role, roles_ensure
    from tests.factories import DeploymentFactory, ParkFactory, UserFactory
    from traps.models import Photo

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    roles_ensure()
    park = ParkFactory(code="bench")
    UserFactory(username="bench-ranger", role=Role.RANGER, parks=[park], password=PASSWORD)
    deployments = [
        DeploymentFactory(
            station__park=park,
            camera_serial="CAM41146",
            start=datetime(2024, 1, 1, tzinfo=park.tzinfo),
            end=None,
        )
        for _ in range(2)
    ]

    log = (tmp / "server.log").open("wb")
    web = start_web(env, log, PORT, "--workers", str(args.web_workers), "--threads", "2")
    from playwright.sync_api import sync_playwright

    try:
        base = f"http://127.0.0.1:{PORT}"
        wait_http(base + "/accounts/login/")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
                ],
            )
            if small:
                bench_card(browser, base, deployments[0].pk, small, "small", args)
            if large:
                args.fallback = min(args.fallback, 30)
                bench_card(browser, base, deployments[1].pk, large, "12MP", args)
            browser.close()
        stored = Photo.objects.count()
        print(f"\nphotos in the registry: {stored} (expected {len(small) + len(large)})")
    finally:
        stop([web], DB_NAME)


if __name__ == "__main__":
    main()
