"""Fit the score calibration on synthetic and real labelled queries, and print how it does.

Query sets, each run leave-one-out (the individual is in the catalogue) and open set (all
boxes of the query's individual, and of its own event, taken out: what a new individual
looks like):

- synthetic, hard: write_dataset(difficulty=1.5, fur=1.0, revisit=1.0), whose true
  pairs score in the range of the real ones (the plain renders are far easier than
  real photos) and whose stations change between visits;
- synthetic, small catalogues: the same hard renders with 2 and 4 individuals (seeds
  1-6 and 1-3). A stranger there has one or three others to be compared with, or none
  on its flank: what a young registry sees, and where a ratio to a missing runner-up
  made every stranger certain;
- real: the right_Cat1 snow-leopard photos in ../shared, same flank only (as the
  registry matches), photos of the query's own event left out; the right photo taken
  6 s after a Cat1 photo at Station14 is Cat1 and labelled so;
- synthetic, plain: the default renders, only to check (not fitted);
- with --nyala FILE, real nyala flanks (bench/nyala_probability.py --out), in the fused
  model's pool only, weighing --nyala-weight of the rest of the pool in all and not
  setting the threshold: a hard real species whose right matches and strangers overlap
  (bench/README.md, "The probability on real flanks").

Both models are fitted on the pool of the first three, with the "probably new"
threshold under which --strangers-flagged of the pool's strangers fall: the shortlist's
(DEFAULT_FEATURES, on the shortlist's rankings) and, with --top-k K, the fused model of
the DISK + LightGlue second stage re-ranking the first K individuals (FUSED_FEATURES, on
the re-ranked rankings). For each set and model it prints, on held-out individuals (5
folds split by individual over the pool; the check sets scored by the model fitted on
the whole pool), the Brier score, how often a stranger is flagged new, how often a right
first candidate is *not*, and a reliability table, beside the calibration given with
--before on the same queries. The 15 unlabelled real photos are also queried against
everything else of their flank and their flag rate printed (assumed strangers).

    python bench/calibration.py --before old.json --top-k 3 \
        [--out leopards/matching/calibration_default.json]

With the fused first stage (MATCH_FIRST_STAGE_DISK_WEIGHT), the shortlist model stays
fitted on SIFT's shortlists, which it reads wherever no DISK features let the fusion
and the second stage run, and the fused model on rankings the fusion started:

    python bench/calibration.py --only synthetic-hard synthetic-small real real-unlabelled \
        --queries sift.pkl
    python bench/calibration.py --only synthetic-hard synthetic-small real real-unlabelled \
        --queries fused.pkl --top-k 3 --disk-weight 1
    python bench/calibration.py --queries sift.pkl --fused-queries fused.pkl --top-k 3 \
        --disk-weight 1 --skip-plain --before old.json [--nyala nyala.pkl] \
        [--out leopards/matching/calibration_default.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import pickle
import random
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
    FUSED_FEATURES,
    Calibration,
    Sample,
    fit,
    sample_from,
)
from leopards.matching.evaluate import read_labels, run_queries, summarise
from leopards.matching.extraction import outlines_sift, sift_features
from leopards.matching.index import MatchIndex
from leopards.matching.scoring import rank
from leopards.matching.whitening import Whitening
from leopards.synthetic import write_dataset

BINS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0001]
FOLDS = 5
HARD = {"difficulty": 1.5, "fur": 1.0, "revisit": 1.0}
PLAIN = {"difficulty": 1.0, "fur": 0.0, "revisit": 0.0}
# Small catalogues: (individuals, seeds).
SMALL = [(2, range(1, 7)), (4, range(1, 4))]
# The fitted pool and the real check, in the order fit_and_report takes them.
SETS = ["synthetic-hard", "synthetic-small", "real", "real-unlabelled"]


@dataclass
class QuerySet:
    name: str
    # Per query: the shortlist's sample and, with the second stage, the re-ranked one.
    shortlist: list[Sample]
    fused: list[Sample]
    individuals: list[str]  # whose query, for the folds
    rank1: float
    queries: int
    # A set weighed into a pool at this share of the rest of the pool in all, which
    # then does not set the threshold (nyala: another species); None, one each.
    weight: float | None = None


def _query_set(name: str, results: list, boxes: int, prefix: str = "") -> QuerySet:
    summary = summarise(results, boxes)

    def samples(ranking) -> list[Sample]:
        return [sample_from(ranking(r), r.box.individual_id, open_set=r.open_set) for r in results]

    return QuerySet(
        name=name,
        shortlist=samples(lambda r: r.shortlist if r.shortlist is not None else r.candidates),
        fused=samples(lambda r: r.candidates),
        individuals=[f"{prefix}{r.box.individual_id}" for r in results],
        rank1=float(summary["rank1"]),
        queries=int(summary["queries"]),
    )


def _merge(name: str, parts: list[QuerySet]) -> QuerySet:
    queries = sum(p.queries for p in parts)
    return QuerySet(
        name=name,
        shortlist=[s for p in parts for s in p.shortlist],
        fused=[s for p in parts for s in p.fused],
        individuals=[i for p in parts for i in p.individuals],
        rank1=sum(p.rank1 * p.queries for p in parts) / max(queries, 1),
        queries=queries,
    )


def synthetic(
    out: Path,
    name: str,
    *,
    individuals: int,
    photos: int,
    seed: int,
    second: dict | None,
    disk_weight: float = 0.0,
    whitening: Whitening | None = None,
    **render,
) -> QuerySet:
    """Render a synthetic set and query it leave-one-out and open set."""
    started = time.perf_counter()
    labels = write_dataset(
        out, individuals=individuals, photos_per_flank=photos, seed=seed, **render
    )
    boxes = read_labels(labels)
    results, _timings = run_queries(
        boxes, open_set=True, second_stage=second, disk_weight=disk_weight, whitening=whitening
    )
    print(
        f"  {name} seed {seed}: {len(boxes)} photos rendered and queried in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return _query_set(name, results, len(boxes), prefix=f"{name}-{seed}-")


def real_boxes(data: Path, tmp: Path) -> list:
    """Read the real photos' boxes; a photo of a Cat1 event is Cat1 whatever its name says."""
    boxes = read_labels(write_labels(data, tmp))
    cat1 = [b for b in boxes if b.individual_id == "Cat1"]
    return [
        dataclasses.replace(b, individual_id="Cat1")
        if any(same_event(b, c) and b.side == c.side for c in cat1)
        else b
        for b in boxes
    ]


def real_others(boxes: list, outlined: bool) -> list[Sample]:
    """Query each unlabelled real photo against the other photos of its flank (SIFT inside
    ISNet's outline when outlined, as with a learned stage)."""
    # As the worker extracts them (inside the animal's outline where ISNet cuts it).
    features = [sift_features(b.path, b.bbox, outlined) for b in boxes]
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
        candidates = rank(index, f, box.side, exclude_reference_ids=own)
        samples.append(sample_from(candidates, None, open_set=True))
    return samples


def write_real_rankings(qs: QuerySet, names: list[str], path: Path, top_k: int) -> None:
    """Write the real queries' ranking figures (not the photos) for the test suite."""

    def figures_of(s: Sample) -> dict:
        return {
            "top1": round(s.top1, 3),
            "top2": round(s.top2, 3),
            "runners_up": [round(v, 3) for v in s.runners_up],
            "inliers": s.inliers,
            "static_share": round(s.static, 3),
            "learned": s.learned,
            "learned_second": s.learned_second,
            "learned_confidence": round(s.learned_confidence, 3),
            "learned_second_confidence": round(s.learned_second_confidence, 3),
            "verified": s.verified,
            "verified_second": s.verified_second,
        }

    rows = [
        {
            "query": name,
            "catalogued": not s.open_set,
            "top1_right": s.correct,
            **figures_of(s),
            "reranked": {"top1_right": f.correct, **figures_of(f)},
        }
        for name, s, f in zip(names, qs.shortlist, qs.fused, strict=True)
    ]
    source = (
        "bench/calibration.py on ../shared/data/snow-leopard-camtrap (right_Cat1 queries, "
        "same flank, the query's own event left out); catalogued=false: every Cat1 photo "
        f"left out too; reranked: the same query after DISK + LightGlue re-ranked its first {top_k}"
    )
    path.write_text(json.dumps({"source": source, "queries": rows}, indent=1) + "\n")


def figures(p: np.ndarray, samples: list[Sample], threshold: np.ndarray | float) -> dict:
    """Return the new-flag rates, Brier score and reliability of probabilities on a set."""
    y = np.array([s.correct for s in samples], float)
    strangers = np.array([s.open_set for s in samples])
    right = y.astype(bool)
    flagged = p < threshold
    table = []
    for low, high in itertools.pairwise(BINS):
        inside = (p >= low) & (p < high)
        if inside.any():
            table.append(
                (low, min(high, 1.0), int(inside.sum()), p[inside].mean(), y[inside].mean())
            )
    return {
        "true_kept": float(np.mean(~flagged[right])) if right.any() else float("nan"),
        "strangers_flagged": float(np.mean(flagged[strangers])) if strangers.any() else math.nan,
        "brier": float(np.mean((p - y) ** 2)),
        "reliability": table,
    }


def _weighted_fit(
    samples: list[Sample],
    weights: np.ndarray,
    used: np.ndarray,
    sets_threshold: np.ndarray,
    features,
    share: float,
) -> Calibration:
    """Fit on the used samples with their weights; the threshold flags `share` of the
    strangers of the sets that set it (the leopard-like ones: nyala's only shape the fit)."""
    chosen = [s for s, u in zip(samples, used, strict=True) if u]
    fitted = fit(chosen, features=features, weights=weights[used], threshold=0.5)
    p = np.array([fitted.probability_of(s) for s in chosen])
    strangers = np.array([s.open_set for s in chosen]) & sets_threshold[used]
    return dataclasses.replace(fitted, threshold=round(float(np.quantile(p[strangers], share)), 4))


def held_out(
    pool: list[QuerySet], kind: str, features, share: float
) -> tuple[Calibration, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Fit on the whole pool; and per set, probabilities and thresholds of held-out folds.

    A set with a weight weighs that share of the rest of the pool in all, and does not
    set the threshold.
    """
    samples = [s for qs in pool for s in getattr(qs, kind)]
    individuals = [i for qs in pool for i in qs.individuals]
    weighed = np.array([qs.weight is not None for qs in pool for _s in getattr(qs, kind)])
    weights = np.ones(len(samples))
    for qs in pool:
        if qs.weight is not None:
            mine = np.array([other is qs for other in pool for _s in getattr(other, kind)])
            weights[mine] = qs.weight * (~weighed).sum() / mine.sum()
    order = sorted(set(individuals))
    random.Random(0).shuffle(order)
    fold_of = {ind: n % FOLDS for n, ind in enumerate(order)}
    folds = np.array([fold_of[i] for i in individuals])
    p, threshold = np.zeros(len(samples)), np.zeros(len(samples))
    for fold in range(FOLDS):
        train = (folds != fold) & (weights > 0)
        fitted = _weighted_fit(samples, weights, train, ~weighed, features, share)
        for n in np.nonzero(folds == fold)[0]:
            p[n], threshold[n] = fitted.probability_of(samples[n]), fitted.threshold
    per_set, start = {}, 0
    for qs in pool:
        end = start + len(qs.individuals)
        per_set[qs.name] = (p[start:end], threshold[start:end])
        start = end
    return _weighted_fit(samples, weights, weights > 0, ~weighed, features, share), per_set


def show(label: str, f: dict) -> None:
    print(
        f"  {label:34s} strangers flagged new {f['strangers_flagged']:.2f}, right first "
        f"candidates kept {f['true_kept']:.2f}, Brier {f['brier']:.3f}"
    )
    for low, high, n, mean_p, observed in f["reliability"]:
        print(f"{'':38s}p {low:.1f}-{high:.1f}: {n:4d} queries, mean p {mean_p:.2f}, "
              f"right {observed:.2f}")  # fmt: skip


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--before", type=Path, help="the calibration JSON to compare with")
    parser.add_argument("--out", type=Path, help="write the fitted calibration here")
    parser.add_argument("--individuals", type=int, default=60)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument(
        "--top-k", type=int, default=0, help="re-rank the first K with DISK + LightGlue"
    )
    parser.add_argument(
        "--disk-weight",
        type=float,
        default=0.0,
        help="fuse the shortlist with DISK-LNBNN's at this weight, as "
        "MATCH_FIRST_STAGE_DISK_WEIGHT does (the sets queried by this run); when fitting "
        "on sets read back, the weight the fused sets were queried with, for the record",
    )
    parser.add_argument("--strangers-flagged", type=float, default=0.93)
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument(
        "--whitening",
        type=Path,
        help="the pair check projects DISK's descriptors with this file (MATCH_WHITENING_FILE)",
    )
    parser.add_argument(
        "--queries",
        type=Path,
        nargs="*",
        default=[],
        help="read sets queried before from these files; keep the new ones in the first",
    )
    parser.add_argument(
        "--fused-queries",
        type=Path,
        nargs="*",
        default=[],
        help="fit the fused model on these sets (queried with --top-k) instead of --queries'",
    )
    parser.add_argument(
        "--only", nargs="*", choices=[*SETS, "synthetic-plain"], help="query these sets, no fit"
    )
    parser.add_argument(
        "--real-rankings-out", type=Path, help="write the real queries' figures (test fixture)"
    )
    parser.add_argument(
        "--nyala",
        type=Path,
        help="add the real nyala queries that bench/nyala_probability.py --out wrote to the "
        "fused model's pool",
    )
    parser.add_argument(
        "--nyala-weight",
        type=float,
        default=0.2,
        help="the nyala queries' weight in the fit, as a share of the rest of the pool's",
    )
    parser.add_argument(
        "--fused-features",
        nargs="+",
        default=list(FUSED_FEATURES),
        help="the fused model's inputs (leopards.matching.calibration.FEATURES)",
    )
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    cv2.setNumThreads(1)
    second = {"top_k": args.top_k, "refs_per_individual": 1} if args.top_k else None
    if second:
        import torch

        torch.set_num_threads(1)

    # Sets queried before (by this run or by others beside it) are read back, not queried.
    queried, fused_sets = _read(args.queries), _read(args.fused_queries)
    if args.nyala:
        if not (fused_sets or second):
            parser.error("--nyala joins the fused model's pool: give --top-k or --fused-queries")
        with args.nyala.open("rb") as handle:
            nyala = QuerySet(name="nyala", **pickle.load(handle)["nyala"], weight=args.nyala_weight)
        fused_sets = {**(fused_sets or queried), "nyala": nyala}
    wanted = args.only or [*SETS, *([] if args.skip_plain else ["synthetic-plain"])]
    missing = [name for name in wanted if name not in queried]
    if missing:
        queried.update(query_sets(args, second, missing))
        if args.queries:
            # The first file keeps the sets it held and gains the new ones: a fit run that
            # queries a missing set must not drop the sets it read from that file.
            first = args.queries[0]
            kept = _read([first])
            with first.open("wb") as handle:
                pickle.dump({**kept, **{n: queried[n] for n in missing}}, handle)
    if not args.only:
        fit_and_report(args, queried, fused_sets or (queried if second else None))
    return 0


def _read(paths: list[Path]) -> dict[str, QuerySet]:
    sets: dict[str, QuerySet] = {}
    for path in paths:
        if path.exists():
            with path.open("rb") as handle:
                sets.update(pickle.load(handle))
    return sets


def query_sets(args: argparse.Namespace, second: dict | None, names: list[str]) -> dict:
    """Query the named sets; return them by name."""
    sets: dict[str, QuerySet] = {}
    whitening = Whitening.load(args.whitening) if args.whitening else None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "synthetic-hard" in names:
            print("synthetic, hard (difficulty 1.5, fur 1.0, revisit 1.0):")
            sets["synthetic-hard"] = synthetic(
                tmp / "hard", "synthetic-hard", individuals=args.individuals,
                photos=args.photos, seed=0, second=second,
                disk_weight=args.disk_weight, whitening=whitening, **HARD,
            )  # fmt: skip
        if "synthetic-small" in names:
            sets["synthetic-small"] = _merge(
                "synthetic-small",
                [
                    synthetic(
                        tmp / f"small-{n}-{seed}",
                        f"small{n}",
                        individuals=n,
                        photos=3,
                        seed=seed,
                        second=second,
                        disk_weight=args.disk_weight,
                        whitening=whitening,
                        **HARD,
                    )
                    for n, seeds in SMALL
                    for seed in seeds
                ],
            )
        if "real" in names or "real-unlabelled" in names:
            print("real snow-leopard photos:")
            boxes = real_boxes(args.data, tmp)
            results, _timings = run_queries(
                boxes,
                open_set=True,
                same_event=same_event,
                second_stage=second,
                disk_weight=args.disk_weight,
                whitening=whitening,
            )
            sets["real"] = _query_set("real", results, len(boxes))
            if args.real_rankings_out:
                names_of = [r.box.path.name for r in results]
                write_real_rankings(sets["real"], names_of, args.real_rankings_out, args.top_k)
            strangers = real_others(boxes, outlines_sift(bool(second) or args.disk_weight > 0))
            sets["real-unlabelled"] = QuerySet(
                "real-unlabelled", strangers, strangers, [""] * len(strangers), 0, 0
            )
        if "synthetic-plain" in names:
            print("synthetic, plain (difficulty 1, no fur):")
            sets["synthetic-plain"] = synthetic(
                tmp / "plain", "synthetic-plain", individuals=args.individuals,
                photos=args.photos, seed=0, second=second,
                disk_weight=args.disk_weight, whitening=whitening, **PLAIN,
            )  # fmt: skip
    return sets


def fit_and_report(args, sets: dict, fused_sets: dict | None) -> None:
    """Fit both models on their pools, print their figures and write them with --out.

    The shortlist model is fitted on the shortlists of sets, the fused model on the
    re-ranked rankings of fused_sets (queried with the second stage).
    """
    before = Calibration.load(args.before) if args.before else None
    models = [("shortlist", DEFAULT_FEATURES, sets)]
    if fused_sets:
        models.append(("fused", tuple(args.fused_features), fused_sets))
    fitted: dict[str, Calibration] = {}
    record: dict[str, dict] = {}
    for kind, features, chosen in models:
        pool = [chosen[name] for name in [*SETS[:3], "nyala"] if name in chosen]
        checks = [chosen[name] for name in [SETS[3], "synthetic-plain"] if chosen.get(name)]
        attribute = "shortlist" if kind == "shortlist" else "fused"
        whole, per_set = held_out(pool, attribute, features, args.strangers_flagged)
        fitted[kind] = whole
        print(f"\n=== {kind} model: {list(features)}")
        for qs in pool + checks:
            samples = getattr(qs, attribute)
            print(f"\n{qs.name}: {len(samples)} queries" + (
                f", rank-1 {qs.rank1:.3f} over {qs.queries} leave-one-out" if qs.queries else ""
            ))  # fmt: skip
            if before is not None:
                model = before.second_stage if kind == "fused" and before.second_stage else before
                p = np.array([model.probability_of(s) for s in samples])
                show("before", figures(p, samples, model.threshold))
            if qs.name in per_set:
                p, threshold = per_set[qs.name]
                label = "after, held-out individuals"
            else:
                p = np.array([whole.probability_of(s) for s in samples])
                threshold, label = whole.threshold, "after (fitted on the pool)"
            f = figures(p, samples, threshold)
            show(label, f)
            record.setdefault(kind, {})[qs.name] = {
                "queries": len(samples),
                "rank1": round(qs.rank1, 3) if qs.queries else None,
                "held_out": qs.name in per_set,
                # None, not NaN, where a set has no such queries: JSON has no NaN.
                "true_kept": _rounded(f["true_kept"]),
                "strangers_flagged": _rounded(f["strangers_flagged"]),
                "brier": _rounded(f["brier"]),
            }
        print(f"\n{kind}: coef {np.round(whole.coef, 3).tolist()}, threshold {whole.threshold}")
    print(f"load average {os.getloadavg()[0]:.1f}")
    if not args.out:
        return

    def described(chosen: dict, kind: str) -> dict:
        hard, small, real = (chosen[name] for name in SETS[:3])
        nyala = chosen.get("nyala")
        return {
            "synthetic": (
                f"hard renders (difficulty 1.5, fur 1.0, revisit 1.0): {len(hard.individuals)} "
                f"queries of one catalogue and {len(small.individuals)} of small catalogues "
                "(2 individuals, seeds 1-6; 4, seeds 1-3), leave-one-out and open set, same flank"
            ),
            "real": (
                f"snow-leopard-camtrap (../shared): {real.queries} leave-one-out queries of "
                f"right_Cat1 and {len(real.individuals) - real.queries} open-set queries (Cat1 "
                "and the query's own event left out), same flank"
            ),
            **(
                {
                    "nyala": (
                        f"nyala-train (../shared): {nyala.queries} leave-one-out queries and "
                        f"{len(nyala.individuals) - nyala.queries} open-set queries (the "
                        "animal's every photo left out), same flank, bench/nyala_probability.py"
                    )
                }
                if nyala
                else {}
            ),
            "threshold": f"flags {args.strangers_flagged:.0%} of the pool's strangers"
            + (
                f" (not nyala's, which weigh {nyala.weight:g} of the rest in the fit)"
                if nyala
                else ""
            ),
            "outline": (
                "ISNet's (leopards.matching.segmentation): SIFT and DISK keypoints on the "
                "animal only"
                if outlines_sift(kind == "fused")
                else "GrabCut's for the DISK keypoints, SIFT in its ellipse"
                if kind == "fused"
                else "none: SIFT in its inscribed ellipse"
            ),
            "script": "bench/calibration.py (bench/README.md, Score calibration)",
            "figures": record[kind],
        }

    fused = None
    if "fused" in fitted:
        pooled = [n for n in [*SETS[:3], "nyala"] if n in fused_sets]
        fused = dataclasses.replace(
            fitted["fused"],
            fitted_on=(
                f"{sum(len(fused_sets[n].individuals) for n in pooled)} queries "
                + (
                    f"shortlisted with the DISK voice (weight {args.disk_weight:g}) and "
                    if args.disk_weight > 0
                    else ""
                )
                + f"re-ranked by DISK + LightGlue (first {args.top_k}): synthetic hard "
                "renders, small catalogues, real snow-leopard (right_Cat1)"
                + (" and real nyala flanks" if "nyala" in fused_sets else "")
            ),
            provenance=described(fused_sets, "fused"),
        )
    result = dataclasses.replace(
        fitted["shortlist"],
        fitted_on=(
            f"{sum(len(sets[n].individuals) for n in SETS[:3])} queries: synthetic hard "
            "renders, small catalogues and real snow-leopard (right_Cat1)"
        ),
        provenance=described(sets, "shortlist"),
        second_stage=fused,
    )
    result.save(args.out)
    print(f"written to {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
