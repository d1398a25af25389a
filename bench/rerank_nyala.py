"""Second stages on the fused shortlist: re-rank depth, references per individual, scoring.

The fused first stage (SIFT-LNBNN + 2 x DISK-LNBNN, bench/first_stage_nyala.py) has the
animal among its first 3 individuals for 40 % of the nyala queries, its first 8 for
about 55 %; the engine's second stage (leopards.matching.rerank: DISK + LightGlue
against ONE reference box per individual, ordered by learned_score, with a floor of
30 learned inliers to overtake the shortlist's first) turns only 70 % of its first 3
into first places. This bench asks which second stage turns more of it into rank 1,
and at what cost in LightGlue pairs, on the same queries (every --every-th of the
leave-one-out queries):

- depth: how many of the shortlist's individuals are compared (--depths);
- references per individual: the candidate's references, best-voted first, as
  rerank._references takes them (--refs);
- aggregation over one individual's references: the best pair, or the sum of the best two;
- the pair's score: the engine's learned_score (inliers' confidence + SIFT's affine
  inliers + 0.01 votes), the homography's inliers, LightGlue's matches with confidence
  >= 0.5 before any geometry (wildlife-tools' MatchLightGlue, WildFusion), or the sum
  of all the matches' confidences;
- with and without the floor, and plus w x the fused first-stage score (normalised:
  the query's best individual has 1 per voice), w chosen on four fifths of the animals
  and read on the fifth left out (5 folds by individual).

Each LightGlue pair is matched once and kept raw (every match's confidence and the
homography's inlier mask) keyed by (query, reference), so every variant reads the
same pairs. Run the two first stages' shortlists first (first_stage_nyala.py --only
SIFT, --only "DISK masked"), then pairs in processes beside each other
(--pair-shard K/N), then a run without it merges and prints the tables.

    nice python bench/rerank_nyala.py [--data DIR] [--cache /work/cache/nyala] \
        [--every 4] [--depths 3 5 8] [--refs 1 2 3] [--pair-shard K/N] [--evaluate-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import pickle
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from first_stage_nyala import fuse, merge_shards, pairs_of_this_process, sign_test, strongest
from matching_nyala import (
    DEFAULT_DATA,
    cached,
    labelled_photos,
    leave_one_out_queries,
    read_shards,
    save,
)
from second_stage_subset import per_photo

from leopards.matching import detail
from leopards.matching import disk as disk_lightglue
from leopards.matching.learned import _consistent
from leopards.matching.rerank import DEFAULT_MIN_OVERTAKE, _references

SCORES = ("learned_score", "inliers", "matches>=0.5", "sum of confidences")
AGGREGATIONS = ("max", "sum of best two")
WEIGHTS = (0.0, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120)
FOLDS = 5


def raw_match(query, reference) -> tuple:
    """Return (matches' confidences, the homography's inlier mask) of one LightGlue pair."""
    import torch

    if len(query) < 2 or len(reference) < 2:
        return np.zeros(0, np.float16), np.zeros(0, bool)
    _extractor, matcher = disk_lightglue.models()
    from leopards.matching.learned import matcher_input

    with torch.inference_mode():
        out = matcher({"image0": matcher_input(query), "image1": matcher_input(reference)})
    pairs, scores = out["matches"][0].numpy(), out["scores"][0].numpy()
    if len(pairs) == 0:
        return np.zeros(0, np.float16), np.zeros(0, bool)
    src, dst = query.keypoints[pairs[:, 0]], reference.keypoints[pairs[:, 1]]
    return scores.astype(np.float16), _consistent(src, dst, max(query.size))


def selected_features(cache: Path, paths: list[Path], *, with_detail: bool = False) -> list:
    """Return every photo's stored DISK features as the engine keeps them (masked), with
    the pair check's RootSIFT voice (detail_features) when with_detail."""
    side, stored = disk_lightglue.DEFAULT_LONG_SIDE, disk_lightglue.STORED_KEYPOINTS
    masks = cached(cache / "mask.pkl", dict)
    raw = cached(cache / f"disk-{side}-{stored}.pkl", dict)
    selected = [
        disk_lightglue.select(strongest(raw[str(p)], stored), masks[str(p)], stored) for p in paths
    ]
    if not with_detail:
        return selected
    voices = detail_features(cache, paths)
    return [dataclasses.replace(f, detail=v) for f, v in zip(selected, voices, strict=True)]


def detail_features(cache: Path, paths: list[Path]) -> list:
    """Return every photo's RootSIFT voice (leopards.matching.detail.extract_detail, the
    whole photo inside its ISNet outline), extracted once into the cache."""
    masks = cached(cache / "mask.pkl", dict)
    known = cached(
        cache / f"{detail.MODEL}.pkl",
        lambda: {str(p): detail.extract_detail(p, foreground=masks[str(p)]) for p in paths},
    )
    return [known[str(p)] for p in paths]


def read_pairs(pair_path: Path) -> dict:
    """Return the raw pairs kept at pair_path and in its shards (the merged file wins)."""
    return {**read_shards(pair_path), **cached(pair_path, dict)}


def read_shortlists(work: Path, photos: int) -> dict[str, dict]:
    """Return the leave-one-out shortlists of first_stage_nyala.py, by voice (SIFT, DISK)."""
    shortlists = {}
    for name, slug in (("SIFT", "sift"), ("DISK", "disk-masked")):
        with (work / f"shortlists-{photos}-{slug}.pkl").open("rb") as handle:
            shortlists[name] = pickle.load(handle)[0]
    return shortlists


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--every", type=int, default=4, help="every Nth leave-one-out query")
    parser.add_argument("--depths", type=int, nargs="+", default=[3, 5, 8])
    parser.add_argument("--refs", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--fusion-weight",
        type=float,
        default=2.0,
        help="DISK's weight in the fused shortlist (the engine's MATCH_FIRST_STAGE_DISK_WEIGHT)",
    )
    parser.add_argument(
        "--match-keypoints",
        type=int,
        default=disk_lightglue.MATCH_KEYPOINTS,
        help="the strongest keypoints of each box that LightGlue compares (the engine's "
        "disk.MATCH_KEYPOINTS); pairs are kept per value",
    )
    parser.add_argument(
        "--pruning",
        type=float,
        nargs=2,
        default=[disk_lightglue.DEPTH_CONFIDENCE, disk_lightglue.WIDTH_CONFIDENCE],
        metavar=("DEPTH", "WIDTH"),
        help="LightGlue's early stop and point pruning confidences (the engine's "
        "disk.DEPTH_CONFIDENCE and WIDTH_CONFIDENCE); pairs are kept per value",
    )
    parser.add_argument(
        "--skip-sift-baseline",
        action="store_true",
        help="match no pairs for the SIFT shortlist's re-rank (that row is then left out)",
    )
    parser.add_argument("--pair-shard", default="", help="K/N: match every Nth missing pair")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--out", type=Path, help="write every variant's row here (markdown)")
    parser.add_argument(
        "--ranks-out",
        type=Path,
        help="pickle {variant: {query: rank of its animal}} of every query here, to compare "
        "runs of other pairs (--pruning) query by query",
    )
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    n = len(paths)
    # The engine's features: every keypoint inside the mask at 384 px (at most
    # STORED_KEYPOINTS), of which LightGlue compares the strongest --match-keypoints.
    side, stored = disk_lightglue.DEFAULT_LONG_SIDE, disk_lightglue.STORED_KEYPOINTS
    extraction = f"disk-{side}-{stored}"
    for name in ("mask", extraction):
        merge_shards(args.cache, name)
    masks = per_photo(args.cache, "mask", paths, None)
    disk_known = per_photo(args.cache, extraction, paths, None)
    disk_masked = [
        disk_lightglue.select(
            strongest(disk_known[str(p)], stored), masks[str(p)], stored
        ).strongest(args.match_keypoints)
        for p in paths
    ]
    shortlists = read_shortlists(args.work, n)
    queries = leave_one_out_queries(ids, sides)
    sampled = queries[:: args.every]
    fused = {
        i: fuse(shortlists["SIFT"][i], shortlists["DISK"][i], args.fusion_weight) for i in sampled
    }
    sift = {i: shortlists["SIFT"][i] for i in sampled}

    depth_confidence, width_confidence = args.pruning
    _extractor, matcher = disk_lightglue.models()
    matcher.conf.depth_confidence = depth_confidence
    matcher.conf.width_confidence = width_confidence
    pruning = (depth_confidence, width_confidence)
    engine_pruning = (disk_lightglue.DEPTH_CONFIDENCE, disk_lightglue.WIDTH_CONFIDENCE)
    suffix = "" if pruning == engine_pruning else f"-lg{depth_confidence:g}-{width_confidence:g}"
    pair_path = args.cache / f"pairs-raw-{n}-{side}-{stored}-{args.match_keypoints}{suffix}.pkl"
    pairs = read_pairs(pair_path)
    # The cheapest variants' pairs first, for all queries: a run stopped early still
    # has complete ones. Tier: deeper than 3, deeper than 5, and the reference's place.
    tiered = []
    depth, refs = max(args.depths), max(args.refs)
    for position, i in enumerate(sampled):
        tiered += [
            ((0, 0), (i, c.best_reference_id))
            for c in sift[i][:3]
            if c.best_reference_id is not None and not args.skip_sift_baseline
        ]
        for level, c in enumerate(fused[i][:depth]):
            for place, ref in enumerate(_references(c, refs)):
                tier = (level >= 3) + (level >= 5) + place
                # After the baselines' pairs, tiers 1-2 of every other query first.
                group = 0 if tier == 0 else 1 + (tier > 2 or position % 2 == 1)
                tiered.append(((group, tier), (i, ref)))
    tiered.sort(key=lambda t: t[0])
    wanted = list(dict.fromkeys(pair for _tier, pair in tiered))
    todo = [pair for pair in wanted if pair not in pairs]
    group_of = {}
    for key, pair in tiered:
        group_of.setdefault(pair, key)
    left = Counter(group_of[pair] for pair in todo)
    print(
        f"{len(sampled)} queries, {len(wanted)} pairs wanted, {len(todo)} to match "
        f"(by group and tier: {dict(sorted(left.items()))})",
        flush=True,
    )
    todo, out_path = pairs_of_this_process(todo, pair_path, args)
    started, cpu = time.time(), time.process_time()
    for done, (i, ref) in enumerate(todo, 1):
        pairs[(i, ref)] = raw_match(disk_masked[i], disk_masked[ref])
        if done % 100 == 0 or done == len(todo):
            save(out_path, pairs)
            print(
                f"  pairs {done}/{len(todo)}, {time.time() - started:.0f} s, "
                f"{(time.process_time() - cpu) / done:.2f} CPU s a pair",
                flush=True,
            )
    if args.pair_shard:
        return 0
    if not args.evaluate_only and todo:
        save(pair_path, pairs)

    def pair_value(i, ref, score: str) -> tuple[float, int] | None:
        """Return (the pair's score, its homography inliers), None when not matched."""
        found = pairs.get((i, ref))
        if found is None:
            return None
        confidences, inlier = found
        confidences = confidences.astype(np.float64)
        inliers = int(inlier.sum())
        if score in ("learned_score", "sum of inlier confidences"):
            return float(confidences[inlier].sum()), inliers
        if score == "inliers":
            return float(inliers), inliers
        if score == "matches>=0.5":
            return float((confidences >= 0.5).sum()), inliers
        return float(confidences.sum()), inliers

    def order(shortlist, i, depth, refs, score, aggregation, floor, weight, best_only=False):
        """Return the individuals in the re-ranked order, and the pairs it matched."""
        head, tail = shortlist[:depth], shortlist[depth:]
        compared, left, spent = [], [], 0
        for c in head:
            chosen = [c.best_reference_id] if best_only else _references(c, refs)
            values = [v for ref in chosen if (v := pair_value(i, ref, score)) is not None]
            spent += len(values)
            if not values:
                left.append(c)
                continue
            if score == "learned_score" and aggregation == "max":
                # The engine: the reference with most inliers (then confidence) counts.
                evidence, inliers = max(values, key=lambda v: (v[1], v[0]))
            else:
                evidence = sum(
                    sorted((v[0] for v in values), reverse=True)[: 2 if aggregation != "max" else 1]
                )
                inliers = max(v[1] for v in values)
            if score == "learned_score":
                evidence += c.inliers + 0.01 * c.score
            compared.append((evidence + weight * c.score, c.score, inliers, c))
        compared.sort(key=lambda t: (t[0], t[1]), reverse=True)
        ranked = [t[3] for t in compared]
        leader_compared = any(c is head[0] for c in ranked)
        if floor and leader_compared and ranked[0] is not head[0] and compared[0][2] < floor:
            ranked = [head[0], *(c for c in ranked if c is not head[0])]
        return [c.individual_id for c in ranked + left + list(tail)], spent

    def position(order_ids, i):
        return next((p + 1 for p, ind in enumerate(order_ids) if ind == ids[i]), None)

    def measures(ranks):
        return (
            float(np.mean([r == 1 for r in ranks])),
            float(np.mean([1 / r if r else 0.0 for r in ranks])),
        )

    def complete(shortlist, i, depth, refs, best_only=False, **_rest) -> bool:
        """Whether every pair this variant compares for query i has been matched."""
        return all(
            (i, ref) in pairs
            for c in shortlist[:depth]
            for ref in ([c.best_reference_id] if best_only else _references(c, refs))
            if ref is not None
        )

    # 5 folds by individual for the weight of the fused score.
    animals = sorted({ids[i] for i in sampled})
    rng = np.random.default_rng(0)
    fold_of = {
        a: f for f, a in zip(np.arange(len(animals)) % FOLDS, rng.permutation(animals), strict=True)
    }
    baseline = "fused + re-rank of 3, 1 reference (engine)"
    variants = [
        (
            "SIFT + re-rank of 3 (engine)",
            sift,
            {
                "depth": 3,
                "refs": 1,
                "score": "learned_score",
                "aggregation": "max",
                "floor": DEFAULT_MIN_OVERTAKE,
                "best_only": True,
            },
        ),
        (
            baseline,
            fused,
            {
                "depth": 3,
                "refs": 1,
                "score": "learned_score",
                "aggregation": "max",
                "floor": DEFAULT_MIN_OVERTAKE,
            },
        ),
    ]
    for depth, refs, score, aggregation, floor in itertools.product(
        args.depths, args.refs, SCORES, AGGREGATIONS, (DEFAULT_MIN_OVERTAKE, 0)
    ):
        if refs > 1 or aggregation == "max":
            variants.append(
                (
                    f"K={depth}, refs {refs}, {score}, {aggregation}, floor {floor}",
                    fused,
                    {
                        "depth": depth,
                        "refs": refs,
                        "score": score,
                        "aggregation": aggregation,
                        "floor": floor,
                    },
                )
            )

    def table(chosen: list[int], title: str) -> str:
        """Return the markdown table of every variant whose pairs are all matched on chosen."""
        if not chosen:
            return f"{title}: no query has all these pairs yet"
        results = {}  # name: (ranks by query, pairs by query, weights chosen by fold)
        results["fused shortlist alone"] = (
            {i: position([c.individual_id for c in fused[i]], i) for i in chosen},
            dict.fromkeys(chosen, 0),
            None,
        )
        for name, shortlist_of, variant in variants:
            if not all(complete(shortlist_of[i], i, **variant) for i in chosen):
                continue
            by_weight, spent = {}, {}
            for w in WEIGHTS if shortlist_of is fused else (0.0,):
                by_weight[w] = {}
                for i in chosen:
                    by_weight[w][i], spent[i] = order(shortlist_of[i], i, weight=w, **variant)
            results[f"{name}, w 0" if shortlist_of is fused else name] = (
                {i: position(by_weight[0.0][i], i) for i in chosen},
                spent,
                None,
            )
            if shortlist_of is not fused or name == baseline:
                continue
            ranks, picks = {}, []
            for fold in range(FOLDS):
                train = [i for i in chosen if fold_of[ids[i]] != fold]
                fit = {
                    w: sum(measures([position(by_weight[w][i], i) for i in train])) for w in WEIGHTS
                }
                best = max(WEIGHTS, key=lambda w: (fit[w], -w))
                picks.append(best)
                for i in chosen:
                    if fold_of[ids[i]] == fold:
                        ranks[i] = position(by_weight[best][i], i)
            results[f"{name}, w cv"] = (ranks, spent, picks)
        if f"{baseline}, w 0" not in results:
            return f"{title}: the baseline's pairs are not all matched yet"
        if args.ranks_out and chosen is sampled:
            save(args.ranks_out, {name: ranks for name, (ranks, _s, _p) in results.items()})
        base_ranks = results[f"{baseline}, w 0"][0]
        alone = results["fused shortlist alone"][0]
        recall = ", ".join(
            f"@{k} {np.mean([(alone[i] or 999) <= k for i in chosen]):.3f}"
            for k in (1, 3, 5, 8, 10, 20)
        )
        lines = [
            f"{title}: {len(chosen)} queries; fused shortlist recall {recall}",
            "",
            "| second stage | pairs / query (mean, max) | rank-1 | mAP | won / lost vs baseline "
            "| sign p |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, (ranks, spent, picks) in results.items():
            top1, mean_ap = measures([ranks[i] for i in chosen])
            won = sum(ranks[i] == 1 and base_ranks[i] != 1 for i in chosen)
            lost = sum(ranks[i] != 1 and base_ranks[i] == 1 for i in chosen)
            label = name + (f" (w by fold {'/'.join(f'{w:g}' for w in picks)})" if picks else "")
            lines.append(
                f"| {label} | {np.mean(list(spent.values())):.1f}, {max(spent.values())} | "
                f"{top1:.3f} | {mean_ap:.3f} | +{won} / -{lost} | {sign_test(won, lost):.3f} |"
            )
        return "\n".join(lines)

    text = "\n\n".join(
        [
            table(sampled, f"every {args.every}th of the {len(queries)} queries"),
            table(
                sampled[1::2],
                f"the other half of them (every {2 * args.every}th query from the "
                f"{args.every + 1}th), not the one the deeper variants were first read on",
            ),
            *(
                table(
                    [i for i in sampled[::2] if all(complete(fused[i], i, d, r) for d, r in deep)],
                    f"every {2 * args.every}th query, those of its queries whose pairs for "
                    + ", ".join(f"K={d} refs {r}" for d, r in deep)
                    + " are all matched",
                )
                for deep in (((5, 1), (3, 2)), ((8, 1), (5, 2), (3, 3)), ((8, 3),))
            ),
        ]
    )
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
