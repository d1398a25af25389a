"""What the pair check could read beside its inlier count, on held-out nyala animals.

The pair check (leopards.matching.verify) orders the shortlist's first individuals by
one number, the inliers of the best homography between the query box and each of an
individual's references. Between two different animals it still finds up to a dozen,
by chance. This bench keeps, for every pair the check compares (each leave-one-out
query's fused shortlist, its first verify.TOP_N individuals, verify.REFERENCES
references each, descriptors projected by the query's fold projection
whitening-fold{F}-d64.npz of bench/whitening_nyala.py), what else the pair says:

- mutual: the mutual nearest neighbours the homography is fitted on;
- inliers: the check's own count; loose: inliers within 2 x THRESHOLD;
- second: inliers of a second homography fitted on the matches the first left out;
- similarity: the inliers' mean descriptor similarity;
- spread_q, spread_r: the area of the inliers' convex hull over that of all the box's
  keypoints, in the query and in the reference;
- scale, shear: log |det| of the homography's linear part and log of its singular values'
  ratio (chance inliers often fit a degenerate homography).

Then it orders each query's candidates by several scores read from them, and, for a
logistic pair score, fits on four folds' queries and scores the fifth's (folds by
animal). It prints rank-1 / 2 / 4 and MRR of each.

    nice python bench/pair_evidence_nyala.py --cache C --work W --shard 0/2   # and 1/2
    python bench/pair_evidence_nyala.py --cache C --work W
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from first_stage_nyala import folds_by_individual, fuse
from matching_nyala import (
    DEFAULT_DATA,
    labelled_photos,
    leave_one_out_queries,
    read_shards,
    save,
)
from nyala_probability import FUSION_WEIGHT
from rerank_nyala import read_shortlists, selected_features

from leopards.matching import verify
from leopards.matching.calibration import logistic_coefficients
from leopards.matching.whitening import Whitening

# A row: (individual, reference, its shortlist score over the leader's, *FIELDS).
FIELDS = (
    "mutual",
    "inliers",
    "loose",
    "second",
    "similarity",
    "spread_q",
    "spread_r",
    "scale",
    "shear",
)
SHARE = 2
COLUMN = {name: 3 + k for k, name in enumerate(FIELDS)}


def hull_share(points: np.ndarray, everything: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    whole = cv2.contourArea(cv2.convexHull(everything.astype(np.float32)))
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32))) / max(whole, 1.0))


def evidence(query, reference) -> tuple:
    """Return the FIELDS of one pair (both boxes already projected)."""
    empty = (0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if len(query) < verify.MIN_MATCHES or len(reference) < verify.MIN_MATCHES:
        return empty
    mutual, forward = verify.mutual_neighbours(query, reference)
    qk = query.keypoints[: verify.KEYPOINTS]
    rk = reference.keypoints[: verify.KEYPOINTS]
    source = qk[mutual].astype(np.float32)
    target = rk[forward[mutual]].astype(np.float32)
    h, kept = verify.homography(source, target)
    if h is None:
        return (len(mutual), *empty[1:])
    _h2, loose = verify.homography(source, target, 2 * verify.THRESHOLD)
    _h3, second = verify.homography(source[~kept], target[~kept])
    q = query.descriptors[: verify.KEYPOINTS][mutual[kept]].astype(np.float32)
    r = reference.descriptors[: verify.KEYPOINTS][forward[mutual[kept]]].astype(np.float32)
    similarity = float(np.mean(np.sum(q * r, axis=1))) if len(q) else 0.0
    linear = h[:2, :2] / (h[2, 2] if abs(h[2, 2]) > 1e-9 else 1.0)
    singular = np.linalg.svd(linear, compute_uv=False)
    return (
        len(mutual),
        int(kept.sum()),
        int(loose.sum()),
        int(second.sum()),
        similarity,
        hull_share(source[kept], qk),
        hull_share(target[kept], rk),
        float(np.log(max(abs(np.linalg.det(linear)), 1e-9))),
        float(np.log(max(singular[0], 1e-9) / max(singular[-1], 1e-9))),
    )


def collect(args, paths, ids, queries, fold_of) -> None:
    mine, shards = (int(v) for v in args.shard.split("/"))
    features = selected_features(args.cache, paths)
    shortlists = read_shortlists(args.work, len(paths))
    projections = {
        fold: Whitening.load(args.work / f"whitening-fold{fold}-{args.whitening}.npz")
        for fold in set(fold_of.values())
    }
    found = {}
    for i in queries[mine::shards]:
        projection = projections[fold_of[ids[i]]]
        fused = fuse(shortlists["SIFT"][i], shortlists["DISK"][i], FUSION_WEIGHT)
        head = fused[: verify.TOP_N]
        best = max((c.score for c in head), default=0.0) or 1.0
        query = verify.projected(features[i], projection)
        rows = []
        for c in head:
            for ref in verify._references(c, verify.REFERENCES):
                pair = evidence(query, verify.projected(features[ref], projection))
                rows.append((c.individual_id, ref, c.score / best, *pair))
        found[i] = rows
    save(args.work / f"pair-evidence-{args.whitening}.shard{mine}.pkl", found)
    print(f"{len(found)} queries", flush=True)


def ranked(rows: list, score) -> list:
    """Return the individuals in the check's order for a pair score (best pair of each),
    with the check's rule: the shortlist's leader keeps its place unless overtaken by a
    pair of at least MIN_OVERTAKE inliers."""
    best: dict = {}
    for row in rows:
        value = score(row)
        if row[0] not in best or value > best[row[0]][0]:
            best[row[0]] = (value, row)
    order = sorted(best, key=lambda a: best[a][0], reverse=True)
    leader = rows[0][0] if rows else None
    if order and order[0] != leader and best[order[0]][1][COLUMN["inliers"]] < verify.MIN_OVERTAKE:
        order = [leader, *(a for a in order if a != leader)]
    return order


def report(name: str, orders: dict, ids: list) -> None:
    positions = np.array(
        [next((p for p, a in enumerate(o, 1) if a == ids[i]), 10**6) for i, o in orders.items()]
    )
    at = " / ".join(f"{np.mean(positions <= k):.3f}" for k in (1, 2, 4))
    print(f"| {name} | {at} | {np.mean(1 / positions):.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/nyala"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/first-stage"))
    parser.add_argument("--whitening", default="d64", help="the fold projections' variant")
    parser.add_argument("--shard", default="", help="K/N: collect every Nth query, then stop")
    args = parser.parse_args()
    photos = labelled_photos(args.data)
    if photos is None:
        return 0
    paths, ids, sides = photos
    queries = leave_one_out_queries(ids, sides)
    fold_of = folds_by_individual(ids)
    if args.shard:
        collect(args, paths, ids, queries, fold_of)
        return 0
    found = read_shards(args.work / f"pair-evidence-{args.whitening}.pkl")
    if any(i not in found for i in queries):
        print("some queries have no evidence yet: run --shard K/N first.")
        return 1
    print(f"{len(queries)} leave-one-out queries\n")
    print("| score | R@1 / @2 / @4 | MRR |\n| --- | --- | ---: |")

    def by(score):
        return {i: ranked(found[i], score) for i in queries}

    def scored(pair_score):
        """Order by pair_score(row) plus the check's tie-breaker, the shortlist's share."""
        return by(lambda r: pair_score(r) + verify.SHORTLIST_WEIGHT * r[SHARE])

    inliers = COLUMN["inliers"]
    report("the check (inliers + 4 x share)", scored(lambda r: r[inliers]), ids)
    report("loose inliers + 4 x share", scored(lambda r: r[COLUMN["loose"]]), ids)
    report("inliers + second", scored(lambda r: r[inliers] + r[COLUMN["second"]]), ids)
    report("inliers x spread_q", scored(lambda r: r[inliers] * (0.5 + r[COLUMN["spread_q"]])), ids)
    mutual = COLUMN["mutual"]
    report("inliers - sqrt(mutual)", scored(lambda r: r[inliers] - np.sqrt(r[mutual])), ids)
    report("inliers x similarity", scored(lambda r: r[inliers] * r[COLUMN["similarity"]] * 2), ids)

    def degenerate(r) -> bool:
        return abs(r[COLUMN["scale"]]) > 1.5 or r[COLUMN["shear"]] > 1.5

    report(
        "inliers, degenerate halved",
        scored(lambda r: r[inliers] * (0.5 if degenerate(r) else 1.0)),
        ids,
    )

    # A logistic pair score: is this pair of the query's animal? Fitted on four folds.
    counts = [1 + FIELDS.index(name) for name in ("mutual", "inliers", "loose", "second")]

    def design(rows):
        """A bias, the share and every field, the counts as log1p."""
        x = np.array([r[SHARE:] for r in rows], float)
        x[:, counts] = np.log1p(x[:, counts])
        return np.column_stack([np.ones(len(x)), x])

    folds = sorted(set(fold_of.values()))
    orders = {}
    for fold in folds:
        train = [i for i in queries if fold_of[ids[i]] != fold]
        x = design([r for i in train for r in found[i]])
        y = np.array([r[0] == ids[i] for i in train for r in found[i]])
        coef = logistic_coefficients(x, y)
        for i in queries:
            if fold_of[ids[i]] == fold and found[i]:
                p = design(found[i]) @ coef
                value = {id(r): v for r, v in zip(found[i], p, strict=True)}
                orders[i] = ranked(found[i], lambda r, value=value: 1000 + value[id(r)])
    report("logistic on " + ", ".join(["share", *FIELDS]), orders, ids)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
