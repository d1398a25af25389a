"""The shortlist's first individuals checked pair by pair, before the learned matcher.

The first stage votes descriptor by descriptor over the whole catalogue (LNBNN): each
of the query's keypoints votes for the references of its nearest neighbours, and only
the votes that reached a reference enter its affine check. A real animal photographed
from another angle and in other light shares few patches close enough to win those
votes, so the right individual is often on the shortlist without leading it.

Here the query box is compared with each of the shortlist's first TOP_N individuals
as a pair, box against box, as HotSpotter's spatial verification and the
image-matching pipelines do: the strongest KEYPOINTS DISK keypoints of each box (the
features the second stage stores), matched as mutual nearest neighbours of their
descriptors, then the affine map most of those matches agree on, fitted by MAGSAC++
(Barath et al., CVPR 2020; OpenCV's ``USAC_MAGSAC``) within THRESHOLD pixels of the
384 px crops. A flank photographed from a few metres or more is close to an affine
image of another photo of it, and an affine map is fixed by three pairs where a
homography needs four: among a thousand pairs of which a few dozen are the same spots,
its samples still find them in the iterations allowed, where the homography's often
found only a handful of chance pairs. On nyala flanks the RootSIFT voice's median count
between two photos of one flank rose from 9 to 13 inliers (a stranger's stayed at 6),
and the check led with the animal for 58 % of the queries instead of 56 %
(bench/README.md, "The pair check's affine map"). An individual counts the inliers of
its best reference among its first REFERENCES; the shortlist's own score, read against
its leader's, breaks near ties.
The TOP_N are re-ordered by that count, and the learned matcher then compares the
first MATCH_RERANK_TOP_K of the new order.

On all 1,205 nyala photos (bench/README.md, "Pairs checked before the re-rank") the
animal leads the shortlist for 44 % of the queries instead of 32 %, and is among
the first 2 (what the learned matcher compares) for 52 % instead of 42 %; a pair
costs a few CPU milliseconds, where LightGlue takes a quarter of a second.

The first DETAIL_TOP_N of that order are then checked again by a second, independent
voice, RootSIFT on the box at up to 640 px (leopards.matching.detail), paired the same
way; its inliers are added to DISK's and those individuals ordered again. The two
voices fail on different photos: on nyala flanks the check leads with the animal for
56 % of the queries with both, 54 % with DISK's alone (bench/README.md, "A RootSIFT
second voice in the pair check").

Both boxes' DISK descriptors are first projected by a whitening learned from matched coat
patches (leopards.matching.whitening; MATCH_WHITENING_FILE): on nyala animals it was
not fitted on, the check then leads with the animal for 45.9 % of the queries and is
among the first 2 for 54.5 % (bench/README.md, "DISK's descriptors whitened for the
pair check").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, MutableMapping

import cv2
import numpy as np

from leopards.matching import detail
from leopards.matching.index import Label
from leopards.matching.learned import LearnedFeatures, network_of
from leopards.matching.scoring import Candidate
from leopards.matching.whitening import Whitening

# The shortlist's first individuals compared, and references of each (bench/README.md).
# The fused shortlist holds the animal among its first 20 for 74 % of nyala queries and
# among its first 40 for 80 %: checking 40 put it first for 14 more queries and 2 fewer
# (bench/README.md, "The pair check of 40"), for 40 more DISK pairs of a few ms each.
TOP_N = 40
REFERENCES = 2
# The strongest keypoints of each box (the stored features list them strongest first):
# 1,024 put the animal first more often than 512 on nyala photos, for a millisecond.
KEYPOINTS = 1024
# MAGSAC++'s inlier threshold in pixels of the 384 px crops; 6 ranked worse, and with the
# affine map 2, 4 and 5 ranked no better (nor 10,000 iterations).
THRESHOLD = 3.0
MAX_ITERATIONS = 2000
CONFIDENCE = 0.999
# Fewer mutual matches than this cannot give a map worth counting.
MIN_MATCHES = 8
# The weight of the shortlist's score (divided by its leader's) beside the inliers:
# a tie-breaker, worth a few inliers.
SHORTLIST_WEIGHT = 4.0
# The shortlist's leader keeps its place unless another individual's best pair has at
# least this many inliers, both voices' added: between two different animals the check
# still finds a few (a real snow leopard's stranger had 8 DISK inliers, against 5 for
# its own animal on an infrared night shot). With DISK alone the floor was 15, above
# 68 % of the strangers' pairs on nyala flanks; with the RootSIFT voice added, 68 % of
# them lie below 22 (bench/README.md, "A RootSIFT second voice in the pair check").
MIN_OVERTAKE = 22
# The RootSIFT voice (leopards.matching.detail) on the first DETAIL_TOP_N of DISK's
# order, its inliers added to DISK's with this weight (bench/README.md, "A RootSIFT
# second voice in the pair check"): on nyala flanks the first 10 gain nearly what all
# 20 gain, for half the cost of a query's check.
DETAIL_WEIGHT = 1.0
DETAIL_TOP_N = 10

Loader = Callable[[list[Label]], dict[Label, LearnedFeatures]]


def pair_inliers(query: LearnedFeatures, reference: LearnedFeatures) -> int:
    """Return the inliers of the affine map between two boxes' mutual nearest neighbours."""
    return len(inlier_pairs(query, reference))


def inlier_pairs(
    query: LearnedFeatures,
    reference: LearnedFeatures,
    *,
    keypoints: int | None = None,
    threshold: float = THRESHOLD,
) -> np.ndarray:
    """Return the (query, reference) keypoint indices of the affine map's inliers, (n, 2),
    among each box's first keypoints (KEYPOINTS unless given) within threshold pixels."""
    none = np.empty((0, 2), np.int64)
    if len(query) < MIN_MATCHES or len(reference) < MIN_MATCHES:
        return none
    limit = KEYPOINTS if keypoints is None else keypoints
    mutual, forward = mutual_neighbours(query, reference, limit)
    if len(mutual) < MIN_MATCHES:
        return none
    source = query.keypoints[:limit][mutual].astype(np.float32)
    target = reference.keypoints[:limit][forward[mutual]].astype(np.float32)
    _affine, inliers = affine(source, target, threshold)
    kept = mutual[inliers]
    return np.stack([kept, forward[kept]], axis=1)


def affine(
    source: np.ndarray, target: np.ndarray, threshold: float = THRESHOLD
) -> tuple[np.ndarray | None, np.ndarray]:
    """Return the affine map MAGSAC++ fits to matched points (float32, (n, 2) each) within
    threshold pixels, and its inliers as a boolean mask (None and no inliers when fewer
    than MIN_MATCHES points or no fit)."""
    if len(source) < MIN_MATCHES:
        return None, np.zeros(len(source), bool)
    # OpenCV's USAC seeds its own generator for each call: one pair, one count.
    found, inliers = cv2.estimateAffine2D(
        source,
        target,
        method=cv2.USAC_MAGSAC,
        ransacReprojThreshold=threshold,
        maxIters=MAX_ITERATIONS,
        confidence=CONFIDENCE,
    )
    if inliers is None:
        return None, np.zeros(len(source), bool)
    return found, inliers.ravel().astype(bool)


def mutual_neighbours(
    query: LearnedFeatures, reference: LearnedFeatures, keypoints: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (mutual, forward): the query's first keypoints (KEYPOINTS unless given) whose
    nearest neighbour among the reference's has them as its own nearest, and each query
    keypoint's nearest."""
    limit = KEYPOINTS if keypoints is None else keypoints
    a = np.asarray(query.descriptors[:limit], dtype=np.float32)
    b = np.asarray(reference.descriptors[:limit], dtype=np.float32)
    # Unit descriptors: the largest dot product is the nearest neighbour.
    similarity = a @ b.T
    forward = similarity.argmax(axis=1)
    nearest = similarity[np.arange(len(a)), forward]
    # A query keypoint is mutual when its nearest has no closer query keypoint: compared
    # with each reference keypoint's largest similarity (a maximum down the columns, a
    # tenth of the cost of finding where it lies), the first of equals kept.
    reached = np.flatnonzero(nearest >= similarity.max(axis=0)[forward])
    _columns, first = np.unique(forward[reached], return_index=True)
    return np.sort(reached[first]), forward


def matched_descriptors(
    pairs: Iterable[tuple[LearnedFeatures, LearnedFeatures]],
    min_inliers: int,
    whitening: Whitening | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Return the descriptors of the inliers of every pair (two photos of one flank) whose
    check found at least min_inliers: first[i] and second[i] describe one patch of the
    coat (leopards.matching.whitening.fit). The third value counts the pairs kept.

    With whitening, the check pairs the projected descriptors (as verify does); the
    descriptors returned are the boxes' own either way."""
    first, second, kept_pairs = [], [], 0
    for a, b in pairs:
        kept = inlier_pairs(projected(a, whitening), projected(b, whitening))
        if len(kept) < min_inliers:
            continue
        first.append(a.descriptors[kept[:, 0]].astype(np.float32))
        second.append(b.descriptors[kept[:, 1]].astype(np.float32))
        kept_pairs += 1
    if not first:
        return np.empty((0, 0), np.float32), np.empty((0, 0), np.float32), 0
    return np.concatenate(first), np.concatenate(second), kept_pairs


def projected(features: LearnedFeatures, whitening: Whitening | None) -> LearnedFeatures:
    """Return the box's first KEYPOINTS with their descriptors projected by whitening
    (leopards.matching.whitening), or the box as it is without one, or with one made for
    another model or descriptor length."""
    if (
        whitening is None
        or whitening.model != network_of(features.model)
        or whitening.mean.shape[0] != features.descriptors.shape[1]
    ):
        return features
    first = features.strongest(KEYPOINTS)
    return dataclasses.replace(first, descriptors=whitening.apply(first.descriptors))


def verify(
    candidates: list[Candidate],
    query: LearnedFeatures,
    load: Loader,
    *,
    top_n: int = TOP_N,
    references: int = REFERENCES,
    cache: MutableMapping[Label, tuple[int, int | None]] | None = None,
    min_overtake: int = MIN_OVERTAKE,
    whitening: Whitening | None = None,
    detail_top_n: int = DETAIL_TOP_N,
) -> list[Candidate]:
    """Re-order the first top_n candidates by their pairs' geometric inliers.

    DISK's inliers order the top_n; then the first detail_top_n of that order add the
    inliers of the RootSIFT voice (leopards.matching.detail, DETAIL_WEIGHT each) where
    both boxes carry it, and are ordered again. The first candidate keeps its place
    unless the new first has min_overtake inliers.

    load(reference ids) returns the stored learned features of those references (one
    without them is skipped). cache, keyed by reference id, keeps this query's counts
    (DISK's, the detail's or None where not compared). Each candidate records its best
    pair (Candidate.verified_reference_id and verified_inliers, both voices' inliers
    added: None and 0 when none of its references could be compared). whitening, when
    given, projects the DISK descriptors of both boxes before they are matched.
    """
    if top_n <= 0 or len(query) < MIN_MATCHES or not candidates:
        return list(candidates)
    head, tail = candidates[:top_n], candidates[top_n:]
    wanted = {c.individual_id: _references(c, references) for c in head}
    # A reference counted before without the RootSIFT voice (beyond detail_top_n then)
    # is read again, in case it comes among the first now.
    needed = [
        r
        for refs in wanted.values()
        for r in refs
        if cache is None or r not in cache or cache[r][1] is None
    ]
    stored = load(needed) if needed else {}
    best_score = max((c.score for c in head), default=0.0)
    query = projected(query, whitening)
    if query.detail is not None:
        # Converted once, not for each of the references it is paired with.
        as_float = np.asarray(query.detail.descriptors, dtype=np.float32)
        query = dataclasses.replace(
            query, detail=dataclasses.replace(query.detail, descriptors=as_float)
        )
    counts: MutableMapping[Label, tuple[int, int | None]] = {} if cache is None else cache
    for ref in {r for refs in wanted.values() for r in refs}:
        if ref not in counts and ref in stored and stored[ref].model == query.model:
            counts[ref] = (pair_inliers(query, projected(stored[ref], whitening)), None)

    def best_pair(candidate: Candidate, voiced: bool) -> Candidate:
        best_ref, best = None, 0
        for ref in wanted[candidate.individual_id]:
            if ref not in counts:
                continue
            disk, fine = counts[ref]
            if voiced and fine is None and ref in stored:
                fine = detail_inliers(query, stored[ref])
                counts[ref] = (disk, fine)
            count = disk + round(DETAIL_WEIGHT * fine) if voiced and fine is not None else disk
            if best_ref is None or count > best:
                best_ref, best = ref, count
        return dataclasses.replace(candidate, verified_reference_id=best_ref, verified_inliers=best)

    def order(candidate: Candidate) -> float:
        share = candidate.score / best_score if best_score > 0 else 0.0
        return candidate.verified_inliers + SHORTLIST_WEIGHT * share

    # sorted() is stable: equal keys keep the shortlist's order.
    ordered = sorted((best_pair(c, False) for c in head), key=order, reverse=True)
    if detail_top_n > 0:
        finer = sorted(
            (best_pair(c, True) for c in ordered[:detail_top_n]), key=order, reverse=True
        )
        ordered = finer + ordered[detail_top_n:]
    leader = next(c for c in ordered if c.individual_id == head[0].individual_id)
    if ordered[0] is not leader and ordered[0].verified_inliers < min_overtake:
        ordered = [leader, *(c for c in ordered if c is not leader)]
    return ordered + list(tail)


def detail_inliers(query: LearnedFeatures, reference: LearnedFeatures) -> int:
    """Return the inliers of the RootSIFT voice between two boxes (0 when either lacks it)."""
    if query.detail is None or reference.detail is None:
        return 0
    if query.detail.model != reference.detail.model:
        return 0
    return len(
        inlier_pairs(
            query.detail,
            reference.detail,
            keypoints=detail.KEYPOINTS,
            threshold=detail.THRESHOLD,
        )
    )


def _references(candidate: Candidate, limit: int) -> list[Label]:
    """Return the references to compare: those that got the most votes (the DISK voice's
    first, as fusion lists them), else the best one."""
    if candidate.references:
        return list(candidate.references[:limit])
    best = candidate.best_reference_id
    return [best] if best is not None and limit > 0 else []
