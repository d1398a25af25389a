"""The pair check's second voice: RootSIFT on the box at the photo's own detail.

The pair check (leopards.matching.verify) compares a query box with the shortlist's
first individuals on the DISK keypoints of a 384 px crop. Two photos of one flank
that DISK pairs poorly (another light, another distance) often still share the fine
edges of their spots and stripes, which a second, independent detector sees at a
finer scale: SIFT (Lowe 2004) with RootSIFT descriptors (Arandjelovic and Zisserman
2012) on the box at up to LONG_SIDE px, the strongest KEYPOINTS inside the animal's
shrunk outline (leopards.matching.foreground.inner, where DISK keeps its own), upright
as the shortlist's SIFT. The check pairs them as it pairs DISK's (mutual nearest
neighbours, an affine map by MAGSAC++ within THRESHOLD px) and adds their inliers to
DISK's.

On nyala flanks (bench/README.md, "A RootSIFT second voice in the pair check") the
two checks fail on different queries: RootSIFT's alone put the animal first for 48 %
of them, DISK's whitened check for 53 %, their inliers added for 56 %.

The features travel with the box's learned features (LearnedFeatures.detail, stored
in one blob), so a box is read once for both voices; the model name says they are
there (SUFFIX), and boxes described before are described again by
match_index_rebuild --extract-missing.
"""

from __future__ import annotations

import cv2
import numpy as np

from leopards.matching.features import (
    DESCRIPTOR_SCALE,
    MIN_BOX_SIDE,
    MIN_CROP_STD,
    Box,
    ImageSource,
    _load_grey_crop,
    quantise,
    rootsift,
)
from leopards.matching.foreground import inner
from leopards.matching.learned import LearnedFeatures

# The box's longer side in pixels, never enlarged: the resolution the nyala photos
# were measured at (640 px); a larger photo's box is reduced to it.
LONG_SIDE = 640
# The strongest keypoints inside the outline (a median of about 1,200 on a nyala flank
# at 640 px). Half SIFT's contrast threshold of the shortlist (0.02): with 0.02 and
# 1,500 keypoints the check ranked worse (bench/README.md).
KEYPOINTS = 3000
CONTRAST_THRESHOLD = 0.01
# MAGSAC++'s inlier threshold, in pixels of the box at LONG_SIDE.
THRESHOLD = 4.0
MODEL = f"rootsift-{LONG_SIDE}-{KEYPOINTS}"
# What the learned features' model name adds when they carry these.
SUFFIX = f"+detail{LONG_SIDE}"


def extract_detail(
    image: ImageSource, box: Box | None = None, *, foreground: np.ndarray | None = None
) -> LearnedFeatures:
    """Return the box's RootSIFT keypoints at up to LONG_SIDE px, inside the shrunk
    outline of foreground (a mask of the box, 255 = animal; None: the whole box).

    The descriptors are quantised as the shortlist's are (DESCRIPTOR_SCALE), so that
    what a query compares is what the blob stores.
    """
    crop, (bx, by, bw, bh) = _load_grey_crop(image, box, LONG_SIDE)
    if min(crop.shape[:2], default=0) < MIN_BOX_SIDE or float(crop.std()) < MIN_CROP_STD:
        return empty()
    factor = min(1.0, LONG_SIDE / max(bw, bh))
    width, height = max(MIN_BOX_SIDE, round(bw * factor)), max(MIN_BOX_SIDE, round(bh * factor))
    if (width, height) != (crop.shape[1], crop.shape[0]):
        interpolation = cv2.INTER_AREA if width < crop.shape[1] else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (width, height), interpolation=interpolation)
    inside = inner(foreground)
    if inside is not None:
        inside = cv2.resize(inside, (width, height), interpolation=cv2.INTER_NEAREST)
    keypoints, descriptors = rootsift(
        crop, inside, max_keypoints=KEYPOINTS, contrast_threshold=CONTRAST_THRESHOLD
    )
    if not keypoints:
        return empty()
    return LearnedFeatures(
        keypoints=np.array([kp.pt for kp in keypoints], np.float32).reshape(-1, 2),
        descriptors=(quantise(descriptors) / DESCRIPTOR_SCALE).astype(np.float16),
        size=(width, height),
        origin=(float(bx), float(by), width / bw if bw else 1.0),
        model=MODEL,
    )


def empty() -> LearnedFeatures:
    """Return detail features with no keypoints."""
    return LearnedFeatures(
        keypoints=np.zeros((0, 2), np.float32),
        descriptors=np.zeros((0, 128), np.float16),
        size=(0, 0),
        origin=(0.0, 0.0, 1.0),
        model=MODEL,
    )
