"""The animal's own pixels in a box, so that matching compares coat, not rocks.

A box (or a whole photo cropped roughly around the animal) holds background in its
corners, between the legs and above the back. Photos of different animals taken at
the same waterhole or rock share that background, and its keypoints then vote for
the wrong individual. Two ways to outline the animal, the first that can run here:

- ISNET: a salient-object network (leopards.matching.segmentation), installed with
  the learned stage. On real nyala flanks its outline puts the right animal first far
  more often than GrabCut's, for the learned stage and for the shortlist's SIFT votes,
  which keep only the keypoints inside it wherever a learned stage runs
  (leopards.matching.extraction.outlines_sift; bench/README.md).
- GRABCUT (Rother, Kolmogorov and Blake 2004; ``cv2.grabCut``), without any trained
  model: everything outside a rectangle is taken as background, colour models of the
  two are fitted, and a graph cut labels each pixel. It is used where the network is
  not installed, and then only by the learned stage: its outline leaks too much
  background to help SIFT, whose LNBNN votes already discount background that many
  catalogue photos share.

The mask is computed on a small copy of the box (FOREGROUND_SIDE pixels on the longer
side) and widened a little so that keypoints on the coat's edge are kept. When the
outline finds almost nothing (a box that is all animal, for GrabCut a night shot
without colour) the box is used whole.

The learned features (DISK, XFeat) keep only the keypoints well inside the outline
(inner, keypoints_inside): along the animal's edge their patches describe its
silhouette, and two animals of one species standing alike share a silhouette, which
the pair check and the learned matcher then fit one geometry to (bench/README.md,
"The learned features inside the outline"). SIFT's keypoints keep the whole outline;
shrinking it for them was not measured.

Stored features name the outline they were cut with (model_suffix, and the SIFT
features' version in leopards.matching.extraction), so that the boxes described with
one are described again when the other becomes the engine's.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from leopards.matching import segmentation
from leopards.matching.features import Box

ISNET = "isnet"
GRABCUT = "grabcut"
# Longer side of the copy the mask is cut at, and GrabCut's iterations (bench/README.md).
FOREGROUND_SIDE = 200
ITERATIONS = 2
# Share of the box's sides kept as "surely background" when the box is the whole photo.
MARGIN = 0.04
# A box inside a photo is widened by this share of its sides so that the outline sees
# background around it to learn from.
CONTEXT = 0.1
# The mask is widened by this share of the longer side to keep the coat's edge.
DILATE = 0.03
# The learned features keep only the keypoints this share of the longer side inside the
# (widened) outline, about 3 % inside the animal's edge: there two animals of one
# species in one pose share a silhouette, and the pair check and the learned matcher
# fit one geometry to it. On nyala flanks held out by animal the pair check put the
# animal first for 0.507 of the queries instead of 0.460 (4 % and 8 %: 0.500 and
# 0.501), and every stage together for 0.521 instead of 0.470 (bench/README.md, "The
# learned features inside the outline").
INNER = 0.06
# An outline that shrinking would leave with less than this share of itself (a thin or
# small animal) is kept as it is.
INNER_MIN_KEPT = 0.2
# Below this share of the box, the cut is not trusted and the whole box is used.
MIN_FOREGROUND = 0.08
# A pixel is the animal's where the network gives it at least this probability.
ISNET_THRESHOLD = 0.5
# The seed of GrabCut's k-means: one photo always gets one mask.
RANDOM_SEED = 0

ImageSource = np.ndarray | str | Path | bytes

# The ISNet model files this process has found installed (method).
_MODELS_FOUND: set[Path] = set()


def method() -> str:
    """Return the outline the engine cuts here: ISNET where it is installed, else GRABCUT.

    Asked for every box and every query; a model once found is not looked for again in
    this process, a missing one is (an install takes effect without a restart).
    """
    path = segmentation.model_path()
    if path in _MODELS_FOUND:
        return ISNET
    if segmentation.missing():
        return GRABCUT
    _MODELS_FOUND.add(path)
    return ISNET


def model_suffix() -> str:
    """Return what the learned features' model name adds for the outline cut here, and
    for keeping their keypoints inside it (inner)."""
    return ("+isnet" if method() == ISNET else "") + "+inner"


def inner(mask: np.ndarray | None) -> np.ndarray | None:
    """Return the outline shrunk by INNER of its longer side, where the learned features
    keep their keypoints (the outline as it is when that would leave too little)."""
    if mask is None:
        return None
    radius = max(1, round(INNER * max(mask.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    shrunk = cv2.erode((mask > 0).astype(np.uint8), kernel)
    if shrunk.sum() <= INNER_MIN_KEPT * np.count_nonzero(mask):
        return mask
    return shrunk * np.uint8(255)


def keypoints_inside(points: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return the indices of the keypoints (x, y in a crop of size (width, height)) that
    lie inside the outline shrunk for the learned features (inner), in their order."""
    width, height = size
    inside = cv2.resize(inner(mask), (width, height), interpolation=cv2.INTER_NEAREST)
    cols = np.clip(points[:, 0].astype(int), 0, width - 1)
    rows = np.clip(points[:, 1].astype(int), 0, height - 1)
    return np.flatnonzero(inside[rows, cols] > 0)


def foreground_mask(
    image: ImageSource, box: Box | None = None, *, cut: str | None = None
) -> np.ndarray | None:
    """Return a uint8 mask (255 = animal) covering the box, at a reduced size, or None.

    cut is ISNET or GRABCUT (default: method()). None means "use the whole box": the
    image is too small, or the outline found too little to trust (for GrabCut also a
    grey image, whose colours it cannot model).
    """
    cut = cut or method()
    loaded = _load_rgb(image, box, segmentation.SIDE if cut == ISNET else 0)
    if loaded is None:
        return None
    rgb, factor = loaded
    height, width = rgb.shape[:2]
    # The box in the pixels of the (possibly reduced) decode.
    x, y, w, h = (
        tuple(v / factor for v in box)
        if box is not None
        else (0.0, 0.0, float(width), float(height))
    )
    if w < 8 or h < 8:
        return None
    whole = box is None or (w >= 0.98 * width and h >= 0.98 * height)
    if whole:
        left, top, right, bottom = 0.0, 0.0, float(width), float(height)
    else:
        left, top = max(0.0, x - CONTEXT * w), max(0.0, y - CONTEXT * h)
        right, bottom = (
            min(float(width), x + w + CONTEXT * w),
            min(float(height), y + h + CONTEXT * h),
        )
    region = rgb[int(top) : int(np.ceil(bottom)), int(left) : int(np.ceil(right))]
    if region.size == 0:
        return None
    scale = min(1.0, FOREGROUND_SIDE / max(region.shape[:2]))
    if cut == ISNET:
        probability = segmentation.animal_probability(region)
        small = cv2.resize(probability, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        animal = (small >= ISNET_THRESHOLD).astype(np.uint8) * 255
    else:
        animal = _grabcut(region, scale, whole, (x - left, y - top, w, h))
        if animal is None:
            return None
    # Back to the box alone: the context around a box is not part of the query.
    bx0, by0 = round((x - left) * scale), round((y - top) * scale)
    bx1, by1 = round((x + w - left) * scale), round((y + h - top) * scale)
    animal = animal[max(0, by0) : max(by0 + 1, by1), max(0, bx0) : max(bx0 + 1, bx1)]
    if animal.size == 0 or float((animal > 0).mean()) < MIN_FOREGROUND:
        return None
    radius = max(1, int(DILATE * max(animal.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(animal, kernel)


def _grabcut(
    region: np.ndarray, scale: float, whole: bool, box: tuple[float, float, float, float]
) -> np.ndarray | None:
    """Return GrabCut's outline (255 = animal) of a region at scale, or None.

    box is the animal's box inside the region (x, y, w, h), in the region's pixels.
    """
    if _is_grey(region):
        return None
    small = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    if whole:
        rect = (
            max(1, int(sw * MARGIN)),
            max(1, int(sh * MARGIN)),
            max(2, int(sw * (1 - 2 * MARGIN))),
            max(2, int(sh * (1 - 2 * MARGIN))),
        )
    else:
        x, y, w, h = box
        rx, ry = int(x * scale), int(y * scale)
        rect = (
            max(1, rx),
            max(1, ry),
            max(2, min(sw - max(1, rx) - 1, int(w * scale))),
            max(2, min(sh - max(1, ry) - 1, int(h * scale))),
        )
    mask = np.zeros((sh, sw), np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models by k-means from OpenCV's random generator of the
    # calling thread, whose state is whatever earlier calls left: unseeded, one photo's
    # mask changed with the photos cut before it in the same process (9 of 20 nyala
    # photos by up to 8 % of their pixels), and so did its features and its ranking.
    cv2.setRNGSeed(RANDOM_SEED)
    try:
        cv2.grabCut(
            np.ascontiguousarray(small[:, :, ::-1]),
            mask,
            rect,
            background,
            foreground,
            ITERATIONS,
            cv2.GC_INIT_WITH_RECT,
        )
    except cv2.error:
        return None
    return ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8) * 255


def _load_rgb(
    image: ImageSource, box: Box | None = None, min_side: int = 0
) -> tuple[np.ndarray, float] | None:
    """Return the image as an RGB array and its reduction from the original's pixels.

    A JPEG is decoded at a reduced scale: GrabCut's copy of FOREGROUND_SIDE pixels needs
    little (a quarter of each side); with min_side, the box keeps at least that many
    pixels on its longer side, as the network wants.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] < 3:
            return None
        return np.ascontiguousarray(image[:, :, :3]), 1.0
    with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as pil:
        grey = pil.mode in ("L", "1")
        if pil.mode in ("I", "I;16", "F") or (grey and not min_side):
            return None
        width, height = pil.size
        wanted = (max(1, width // 4), max(1, height // 4))
        if min_side:
            long_side = max(box[2], box[3]) if box is not None else max(width, height)
            keep = min(1.0, min_side / max(1.0, long_side))
            wanted = (max(1, int(np.ceil(width * keep))), max(1, int(np.ceil(height * keep))))
        pil.draft("L" if grey else "RGB", wanted)
        factor = width / pil.size[0]
        return np.asarray(pil.convert("RGB")), factor


def _is_grey(region: np.ndarray) -> bool:
    """Tell an infrared (grey) photo saved as RGB: GrabCut's colour models need colour."""
    sample = region[:: max(1, region.shape[0] // 64), :: max(1, region.shape[1] // 64)].astype(
        np.int16
    )
    spread = np.abs(sample[:, :, 0] - sample[:, :, 1]) + np.abs(sample[:, :, 1] - sample[:, :, 2])
    return float(spread.mean()) < 3.0
