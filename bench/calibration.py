"""Fit the score calibration on synthetic and real labelled queries, and print how it does.

Three query sets, each run leave-one-out (the individual is in the catalogue) and open
set (all boxes of the query's individual, and of its own event, taken out: what a new
individual looks like):

- synthetic, hard: write_dataset(difficulty=1.5, fur=1.0, revisit=1.0), whose true
  pairs score in the range of the real ones (the plain renders are far easier than
  real photos) and whose stations change between visits (a pixel-identical background
  makes strangers at one station match far better than real ones do);
- real: the six right_Cat1 snow-leopard photos in ../shared, same flank only (as the
  registry matches), photos of the query's own event left out;
- synthetic, plain: the default renders, only to check (not fitted).

The model is fitted on the first two, the real queries weighted to carry --real-share of
the total, and its "probably new" threshold balances the two errors over that pool.
For each set it prints rank-1, how often a query whose individual is catalogued is
*not* flagged new, how often an open-set query *is* flagged new, the Brier score and a
reliability table (predicted probability against observed rank-1 accuracy), for the
calibration given with --before and for the new one. The 15 unlabelled real photos are
also queried against everything else of their flank and their flag rate printed
(assumed strangers: not fitted, as nobody knows their individuals for sure).

    python bench/calibration.py --before old.json [--out leopards/matching/calibration_default.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2
import faiss
from matching_real import DEFAULT_DATA, same_event, write_labels

from leopards.matching.calibration import (
    DEFAULT_FEATURES,
    Calibration,
    Sample,
    fit,
    sample_from,
)
from leopards.matching.evaluate import read_labels, run_queries, summarise
from leopards.matching.features import extract_features
from leopards.matching.index import MatchIndex
from leopards.matching.scoring import rank
from leopards.synthetic import write_dataset

BINS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0001]


@dataclass
class QuerySet:
    name: str
    samples: list[Sample]
    known: list[bool]  # the query's individual is in the catalogue (not open set)
    rank1: float
    queries: int


def _query_set(name: str, results: list, boxes: int) -> QuerySet:
    summary = summarise(results, boxes)
    samples = [sample_from(r.candidates, r.box.individual_id, open_set=r.open_set) for r in results]
    return QuerySet(
        name=name,
        samples=samples,
        known=[not r.open_set for r in results],
        rank1=float(summary["rank1"]),
        queries=int(summary["queries"]),
    )


def synthetic(
    out: Path, *, individuals: int, photos: int, difficulty: float, fur: float, revisit: float
):
    """Render a synthetic set and query it leave-one-out and open set."""
    started = time.perf_counter()
    labels = write_dataset(
        out, individuals=individuals, photos_per_flank=photos, seed=0,
        difficulty=difficulty, fur=fur, revisit=revisit,
    )  # fmt: skip
    boxes = read_labels(labels)
    results, _timings = run_queries(boxes, open_set=True)
    print(f"  ({len(boxes)} photos rendered and queried in {time.perf_counter() - started:.0f} s)")
    return results, len(boxes)


def real_others(boxes: list) -> list[Sample]:
    """Query each unlabelled real photo against the other photos of its flank."""
    features = [extract_features(b.path, b.bbox) for b in boxes]
    index = MatchIndex.build(
        [
            (i, b.individual_id, b.side, f)
            for i, (b, f) in enumerate(zip(boxes, features, strict=True))
        ]
    )
    samples = []
    for i, (box, f) in enumerate(zip(boxes, features, strict=True)):
        if box.individual_id == "Cat1":
            continue
        own = [j for j, other in enumerate(boxes) if j == i or same_event(box, other)]
        if any(boxes[j].individual_id == "Cat1" for j in own):
            # Six seconds after a Cat1 photo at the same camera: Cat1 itself, not a stranger.
            continue
        candidates = rank(index, f, box.side, exclude_reference_ids=own)
        samples.append(sample_from(candidates, None, open_set=True))
    return samples


def write_real_rankings(results: list, path: Path) -> None:
    """Write the real queries' ranking figures (not the photos) for the test suite."""
    rows = []
    for r in results:
        sample = sample_from(r.candidates, r.box.individual_id, open_set=r.open_set)
        rows.append(
            {
                "query": r.box.path.name,
                "catalogued": not r.open_set,
                "top1_right": sample.correct,
                "top1": round(sample.top1, 3),
                "top2": round(sample.top2, 3),
                "inliers": sample.inliers,
                "static_share": round(sample.static, 3),
            }
        )
    source = (
        "bench/calibration.py on ../shared/data/snow-leopard-camtrap (right_Cat1 queries, "
        "same flank, the query's own event left out); catalogued=false: every Cat1 photo "
        "left out too"
    )
    path.write_text(json.dumps({"source": source, "queries": rows}, indent=1) + "\n")


def figures(calibration: Calibration, qs: QuerySet) -> dict:
    """Return the new-flag rates, Brier score and reliability of a calibration on a set."""
    p = np.array([calibration.probability_of(s) for s in qs.samples])
    y = np.array([s.correct for s in qs.samples], float)
    known = np.array(qs.known)
    flagged = p < calibration.threshold
    table = []
    for low, high in itertools.pairwise(BINS):
        inside = (p >= low) & (p < high)
        if inside.any():
            table.append(
                (low, min(high, 1.0), int(inside.sum()), p[inside].mean(), y[inside].mean())
            )
    return {
        "known_not_flagged": float(np.mean(~flagged[known])) if known.any() else float("nan"),
        "open_flagged": float(np.mean(flagged[~known])) if (~known).any() else float("nan"),
        "brier": float(np.mean((p - y) ** 2)),
        "reliability": table,
    }


def inputs(qs: QuerySet) -> None:
    """Print the median (quartiles) of the ranking figures, right answers against strangers."""
    groups = {
        "right first candidate": [
            s for s, k in zip(qs.samples, qs.known, strict=True) if s.correct
        ],
        "open set (stranger)": [s for s, k in zip(qs.samples, qs.known, strict=True) if not k],
    }
    for name, samples in groups.items():
        if not samples:
            continue
        columns = {
            "top-1 score": [s.top1 for s in samples],
            "top-1/top-2": [s.top1 / max(s.top2, 1e-6) for s in samples],
            "inliers": [s.inliers for s in samples],
            "static share": [s.static for s in samples],
        }
        shown = ", ".join(
            f"{label} {np.median(v):.2f} ({np.percentile(v, 25):.2f}-{np.percentile(v, 75):.2f})"
            for label, v in columns.items()
        )
        print(f"  {name:22s} n={len(samples):3d}: {shown}")


def show(label: str, calibration: Calibration, qs: QuerySet) -> dict:
    f = figures(calibration, qs)
    print(
        f"  {label:7s} threshold {calibration.threshold:.2f}: catalogued not flagged new "
        f"{f['known_not_flagged']:.2f}, open set flagged new {f['open_flagged']:.2f}, "
        f"Brier {f['brier']:.3f}"
    )
    for low, high, n, mean_p, observed in f["reliability"]:
        print(f"            p {low:.1f}-{high:.1f}: {n:4d} queries, mean p {mean_p:.2f}, "
              f"rank-1 right {observed:.2f}")  # fmt: skip
    return f


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--before", type=Path, help="the calibration JSON to compare with")
    parser.add_argument("--out", type=Path, help="write the fitted calibration here")
    parser.add_argument("--individuals", type=int, default=60)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--real-share", type=float, default=0.5)
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument(
        "--real-rankings-out", type=Path, help="write the real queries' figures (test fixture)"
    )
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    cv2.setNumThreads(1)

    sets: list[QuerySet] = []
    with tempfile.TemporaryDirectory() as tmp:
        print("synthetic, hard (difficulty 1.5, fur 1.0, revisit 1.0):")
        results, n = synthetic(
            Path(tmp) / "hard", individuals=args.individuals, photos=args.photos,
            difficulty=1.5, fur=1.0, revisit=1.0,
        )  # fmt: skip
        hard = _query_set("synthetic-hard", results, n)
        print("real snow-leopard photos:")
        boxes = read_labels(write_labels(args.data, Path(tmp)))
        results, _timings = run_queries(boxes, open_set=True, same_event=same_event)
        real = _query_set("real", results, len(boxes))
        if args.real_rankings_out:
            write_real_rankings(results, args.real_rankings_out)
        strangers = real_others(boxes)
        others = QuerySet("real-unlabelled", strangers, [False] * len(strangers), 0.0, 0)
        plain = None
        if not args.skip_plain:
            print("synthetic, plain (difficulty 1, no fur):")
            results, n = synthetic(
                Path(tmp) / "plain", individuals=args.individuals, photos=args.photos,
                difficulty=1.0, fur=0.0, revisit=0.0,
            )  # fmt: skip
            plain = _query_set("synthetic-plain", results, n)
    sets = [hard, real, others] + ([plain] if plain else [])

    pool = hard.samples + real.samples
    real_weight = args.real_share / (1 - args.real_share) * len(hard.samples) / len(real.samples)
    weights = [1.0] * len(hard.samples) + [real_weight] * len(real.samples)
    provenance = {
        "synthetic": (
            f"write_dataset(individuals={args.individuals}, photos_per_flank={args.photos}, "
            f"seed=0, difficulty=1.5, fur=1.0, revisit=1.0): {hard.queries} leave-one-out and "
            f"{len(hard.samples) - hard.queries} open-set queries, same flank"
        ),
        "real": (
            f"snow-leopard-camtrap (22 photos, ../shared): {real.queries} leave-one-out "
            f"queries of right_Cat1 and {len(real.samples) - real.queries} open-set queries "
            "(Cat1 and the query's own event left out), same flank; weighted to carry "
            f"{args.real_share:.0%} of the fit"
        ),
        "script": "bench/calibration.py",
    }
    fitted = fit(
        pool,
        features=DEFAULT_FEATURES,
        weights=weights,
        fitted_on=(
            f"{len(pool)} queries: {len(hard.samples)} synthetic (hard renders) and "
            f"{len(real.samples)} real snow-leopard (right_Cat1)"
        ),
        provenance=provenance,
    )
    before = Calibration.load(args.before) if args.before else None
    record = {}
    for qs in sets:
        print(f"\n{qs.name}: {len(qs.samples)} queries" + (
            f", rank-1 {qs.rank1:.3f} over {qs.queries} leave-one-out" if qs.queries else ""
        ))  # fmt: skip
        inputs(qs)
        if before is not None:
            show("before", before, qs)
        f = show("after", fitted, qs)
        record[qs.name] = {
            "queries": len(qs.samples),
            "rank1": round(qs.rank1, 3) if qs.queries else None,
            # None, not NaN, where a set has no such queries: JSON has no NaN.
            "catalogued_not_flagged": _rounded(f["known_not_flagged"]),
            "open_set_flagged": _rounded(f["open_flagged"]),
            "brier": _rounded(f["brier"]),
        }
    print(f"\nfitted: features {fitted.features}, coef {np.round(fitted.coef, 3).tolist()}, "
          f"threshold {fitted.threshold}")  # fmt: skip
    if args.out:
        fitted = Calibration(
            coef=fitted.coef,
            threshold=fitted.threshold,
            fitted_on=fitted.fitted_on,
            features=fitted.features,
            provenance={**provenance, "figures": record},
        )
        fitted.save(args.out)
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
