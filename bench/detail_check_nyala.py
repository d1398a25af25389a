"""A second pair check with RootSIFT at the photo's own resolution, beside DISK's, on nyala.

The pair check (leopards.matching.verify) compares the query box with the shortlist's
first individuals on DISK keypoints of a 384 px crop, a few hundred inside the shrunk
outline. This bench asks whether a second, independent voice on finer detail adds to
it: the engine's RootSIFT voice (leopards.matching.detail, the whole photo at up to
640 px, the strongest 3,000 keypoints inside the shrunk outline), paired as the check
pairs it (verify.detail_inliers: mutual nearest neighbours, a MAGSAC++ homography).

For each leave-one-out query (1,099, 5 folds by animal as every nyala bench) the first
--depth individuals of the fused shortlist (first_stage_nyala.py's) are checked on
their first 2 references (verify.REFERENCES), and ordered by

    DISK's whitened inliers (bench/whitening_nyala.py's counts, --disk-checks)
    + weight x RootSIFT's inliers + verify.SHORTLIST_WEIGHT x the shortlist's share

for each of --weights (0: DISK's check alone; "sift": RootSIFT's alone), RootSIFT's
inliers counted for the first --detail-top of DISK's order only, as verify.verify
counts them for its first DETAIL_TOP_N. It prints
rank-1 / 2 / 4, MRR, and the queries won and lost against DISK's check alone with the
sign test's p, and RootSIFT's CPU time per query.

    python bench/whitening_nyala.py --dimensions 64 --shard 0/2 ...   # and 1/2, then merged
    nice python bench/detail_check_nyala.py --cache C --work W --shard 0/2   # and 1/2
    python bench/detail_check_nyala.py --cache C --work W

The photos are read from ../shared and never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from first_stage_nyala import fuse, sign_test
from matching_nyala import (
    DEFAULT_DATA,
    labelled_photos,
    leave_one_out_queries,
    read_shards,
    save,
)
from nyala_probability import FUSION_WEIGHT
from rerank_nyala import detail_features, read_shortlists

from leopards.matching import detail, verify
from leopards.matching.learned import LearnedFeatures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--depth", type=int, default=verify.TOP_N)
    parser.add_argument(
        "--disk-checks",
        default="whitened-checks-{n}-m15-r2.pkl",
        help="bench/whitening_nyala.py's counts in --work ({n}: the photos)",
    )
    parser.add_argument("--variant", default="d64", help="of the whitened check's counts")
    parser.add_argument("--weights", nargs="+", default=["0", "0.5", "1", "2", "sift"])
    parser.add_argument(
        "--detail-top",
        type=int,
        default=verify.DETAIL_TOP_N,
        help="RootSIFT's inliers count for the first N of DISK's order (the others follow)",
    )
    parser.add_argument("--shard", default="", help="K/N: check every Nth query, then stop")
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    n = len(paths)
    queries = leave_one_out_queries(ids, sides)
    slug = detail.MODEL
    counts_path = args.work / f"detail-checks-{n}-{slug}-t{detail.THRESHOLD}-n{args.depth}.pkl"
    if args.shard:
        features = detail_features(args.cache, paths)
        print(f"median keypoints {np.median([len(f) for f in features]):.0f}", flush=True)
        # verify.detail_inliers reads the voice a box's learned features carry.
        voiced = [dataclasses.replace(LearnedFeatures.empty(), detail=f) for f in features]
        shortlists = read_shortlists(args.work, n)
        mine, shards = (int(v) for v in args.shard.split("/"))
        found = {}
        for i in queries[mine::shards]:
            started = time.process_time()
            fused = fuse(shortlists["SIFT"][i], shortlists["DISK"][i], FUSION_WEIGHT)
            rows = []
            for c in fused[: args.depth]:
                refs = verify._references(c, verify.REFERENCES)
                counts = [verify.detail_inliers(voiced[i], voiced[r]) for r in refs]
                rows.append((c.individual_id, c.score, max(counts, default=0)))
            found[i] = (rows, time.process_time() - started)
        save(counts_path.with_suffix(f".shard{mine}.pkl"), found)
        return 0

    found = read_shards(counts_path)
    disk = read_shards(args.work / args.disk_checks.format(n=n))
    missing = [i for i in queries if i not in found or i not in disk]
    if missing:
        print(f"{len(missing)} queries lack a check: run --shard K/N here and whitening_nyala.")
        return 1

    def position(i: int, weight: str) -> int:
        rows, _cpu = found[i]
        whitened = dict(disk[i][args.variant][0])
        best = max((score for _id, score, _n in rows), default=0.0) or 1.0

        def key(row: tuple, weight: str) -> float:
            animal, score, sift = row
            share = verify.SHORTLIST_WEIGHT * score / best
            if weight == "sift":
                return sift + share
            return whitened.get(animal, 0) + float(weight) * sift + share

        by_disk = sorted(rows, key=lambda row: key(row, "0"), reverse=True)
        top = args.detail_top if weight != "sift" else len(rows)
        head = sorted(by_disk[:top], key=lambda row: key(row, weight), reverse=True)
        order = [animal for animal, _s, _n in head + by_disk[top:]]
        return order.index(ids[i]) + 1 if ids[i] in order else 10**6

    print(f"{len(queries)} leave-one-out queries, 5 folds by animal; RootSIFT {slug}\n")
    print("| order by | R@1 / @2 / @4 | MRR | won / lost vs DISK's check | p |")
    print("| --- | --- | ---: | ---: | ---: |")
    alone = np.array([position(i, "0") for i in queries]) == 1
    for weight in args.weights:
        r = np.array([position(i, weight) for i in queries])
        firsts = r == 1
        won, lost = int((firsts & ~alone).sum()), int((alone & ~firsts).sum())
        label = {"0": "DISK's whitened check", "sift": "RootSIFT's check"}.get(
            weight, f"DISK's + {weight} x RootSIFT's inliers"
        )
        at = " / ".join(f"{np.mean(r <= k):.3f}" for k in (1, 2, 4))
        print(
            f"| {label} | {at} | {np.mean(1 / r):.3f} | +{won} / -{lost} | "
            f"{sign_test(won, lost):.3g} |"
        )
    cpu = np.array([found[i][1] for i in queries])
    p50, p95 = np.percentile(cpu, [50, 95])
    print(f"\nRootSIFT's check: {p50:.3f} / {p95:.3f} CPU s a query (p50 / p95)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
