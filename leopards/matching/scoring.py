"""Rank catalogue individuals for a query box: LNBNN votes, then a geometric check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from leopards.matching.features import Features
from leopards.matching.index import Label, MatchIndex

DEFAULT_K = 6
DEFAULT_SHORTLIST = 20
DEFAULT_REFS_PER_INDIVIDUAL = 2
DEFAULT_GEOMETRY_WEIGHT = 1.0
# How many of an individual's voted reference boxes a candidate lists for the second stage.
MAX_LISTED_REFERENCES = 8
# RANSAC reprojection tolerance as a share of the reference keypoints' extent: a walking
# body bends, so one affine map fits a flank only to a few percent.
RANSAC_TOLERANCE = 0.04
MIN_RANSAC_PIXELS = 4.0
# The matches of a candidate that had no geometric check: shared, so read-only.
_NO_MATCHES = np.zeros((0, 4), np.float32)
_NO_MATCHES.flags.writeable = False


@dataclass(frozen=True)
class Candidate:
    """One ranked individual for a query box."""

    individual_id: Label
    score: float  # LNBNN votes of the best reference plus a bonus for consistent ones
    raw_score: float  # LNBNN votes before the geometric check
    best_reference_id: Label | None
    inliers: int
    # (m, 4) float32: query x, y and reference x, y of each inlier, in image pixels.
    matches: np.ndarray = field(repr=False)
    # The individual's reference boxes that got votes, most votes first (shortlist only).
    references: tuple[Label, ...] = ()
    # Filled by the second stage (leopards.matching.rerank) for the individuals it compared:
    # 2 when it placed this one, its best reference, and that pair's evidence.
    stage: int = 1
    learned_reference_id: Label | None = None
    learned_matches: int = 0
    learned_inliers: int = 0
    learned_confidence: float = 0.0
    learned_pairs: np.ndarray = field(default_factory=lambda: _NO_MATCHES, repr=False)
    # Filled by the pair check before the re-rank (leopards.matching.verify) for the
    # individuals it compared: its best pair's reference and inliers; None when not
    # compared. The second stage compares that reference first.
    verified_reference_id: Label | None = None
    verified_inliers: int | None = None


def rank(
    index: MatchIndex,
    features: Features,
    flank: str,
    *,
    k: int = DEFAULT_K,
    shortlist: int = DEFAULT_SHORTLIST,
    refs_per_individual: int = DEFAULT_REFS_PER_INDIVIDUAL,
    exclude_reference_ids: Iterable[Label] = (),
    verify: bool = True,
    per_reference: bool = True,
    geometry_weight: float = DEFAULT_GEOMETRY_WEIGHT,
) -> list[Candidate]:
    """Rank the individuals of a flank catalogue (unknown: all) for one query box."""
    if len(features) == 0 or len(index) == 0:
        return []
    neighbours = index.search(
        features.float_descriptors(), flank, k + 1, exclude_reference_ids=exclude_reference_ids
    )
    distances = np.sqrt(np.maximum(neighbours.distances, 0))
    rows = neighbours.reference_rows
    # LNBNN (McCann and Lowe 2012): a match earns how much closer it is than the
    # (k+1)-th neighbour, the query descriptor's local background.
    normaliser = distances[:, k : k + 1]
    with np.errstate(invalid="ignore"):
        # inf - inf where a small catalogue has fewer than k + 1 descriptors.
        weights = normaliser - distances[:, :k]
    rows_k, local_k = rows[:, :k], neighbours.local[:, :k]
    valid = (rows_k >= 0) & np.isfinite(weights) & (weights > 0)
    codes = np.where(rows_k >= 0, index.row_individual_codes[np.maximum(rows_k, 0)], -1)
    # A query descriptor votes once per individual (or per reference box), with its
    # nearest match, so that repeated near-identical descriptors do not stack up.
    groups = rows_k if per_reference else codes
    for j in range(1, k):
        valid[:, j] &= ~np.any(groups[:, :j] == groups[:, j : j + 1], axis=1)
    weights = np.where(valid, weights, 0.0)

    labels = index.individual_labels
    # Votes per reference box in numpy: a query has a few thousand votes, spread over
    # more boxes the larger the catalogue, and a Python loop over them grew with it.
    touched, inverse = np.unique(rows_k[valid], return_inverse=True)
    reference_scores = np.bincount(inverse, weights[valid], minlength=len(touched))
    touched_codes = index.row_individual_codes[touched]
    if per_reference:
        # An individual scores as its best reference box: one with many boxes in the
        # catalogue must not collect votes from every query by sheer number.
        individual_scores = np.zeros(len(labels))
        np.maximum.at(individual_scores, touched_codes, reference_scores)
    else:
        individual_scores = np.bincount(codes[valid], weights[valid], minlength=len(labels))
    # Each individual's boxes, best first: sorted by individual, then by falling score.
    order = np.lexsort((-reference_scores, touched_codes))
    sorted_rows, sorted_codes = touched[order], touched_codes[order]

    ranked = np.argsort(-individual_scores, kind="stable")
    ranked = ranked[individual_scores[ranked] > 0]
    firsts = np.searchsorted(sorted_codes, ranked)
    ends = np.searchsorted(sorted_codes, ranked, side="right")
    query_points = features.keypoints[:, :2]
    candidates: list[Candidate] = []
    for position, (code, first, end) in enumerate(
        zip(ranked.tolist(), firsts.tolist(), ends.tolist(), strict=True)
    ):
        best_reference = index.reference_of_row(int(sorted_rows[first]))
        raw = float(individual_scores[code])
        listed = ()
        if position < shortlist:
            listed = tuple(
                index.reference_of_row(int(row))
                for row in sorted_rows[first : min(end, first + MAX_LISTED_REFERENCES)]
            )
        if not verify or position >= shortlist:
            candidates.append(
                Candidate(
                    individual_id=labels[code],
                    score=raw,
                    raw_score=raw,
                    best_reference_id=best_reference,
                    inliers=0,
                    matches=_NO_MATCHES,
                    references=listed,
                )
            )
            continue
        rows_of = sorted_rows[first : first + refs_per_individual]
        rows_of = rows_of[sorted_codes[first : first + refs_per_individual] == code].tolist()
        best = (raw, 0, np.zeros((0, 4), np.float32), best_reference)
        for row in rows_of[:refs_per_individual]:
            pick = (rows_k == row) & valid
            query_idx, slot = np.nonzero(pick)
            pairs = np.concatenate(
                [query_points[query_idx], index.points_of_row(row)[local_k[query_idx, slot]]],
                axis=1,
            )
            inlier = _verify(pairs)
            # Geometrically consistent votes count extra rather than alone: a walking,
            # twisting body defeats one affine map on hard real pairs, where the plain
            # votes still carry the identity (bench/README.md).
            verified = float(weights[query_idx[inlier], slot[inlier]].sum())
            own = float(reference_scores[np.searchsorted(touched, row)])
            score = own + geometry_weight * verified
            if score > best[0] or (best[1] == 0 and inlier.any() and score >= best[0]):
                best = (score, int(inlier.sum()), pairs[inlier], index.reference_of_row(row))
        candidates.append(
            Candidate(
                individual_id=labels[code],
                score=best[0],
                raw_score=raw,
                best_reference_id=best[3],
                inliers=best[1],
                matches=best[2].astype(np.float32),
                references=listed,
            )
        )
    candidates.sort(key=lambda c: (c.score, c.raw_score), reverse=True)
    return candidates


def _verify(pairs: np.ndarray) -> np.ndarray:
    """Return a boolean mask of the pairs consistent with one affine map (RANSAC)."""
    inliers = np.zeros(len(pairs), bool)
    if len(pairs) < 4:
        return inliers
    src = np.ascontiguousarray(pairs[:, :2], np.float32)
    dst = np.ascontiguousarray(pairs[:, 2:], np.float32)
    extent = float(np.linalg.norm(dst.max(axis=0) - dst.min(axis=0)))
    threshold = max(MIN_RANSAC_PIXELS, RANSAC_TOLERANCE * extent)
    model, mask = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold, maxIters=1000
    )
    if model is None or mask is None:
        return inliers
    # A flank seen from a camera is never mirrored or squashed tenfold: reject maps that
    # flip or degenerate, which RANSAC happily fits to a few chance matches.
    linear = model[:, :2]
    det = float(np.linalg.det(linear))
    singular = np.linalg.svd(linear, compute_uv=False)
    if det <= 0 or singular[1] <= 0 or singular[0] / singular[1] > 4:
        return inliers
    return mask.ravel().astype(bool)


def match_pair(a: Features, b: Features, *, ratio: float = 0.8) -> np.ndarray:
    """Return the (m, 4) inlier keypoint pairs (ax, ay, bx, by) between two boxes."""
    if len(a) < 2 or len(b) < 2:
        return np.zeros((0, 4), np.float32)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    knn = matcher.knnMatch(a.float_descriptors(), b.float_descriptors(), k=2)
    # Lowe's ratio test keeps matches that are clearly better than the runner-up.
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    if not good:
        return np.zeros((0, 4), np.float32)
    pairs = np.array(
        [(*a.keypoints[m.queryIdx, :2], *b.keypoints[m.trainIdx, :2]) for m in good], np.float32
    )
    return pairs[_verify(pairs)]
