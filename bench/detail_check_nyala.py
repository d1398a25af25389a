"""A second pair check with RootSIFT at the photo's own resolution, beside DISK's, on nyala.

The pair check (leopards.matching.verify) compares the query box with the shortlist's
first individuals on DISK keypoints of a 384 px crop, a few hundred inside the shrunk
outline. This bench asks whether a second, independent voice on finer detail adds to
it: RootSIFT (Arandjelovic and Zisserman 2012) on the whole photo at --long-side px,
keypoints only inside the engine's shrunk outline (foreground.inner), the strongest
--keypoints of those inside (OpenCV's own nfeatures would keep the strongest of the
whole photo before dropping those outside), upright as the engine's SIFT, paired as the
check pairs DISK (mutual nearest neighbours, MAGSAC++ homography within --threshold px).

For each leave-one-out query (1,099, 5 folds by animal as every nyala bench) the first
--depth individuals of the fused shortlist (first_stage_nyala.py's) are checked on
their first 2 references (verify.REFERENCES), and ordered by

    DISK's whitened inliers (bench/whitening_nyala.py's counts, --disk-checks)
    + weight x RootSIFT's inliers + verify.SHORTLIST_WEIGHT x the shortlist's share

for each of --weights (0: DISK's check alone; "sift": RootSIFT's alone). It prints
rank-1 / 2 / 4, MRR, and the queries won and lost against DISK's check alone with the
sign test's p, and RootSIFT's CPU time per query.

    python bench/whitening_nyala.py --dimensions 64 --shard 0/2 ...   # and 1/2, then merged
    nice python bench/detail_check_nyala.py --cache C --work W --shard 0/2   # and 1/2
    python bench/detail_check_nyala.py --cache C --work W

The photos are read from ../shared and never copied.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from first_stage_nyala import fuse, sign_test
from matching_nyala import (
    DEFAULT_DATA,
    cached,
    labelled_photos,
    leave_one_out_queries,
    read_shards,
    save,
)
from nyala_probability import FUSION_WEIGHT
from rerank_nyala import read_shortlists

from leopards.matching import foreground, verify
from leopards.matching.learned import LearnedFeatures


def rootsift(photo: Path, mask: np.ndarray | None, long_side: int, keypoints: int, contrast):
    """Return the photo's strongest RootSIFT keypoints inside the shrunk outline."""
    grey = cv2.imread(str(photo), cv2.IMREAD_GRAYSCALE)
    scale = long_side / max(grey.shape)
    if abs(scale - 1) > 0.01:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    inside = foreground.inner(mask)
    if inside is not None:
        inside = cv2.resize(inside, grey.shape[::-1], interpolation=cv2.INTER_NEAREST)
    sift = cv2.SIFT_create(contrastThreshold=contrast)
    found = sorted(sift.detect(grey, inside), key=lambda kp: -kp.response)[:keypoints]
    upright = [
        cv2.KeyPoint(kp.pt[0], kp.pt[1], kp.size, 0.0, kp.response, kp.octave) for kp in found
    ]
    upright, descriptors = sift.compute(grey, upright)
    if descriptors is None:
        return LearnedFeatures.empty()
    descriptors = np.sqrt(descriptors / np.maximum(descriptors.sum(1, keepdims=True), 1e-7))
    return LearnedFeatures(
        keypoints=np.array([kp.pt for kp in upright], np.float32).reshape(-1, 2),
        descriptors=descriptors.astype(np.float16),
        size=grey.shape[::-1],
        origin=(0.0, 0.0, scale),
        model="rootsift",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--long-side", type=int, default=640)
    parser.add_argument("--keypoints", type=int, default=3000)
    parser.add_argument("--contrast", type=float, default=0.01)
    parser.add_argument("--threshold", type=float, default=4.0, help="MAGSAC++'s, in px")
    parser.add_argument("--depth", type=int, default=verify.TOP_N)
    parser.add_argument(
        "--disk-checks",
        default="whitened-checks-{n}-m15-r2.pkl",
        help="bench/whitening_nyala.py's counts in --work ({n}: the photos)",
    )
    parser.add_argument("--variant", default="d64", help="of the whitened check's counts")
    parser.add_argument("--weights", nargs="+", default=["0", "0.5", "1", "2", "sift"])
    parser.add_argument("--shard", default="", help="K/N: check every Nth query, then stop")
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    n = len(paths)
    queries = leave_one_out_queries(ids, sides)
    slug = f"{args.long_side}-{args.keypoints}-{args.contrast}"
    counts_path = args.work / f"detail-checks-{n}-{slug}-t{args.threshold}-n{args.depth}.pkl"
    if args.shard:
        masks = cached(args.cache / "mask.pkl", dict)
        features = cached(
            args.cache / f"rootsift-{slug}.pkl",
            lambda: [
                rootsift(p, masks[str(p)], args.long_side, args.keypoints, args.contrast)
                for p in paths
            ],
        )
        print(f"median keypoints {np.median([len(f) for f in features]):.0f}", flush=True)
        shortlists = read_shortlists(args.work, n)
        mine, shards = (int(v) for v in args.shard.split("/"))
        found = {}
        for i in queries[mine::shards]:
            started = time.process_time()
            fused = fuse(shortlists["SIFT"][i], shortlists["DISK"][i], FUSION_WEIGHT)
            rows = []
            for c in fused[: args.depth]:
                refs = verify._references(c, verify.REFERENCES)
                counts = [
                    len(
                        verify.inlier_pairs(
                            features[i],
                            features[r],
                            keypoints=args.keypoints,
                            threshold=args.threshold,
                        )
                    )
                    for r in refs
                ]
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

        def key(row: tuple) -> float:
            animal, score, sift = row
            share = verify.SHORTLIST_WEIGHT * score / best
            if weight == "sift":
                return sift + share
            return whitened.get(animal, 0) + float(weight) * sift + share

        order = [animal for animal, _s, _n in sorted(rows, key=key, reverse=True)]
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
