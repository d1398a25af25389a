"""Features of a sighting's box from the photo's bytes, without Django: a process pool runs it."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import cv2
from PIL import Image

from leopards.matching.features import MIN_BOX_SIDE, extract_features
from leopards.matching.foreground import foreground_mask

logger = logging.getLogger(__name__)

# x, y, width, height relative (0-1) to the photo, as sightings store them.
RelativeBox = tuple[float, float, float, float]

UNREADABLE = "unreadable"
TOO_SMALL = "too_small"
NO_PATTERN = "no_pattern"


@dataclass(frozen=True)
class BoxFeatures:
    """Serialised features of a box, or why there are none."""

    blob: bytes | None  # Features.to_bytes(); None without keypoints
    count: int
    problem: str = ""  # "", UNREADABLE, TOO_SMALL or NO_PATTERN
    detail: str = ""  # the decoder's message, or the box's shorter side in pixels
    # LearnedFeatures.to_bytes() for the second stage; None when not asked for or none.
    learned: bytes | None = None


def learned_blob(
    data: bytes, pixels: tuple[float, float, float, float] | None, backend: str
) -> bytes | None:
    """Return the box's learned features by backend ("disk" or "xfeat"), or None when
    the second stage cannot run here."""
    try:
        from leopards.matching.learned import extract_for

        # Only the animal's own keypoints: the learned matcher, trained on buildings and
        # landscapes, otherwise matches the rocks behind two different animals.
        found = extract_for(backend, data, pixels, foreground=foreground_mask(data, pixels))
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
        features = extract_features(data, pixels)
    except (OSError, ValueError, Image.DecompressionBombError, cv2.error) as exc:
        # The bytes are already in memory: an error now is the image, not the storage.
        return BoxFeatures(None, 0, UNREADABLE, str(exc))
    if len(features):
        return BoxFeatures(
            features.to_bytes(),
            len(features),
            learned=learned_blob(data, pixels, learned) if learned else None,
        )
    side = min(pixels[2], pixels[3]) if pixels else min(width, height)
    if side < MIN_BOX_SIDE:
        return BoxFeatures(None, 0, TOO_SMALL, str(int(side)))
    return BoxFeatures(None, 0, NO_PATTERN)


def box_features_job(job: tuple[bytes, RelativeBox | None, str]) -> BoxFeatures:
    """Run box_features on one (bytes, box, learned backend) job, for ProcessPoolExecutor.map."""
    return box_features(*job)
