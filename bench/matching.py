"""Benchmark the spot-pattern matcher: index size, query time, memory, accuracy.

    python bench/matching.py            # 1k, 10k and 50k references
    python bench/matching.py --quick    # 1k and 10k, a smaller accuracy set
    python bench/matching.py --sizes 1000 50000 --skip-accuracy

Catalogues are made of real features from rendered synthetic photos. Past the few
thousand rendered boxes, references re-use those features with perturbed descriptors
(+-3 per uint8 component) and jittered keypoints, so descriptor counts per box stay
realistic while rendering 50,000 photos is avoided. Queries are fresh renders of
rendered catalogue individuals. A distractor reference is made of random halves of two
rendered boxes, each turned by one of the seven rotations and mirror images of a SIFT
patch (the descriptor of the same fur rotated by 90 degrees or mirrored), then
perturbed: fur that looks like a leopard's, but not a copy of any catalogued coat.
Real catalogues hold no copies; near-copies of the rendered boxes in every distractor
made the neighbours of a query mostly copies of itself and decided rank-1 at 50,000.
Each size is built in a fresh process, with the registry's own MatchIndex.build, and the
figures are that process's peak resident set (VmHWM, reset between the build and the
save), not the RSS after it; the index is then also saved the way it was before saves
streamed, as the baseline of the peak; then
each size is loaded in a fresh process for a clean RSS figure; then one process loads every
size and times them query by query in turn, which gives the ratio between sizes.
Queries run on one core (faiss and OpenCV limited to one thread); the index build may
use both cores.

Rendered boxes and the accuracy photos depend only on the seeds and on the code that
renders and describes them, so they are cached in bench/out/matching-cache/ under a
hash of that code and reused by the next run (--no-cache renders afresh). Index builds
and queries are never cached.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leopards.matching.features import Features, extract_features
from leopards.matching.index import MatchIndex
from leopards.matching.scoring import rank
from leopards.synthetic import FLANKS, render_photo

REFS_PER_INDIVIDUAL = 5
NPROBES = [16, 8]
ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / "bench" / "out" / "matching-cache"
# The code whose output is cached: a change to any of it renders afresh.
CACHED_CODE = ["leopards/synthetic/coats.py", "leopards/matching/features.py"]


def _cache_key(*params: object, code: list[str] = CACHED_CODE) -> str:
    """Return a key for cached output of the current code (files) with these parameters."""
    digest = hashlib.sha256(repr(params).encode())
    for name in code:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def _rss_mb() -> float:
    """Return the resident set size of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    """Return the largest resident set size of this process since exec or the last reset, in MB.

    VmHWM, not ru_maxrss: a spawned process's ru_maxrss keeps the RSS of the bench process
    it was forked from before exec (1.2 GB here), which hid the builds of 1k and 10k.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Start this process's VmHWM again from its current RSS; return whether Linux allowed it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _save_in_memory(index: MatchIndex, path: Path) -> None:
    """Save as MatchIndex.save did before it streamed: each faiss index as one blob in memory.

    Kept as the baseline of the save's peak; the file is the same.
    """
    import faiss

    live = np.array(sorted(index._row_of.values()), dtype=np.int64)
    points = [index._ref_points[r] for r in live]
    arrays = {
        "points": np.concatenate(points),
        **{f"faiss_{n}": faiss.serialize_index(c.index) for n, c in index._catalogues.items()},
    }
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def _render_box(job: tuple[int, str, int]) -> bytes:
    individual, flank, photo = job
    shot = render_photo(individual, flank, photo)
    return extract_features(shot.image, shot.bbox).to_bytes()


def render_boxes(jobs: list[tuple[int, str, int]]) -> list[Features]:
    """Render and extract (individual, flank, photo) boxes on both cores."""
    with mp.get_context("spawn").Pool(2) as pool:
        return [Features.from_bytes(b) for b in pool.map(_render_box, jobs, chunksize=8)]


def _perturbed(features: Features, rng: np.random.Generator) -> Features:
    # int8 noise: drawing 23 million x 128 int64 values took minutes of the 50k build.
    noise = rng.integers(-3, 4, features.descriptors.shape, dtype=np.int8)
    descriptors = np.clip(features.descriptors.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    keypoints = features.keypoints.copy()
    keypoints[:, :2] += rng.normal(0, 2, (len(keypoints), 2)).astype(np.float32)
    return Features(keypoints=keypoints, descriptors=descriptors)


def _turned(descriptors: np.ndarray, turn: int) -> np.ndarray:
    """Return SIFT descriptors of the same patches rotated by turn x 90 degrees (4-7: mirrored).

    A descriptor is 4 x 4 cells x 8 orientation bins; rotating the patch rotates the cells
    and shifts the bins by two, and mirroring flips the columns and reflects the bins.
    """
    cells = descriptors.reshape(-1, 4, 4, 8)
    if turn >= 4:
        cells = cells[:, :, ::-1, :][..., (4 - np.arange(8)) % 8]
    cells = np.roll(np.rot90(cells, turn % 4, axes=(1, 2)), 2 * (turn % 4), axis=3)
    return np.ascontiguousarray(cells.reshape(-1, 128))


def _halves(a: Features, b: Features, rng: np.random.Generator) -> Features:
    pick_a = rng.random(len(a)) < 0.5
    pick_b = rng.random(len(b)) < 0.5
    turn_a, turn_b = rng.integers(1, 8, 2)
    return Features(
        keypoints=np.concatenate([a.keypoints[pick_a], b.keypoints[pick_b]]),
        descriptors=np.concatenate(
            [_turned(a.descriptors[pick_a], turn_a), _turned(b.descriptors[pick_b], turn_b)]
        ),
    )


def _records(base: list[Features], size: int, start: int, stop: int, base_individuals: int):
    """Yield catalogue records start..stop of a catalogue of `size` references."""
    rng = np.random.default_rng(start)
    per_individual = len(base) // base_individuals  # both flanks x photos
    for ref in range(start, stop):
        individual = ref // (2 * REFS_PER_INDIVIDUAL)
        slot = ref % (2 * REFS_PER_INDIVIDUAL)
        flank = FLANKS[slot // REFS_PER_INDIVIDUAL]
        photo = slot % REFS_PER_INDIVIDUAL
        if individual < base_individuals:
            index = individual * per_individual + FLANKS.index(flank) * REFS_PER_INDIVIDUAL
            features = base[index + photo]
        else:
            # Individuals past the rendered ones are distractors: half the keypoints of
            # two random rendered boxes, turned and perturbed, so that no coat is copied.
            a, b = (base[int(i)] for i in rng.integers(0, len(base), 2))
            features = _perturbed(_halves(a, b, rng), rng)
        yield ref, f"ind{individual}", flank, features


def _one_core() -> None:
    """Limit faiss and OpenCV in this process to one thread, as a query is timed."""
    import cv2
    import faiss

    faiss.omp_set_num_threads(1)
    cv2.setNumThreads(1)


def _queries(base_file: Path) -> tuple[list[Features], np.ndarray]:
    """Return the query boxes and their (individual, flank code) rows."""
    with np.load(base_file, allow_pickle=False) as archive:
        count = int(archive["nq"])
        queries = [Features.from_bytes(archive[f"q{i}"].tobytes()) for i in range(count)]
        return queries, archive["qmeta"]


def build_size(size: int, base_file: Path, base_individuals: int, out: Path) -> dict[str, float]:
    """Build a catalogue of `size` references, save it, and report time and memory."""
    import faiss

    with np.load(base_file, allow_pickle=False) as archive:
        base = [Features.from_bytes(archive[f"b{i}"].tobytes()) for i in range(int(archive["n"]))]
    rss_before = _rss_mb()
    faiss.omp_set_num_threads(2)
    reset = _reset_peak()
    started = time.perf_counter()
    # The registry's rebuild path: records read twice (a bounded training sample, then
    # the adds in chunks), as catalogue.build_from_entries reads them from the database.
    index = MatchIndex.build(lambda: _records(base, size, 0, size, base_individuals))
    build_s = time.perf_counter() - started
    build_peak = _peak_rss_mb()
    rss_built = _rss_mb()
    _reset_peak()
    started = time.perf_counter()
    index.save(out)
    save_s = time.perf_counter() - started
    save_peak = _peak_rss_mb()
    # The same index saved the way it was before, in the same process: the baseline.
    _reset_peak()
    old_file = out.with_name(out.name + ".in-memory.npz")
    _save_in_memory(index, old_file)
    old_save_peak = _peak_rss_mb()
    old_file.unlink()
    return {
        "references": size,
        "descriptors": index.descriptor_count,
        "build_s": build_s,
        "save_s": save_s,
        "rss_before_mb": rss_before,
        "rss_built_mb": rss_built,
        "peak_reset": reset,
        "build_peak_mb": build_peak,
        "save_peak_mb": save_peak,
        "old_save_peak_mb": old_save_peak,
        # The process's true peak: the build's or the save's, whichever is higher.
        "peak_mb": max(build_peak, save_peak),
        "old_peak_mb": max(build_peak, old_save_peak),
        "file_mb": out.stat().st_size / 2**20,
    }


def query_size(index_file: Path, base_file: Path, nprobes: list[int]) -> list[dict[str, float]]:
    """Load a saved catalogue as a worker would and time queries on one core."""
    _one_core()
    queries, query_meta = _queries(base_file)
    rss_before = _rss_mb()
    started = time.perf_counter()
    index = MatchIndex.load(index_file)
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mb()
    # This process was spawned for the queries: its VmHWM is the worker's peak so far.
    load_peak = _peak_rss_mb()
    results = []
    for nprobe in nprobes:
        index.set_nprobe(nprobe)
        times, hits = [], 0
        for features, (individual, flank_code) in zip(queries, query_meta, strict=True):
            t0 = time.perf_counter()
            candidates = rank(index, features, FLANKS[int(flank_code)])
            times.append(time.perf_counter() - t0)
            hits += bool(candidates) and candidates[0].individual_id == f"ind{int(individual)}"
        results.append(
            {
                "nprobe": nprobe,
                "load_s": load_s,
                "rss_mb": rss_loaded,
                "load_peak_mb": load_peak,
                "index_rss_mb": rss_loaded - rss_before,
                "query_median_s": statistics.median(times),
                "query_p95_s": float(np.percentile(times, 95)),
                "query_rank1": hits / len(queries),
            }
        )
    return results


def interleaved(
    index_files: dict[int, Path], base_file: Path, nprobes: list[int], rounds: int = 2
) -> dict[int, dict[int, float]]:
    """Time every size in one process, query by query in turn; return medians per nprobe.

    On a shared machine the speed of the cores and of memory drifts by tens of percent
    within minutes, so sizes timed one after the other in separate processes compare
    badly. Taking the sizes in turn for each query exposes them to the same drift, and
    alternating the order cancels what one leaves in the cache for the next.
    """
    _one_core()
    queries, query_meta = _queries(base_file)
    flanks = [FLANKS[int(flank_code)] for _, flank_code in query_meta]
    indexes = {size: MatchIndex.load(path) for size, path in index_files.items()}
    medians: dict[int, dict[int, float]] = {}
    for nprobe in nprobes:
        for index in indexes.values():
            index.set_nprobe(nprobe)
        times: dict[int, list[float]] = {size: [] for size in indexes}
        for turn in range(rounds * len(queries)):
            features, flank = queries[turn % len(queries)], flanks[turn % len(queries)]
            sizes = list(indexes) if turn % 2 == 0 else list(reversed(indexes))
            for size in sizes:
                t0 = time.perf_counter()
                rank(indexes[size], features, flank)
                times[size].append(time.perf_counter() - t0)
        medians[nprobe] = {size: statistics.median(t) for size, t in times.items()}
    return medians


def extraction_cost(tmp: Path) -> dict[str, float]:
    """Time feature extraction for a ~1500x1000 box of a 4000x3000 JPEG."""
    import cv2
    from PIL import Image

    cv2.setNumThreads(1)
    shot = render_photo(5, "left", 0, image_size=(4000, 3000))
    path = tmp / "12mp.jpg"
    Image.fromarray(shot.image).save(path, quality=90)
    x, y, w, h = shot.bbox
    cx, cy = x + w / 2, y + h / 2
    box = (max(0, cx - 750), max(0, cy - 500), 1500, 1000)
    path_times, array_times, decode_times = [], [], []
    for _ in range(5):
        t0 = time.perf_counter()
        features = extract_features(path, box)
        path_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with Image.open(path) as image:
            image.load()
        decode_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        extract_features(shot.image, box)
        array_times.append(time.perf_counter() - t0)
    return {
        "from_jpeg_path_s": statistics.median(path_times),
        "full_decode_only_s": statistics.median(decode_times),
        "from_decoded_array_s": statistics.median(array_times),
        "keypoints": len(features),
        "bytes": len(features.to_bytes()),
    }


def accuracy(folder: Path, individuals: int) -> dict[str, float]:
    """Evaluate leave-one-out identification on a synthetic set, rendered once per code."""
    from leopards.matching.evaluate import evaluate
    from leopards.synthetic import write_dataset

    _one_core()
    labels = folder / "labels.csv"
    render_s = float("nan")
    if not labels.exists():
        started = time.perf_counter()
        partial = write_dataset(
            folder.with_name(folder.name + ".partial"),
            individuals=individuals,
            photos_per_flank=5,
            seed=0,
        )
        partial.parent.rename(folder)
        render_s = (time.perf_counter() - started) / (individuals * 10)
    return {**evaluate(labels), "render_s_per_photo": render_s}


def base_features(cache: Path | None, base_individuals: int) -> tuple[Path, str]:
    """Return a file of rendered catalogue boxes and queries, rendering it when not cached."""
    # Every catalogue size holds the first 100 individuals: query 50 of them with a photo
    # that is not in the catalogue, alternating flanks.
    meta = [(individual, q % 2) for q, individual in enumerate(range(0, 100, 2))]
    key = _cache_key("base", base_individuals, REFS_PER_INDIVIDUAL, meta)
    folder = cache or Path(tempfile.mkdtemp(prefix="matching-bench-"))
    base_file = folder / f"base-{key}.npz"
    if cache and base_file.exists():
        return base_file, "cached"
    t0 = time.perf_counter()
    base = render_boxes(
        [
            (i, flank, p)
            for i in range(base_individuals)
            for flank in FLANKS
            for p in range(REFS_PER_INDIVIDUAL)
        ]
    )
    queries = render_boxes([(i, FLANKS[f], REFS_PER_INDIVIDUAL) for i, f in meta])
    counts = [len(f) for f in base]
    note = (
        f"rendered {len(base)} catalogue boxes and {len(queries)} queries in "
        f"{time.perf_counter() - t0:.0f} s; descriptors per box: mean {np.mean(counts):.0f}, "
        f"median {np.median(counts):.0f}, max {max(counts)}"
    )
    arrays = {f"b{i}": np.frombuffer(f.to_bytes(), np.uint8) for i, f in enumerate(base)}
    arrays |= {f"q{i}": np.frombuffer(f.to_bytes(), np.uint8) for i, f in enumerate(queries)}
    folder.mkdir(parents=True, exist_ok=True)
    partial = base_file.with_name(base_file.name + ".partial.npz")
    np.savez(partial, n=len(base), nq=len(queries), qmeta=np.array(meta), **arrays)
    partial.rename(base_file)
    return base_file, note


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Give the processes spawned inside this block a one-thread numpy BLAS.

    A query finds its IVF lists with a numpy matrix product, and numpy's BLAS reads its
    thread count when it loads, so a spawned process must have it in its environment.
    """
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = before


def _load_average() -> str:
    """Return the machine's 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only, 30 individuals")
    parser.add_argument("--sizes", type=int, nargs="+", help="catalogue sizes to build")
    parser.add_argument("--skip-accuracy", action="store_true", help="no synthetic accuracy")
    parser.add_argument("--no-cache", action="store_true", help="render everything afresh")
    args = parser.parse_args()
    sizes = args.sizes or ([1000, 10_000] if args.quick else [1000, 10_000, 50_000])
    base_individuals = 100 if args.quick else 200
    cache = None if args.no_cache else CACHE_DIR
    # Builds run in spawned processes, which read this when faiss loads OpenMP. Threads
    # that spin at barriers made a two-thread build several times slower than one thread
    # while other jobs held the cores; waiting asleep costs nothing on a quiet machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    started = time.perf_counter()
    print(f"load average at the start: {_load_average()}", flush=True)

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cost = extraction_cost(tmp)
        print("feature extraction, 1500x1000 box of a 4000x3000 JPEG, one core:")
        print(
            f"  from the JPEG path (draft decode + crop + CLAHE + SIFT): "
            f"{cost['from_jpeg_path_s'] * 1000:.0f} ms; full decode alone "
            f"{cost['full_decode_only_s'] * 1000:.0f} ms; from a decoded array "
            f"{cost['from_decoded_array_s'] * 1000:.0f} ms; {cost['keypoints']} keypoints, "
            f"{cost['bytes'] / 1024:.0f} KiB stored",
            flush=True,
        )

        base_file, note = base_features(cache, base_individuals)
        print(f"catalogue boxes: {note} ({base_file.name})", flush=True)

        print(
            "references  descriptors  build(s)  peak / before (MB)  file(MB)  load(s)  "
            "worker peak / RSS(MB)  nprobe  query p50 / p95 (s)  rank-1",
            flush=True,
        )
        index_files: dict[int, Path] = {}
        for size in sizes:
            index_file = tmp / f"index-{size}.npz"
            with mp.get_context("spawn").Pool(1) as pool:
                built = pool.apply(build_size, (size, base_file, base_individuals, index_file))
            with _one_blas_thread(), mp.get_context("spawn").Pool(1) as pool:
                queried = pool.apply(query_size, (index_file, base_file, NPROBES))
            index_files[size] = index_file
            for q in queried:
                print(
                    f"{built['references']:>10,}  {built['descriptors']:>11,}  "
                    f"{built['build_s']:>8.1f}  "
                    f"{built['peak_mb']:>8.0f} / {built['rss_before_mb']:<7.0f}  "
                    f"{built['file_mb']:>8.0f}  {q['load_s']:>7.1f}  "
                    f"{q['load_peak_mb']:>10.0f} / {q['rss_mb']:<9.0f}  "
                    f"{q['nprobe']:>6}  {q['query_median_s']:>9.3f} / {q['query_p95_s']:.3f}    "
                    f"{q['query_rank1']:.2f}",
                    flush=True,
                )
            reset = "" if built["peak_reset"] else " (VmHWM could not be reset: peaks overlap)"
            print(
                f"  memory at {size:,} (VmHWM): build {built['build_peak_mb']:.0f} MB, "
                f"{built['rss_before_mb']:.0f} MB of it the rendered boxes held before, "
                f"{built['rss_built_mb']:.0f} MB after; save {built['save_peak_mb']:.0f} MB, "
                f"saved as before (one blob in memory) {built['old_save_peak_mb']:.0f} MB; "
                f"process peak {built['peak_mb']:.0f} MB against {built['old_peak_mb']:.0f} MB "
                f"= {built['peak_mb'] / built['old_peak_mb']:.2f}x{reset}",
                flush=True,
            )
            print(f"  (load average after {size:,}: {_load_average()})", flush=True)
        if len(sizes) > 1:
            print("query time with the sizes taken in turn, one process, one core:")
            with _one_blas_thread(), mp.get_context("spawn").Pool(1) as pool:
                medians = pool.apply(interleaved, (index_files, base_file, NPROBES))
            for nprobe, by_size in medians.items():
                figures = ", ".join(f"{size:,}: {t:.3f} s" for size, t in by_size.items())
                ratio = by_size[sizes[-1]] / by_size[sizes[0]]
                print(
                    f"  nprobe {nprobe}: p50 {figures}; at {sizes[-1]:,} / at {sizes[0]:,} "
                    f"= {ratio:.2f}x"
                )
        for index_file in index_files.values():
            index_file.unlink()

        if not args.skip_accuracy:
            individuals = 30 if args.quick else 100
            key = _cache_key("accuracy", individuals)
            folder = (cache or tmp) / f"accuracy-{key}"
            acc = accuracy(folder, individuals)
            rendered = (
                "photos cached"
                if np.isnan(acc["render_s_per_photo"])
                else f"render {acc['render_s_per_photo'] * 1000:.0f} ms/photo"
            )
            print(
                f"synthetic accuracy, {individuals} individuals x 2 flanks x 5 photos, "
                f"leave-one-out: rank-1 {acc['rank1']:.3f}, rank-5 {acc['rank5']:.3f}, "
                f"mAP {acc['map']:.3f} ({acc['queries']} queries, median query "
                f"{acc['median_query_s'] * 1000:.0f} ms, index build {acc['index_build_s']:.1f} s, "
                f"{rendered})"
            )
    if cache is None:
        shutil.rmtree(base_file.parent, ignore_errors=True)
    print(f"load average at the end: {_load_average()}")
    print(f"bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
