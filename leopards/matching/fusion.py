"""A first stage of two voices: SIFT-LNBNN's shortlist fused with DISK-LNBNN's.

The DISK descriptors that the second stage stores per box (masked, 384 px, every
keypoint on the animal: about 980 on a nyala photo) are searched and voted on exactly
like SIFT's: the same uint8 MatchIndex and the same scoring.rank. On all 1,205 nyala
photos the fused shortlist holds the animal among its first 3 for 44 % of the queries
against SIFT's 29 % (bench/README.md, "Every keypoint on the animal in the DISK voice").
"""

from __future__ import annotations

import dataclasses

import numpy as np

from leopards.matching.features import Features
from leopards.matching.index import Label
from leopards.matching.learned import LearnedFeatures
from leopards.matching.scoring import Candidate

# DISK components lie within +-0.45 (all nyala photos): 280 steps a unit keep them in
# 0-255 around 127.5. A shift and one scale leave the distances' order as it was, and
# the rounding (1/280) is small beside the distances between descriptors.
DISK_SCALE = 280.0


def as_index_features(learned: LearnedFeatures) -> Features:
    """Return DISK features in the shape the SIFT index takes (uint8, 4-column keypoints).

    The keypoints stay in the crop's pixels: the affine check only needs one frame per box.
    """
    codes = np.clip(np.rint(learned.descriptors.astype(np.float32) * DISK_SCALE + 127.5), 0, 255)
    points = np.zeros((len(learned), 4), np.float32)
    points[:, :2] = learned.keypoints
    return Features(keypoints=points, descriptors=codes.astype(np.uint8))


def normalised(shortlist: list[Candidate]) -> dict[Label, float]:
    """Return {individual: score / the query's best score} of one shortlist."""
    top = max((c.score for c in shortlist), default=0.0)
    return {c.individual_id: c.score / top for c in shortlist} if top > 0 else {}


def fuse(sift: list[Candidate], disk: list[Candidate], weight: float) -> list[Candidate]:
    """Order the union of both shortlists by normalised SIFT score + weight x DISK's.

    Each score is divided by the query's best in its own shortlist, since SIFT and DISK
    votes have scales of their own. A candidate SIFT found keeps SIFT's evidence (best
    reference, affine inliers, matched points: what the review page draws and the
    second stage weighs); DISK's best reference is listed first among its references.
    One only DISK found shows DISK's best reference and no matched points. Weight 0 (or
    no DISK votes) gives SIFT's order exactly.
    """
    if weight <= 0 or not disk:
        return list(sift)
    a, b = normalised(sift), normalised(disk)
    by_disk = {c.individual_id: c for c in disk}
    fused = []
    for candidate in sift:
        d = by_disk.pop(candidate.individual_id, None)
        references = (*(d.references if d else ()), *candidate.references)
        fused.append(
            dataclasses.replace(
                candidate,
                score=a.get(candidate.individual_id, 0.0)
                + weight * b.get(candidate.individual_id, 0.0),
                references=tuple(dict.fromkeys(references)),
            )
        )
    for d in by_disk.values():
        fused.append(
            dataclasses.replace(
                d,
                score=weight * b.get(d.individual_id, 0.0),
                raw_score=0.0,
                inliers=0,
                matches=np.zeros((0, 4), np.float32),
            )
        )
    # Stable: ties keep SIFT's order, then DISK's.
    fused.sort(key=lambda c: c.score, reverse=True)
    return fused
