"""Resident memory of a Celery worker with and without the learned stages, on a built demo.

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... python bench/worker_memory.py

The database must hold the demo (manage.py seed_demo). For each setting (the defaults:
the shortlist's DISK voice, MATCH_FIRST_STAGE_DISK_WEIGHT=1, and the re-rank,
MATCH_RERANK_TOP_K=3; the re-rank alone; neither), a worker process (solo pool, like one process of
bin/run's worker) is started on a queue of its own; its RSS is read from /proc when it
is ready, then after each query it ranks: the demo's boxes waiting for review, whose
learned features are cleared first, so that the first query loads the networks and
describes its box and its references as on a new machine. Prints RSS and peak (VmHWM).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from config.celery import app  # noqa: E402
from leopards.models import Sighting  # noqa: E402
from tests.integration.conftest import start_worker  # noqa: E402

QUERIES = 3


def memory(pid: int) -> tuple[float, float]:
    """Return (RSS, peak RSS) of a process in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


SETTINGS = [(3, 1.0), (3, 0.0), (0, 0.0)]  # (MATCH_RERANK_TOP_K, the DISK voice's weight)


def measure(top_k: int, weight: float, queries: list[int]) -> list[tuple[str, float, float, float]]:
    queue = f"bench-memory-{uuid.uuid4().hex[:8]}"
    log = Path(f"/tmp/{queue}.log")
    env = {
        **os.environ,
        # Set both, whatever this process was given: the test suite's settings, which
        # importing its worker helper brings in, turn both off.
        "MATCH_RERANK_TOP_K": str(top_k),
        "MATCH_FIRST_STAGE_DISK_WEIGHT": str(weight),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "OMP_NUM_THREADS": "1",
    }
    process = start_worker(env, queue, log)
    rows = []
    try:
        while "ready." not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise SystemExit(log.read_text())
            time.sleep(0.2)
        rows.append(("ready", *memory(process.pid), 0.0))
        Sighting.objects.filter(pk__in=queries).update(learned_features=None, learned_model="")
        for number, pk in enumerate(queries, start=1):
            before = Sighting.objects.get(pk=pk).matched_at
            started = time.perf_counter()
            app.send_task("leopards.tasks.sighting_match", kwargs={"sighting_id": pk}, queue=queue)
            while Sighting.objects.get(pk=pk).matched_at == before:
                time.sleep(0.2)
            rows.append(
                (f"after query {number}", *memory(process.pid), time.perf_counter() - started)
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.unlink(missing_ok=True)
    return rows


def main() -> None:
    queries = list(
        Sighting.objects.filter(
            status=Sighting.Status.PROPOSED, feature_status=Sighting.FeatureStatus.READY
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:QUERIES]
    )
    if not queries:
        raise SystemExit("No sighting waits for review: run manage.py seed_demo first.")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(
        f"{'MATCH_RERANK_TOP_K':>18} {'DISK voice':>10} {'moment':>14} {'RSS MB':>8} "
        f"{'peak MB':>8} {'wall s':>7}"
    )
    for top_k, weight in SETTINGS:
        for moment, rss, peak, seconds in measure(top_k, weight, queries):
            print(f"{top_k:>18} {weight:>10g} {moment:>14} {rss:8.0f} {peak:8.0f} {seconds:7.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
