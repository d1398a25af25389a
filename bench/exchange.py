"""Camtrap DP import and export of a generated package: time, peak memory, rows per second.

Writes a package of N media (files on the web, as a partner's large package usually
is) with 1.5 observations per media (one media-level record each, one event-level
record per event of two media), in a temporary folder, for each size asked, and in a
fresh child process for each step measures wall time and peak resident memory of:

- the baseline: reading the package's three tables with the csv module alone;
- the import (validation with frictionless, then every row into the registry);
- the export of the same park back into a package;
- the import again with the validation skipped (import-write), for the memory of
  the writing alone.

Peak memory is the child's ru_maxrss (the true peak of the process); a sampler
thread also reads the resident size every 10 ms, so that the import's peak is split
into its validation and its writing. Every step counts its database queries. Before
the sizes, a package of --sample media is imported and exported with every query
captured.

With --baseline-ref, the validation, the importer and the exporter of that commit
(read with git show, run against today's models) are measured in the same run, at the sizes of
--baseline-media, so that every figure has its baseline beside it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_exchange_bench \\
        python bench/exchange.py --media 10000 30000 100000 [--sample 200] \\
        [--baseline-ref COMMIT --baseline-media 2000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/registry_exchange_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

SCHEMA = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2"
MEDIA_PER_DEPLOYMENT = 1_000
PARK = "xbench"


def generate(folder: Path, media: int) -> dict[str, int]:
    """Write a valid Camtrap DP 1.0.2 package of `media` media rows into folder."""
    folder.mkdir(parents=True)
    deployments = max(1, media // MEDIA_PER_DEPLOYMENT)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    descriptor = {
        "profile": f"{SCHEMA}/camtrap-dp-profile.json",
        "name": "exchange-bench",
        "created": "2026-12-01T00:00:00Z",
        "contributors": [{"title": "Bench partner", "role": "rightsHolder"}],
        "project": {
            "title": "Bench survey",
            "samplingDesign": "systematicRandom",
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media", "event"],
        },
        "spatial": {"type": "Point", "coordinates": [131.0, 43.0]},
        "temporal": {"start": "2024-01-01", "end": "2024-12-31"},
        "taxonomic": [{"scientificName": "Sus scrofa"}, {"scientificName": "Capreolus pygargus"}],
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": f"{SCHEMA}/{name}-table-schema.json",
            }
            for name in ("deployments", "media", "observations")
        ],
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    with open(folder / "deployments.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "deploymentID",
                "locationID",
                "latitude",
                "longitude",
                "deploymentStart",
                "deploymentEnd",
                "cameraID",
                "deploymentGroups",
            ]
        )
        for d in range(deployments):
            out.writerow(
                [
                    f"dep{d}",
                    f"LOC-{d:04d}",
                    f"{43 + d * 0.001:.6f}",
                    f"{131 + d * 0.001:.6f}",
                    start.isoformat(),
                    (start + timedelta(days=365)).isoformat(),
                    f"CAM{d}",
                    f"park:{PARK}",
                ]
            )
    observations = 0
    with (
        open(folder / "media.csv", "w", newline="") as media_fh,
        open(folder / "observations.csv", "w", newline="") as obs_fh,
    ):
        media_out, obs_out = csv.writer(media_fh), csv.writer(obs_fh)
        media_out.writerow(
            [
                "mediaID",
                "deploymentID",
                "captureMethod",
                "timestamp",
                "filePath",
                "filePublic",
                "fileName",
                "fileMediatype",
            ]
        )
        obs_out.writerow(
            [
                "observationID",
                "deploymentID",
                "mediaID",
                "eventID",
                "eventStart",
                "eventEnd",
                "observationLevel",
                "observationType",
                "scientificName",
                "count",
                "bboxX",
                "bboxY",
                "bboxWidth",
                "bboxHeight",
                "classificationMethod",
                "classificationProbability",
            ]
        )
        for m in range(media):
            deployment = f"dep{m % deployments}"
            # Two media per event, events an hour apart within each deployment.
            n = m // deployments
            at = start + timedelta(hours=n // 2, seconds=(n % 2) * 5)
            event = f"ev{m % deployments}-{n // 2}"
            media_out.writerow(
                [
                    f"m{m}",
                    deployment,
                    "activityDetection",
                    at.isoformat(),
                    f"https://example.org/media/m{m}.jpg",
                    "true",
                    f"m{m}.jpg",
                    "image/jpeg",
                ]
            )
            species = "Sus scrofa" if m % 3 else "Capreolus pygargus"
            obs_out.writerow(
                [
                    f"o{m}",
                    deployment,
                    f"m{m}",
                    event,
                    at.isoformat(),
                    at.isoformat(),
                    "media",
                    "animal",
                    species,
                    1,
                    "0.1",
                    "0.2",
                    "0.3",
                    "0.4",
                    "machine",
                    "0.9",
                ]
            )
            observations += 1
            if n % 2 == 1:
                first = at - timedelta(seconds=5)
                obs_out.writerow(
                    [
                        f"e{m}",
                        deployment,
                        "",
                        event,
                        first.isoformat(),
                        at.isoformat(),
                        "event",
                        "animal",
                        species,
                        1,
                        "",
                        "",
                        "",
                        "",
                        "human",
                        "",
                    ]
                )
                observations += 1
    return {"deployments": deployments, "media": media, "observations": observations}


def _setup_django() -> None:
    import django

    django.setup()


def _reset_park() -> None:
    from django.db import connection

    from traps.models import Park

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE traps_park CASCADE")
    Park.objects.create(
        code=PARK, name="Exchange bench", country="RU", area_km2=2800, time_zone="Asia/Vladivostok"
    )


class _Sampler:
    """Read the process's resident size every 10 ms and keep the peak of each phase."""

    def __init__(self) -> None:
        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        with open("/proc/self/statm") as fh:
            resident = int(fh.read().split()[1]) * self._page / 2**20
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), resident)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self._sample()

    def enter(self, phase: str) -> None:
        self._sample()
        self.phase = phase

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peaks


def _load_from_commit(ref: str, module: str) -> None:
    """Put the module as it was at a commit in place of today's, before anything imports it."""
    path = module.replace(".", "/") + ".py"
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = types.ModuleType(module)
    loaded.__file__ = str(ROOT / path)
    sys.modules[module] = loaded
    exec(compile(source, f"{ref}:{path}", "exec"), loaded.__dict__)


def child(step: str, package: Path, out: Path | None, ref: str | None = None) -> dict:
    """Run one step in this process and return its figures."""
    sampler = _Sampler()
    started = time.perf_counter()
    rows = 0
    queries = None
    if step == "csv":
        for name in ("deployments", "media", "observations"):
            with open(package / f"{name}.csv", newline="") as fh:
                # Read into lists, as the importer did before it wrote.
                rows += len(list(csv.DictReader(fh)))
    else:
        _setup_django()
        if ref is not None:
            _load_from_commit(ref, "exchange.camtrap_dp.validation")
            _load_from_commit(ref, "exchange.camtrap_dp.importer")
            _load_from_commit(ref, "exchange.camtrap_dp.export")
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from exchange.camtrap_dp import importer
        from exchange.camtrap_dp.export import package_write
        from traps.models import Park

        capture = CaptureQueriesContext(connection) if step.endswith("-queries") else None
        counted = [0]

        def count(execute, sql, params, many, context):
            # A counter, not a log: a log of 100,000 rows' inserts would be the peak.
            counted[0] += 1
            return execute(sql, params, many, context)

        counting = connection.execute_wrapper(count)
        counting.__enter__()
        if step.startswith("import"):
            _reset_park()
            counted[0] = 0
            checked = importer.package_problems

            def package_problems(*args, **kwargs):
                if step == "import-write":
                    # The generated package is valid: this measures the writing alone,
                    # in a process that frictionless's validation has not grown.
                    sampler.enter("write")
                    return []
                sampler.enter("validate")
                try:
                    return checked(*args, **kwargs)
                finally:
                    sampler.enter("write")

            importer.package_problems = package_problems
            started = time.perf_counter()
            if capture is not None:
                capture.__enter__()
            importer.package_import(path=package, park=Park.objects.get(code=PARK))
            rows = _table_rows(package)
        else:
            sampler.enter("write")
            started = time.perf_counter()
            if capture is not None:
                capture.__enter__()
            package_write(out_dir=out, parks=[Park.objects.get(code=PARK)])
            rows = _table_rows(out)
        seconds = time.perf_counter() - started
        counting.__exit__(None, None, None)
        queries = counted[0]
        if capture is not None:
            capture.__exit__(None, None, None)
            queries = len(capture.captured_queries)
    if step == "csv":
        seconds = time.perf_counter() - started
    peaks = sampler.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "step": step + (" (before)" if ref else ""),
        "seconds": seconds,
        "rows": rows,
        "peak_mb": peak_mb,
        "validate_mb": peaks.get("validate"),
        "write_mb": peaks.get("write"),
        "queries": queries,
    }


def _table_rows(package: Path) -> int:
    total = 0
    for name in ("deployments", "media", "observations"):
        with open(package / f"{name}.csv", "rb") as fh:
            total += sum(1 for _ in fh) - 1
    return total


def run_child(step: str, package: Path, out: Path | None = None, ref: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", step, "--package", str(package)]
    if out is not None:
        command += ["--out", str(out)]
    if ref is not None:
        command += ["--ref", ref]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"{step} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _queries_line(label: str, sample: dict, package: Path, work: Path, ref: str | None) -> None:
    imported = run_child("import-queries", package, ref=ref)
    exported = run_child("export-queries", package, work / f"sample-out-{label}", ref=ref)
    shutil.rmtree(work / f"sample-out-{label}", ignore_errors=True)
    rows = sample["media"] + sample["observations"]
    print(
        f"{label}: queries per media+observation row: import {imported['queries'] / rows:.2f} "
        f"({imported['queries']} for {rows}), export {exported['queries'] / rows:.3f} "
        f"({exported['queries']})",
        flush=True,
    )


def _show(media: int, observations: int, csv_seconds: float, figures: dict) -> None:
    rate = figures["rows"] / figures["seconds"] if figures["seconds"] else 0
    ratio = figures["seconds"] / csv_seconds
    split = (
        f"{_mb(figures['validate_mb'])} / {_mb(figures['write_mb'])}"
        if figures["validate_mb"]
        else _mb(figures["write_mb"])
    )
    per_row = (
        f"{figures['queries'] / figures['rows']:.3f}" if figures["queries"] is not None else ""
    )
    print(
        f"| {media:,} | {observations:,} | {figures['step']} | {figures['seconds']:.1f} | "
        f"{rate:,.0f} | {per_row} | {figures['peak_mb']:.0f} | {split} | {ratio:,.0f} |",
        flush=True,
    )


def _mb(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--sample", type=int, default=200, help="media in the query count")
    parser.add_argument("--baseline-ref", help="commit whose importer and exporter to compare")
    parser.add_argument("--baseline-media", type=int, nargs="*", default=[2_000])
    parser.add_argument("--child")
    parser.add_argument("--package", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--ref")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.package, args.out, args.ref)))
        return

    # The machine is shared: the bench yields to interactive work (children inherit it).
    os.nice(10)
    from bench.census import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load = os.getloadavg()[0]
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load:.1f}, {os.cpu_count()} cores",
        flush=True,
    )
    ref = args.baseline_ref
    work = Path(tempfile.mkdtemp(prefix="exchange-bench-"))
    try:
        sample = generate(work / "sample", args.sample)
        if ref:
            _queries_line(f"before ({ref[:10]})", sample, work / "sample", work, ref)
        _queries_line("now", sample, work / "sample", work, None)
        print(
            "| media | observations | step | seconds | rows/s | queries per row | peak MB | "
            "validation / writing MB | ratio to csv |"
        )
        print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        sizes = sorted(set(args.media) | (set(args.baseline_media) if ref else set()))
        for media in sizes:
            package = work / f"p{media}"
            counts = generate(package, media)
            baseline = run_child("csv", package)

            def show(figures: dict, media=media, counts=counts, baseline=baseline) -> None:
                _show(media, counts["observations"], baseline["seconds"], figures)

            show(baseline)
            # Each step is printed when it ends: a long run stopped half way keeps its figures.
            if ref and media in args.baseline_media:
                show(run_child("import", package, ref=ref))
                show(run_child("export", package, work / f"old-out{media}", ref=ref))
                shutil.rmtree(work / f"old-out{media}", ignore_errors=True)
            if media in args.media:
                show(run_child("import", package))
                show(run_child("export", package, work / f"out{media}"))
                shutil.rmtree(work / f"out{media}", ignore_errors=True)
                show(run_child("import-write", package))
            shutil.rmtree(package)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
