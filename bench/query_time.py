"""Time whole queries as the registry runs them by default, at 1,000 and 10,000 references.

    python bench/query_time.py [--sizes 1000 10000] [--queries 48]
    SHARED_DATA=/path/to/shared/data QUERY_TIME_CACHE=/path/to/cache python bench/query_time.py

A query is what leopards.services.matching runs for a new box, without the database:
the animal's outline (ISNet where installed, else GrabCut), the box's SIFT features
(inside the outline when ISNet cut it) and its masked DISK features
(extraction.box_features's three steps), SIFT-LNBNN and DISK-LNBNN over a MatchIndex
each, fused with weight 2 (MATCH_FIRST_STAGE_DISK_WEIGHT), the pair check of the first
40 individuals (leopards.matching.verify, MATCH_VERIFY_TOP_N, its descriptors projected
by the shipped leopards.matching.whitening, the RootSIFT voice on the first
verify.DETAIL_TOP_N of its order), then DISK + LightGlue
against one reference of each of the first 2 individuals (MATCH_RERANK_TOP_K, --top-k;
MATCH_RERANK_REFERENCES), their stored features read from bytes as from the database,
and the calibration. One thread for
torch, faiss, OpenCV and BLAS.

The photos are nyala flanks (shared/data/nyala-train, whole photos, no box): 60
individual flanks with at least 3 photos; one photo of each of the first 48 is a query,
the others (at most 5 a flank) are the base references. Their features are extracted
once and cached (bench/out/query-time-cache, or QUERY_TIME_CACHE). A catalogue of N
references repeats the base boxes: copy c of a flank is individual "<id>#c", its SIFT
and DISK index codes perturbed by +-3 (bench/matching.py's _perturbed) past copy 0, so
only the counts are real past the base, which is what time and memory depend on. The
re-rank compares the query with the base box's stored DISK features.

Each size is built and saved once (cached too); a fresh process then loads the two
indexes of each size alone, runs a few queries and reports its peak RSS; a last process
loads every size and times each query against each size in turn, the order alternating.
The nyala photos are small (640 px): the extraction's two steps are also timed on the 22
real camera-trap photos of shared/data/snow-leopard-camtrap, in their boxes.

--baseline K DEPTH WIDTH also runs every query with a re-rank of K and LightGlue's
early stop and point pruning at DEPTH and WIDTH (an earlier setting of the registry,
e.g. 3 0.95 0.99), right before or after the same query with the --top-k and
disk.DEPTH_CONFIDENCE / WIDTH_CONFIDENCE of today, and prints the ratio of the two;
--baseline-cut grabcut cuts the baseline's outline with GrabCut (SIFT then unmasked),
as the registry did before ISNet, against the same indexes. The baseline has no pair
check unless --baseline-verify N; its check projects the descriptors with the shipped
projection as the engine's does, or, with --baseline-whitening none, matches DISK's
own; and has no RootSIFT voice (leopards.matching.detail) unless --baseline-detail N.
--baseline-geometry homography makes the baseline's check count a homography's inliers
(as it did before the affine map), the same MAGSAC++ threshold and iterations.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from matching import (  # noqa: E402
    _cache_key,
    _load_average,
    _one_core,
    _peak_rss_mb,
    _perturbed,
    _rss_mb,
)

from leopards.matching import foreground, verify  # noqa: E402
from leopards.matching.calibration import load_default  # noqa: E402
from leopards.matching.extraction import (  # noqa: E402
    box_features,
    learned_blob,
    sift_features,
)
from leopards.matching.features import Features  # noqa: E402
from leopards.matching.fusion import as_index_features, fuse  # noqa: E402
from leopards.matching.index import MatchIndex  # noqa: E402
from leopards.matching.learned import LearnedFeatures  # noqa: E402
from leopards.matching.rerank import rerank  # noqa: E402
from leopards.matching.scoring import rank  # noqa: E402
from leopards.matching.whitening import DEFAULT_PATH as DEFAULT_WHITENING  # noqa: E402
from leopards.matching.whitening import Whitening  # noqa: E402

# The shared reference data beside the checkout (SHARED_DATA elsewhere), and where the
# extracted features and the built indexes are kept between runs.
SHARED = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
DATA, CAMTRAP = SHARED / "nyala-train", SHARED / "snow-leopard-camtrap"
CACHE = Path(os.environ.get("QUERY_TIME_CACHE", ROOT / "bench" / "out" / "query-time-cache"))
FLANKS_USED, QUERY_FLANKS, MAX_REFS_PER_FLANK = 60, 48, 5
# The registry's defaults (config/settings.py).
CANDIDATES, RERANK_TOP_K, RERANK_REFERENCES, DISK_WEIGHT = 5, 2, 1, 2.0
VERIFY_TOP_N = verify.TOP_N
# The pair check's projection shipped with the code (MATCH_WHITENING_FILE empty).
SHIPPED_WHITENING = Whitening.load(DEFAULT_WHITENING)
EXTRACTION_CODE = [
    "leopards/matching/features.py",
    "leopards/matching/foreground.py",
    "leopards/matching/disk.py",
    "leopards/matching/extraction.py",
]
PARTS = ["outline", "sift", "disk", "first", "check", "pairs"]


def _one_thread() -> None:
    import torch

    _one_core()
    torch.set_num_threads(1)


def _photos() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Return (queries, base references) as (path, individual, side), chosen by a fixed seed."""
    groups: dict[tuple[str, str], list[str]] = {}
    with (DATA / "labels.csv").open() as handle:
        for row in csv.DictReader(handle):
            groups.setdefault((row["individual_id"], row["side"]), []).append(row["path"])
    eligible = sorted(key for key, paths in groups.items() if len(paths) >= 3)
    rng = np.random.default_rng(0)
    chosen = [eligible[i] for i in rng.choice(len(eligible), FLANKS_USED, replace=False)]
    queries, base = [], []
    for number, key in enumerate(chosen):
        paths = sorted(groups[key])
        if number < QUERY_FLANKS:
            queries.append((paths.pop(), *key))
        base += [(path, *key) for path in paths[:MAX_REFS_PER_FLANK]]
    return queries, base


def _key(*params: object) -> str:
    return _cache_key(*params, code=EXTRACTION_CODE)


def base_features(base: list[tuple[str, str, str]]) -> Path:
    """Extract (or find cached) the base references' SIFT and DISK features."""
    path = CACHE / f"base-{_key(base)}.npz"
    if path.exists():
        return path
    _one_thread()
    arrays = {}
    started = time.perf_counter()
    for number, (photo, _individual, _side) in enumerate(base):
        data = (DATA / photo).read_bytes()
        found = box_features(data, None, "disk")
        arrays[f"s{number}"] = np.frombuffer(found.blob, np.uint8)
        arrays[f"d{number}"] = np.frombuffer(found.learned, np.uint8)
    print(f"  extracted {len(base)} base boxes in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **arrays)
    partial.rename(path)
    return path


def _read_base(path: Path, count: int) -> tuple[list[Features], list[bytes]]:
    with np.load(path) as archive:
        sift = [Features.from_bytes(archive[f"s{i}"].tobytes()) for i in range(count)]
        disk = [archive[f"d{i}"].tobytes() for i in range(count)]
    return sift, disk


def build(size: int, base_file: Path, base: list[tuple[str, str, str]]) -> dict[str, Path]:
    """Build and save the SIFT index and its DISK twin of `size` references (cached)."""
    import faiss

    faiss.omp_set_num_threads(2)
    paths = {
        voice: CACHE / f"index-{size}-{voice}-{_key(base, size, voice)}.npz"
        for voice in ("sift", "disk")
    }
    if all(p.exists() for p in paths.values()):
        return paths
    sift, disk_blobs = _read_base(base_file, len(base))
    disk = [as_index_features(LearnedFeatures.from_bytes(b)) for b in disk_blobs]
    for voice, features in (("sift", sift), ("disk", disk)):

        def records(features=features, voice=voice):
            rng = np.random.default_rng(len(voice))
            for ref in range(size):
                copy, number = divmod(ref, len(base))
                _photo, individual, side = base[number]
                found = features[number] if copy == 0 else _perturbed(features[number], rng)
                yield ref, f"{individual}#{copy}", side, found

        started = time.perf_counter()
        index = MatchIndex.build(records)
        index.save(paths[voice])
        print(
            f"  built {voice} index of {size:,} references, "
            f"{index.descriptor_count:,} descriptors, in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return paths


class Query:
    """One whole query of a photo against one pair of indexes, timed by parts."""

    def __init__(self, base_file: Path, base: list[tuple[str, str, str]]) -> None:
        _one_thread()
        _sift, self.blobs = _read_base(base_file, len(base))
        self.base_count = len(base)
        self.calibration = load_default()

    def stored(self, reference_ids: list[int]) -> dict[int, LearnedFeatures]:
        # As services.matching._stored_learned: each reference's stored bytes, read.
        return {
            r: LearnedFeatures.from_bytes(self.blobs[r % self.base_count]) for r in reference_ids
        }

    def run(
        self,
        data: bytes,
        side: str,
        sift_index: MatchIndex,
        disk_index: MatchIndex,
        top_k: int = RERANK_TOP_K,
        cut: str | None = None,
        verify_n: int = VERIFY_TOP_N,
        whitened: bool = True,
        detail_n: int = verify.DETAIL_TOP_N,
    ):
        """Return ({part: (wall, cpu)}, the ranked candidates); cut is the outline's method
        (the engine's by default), verify_n the individuals the pair check re-orders,
        whitened whether it projects the descriptors (the shipped projection) and detail_n
        the first of its order the RootSIFT voice compares too."""
        cut = cut or foreground.method()
        marks = [(time.perf_counter(), time.process_time())]
        mask = foreground.foreground_mask(data, None, cut=cut)
        marks.append((time.perf_counter(), time.process_time()))
        features = sift_features(data, None, cut == foreground.ISNET, mask)
        marks.append((time.perf_counter(), time.process_time()))
        learned = LearnedFeatures.from_bytes(learned_blob(data, None, "disk", mask))
        marks.append((time.perf_counter(), time.process_time()))
        ranked = rank(sift_index, features, side)
        disk_ranked = rank(disk_index, as_index_features(learned), side)
        ranked = fuse(ranked, disk_ranked, DISK_WEIGHT)
        marks.append((time.perf_counter(), time.process_time()))
        head = max(CANDIDATES, top_k, verify_n)
        projection = SHIPPED_WHITENING if whitened else None
        ranked = (
            verify.verify(
                ranked[:head],
                learned,
                self.stored,
                top_n=verify_n,
                whitening=projection,
                detail_top_n=detail_n,
            )
            + ranked[head:]
        )
        marks.append((time.perf_counter(), time.process_time()))
        head = max(CANDIDATES, top_k)
        ranked = (
            rerank(
                ranked[:head],
                learned,
                self.stored,
                top_k=top_k,
                refs_per_individual=RERANK_REFERENCES,
            )
            + ranked[head:]
        )
        self.calibration.assess(ranked)
        marks.append((time.perf_counter(), time.process_time()))
        parts = {
            part: (marks[i + 1][0] - marks[i][0], marks[i + 1][1] - marks[i][1])
            for i, part in enumerate(PARTS)
        }
        return parts, ranked


def _load_pair(paths: dict[str, Path]) -> tuple[MatchIndex, MatchIndex]:
    return MatchIndex.load(paths["sift"]), MatchIndex.load(paths["disk"])


def memory(paths: dict[str, Path], base_file: Path, base, queries, count: int = 5) -> dict:
    """Load one size's two indexes as a worker does, run queries; return RSS figures (MB)."""
    start_rss = _rss_mb()
    query = Query(base_file, base)
    sift_index, disk_index = _load_pair(paths)
    loaded = _rss_mb()
    for photo, _individual, side in queries[:count]:
        query.run((DATA / photo).read_bytes(), side, sift_index, disk_index)
    blobs = sum(len(b) for b in query.blobs) / 2**20
    return {
        "start": start_rss,
        "loaded": loaded,
        "after": _rss_mb(),
        "peak": _peak_rss_mb(),
        "blobs": blobs,
    }


def timed(
    size_paths: dict[int, dict[str, Path]], base_file: Path, base, queries, settings: dict
) -> dict:
    """Time every query against every size in turn, under each of settings ({name:
    (top_k, (depth, width) or None for the engine's)}); return per setting and size the
    parts and the hits."""
    from leopards.matching import disk

    query = Query(base_file, base)
    indexes = {size: _load_pair(paths) for size, paths in size_paths.items()}
    # Loads the networks (a worker's first query does it once).
    query.run((DATA / queries[0][0]).read_bytes(), queries[0][2], *indexes[min(indexes)])
    matcher = disk.models()[1]
    engine = (disk.DEPTH_CONFIDENCE, disk.WIDTH_CONFIDENCE)
    affine = verify.affine
    rows = {(name, size): [] for name in settings for size in indexes}
    hits = dict.fromkeys(rows, 0)
    for turn, (photo, individual, side) in enumerate(queries):
        data = (DATA / photo).read_bytes()
        names = sorted(settings, reverse=bool(turn % 2))
        for size in sorted(indexes, reverse=bool(turn // 2 % 2)):
            for name in names:
                top_k, pruning, cut, verify_n, whitened, detail_n, geometry = settings[name]
                matcher.conf.depth_confidence, matcher.conf.width_confidence = pruning or engine
                verify.affine = affine if geometry == "affine" else _homography
                parts, ranked = query.run(
                    data,
                    side,
                    *indexes[size],
                    top_k=top_k,
                    cut=cut,
                    verify_n=verify_n,
                    whitened=whitened,
                    detail_n=detail_n,
                )
                rows[name, size].append(parts)
                found = bool(ranked) and ranked[0].individual_id.split("#")[0] == individual
                hits[name, size] += found
    return {"rows": rows, "hits": hits}


def _homography(source: np.ndarray, target: np.ndarray, threshold: float = verify.THRESHOLD):
    """The pair check's geometry before the affine map (verify.affine's contract): a
    homography fitted by MAGSAC++ with the check's threshold and iterations."""
    if len(source) < verify.MIN_MATCHES:
        return None, np.zeros(len(source), bool)
    found, inliers = cv2.findHomography(
        source,
        target,
        cv2.USAC_MAGSAC,
        threshold,
        maxIters=verify.MAX_ITERATIONS,
        confidence=verify.CONFIDENCE,
    )
    if inliers is None:
        return None, np.zeros(len(source), bool)
    return found, inliers.ravel().astype(bool)


def camtrap_extraction() -> dict[str, list[float]]:
    """Time the extraction parts on the real camera-trap photos, with their boxes (CPU s)."""
    import xml.etree.ElementTree as ET

    _one_thread()
    times: dict[str, list[float]] = {"outline": [], "sift": [], "disk": []}
    photos = sorted(CAMTRAP.glob("*.JPG"))
    learned_blob(photos[0].read_bytes(), None, "disk")  # loads the networks
    for photo in photos:
        found = ET.parse(photo.with_suffix(".xml")).find(".//bndbox")
        x0, y0, x1, y1 = (float(found.find(n).text) for n in ("xmin", "ymin", "xmax", "ymax"))
        box, data = (x0, y0, x1 - x0, y1 - y0), photo.read_bytes()
        started = time.process_time()
        mask = foreground.foreground_mask(data, box)
        times["outline"].append(time.process_time() - started)
        started = time.process_time()
        sift_features(data, box, foreground.method() == foreground.ISNET, mask)
        times["sift"].append(time.process_time() - started)
        started = time.process_time()
        learned_blob(data, box, "disk", mask)
        times["disk"].append(time.process_time() - started)
    return times


def _pct(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--queries", type=int, default=QUERY_FLANKS)
    parser.add_argument(
        "--top-k",
        type=int,
        default=RERANK_TOP_K,
        help="individuals the re-rank compares (the registry's MATCH_RERANK_TOP_K)",
    )
    parser.add_argument(
        "--baseline",
        type=float,
        nargs=3,
        metavar=("K", "DEPTH", "WIDTH"),
        help="also time each query with a re-rank of K and LightGlue's confidences at "
        "DEPTH and WIDTH, and print the ratio",
    )
    parser.add_argument(
        "--baseline-cut",
        choices=["isnet", "grabcut"],
        help="the baseline's outline (default: the engine's)",
    )
    parser.add_argument(
        "--verify-top-n",
        type=int,
        default=VERIFY_TOP_N,
        help="individuals the pair check re-orders (the registry's MATCH_VERIFY_TOP_N)",
    )
    parser.add_argument(
        "--baseline-verify",
        type=int,
        default=0,
        help="the baseline's pair check (default 0: none, as before it existed)",
    )
    parser.add_argument(
        "--baseline-whitening",
        choices=["shipped", "none"],
        default="shipped",
        help="the baseline's pair check projects the descriptors (leopards.matching.whitening) "
        "or matches DISK's own, as before the projection",
    )
    parser.add_argument(
        "--baseline-geometry",
        choices=["affine", "homography"],
        default="affine",
        help="what the baseline's pair check fits (default: the engine's affine map)",
    )
    parser.add_argument(
        "--baseline-detail",
        type=int,
        default=0,
        help="the first of the baseline's check the RootSIFT voice compares too (default 0: "
        "none, as before it existed)",
    )
    args = parser.parse_args()
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    started = time.perf_counter()
    print(f"load average at the start: {_load_average()}", flush=True)
    queries, base = _photos()
    queries = queries[: args.queries]
    print(f"{len(queries)} query photos, {len(base)} base reference photos", flush=True)
    spawn = mp.get_context("spawn")
    with spawn.Pool(1) as pool:
        base_file = pool.apply(base_features, (base,))
    size_paths = {}
    for size in args.sizes:
        with spawn.Pool(1) as pool:
            size_paths[size] = pool.apply(build, (size, base_file, base))
    for size in args.sizes:
        with spawn.Pool(1) as pool:
            rss = pool.apply(memory, (size_paths[size], base_file, base, queries))
        print(
            f"memory at {size:,}, one process (VmRSS / VmHWM, MB): {rss['start']:.0f} at start, "
            f"{rss['loaded']:.0f} with both indexes loaded, {rss['after']:.0f} after 5 queries, "
            f"peak {rss['peak']:.0f} (of which {rss['blobs']:.0f} the base references' "
            f"stored DISK bytes, which a worker reads from the database instead)",
            flush=True,
        )
    print(f"  (load average: {_load_average()})", flush=True)
    settings = {
        "today": (args.top_k, None, None, args.verify_top_n, True, verify.DETAIL_TOP_N, "affine")
    }
    if args.baseline:
        k, depth, width = args.baseline
        settings["baseline"] = (
            int(k),
            (depth, width),
            args.baseline_cut,
            args.baseline_verify,
            args.baseline_whitening == "shipped",
            args.baseline_detail,
            args.baseline_geometry,
        )
    with spawn.Pool(1) as pool:
        result = pool.apply(timed, (size_paths, base_file, base, queries, settings))
    totals = {}
    for name, (top_k, pruning, cut, verify_n, whitened, detail_n, geometry) in settings.items():
        confidences = "the engine's" if pruning is None else "{:g} / {:g}".format(*pruning)
        print(
            f"{name}: {len(queries)} queries, each against every size in turn, one thread, "
            f"pair check of {verify_n} ({'projected' if whitened else 'DISK own'} descriptors, "
            f"RootSIFT voice on the first {detail_n}, {geometry}), "
            f"re-rank of {top_k}, LightGlue depth / width confidence "
            f"{confidences}, outline {cut or foreground.method()} (seconds):"
        )
        totals[name] = _report(
            {size: result["rows"][n, size] for n, size in result["rows"] if n == name},
            {size: result["hits"][n, size] for n, size in result["hits"] if n == name},
        )
    if args.baseline:
        for size in args.sizes:
            (tw, tc), (bw, bc) = totals["today"][size], totals["baseline"][size]
            print(
                f"today / baseline at {size:,}: wall p50 {tw[0] / bw[0]:.2f}x, p95 "
                f"{tw[1] / bw[1]:.2f}x; CPU p50 {tc[0] / bc[0]:.2f}x, p95 {tc[1] / bc[1]:.2f}x"
            )
    with spawn.Pool(1) as pool:
        camtrap = pool.apply(camtrap_extraction)
    figures = ", ".join(
        "{} {:.3f} / {:.3f}".format(part, *_pct(values)) for part, values in camtrap.items()
    )
    count = len(camtrap["sift"])
    print(
        f"extraction of {count} camera-trap boxes (1920x1080, 2048x1536), "
        f"CPU s p50 / p95: {figures}"
    )
    print(f"load average at the end: {_load_average()}")
    print(f"bench took {time.perf_counter() - started:.0f} s")
    return 0


def _report(rows_of: dict[int, list[dict]], hits_of: dict[int, int]) -> dict:
    """Print each part's percentiles and the size ratio; return {size: (wall, CPU) of totals}."""
    print(f"{'refs':>7} {'part':>6}  {'wall p50 / p95':>15}  {'CPU p50 / p95':>15}")
    totals = {}
    for size, rows in rows_of.items():
        for part in [*PARTS, "total"]:
            if part == "total":
                wall = [sum(r[p][0] for p in PARTS) for r in rows]
                cpu = [sum(r[p][1] for p in PARTS) for r in rows]
                totals[size] = (_pct(wall), _pct(cpu))
            else:
                wall = [r[part][0] for r in rows]
                cpu = [r[part][1] for r in rows]
            (w50, w95), (c50, c95) = _pct(wall), _pct(cpu)
            print(f"{size:>7,} {part:>6}  {w50:6.3f} / {w95:6.3f}  {c50:6.3f} / {c95:6.3f}")
        print(f"{size:>7,}  rank-1 (the query's individual, any copy): {hits_of[size]}/{len(rows)}")
    if len(totals) > 1:
        low, high = min(totals), max(totals)
        (lw, lc), (hw, hc) = totals[low], totals[high]
        print(
            f"total at {high:,} / at {low:,}: wall p50 {hw[0] / lw[0]:.2f}x, "
            f"p95 {hw[1] / lw[1]:.2f}x; CPU p50 {hc[0] / lc[0]:.2f}x, p95 {hc[1] / lc[1]:.2f}x"
        )
    return totals


if __name__ == "__main__":
    raise SystemExit(main())
