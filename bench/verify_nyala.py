"""The pair check before the re-rank (leopards.matching.verify) on all nyala flanks.

The fused shortlist (SIFT-LNBNN + 2 x DISK-LNBNN, bench/first_stage_nyala.py) has the
animal among its first 4 individuals for 52 % of the leave-one-out queries, and the
learned re-rank of those 4 puts it first for 40.5 %. This bench checks the first
--top individuals pair by pair, as leopards.matching.verify does: the query's
strongest K masked DISK keypoints (384 px, the stored features) matched with each of
an individual's first R references as mutual nearest neighbours, then the inliers of
a MAGSAC++ homography within T pixels. Each pair's counts are kept for K in
--keypoints and T in 3 and 6 px, so every variant reads the same pairs:

- the shortlist re-ordered by the best (or summed) count over the first 1 or 2
  references, plus w x the fused score divided by the query's best (w in --weights);
- then the engine's learned re-rank (leopards.matching.rerank, DISK + LightGlue, its
  learned_score and floor of 30 inliers) of the first 1-4 of that order, comparing the
  reference whose pair counted most, beside the same re-rank of the fused shortlist.

The engine's own order (verify.verify with its constants) is the row marked
"engine". Run the two first stages' shortlists first (first_stage_nyala.py --only SIFT,
--only "DISK masked", same --cache and --work), then the pairs in processes beside
each other, then a run without --shard prints the tables:

    nice python bench/verify_nyala.py --cache C --work W --shard 0/2   # and 1/2: the pair checks
    nice python bench/verify_nyala.py --cache C --work W --pairs 0/2   # and 1/2: LightGlue pairs
    python bench/verify_nyala.py --cache C --work W
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from first_stage_nyala import fuse, merge_shards, sign_test, strongest
from matching_nyala import DEFAULT_DATA, labelled_photos, leave_one_out_queries, read_shards, save
from rerank_nyala import read_shortlists
from second_stage_subset import per_photo

from leopards.matching import disk as disk_lightglue
from leopards.matching import verify
from leopards.matching.calibration import sample_from
from leopards.matching.rerank import _references, rerank

THRESHOLDS = (3.0, 6.0)
DEPTHS = (1, 2, 3, 4)


def counts(query, reference, keypoints: list[int]) -> dict:
    """Return {(keypoints, threshold): inliers} of one pair, by the engine's pair_inliers."""
    found = {}
    for k, t in itertools.product(keypoints, THRESHOLDS):
        verify.KEYPOINTS, verify.THRESHOLD = k, t
        found[k, t] = verify.pair_inliers(query, reference)
    verify.KEYPOINTS, verify.THRESHOLD = ENGINE
    return found


ENGINE = (verify.KEYPOINTS, verify.THRESHOLD)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--top", type=int, default=verify.TOP_N)
    parser.add_argument("--refs", type=int, default=verify.REFERENCES)
    parser.add_argument("--keypoints", type=int, nargs="+", default=[512, verify.KEYPOINTS])
    parser.add_argument("--weights", type=float, nargs="+", default=[0, 2, 4, 6, 10])
    parser.add_argument("--shard", default="", help="K/N: check every Nth query's pairs")
    parser.add_argument("--pairs", default="", help="K/N: match every Nth LightGlue pair")
    parser.add_argument(
        "--top-k", type=int, default=2, help="the engine's MATCH_RERANK_TOP_K (--samples-out)"
    )
    parser.add_argument(
        "--samples-out",
        type=Path,
        help="write the engine's rankings' samples here for bench/calibration.py --nyala",
    )
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    n = len(paths)
    extraction = f"disk-{disk_lightglue.DEFAULT_LONG_SIDE}-{disk_lightglue.STORED_KEYPOINTS}"
    for name in ("mask", extraction):
        merge_shards(args.cache, name)
    masks = per_photo(args.cache, "mask", paths, None)
    known = per_photo(args.cache, extraction, paths, None)
    stored = disk_lightglue.STORED_KEYPOINTS
    features = [
        disk_lightglue.select(strongest(known[str(p)], stored), masks[str(p)], stored)
        for p in paths
    ]
    shortlists = read_shortlists(args.work, n)
    queries = leave_one_out_queries(ids, sides)
    fused = {i: fuse(shortlists["SIFT"][i], shortlists["DISK"][i], 2.0) for i in queries}

    checks_path = args.work / f"verify-{n}-{args.top}-{args.refs}.pkl"
    if args.shard:
        mine, shards = (int(v) for v in args.shard.split("/"))
        found, started = {}, time.process_time()
        for i in queries[mine::shards]:
            for c in fused[i][: args.top]:
                for r in verify._references(c, args.refs):
                    found[i, r] = counts(features[i], features[r], args.keypoints)
        spent = time.process_time() - started
        print(
            f"{len(found)} pairs, {1000 * spent / max(1, len(found)):.1f} CPU ms each "
            "(all variants)"
        )
        save(checks_path.with_suffix(f".shard{mine}.pkl"), found)
        return 0
    checks = read_shards(checks_path)

    def checked(i: int, k: int, t: float, refs: int, summed: bool, w: float) -> list:
        head = fused[i][: args.top]
        leader = max(c.score for c in head)
        best = {}
        for c in head:
            values = [checks[i, r][k, t] for r in verify._references(c, refs) if (i, r) in checks]
            best[c.individual_id] = (sum(values) if summed else max(values, default=0)) + w * (
                c.score / leader
            )
        return (
            sorted(head, key=lambda c: best[c.individual_id], reverse=True) + fused[i][args.top :]
        )

    def engine_order(i: int, shortlist: list) -> list:
        cache = {
            r: checks[i, r][ENGINE]
            for c in shortlist[: args.top]
            for r in verify._references(c, args.refs)
            if (i, r) in checks
        }
        return verify.verify(shortlist, features[i], lambda _ids: {}, top_n=args.top, cache=cache)

    orders = {"fused shortlist": {i: fused[i] for i in queries}}
    orders["pair check (engine)"] = {i: engine_order(i, fused[i]) for i in queries}
    # The same query as a stranger: its animal taken out of the shortlist after the vote
    # (its references still weighed in LNBNN's normaliser), for the probability's fit.
    strangers = {
        i: engine_order(i, [c for c in fused[i] if c.individual_id != ids[i]]) for i in queries
    }

    pairs_path = args.work / f"verify-lightglue-{n}.pkl"
    pairs = read_shards(pairs_path)
    if args.pairs:
        mine, shards = (int(v) for v in args.pairs.split("/"))
        todo = []
        for i in queries[mine::shards]:
            for order in [*orders.values(), strangers]:
                todo += [(i, r) for c in order[i][: max(DEPTHS)] for r in _references(c, 1)]
        todo = [pair for pair in dict.fromkeys(todo) if pair not in pairs]
        found, started = {}, time.process_time()
        for number, (i, r) in enumerate(todo, 1):
            found[i, r] = disk_lightglue.match(features[i], features[r])
            if number % 200 == 0:
                print(
                    f"  pairs {number}/{len(todo)}, {time.process_time() - started:.0f} s",
                    flush=True,
                )
        # Pairs matched by earlier runs in this shard's file are kept beside the new ones.
        shard_file = pairs_path.with_suffix(f".shard{mine}.pkl")
        if shard_file.exists():
            with shard_file.open("rb") as handle:
                found = {**pickle.load(handle), **found}
        save(shard_file, found)
        return 0

    def reranked(order: list, i: int, depth: int) -> list:
        compared = [r for c in order[:depth] for r in _references(c, 1) if (i, r) in pairs]
        cache = {r: pairs[i, r] for r in compared}
        return rerank(order, features[i], lambda _ids: {}, top_k=depth, cache=cache)

    if args.samples_out:
        # The engine's rankings (pair check, re-rank of --top-k) of every query, then of
        # every query as a stranger: bench/calibration.py --nyala.
        depth = args.top_k
        samples = {"shortlist": [], "fused": [], "individuals": [], "queries": len(queries)}
        for stranger, order_of in ((False, orders["pair check (engine)"]), (True, strangers)):
            for i in queries:
                ranking = reranked(order_of[i], i, depth)
                samples["fused"].append(sample_from(ranking, ids[i], open_set=stranger))
                first_stage = [
                    c for c in shortlists["SIFT"][i] if not stranger or c.individual_id != ids[i]
                ]
                samples["shortlist"].append(sample_from(first_stage, ids[i], open_set=stranger))
                samples["individuals"].append(f"nyala:{ids[i]}")
        right = [s.correct for s in samples["fused"][: len(queries)]]
        samples["rank1"] = float(np.mean(right))
        save(args.samples_out, {"nyala": samples})
        print(f"samples of {len(samples['fused'])} rankings written to {args.samples_out}")
        return 0

    def position(order: list, i: int) -> int:
        return next((p for p, c in enumerate(order, 1) if c.individual_id == ids[i]), 10**6)

    def recall(order_of: dict) -> str:
        ranks = np.array([position(order_of[i], i) for i in queries])
        at = " / ".join(f"{np.mean(ranks <= k):.3f}" for k in (1, 2, 4, 8, 20))
        return f"{at} | {np.mean(1 / ranks):.3f}"

    print(f"{len(queries)} queries; {len(checks)} pairs checked\n")
    print("| order of the shortlist's first", args.top, "| R@1 / @2 / @4 / @8 / @20 | MRR |")
    print("| --- | --- | ---: |")
    for name, order_of in orders.items():
        print(f"| {name} | {recall(order_of)} |")
    variants = itertools.product(args.keypoints, THRESHOLDS, (1, 2), (False, True), args.weights)
    for k, t, refs, summed, w in variants:
        if (refs == 1 and summed) or refs > args.refs:
            continue
        order_of = {i: checked(i, k, t, refs, summed, w) for i in queries}
        label = f"{k} keypoints, {t:g} px, {refs} ref{'s' if refs > 1 else ''}"
        label += f", {'sum' if summed else 'best'} + {w:g} x shortlist"
        print(f"| {label} | {recall(order_of)} |")

    ranks_of = {
        (name, depth): np.array([position(reranked(order_of[i], i, depth), i) for i in queries])
        for (name, order_of), depth in itertools.product(orders.items(), DEPTHS)
    }
    # The engine before the pair check: the fused shortlist, re-rank of 4.
    baseline = ranks_of["fused shortlist", 4] == 1
    print(
        "\n| learned re-rank of the first K of | K | rank-1 | MRR | won / lost vs fused, K=4 "
        "| sign p |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for (name, depth), ranks in ranks_of.items():
        firsts = ranks == 1
        won, lost = int((firsts & ~baseline).sum()), int((baseline & ~firsts).sum())
        print(
            f"| {name} | {depth} | {firsts.mean():.3f} | {np.mean(1 / ranks):.3f} | "
            f"+{won} / -{lost} | {sign_test(won, lost):.3g} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
