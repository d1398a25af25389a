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


def features_version() -> int:
    """Return the version of the SIFT features this engine extracts (and expects stored)."""
    if foreground.method() == foreground.ISNET:
        return OUTLINED_FEATURES_VERSION
    return FEATURES_VERSION


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


def box_features(data: bytes, box: RelativeBox | None, learned: str = "") -> BoxFeatures:
    """Extract the features of a relative box (the whole photo without one).

    With learned (a backend: "disk" or "xfeat"), the second stage's features of the
    same box are extracted too.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        pixels = None
        if box is not None:
            pixels = (box[0] * width, box[1] * height, box[2] * width, box[3] * height)
        # With ISNet the shortlist's SIFT keypoints are the animal's only too; GrabCut's
        # outline is left to the learned stage (leopards.matching.foreground).
        outlined = foreground.method() == foreground.ISNET
        mask = foreground.foreground_mask(data, pixels) if outlined or learned else None
        features = extract_features(data, pixels, foreground=mask if outlined else None)
        features = dataclasses.replace(features, version=features_version())
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


def box_features_job(job: tuple[bytes, RelativeBox | None, str]) -> BoxFeatures:
    """Run box_features on one (bytes, box, learned backend) job, for ProcessPoolExecutor.map."""
    return box_features(*job)
