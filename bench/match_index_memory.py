"""Measure the process peak of a match index build, and of a worker that loads it.

    python bench/match_index_memory.py --sizes 10000 50000 --spill --out /tmp/s --keep
    MATCH_BENCH_ROOT=/path/to/main/checkout python bench/match_index_memory.py \
        --sizes 10000 50000 --out /tmp/m --keep
    python bench/match_index_memory.py --compare \
        /tmp/m/index-50000-held.npz /tmp/s/index-50000-spill.npz

Memory depends on how many descriptors the index holds, not on what they look like, so
the references here are random descriptors, DESCRIPTORS_PER_BOX a box (the mean of the
rendered boxes of bench/matching.py), drawn from a generator seeded by the reference
number: the build reads them twice without holding them, and two builds of the same size
index the same vectors. Nothing else is held before the build, unlike bench/matching.py,
whose builds also hold the rendered boxes. Query times and neighbours of random
descriptors mean nothing for accuracy; they only compare two indexes of the same vectors.

MATCH_BENCH_ROOT picks the checkout whose MatchIndex is measured (the baseline of a
change is the same script run against the main branch). With --spill the build writes
its file as it goes (MatchIndex.build_file); without it the build is held in
memory and saved afterwards, as before builds could spill. Each build and each load runs
in a process of its own (spawned); the figures are that process's VmHWM and its CPU
seconds (user + system), which other jobs on the machine disturb less than wall time.
--compare loads files of the same references with this checkout's MatchIndex and times
the same searches on each in turn, one core, counting the query descriptors that got the
same neighbours from all of them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

ROOT = Path(os.environ.get("MATCH_BENCH_ROOT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from leopards.matching.features import Features  # noqa: E402
from leopards.matching.index import MatchIndex  # noqa: E402

DESCRIPTORS_PER_BOX = 465
FLANKS = ("left", "right")
REFS_PER_FLANK = 5
T = TypeVar("T")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _features(ref: int) -> Features:
    rng = np.random.default_rng(ref)
    descriptors = rng.integers(0, 256, (DESCRIPTORS_PER_BOX, 128), dtype=np.uint8)
    keypoints = rng.random((DESCRIPTORS_PER_BOX, 4), dtype=np.float32) * 1000
    return Features(keypoints=keypoints, descriptors=descriptors)


def _records(size: int) -> Iterator[tuple[int, str, str, Features]]:
    for ref in range(size):
        flank = FLANKS[(ref // REFS_PER_FLANK) % 2]
        yield ref, f"ind{ref // (2 * REFS_PER_FLANK)}", flank, _features(ref)


def build(size: int, out: Path, spill: bool) -> dict[str, float]:
    """Build an index of size random references into out; report its time and memory."""
    import faiss

    faiss.omp_set_num_threads(2)
    before = _status_mb("VmRSS")
    started, cpu = time.perf_counter(), _cpu_s()
    if spill:
        MatchIndex.build_file(out, lambda: _records(size))
        build_peak = _status_mb("VmHWM")
        save_peak = build_peak
    else:
        index = MatchIndex.build(lambda: _records(size))
        build_peak = _status_mb("VmHWM")
        index.save(out)
        save_peak = _status_mb("VmHWM")
    return {
        "references": size,
        "build_s": time.perf_counter() - started,
        "build_cpu_s": _cpu_s() - cpu,
        "rss_before_mb": before,
        "build_peak_mb": build_peak,
        "process_peak_mb": save_peak,
        "file_mb": out.stat().st_size / 2**20,
    }


def load(path: Path) -> dict[str, object]:
    """Load a saved index as a worker does; report its memory."""
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    index = MatchIndex.load(path)
    return {
        "load_s": time.perf_counter() - started,
        "rss_before_mb": before,
        "worker_rss_mb": _status_mb("VmRSS"),
        "worker_peak_mb": _status_mb("VmHWM"),
        "descriptors": index.descriptor_count,
        "shards": {
            name: len(getattr(catalogue, "shards", [catalogue.index]))
            for name, catalogue in index._catalogues.items()
        },
    }


def compare(paths: list[Path], queries: int, k: int = 5) -> dict[str, object]:
    """Time the same searches on each file, one core, taking the files in turn.

    Also counts the query descriptors whose k nearest distances and reference rows are
    the same in every file (two neighbours at the same distance may come in either order).
    """
    import faiss

    faiss.omp_set_num_threads(1)
    indexes = [MatchIndex.load(p) for p in paths]
    rng = np.random.default_rng(12345)
    times: list[list[float]] = [[] for _ in paths]
    rows = same_distances = same_rows = 0
    for q in range(queries):
        vectors = rng.integers(0, 256, (DESCRIPTORS_PER_BOX, 128)).astype(np.float32) / 510.0
        flank = FLANKS[q % 2]
        found = {}
        order = range(len(indexes)) if q % 2 == 0 else reversed(range(len(indexes)))
        for i in order:
            t0 = time.perf_counter()
            found[i] = indexes[i].search(vectors, flank, k)
            times[i].append(time.perf_counter() - t0)
        rows += len(vectors)
        first = found[0]
        equal_d = np.ones(len(vectors), bool)
        equal_r = np.ones(len(vectors), bool)
        for i in range(1, len(indexes)):
            equal_d &= (found[i].distances == first.distances).all(axis=1)
            equal_r &= (found[i].reference_rows == first.reference_rows).all(axis=1)
        same_distances += int(equal_d.sum())
        same_rows += int(equal_r.sum())
    return {
        "query_median_s": [statistics.median(t) for t in times],
        "query_descriptors": rows,
        "same_distances": same_distances,
        "same_rows": same_rows,
    }


def _spawned(function: Callable[..., T], *args: object) -> T:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "match-index-memory")
    parser.add_argument("--spill", action="store_true", help="build with MatchIndex.build_file")
    parser.add_argument("--keep", action="store_true", help="keep the index files")
    parser.add_argument("--compare", type=Path, nargs="+", help="only time searches on files")
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    if args.compare:
        print(json.dumps(_spawned(compare, args.compare, args.queries)), flush=True)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "spill" if args.spill else "held"
    for size in args.sizes:
        path = args.out / f"index-{size}-{tag}.npz"
        load_average = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        built = _spawned(build, size, path, args.spill)
        loaded = _spawned(load, path)
        print(
            json.dumps(
                {"root": str(ROOT), "mode": tag, "load_average": load_average} | built | loaded
            ),
            flush=True,
        )
        if not args.keep:
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
