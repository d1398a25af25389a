"""The probability on real nyala flanks: every query ranked as the engine ranks it, and strangers.

Each of the 1,205 nyala photos is queried twice, as the worker would query it:

- leave-one-out: against every other photo of its flank (1,099 queries, those whose
  flank has another photo), the query's own photo left out;
- open set: with every photo of its animal left out, so that its first candidate is
  always wrong (1,205 strangers: what a new individual looks like).

Both go through the engine's stages: the fused first stage (SIFT-LNBNN +
2 x DISK-LNBNN, leopards.matching.fusion.fuse), the pair check of its first
individuals (leopards.matching.verify.verify itself, with its constants; its RootSIFT
voice on the first --detail-top, 0 for none, the features of
leopards.matching.detail cached once by rerank_nyala.detail_features) and DISK +
LightGlue on the first --top-k individuals of the checked order, ordered by
leopards.matching.rerank.rerank itself (its floor, its order), with each LightGlue
pair matched once and kept raw like bench/rerank_nyala.py keeps it (that bench's
leave-one-out pairs are read, not matched again). Each query becomes a labelled
sample (leopards.matching.calibration.sample_from) of what the probability reads.

It prints, for the shipped model and for models fitted on nyala alone (5 folds by
individual: fitted on four folds' animals, scored on the fifth's), the Brier score,
the strangers flagged "probably new" and the right first candidates kept, and writes
the samples (--out) for bench/calibration.py --nyala, which adds them to the pool the
fused model is fitted on.

    nice python bench/first_stage_nyala.py --only SIFT         # the leave-one-out shortlists
    nice python bench/first_stage_nyala.py --only "DISK masked"
    nice python bench/nyala_probability.py --data ../shared/data/nyala-train --shard 0/2  # and 1/2
    python bench/nyala_probability.py --data ../shared/data/nyala-train --out /tmp/nyala.pkl

The photos are read from ../shared and never copied.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calibration import QuerySet, figures, held_out
from first_stage_nyala import folds_by_individual, fuse
from matching_nyala import (
    DEFAULT_DATA,
    cached,
    labelled_photos,
    leave_one_out_queries,
    read_shards,
    save,
)
from rerank_nyala import raw_match, read_pairs, read_shortlists, selected_features

from leopards.matching import disk as disk_lightglue
from leopards.matching import verify
from leopards.matching.calibration import FUSED_FEATURES, Calibration, Sample, sample_from
from leopards.matching.features import Features
from leopards.matching.fusion import as_index_features
from leopards.matching.index import MatchIndex
from leopards.matching.learned import PairMatch
from leopards.matching.rerank import _references, rerank
from leopards.matching.scoring import rank
from leopards.matching.whitening import Whitening

FUSION_WEIGHT = 2.0  # the engine's MATCH_FIRST_STAGE_DISK_WEIGHT
EMPTY_PAIRS = np.zeros((0, 4), np.float32)


class _Query:
    """Stands for the query's learned features: every pair the check and the re-rank
    need is cached."""

    detail = None  # the RootSIFT voice's counts are cached too

    def __len__(self) -> int:
        return verify.MIN_MATCHES


def pair_match(raw: tuple) -> PairMatch:
    """Return the engine's PairMatch of a raw pair (confidences, homography inlier mask)."""
    confidences, inlier = raw
    confidences = confidences.astype(np.float64)
    return PairMatch(
        len(confidences), int(inlier.sum()), float(confidences[inlier].sum()), EMPTY_PAIRS
    )


def checked(shortlist: list, counts: dict, detail_top_n: int = verify.DETAIL_TOP_N) -> list:
    """Return the engine's pair-check order of a shortlist from one query's cached counts."""
    return verify.verify(
        shortlist, _Query(), lambda _refs: {}, cache=dict(counts), detail_top_n=detail_top_n
    )


def reranked(shortlist: list, pairs: dict, query: int, top_k: int) -> list:
    """Return the engine's second-stage order of a checked shortlist from the cached pairs."""
    cache = {
        ref: pair_match(pairs[(query, ref)])
        for c in shortlist[:top_k]
        for ref in _references(c, 1)
        if (query, ref) in pairs
    }
    return rerank(shortlist, _Query(), lambda _refs: {}, top_k=top_k, cache=cache)


def described(p: np.ndarray, threshold, samples: list[Sample]) -> str:
    f = figures(p, samples, threshold)
    return (
        f"Brier {f['brier']:.3f}, strangers flagged {f['strangers_flagged']:.3f}, "
        f"right first candidates kept {f['true_kept']:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--top-k", type=int, default=2, help="the engine's MATCH_RERANK_TOP_K")
    parser.add_argument(
        "--shard", default="", help="K/N: rank and match every Nth photo, then stop"
    )
    parser.add_argument("--strangers-flagged", type=float, default=0.93)
    parser.add_argument(
        "--whitening",
        default="",
        metavar="VARIANT",
        help="the pair check projects descriptors with bench/whitening_nyala.py's projection "
        "fitted without the query's fold (--work/whitening-fold{F}-VARIANT.npz, e.g. "
        "d48)",
    )
    parser.add_argument(
        "--detail-top",
        type=int,
        default=verify.DETAIL_TOP_N,
        help="the pair check's RootSIFT voice compares the first N of DISK's order (0: no "
        "voice, as before it existed)",
    )
    parser.add_argument(
        "--out", type=Path, help="write the samples here for calibration.py --nyala"
    )
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    n = len(paths)
    catalogued = leave_one_out_queries(ids, sides)
    side, stored = disk_lightglue.DEFAULT_LONG_SIDE, disk_lightglue.STORED_KEYPOINTS
    pair_path = args.cache / f"pairs-raw-{n}-{side}-{stored}-{disk_lightglue.MATCH_KEYPOINTS}.pkl"
    stem = f"open-set-checked-{n}-k{args.top_k}" + (f"-{args.whitening}" if args.whitening else "")
    stem += f"-detail{args.detail_top}" if args.detail_top else ""
    open_path = args.work / f"{stem}.pkl"
    pairs = read_pairs(pair_path)
    leave_one_out = read_shortlists(args.work, n)
    if args.shard:
        mine, shards = (int(v) for v in args.shard.split("/"))
        open_path = open_path.with_name(f"{open_path.stem}.shard{mine}.pkl")
        selected = selected_features(args.cache, paths, with_detail=args.detail_top > 0)
        sift_known = cached(args.cache / "sift.pkl", dict)
        sift = [Features.from_bytes(sift_known[str(p)]) for p in paths]
        disk = [as_index_features(f) for f in selected]
        compared = [f.strongest(disk_lightglue.MATCH_KEYPOINTS) for f in selected]
        indexes = [
            MatchIndex.build([(i, ids[i], sides[i], features[i]) for i in range(n)])
            for features in (sift, disk)
        ]
        fold_of = folds_by_individual(ids)
        projections = {
            fold: Whitening.load(args.work / f"whitening-fold{fold}-{args.whitening}.npz")
            for fold in set(fold_of.values())
            if args.whitening
        }
        done = cached(open_path, dict)
        own = {}
        for i, animal in enumerate(ids):
            own.setdefault(animal, []).append(i)
        started, matched = time.process_time(), 0
        for i in range(mine, n, shards):
            if i in done:
                continue
            # The animal's every photo out of the catalogue: a stranger.
            shortlists = [
                rank(index, features[i], sides[i], exclude_reference_ids=own[ids[i]])
                for index, features in zip(indexes, (sift, disk), strict=True)
            ]
            wanted = [fuse(*shortlists, FUSION_WEIGHT)]
            if i in leave_one_out["SIFT"]:
                wanted.append(
                    fuse(leave_one_out["SIFT"][i], leave_one_out["DISK"][i], FUSION_WEIGHT)
                )
            found, counts = {}, {}
            for shortlist in wanted:
                order = verify.verify(
                    shortlist,
                    selected[i],
                    lambda refs: {r: selected[r] for r in refs},
                    cache=counts,
                    whitening=projections.get(fold_of[ids[i]]),
                    detail_top_n=args.detail_top,
                )
                for c in order[: args.top_k]:
                    for ref in _references(c, 1):
                        if (i, ref) not in pairs and (i, ref) not in found:
                            found[(i, ref)] = raw_match(compared[i], compared[ref])
                            matched += 1
            done[i] = (shortlists, found, counts)
            if len(done) % 50 == 0:
                save(open_path, done)
                spent = (time.process_time() - started) / max(matched, 1)
                print(f"  {len(done)} photos, {spent:.2f} CPU s a pair", flush=True)
        save(open_path, done)
        return 0

    open_set = read_shards(args.work / f"{stem}.pkl")
    missing = n - len(open_set)
    if missing:
        print(f"{missing} photos have no open-set ranking yet: run --shard K/N first.")
        return 1
    for _shortlists, found, _counts in open_set.values():
        pairs.update(found)

    queries = [(i, leave_one_out["SIFT"][i], leave_one_out["DISK"][i], False) for i in catalogued]
    queries += [(i, *open_set[i][0], True) for i in range(n)]
    shortlist_samples, fused_samples, individuals, reciprocal = [], [], [], []
    for i, sift, disk, stranger in queries:
        order = checked(fuse(sift, disk, FUSION_WEIGHT), open_set[i][2], args.detail_top)
        ranking = reranked(order, pairs, i, args.top_k)
        if not stranger:
            found = [p for p, c in enumerate(ranking, 1) if c.individual_id == ids[i]]
            reciprocal.append(1 / found[0] if found else 0.0)
        fused_samples.append(sample_from(ranking, ids[i], open_set=stranger))
        shortlist_samples.append(sample_from(sift, ids[i], open_set=stranger))
        individuals.append(f"nyala:{ids[i]}")
    right = [s.correct for s in fused_samples[: len(catalogued)]]
    print(
        f"{len(catalogued)} leave-one-out queries (rank-1 {np.mean(right):.3f} after the pair "
        f"check and the re-rank of {args.top_k}, mean reciprocal rank {np.mean(reciprocal):.3f}: "
        f"the mAP of a ranking of individuals) and {n} strangers"
    )

    shipped = Calibration.load()
    model = shipped.second_stage or shipped
    p = np.array([model.probability_of(s) for s in fused_samples])
    print(f"  shipped model: {described(p, model.threshold, fused_samples)}")
    nyala = {
        "shortlist": shortlist_samples,
        "fused": fused_samples,
        "individuals": individuals,
        "rank1": float(np.mean(right)),
        "queries": len(catalogued),
    }
    confidences = ("log1p_learned_confidence", "learned_confidence_margin")
    candidates = {
        "without the learned confidences": tuple(f for f in FUSED_FEATURES if f not in confidences),
        "the shipped inputs": FUSED_FEATURES,
    }
    for label, features in candidates.items():
        # 5 folds by animal: fitted on four folds' animals, scored on the fifth's.
        _whole, per_set = held_out(
            [QuerySet(name="nyala", **nyala)], "fused", features, args.strangers_flagged
        )
        p, threshold = per_set["nyala"]
        print(f"  fitted on nyala, {label}, held out: {described(p, threshold, fused_samples)}")
    if args.out:
        save(args.out, {"nyala": nyala})
        print(f"samples written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
