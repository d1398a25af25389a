"""Re-identification of real flank photos (nyala-train in ../shared): today's engine and the new.

Every photo is queried against all other photos of its flank (leave-one-out), and
once more with every photo of its individual left out (a stranger: what a new
individual looks like). The shortlist alone (SIFT + LNBNN + affine check, the
baseline) and the shortlist re-ranked by the learned matcher (XFeat + LighterGlue)
answer the same queries. The calibration is fitted and scored in 5 folds split by
individual: fitted on the queries of four folds' animals, scored on the fifth's.

    python bench/matching_nyala.py [--data DIR] [--cache DIR] [--limit N]

Features and pair results are cached in --cache (default /tmp/nyala-bench), so a
second run costs only the ranking. The photos are never copied anywhere else.
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import random
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leopards.matching import calibration as calib
from leopards.matching import rerank as rerank_module
from leopards.matching.features import Features, extract_features
from leopards.matching.index import MatchIndex
from leopards.matching.learned import LearnedFeatures, extract_learned, models
from leopards.matching.rerank import DEFAULT_REFS_PER_INDIVIDUAL, DEFAULT_TOP_K, rerank
from leopards.matching.scoring import rank

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/nyala-train"
FOLDS = 5
FUSED_CONFIDENCE = (
    "log_ratio",
    "log1p_inliers",
    "static_share",
    "log1p_learned_confidence",
    "learned_confidence_margin",
)


def leave_one_out_queries(ids: list[str], sides: list[str]) -> list[int]:
    """Return the photos that can be queried leave-one-out: their flank has another photo."""
    available = Counter(zip(ids, sides, strict=True))
    return [i for i, flank in enumerate(zip(ids, sides, strict=True)) if available[flank] > 1]


def labelled_rows(data: Path, limit: int = 0) -> list[dict] | None:
    """Return the rows of the set's labels.csv, of its first `limit` individuals (0: all).

    None, said aloud, when the set is absent.
    """
    labels = data / "labels.csv"
    if not labels.is_file():
        print(f"{labels} is absent: nothing to measure.")
        return None
    with labels.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if limit:
        keep = set(sorted({r["individual_id"] for r in rows})[:limit])
        rows = [r for r in rows if r["individual_id"] in keep]
    return rows


def labelled_photos(data: Path) -> tuple[list[Path], list[str], list[str]] | None:
    """Return every labelled photo's path, individual and flank (None, said aloud, when the
    set is absent), with OpenCV, faiss and torch held to one thread, as in a worker."""
    rows = labelled_rows(data)
    if rows is None:
        return None
    import cv2
    import faiss
    import torch

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    return (
        [data / r["path"] for r in rows],
        [r["individual_id"] for r in rows],
        [r["side"] for r in rows],
    )


def cached(path: Path, build):
    if path.exists():
        with path.open("rb") as handle:
            return pickle.load(handle)
    value = build()
    save(path, value)
    return value


def read_shards(path: Path) -> dict:
    """Return the entries of path's shard files (its stem + .shard0.pkl, ...), merged."""
    merged: dict = {}
    for shard_file in sorted(path.parent.glob(path.stem + ".shard*.pkl")):
        with shard_file.open("rb") as handle:
            merged.update(pickle.load(handle))
    return merged


def save(path: Path, value) -> None:
    """Pickle value to path through a temporary file and a rename: a reader beside this
    process (another bench on the same cache) never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        pickle.dump(value, handle)
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nyala-bench"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N individuals")
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    parser.add_argument("--refs", type=int, default=DEFAULT_REFS_PER_INDIVIDUAL)
    parser.add_argument("--calibration-out", type=Path)
    parser.add_argument("--gates", type=int, nargs="+", default=[0, 20, 30])
    parser.add_argument("--chosen", help="the variant whose calibration --calibration-out writes")
    args = parser.parse_args()
    rows = labelled_rows(args.data, args.limit)
    if rows is None:
        return 0
    import cv2
    import faiss

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    paths = [args.data / r["path"] for r in rows]
    ids = [r["individual_id"] for r in rows]
    sides = [r["side"] for r in rows]
    tag = f"{len(rows)}"

    def per_photo(name: str, extract) -> tuple[list[bytes], float]:
        """Return each photo's feature bytes, extracting only those not cached yet."""
        path = args.cache / f"{name}.pkl"
        known = cached(path, dict)
        missing = [p for p in paths if str(p) not in known]
        if missing:
            started = time.process_time()
            for photo in missing:
                known[str(photo)] = extract(photo)
            known["_cpu_s"] = (time.process_time() - started) / len(missing)
            with path.open("wb") as handle:
                pickle.dump(known, handle)
        return [known[str(p)] for p in paths], known.get("_cpu_s", float("nan"))

    sift_blobs, sift_s = per_photo("sift", lambda p: extract_features(p).to_bytes())
    models()
    learned_blobs, learned_s = per_photo("learned", lambda p: extract_learned(p).to_bytes())
    sift = [Features.from_bytes(b) for b in sift_blobs]
    learned = [LearnedFeatures.from_bytes(b) for b in learned_blobs]
    print(
        f"{len(rows)} photos, {len(set(ids))} individuals; extraction CPU s per photo: "
        f"SIFT {sift_s:.3f}, XFeat {learned_s:.3f}; mean keypoints SIFT "
        f"{np.mean([len(f) for f in sift]):.0f}, XFeat {np.mean([len(f) for f in learned]):.0f}"
    )
    index = MatchIndex.build([(i, ids[i], sides[i], sift[i]) for i in range(len(rows))])
    available = Counter(zip(ids, sides, strict=True))
    own = {}
    for i, ind in enumerate(ids):
        own.setdefault(ind, []).append(i)

    pair_path = args.cache / f"pairs-{tag}.pkl"
    pairs = cached(pair_path, dict)
    dirty = 0

    def run(i: int, excluded: list[int]):
        nonlocal dirty
        started = time.process_time()
        first = rank(index, sift[i], sides[i], exclude_reference_ids=excluded)
        shortlist_s = time.process_time() - started
        cache = {ref: pairs[(i, ref)] for ref in range(len(rows)) if (i, ref) in pairs}
        before = len(cache)
        started = time.process_time()
        second = rerank(
            first,
            learned[i],
            lambda refs: {r: learned[r] for r in refs},
            top_k=args.top_k,
            refs_per_individual=args.refs,
            cache=cache,
        )
        rerank_s = time.process_time() - started
        fresh = len(cache) - before
        for ref, found in cache.items():
            pairs[(i, ref)] = found
        dirty += fresh
        return first, second, shortlist_s, (rerank_s if fresh else None)

    queries = []  # (i, open_set, first, second)
    times_first, times_second = [], []
    started = time.time()
    for i in range(len(rows)):
        if available[(ids[i], sides[i])] > 1:
            first, second, t1, t2 = run(i, [i])
            queries.append((i, False, first, second))
            times_first.append(t1)
            if t2 is not None:
                times_second.append(t1 + t2)
        first, second, _t1, _t2 = run(i, own[ids[i]])
        queries.append((i, True, first, second))
        if dirty > 2000:
            with pair_path.open("wb") as handle:
                pickle.dump(pairs, handle)
            dirty = 0
            print(
                f"  {i + 1}/{len(rows)} photos queried, {time.time() - started:.0f} s", flush=True
            )
    with pair_path.open("wb") as handle:
        pickle.dump(pairs, handle)

    individuals = sorted(set(ids))
    random.Random(0).shuffle(individuals)
    fold_of = {ind: n % FOLDS for n, ind in enumerate(individuals)}
    print(
        f"queries: {sum(not q[1] for q in queries)} leave-one-out, "
        f"{sum(q[1] for q in queries)} strangers; {FOLDS} folds by individual; "
        f"second stage: top {args.top_k} individuals x {args.refs} boxes"
    )

    def reranked(order, gate=0):
        """Re-rank every query from the cached pair results with another order key."""
        saved = rerank_module.learned_score
        rerank_module.learned_score = order
        try:
            out = []
            for i, open_set, first, _second in queries:
                cache = {ref: pairs[(i, ref)] for ref in range(len(rows)) if (i, ref) in pairs}
                out.append(
                    (
                        i,
                        open_set,
                        first,
                        rerank(
                            first,
                            learned[i],
                            lambda refs: {r: learned[r] for r in refs},
                            top_k=args.top_k,
                            refs_per_individual=args.refs,
                            cache=cache,
                            min_overtake=gate,
                        ),
                    )
                )
            return out
        finally:
            rerank_module.learned_score = saved

    def log_votes(c):
        return np.log1p(max(c.score, 0.0))

    orders = {
        "learned inliers + log votes": lambda c: c.learned_inliers + log_votes(c),
        "learned confidence + log votes": lambda c: c.learned_confidence + log_votes(c),
        "learned + SIFT inliers": lambda c: c.learned_inliers + c.inliers + 0.01 * c.score,
        "learned confidence + SIFT inliers": lambda c: (
            c.learned_confidence + c.inliers + 0.01 * c.score
        ),
    }
    variants = [("today (shortlist only)", queries, 2, calib.DEFAULT_FEATURES)]
    for order_name, order in orders.items():
        for gate in args.gates:
            answered = reranked(order, gate)
            label = f"re-rank: {order_name}, overtake at {gate}"
            variants.append((f"{label}; p: inliers", answered, 3, calib.FUSED_FEATURES))
            variants.append((f"{label}; p: confidence", answered, 3, FUSED_CONFIDENCE))
    print()
    print("| engine | rank-1 | rank-5 | mAP | Brier | strangers flagged | true matches kept |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    results = {}
    for name, answered, slot, features in variants:
        ranks = []
        for i, open_set, *rankings in answered:
            if open_set:
                continue
            ranking = rankings[slot - 2]
            ranks.append(
                next((p + 1 for p, c in enumerate(ranking) if c.individual_id == ids[i]), None)
            )
        rank1 = np.mean([r == 1 for r in ranks])
        rank5 = np.mean([r is not None and r <= 5 for r in ranks])
        mean_ap = np.mean([1 / r if r else 0.0 for r in ranks])
        samples = [calib.sample_from(q[slot], ids[q[0]], open_set=q[1]) for q in answered]
        probabilities = np.zeros(len(samples))
        thresholds = []
        for fold in range(FOLDS):
            test = [fold_of[ids[q[0]]] == fold for q in answered]
            train = [s for s, t in zip(samples, test, strict=True) if not t]
            fitted = calib.fit(train, features=features, stranger_share=0.9)
            thresholds.append(fitted.threshold)
            for n, t in enumerate(test):
                if t:
                    probabilities[n] = fitted.probability_of(samples[n])
        correct = np.array([s.correct for s in samples])
        strangers = np.array([q[1] for q in answered])
        threshold = np.array([thresholds[fold_of[ids[q[0]]]] for q in answered])
        flagged = probabilities < threshold
        brier = float(np.mean((probabilities - correct) ** 2))
        stranger_flagged = float(np.mean(flagged[strangers]))
        kept = float(np.mean(~flagged[correct])) if correct.any() else 0.0
        results[name] = (probabilities, correct, samples, features)
        print(
            f"| {name} | {rank1:.3f} | {rank5:.3f} | {mean_ap:.3f} | {brier:.3f} | "
            f"{stranger_flagged:.3f} | {kept:.3f} |"
        )
    for name in (variants[0][0], args.chosen or variants[-1][0]):
        print()
        print(f"Reliability on held-out folds, {name}: predicted vs observed")
        probabilities, correct, _s, _f = results[name]
        print(calib.reliability_table(probabilities, correct))
    if args.calibration_out:
        chosen = [args.chosen] if args.chosen else [name for name, *_rest in variants[1:]]
        for n, name in enumerate(chosen):
            _p, _c, samples, features = results[name]
            fitted = calib.fit(
                samples,
                features=features,
                stranger_share=0.9,
                fitted_on=f"nyala-train: {len(samples)} queries (bench/matching_nyala.py)",
            )
            path = args.calibration_out if args.chosen else Path(f"{args.calibration_out}.{n}")
            fitted.save(path)
            print(f"calibration of {name} written to {path}")
    print()
    p = lambda xs, q: float(np.percentile(xs, q)) if xs else float("nan")  # noqa: E731
    print(
        f"query CPU s, {len(rows)} references: shortlist p50 {p(times_first, 50):.3f} "
        f"p95 {p(times_first, 95):.3f}; with the second stage p50 {p(times_second, 50):.3f} "
        f"p95 {p(times_second, 95):.3f} ({len(times_second)} queries timed)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (index + models + all features): {rss:.0f} MB")
    print(
        f"load average {os.getloadavg()[0]:.1f}; "
        f"median shortlist s per query {statistics.median(times_first):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
