"""Features of a sighting's box from the photo's bytes, without Django: a process pool runs it."""

from __future__ import annotations

import dataclasses
import io
import logging
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from leopards.matching import foreground
from leopards.matching.features import (
    FEATURES_VERSION,
    MIN_BOX_SIDE,
    OUTLINED_FEATURES_VERSION,
    Box,
    Features,
    ImageSource,
    extract_features,
)

logger = logging.getLogger(__name__)

# x, y, width, height relative (0-1) to the photo, as sightings store them.
RelativeBox = tuple[float, float, float, float]

UNREADABLE = "unreadable"
TOO_SMALL = "too_small"
NO_PATTERN = "no_pattern"
# learned_blob's mask when the box's outline was not cut yet (None means "the whole box").
UNCUT = object()


@dataclass(frozen=True)
class BoxFeatures:
    """Serialised features of a box, or why there are none."""

    blob: bytes | None  # Features.to_bytes(); None without keypoints
    count: int
    problem: str = ""  # "", UNREADABLE, TOO_SMALL or NO_PATTERN
    detail: str = ""  # the decoder's message, or the box's shorter side in pixels
    # LearnedFeatures.to_bytes() for the second stage; None when not asked for or none.
    learned: bytes | None = None


def outlines_sift(learned_stage: bool) -> bool:
    """Tell whether SIFT keypoints are kept inside the animal's outline here.

    With a learned stage running (its probability was fitted on rankings made so) and
    ISNet installed. The shortlist alone keeps its inscribed ellipse: its probability
    was fitted on that, and a stranger's outline, shaped like any animal's, gave SIFT
    inliers enough to pass for a match in a small catalogue (bench/README.md).
    """
    return learned_stage and foreground.method() == foreground.ISNET


def features_version(outlined: bool) -> int:
    """Return the version of the SIFT features extracted with or without the outline."""
    return OUTLINED_FEATURES_VERSION if outlined else FEATURES_VERSION


def sift_features(
    image: ImageSource, box: Box | None, outlined: bool, mask: object = UNCUT
) -> Features:
    """Return a box's SIFT features, inside ISNet's outline of the animal when outlined.

    mask, when the outline was already cut (foreground_mask), is used instead of cutting
    it again.
    """
    if not outlined:
        return extract_features(image, box)
    if mask is UNCUT:
        mask = foreground.foreground_mask(image, box, cut=foreground.ISNET)
    found = extract_features(image, box, foreground=mask)
    # The one place the version is set: a box whose outline was too small to trust
    # (mask None, the ellipse alone) is still this extraction's.
    return dataclasses.replace(found, version=features_version(outlined))


def learned_blob(
    data: bytes,
    pixels: tuple[float, float, float, float] | None,
    backend: str,
    mask: np.ndarray | object | None = UNCUT,
) -> bytes | None:
    """Return the box's learned features by backend ("disk" or "xfeat"), or None when
    the second stage cannot run here. mask is the box's outline (foreground_mask) when
    already cut."""
    try:
        from leopards.matching.learned import extract_for

        # Only the animal's own keypoints: the learned matcher, trained on buildings and
        # landscapes, otherwise matches the rocks behind two different animals.
        if mask is UNCUT:
            mask = foreground.foreground_mask(data, pixels)
        found = extract_for(backend, data, pixels, foreground=mask)
    except ImportError as exc:
        # torch, kornia or the weights' package is not installed: the shortlist still
        # ranks alone.
        logger.warning("No learned features, the second stage is not installed: %s", exc)
        return None
    return found.to_bytes() if len(found) else None


def box_features(
    data: bytes, box: RelativeBox | None, learned: str = "", outlined: bool | None = None
) -> BoxFeatures:
    """Extract the features of a relative box (the whole photo without one).

    With learned (a backend: "disk" or "xfeat"), the second stage's features of the
    same box are extracted too. outlined keeps SIFT's keypoints inside ISNet's outline
    (outlines_sift; by default when learned features are asked for).
    """
    if outlined is None:
        outlined = outlines_sift(bool(learned))
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        pixels = None
        if box is not None:
            pixels = (box[0] * width, box[1] * height, box[2] * width, box[3] * height)
        # With a learned stage and ISNet the shortlist's SIFT keypoints are the animal's
        # only too; GrabCut's outline is left to the learned stage (foreground.py).
        mask = foreground.foreground_mask(data, pixels) if outlined or learned else None
        features = sift_features(data, pixels, outlined, mask)
    except (OSError, ValueError, Image.DecompressionBombError, cv2.error) as exc:
        # The bytes are already in memory: an error now is the image, not the storage.
        return BoxFeatures(None, 0, UNREADABLE, str(exc))
    if len(features):
        return BoxFeatures(
            features.to_bytes(),
            len(features),
            learned=learned_blob(data, pixels, learned, mask) if learned else None,
        )
    side = min(pixels[2], pixels[3]) if pixels else min(width, height)
    if side < MIN_BOX_SIDE:
        return BoxFeatures(None, 0, TOO_SMALL, str(int(side)))
    return BoxFeatures(None, 0, NO_PATTERN)


def box_features_job(job: tuple[bytes, RelativeBox | None, str, bool]) -> BoxFeatures:
    """Run box_features on one (bytes, box, learned backend, outlined) job, for
    ProcessPoolExecutor.map."""
    return box_features(*job)
