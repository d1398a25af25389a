"""Spot-pattern features of one box: CLAHE-normalised grey crop, RootSIFT descriptors."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# RootSIFT components lie in [0, 1] but almost never exceed 0.5, so scaling by 510 before
# rounding to uint8 keeps twice the precision of a plain *255 at the cost of clipping a
# handful of values.
DESCRIPTOR_SCALE = 510.0


def quantise(descriptors: np.ndarray) -> np.ndarray:
    """Return RootSIFT descriptors as stored: (n, 128) uint8, each component x DESCRIPTOR_SCALE."""
    scaled = np.rint(np.asarray(descriptors, dtype=np.float32) * DESCRIPTOR_SCALE)
    return np.clip(scaled, 0, 255).astype(np.uint8)


# Every box is resized to this square-root area, as HotSpotter does with its "chips",
# so that rosettes of a near and a far animal give keypoints at comparable scales.
# Chosen by measurement (bench/README.md): on real nyala flanks 220-250 rank the right
# animal first more often than 300 or 450 (the pattern lives at the scale of whole
# stripes and spots, not of the fur); 250 keeps the synthetic rank-1 at 0.99 (220:
# 0.98) and the six snow-leopard matches first.
DEFAULT_CHIP_SIZE = 250
# Stored with the features: features of another version were extracted differently
# (version 1: chip 300) and are extracted again before they join an index with these.
FEATURES_VERSION = 2
# Version 2's extraction with keypoints only inside the animal's outline cut by ISNet
# (leopards.matching.foreground), the engine's wherever that network is installed, the
# strongest max_keypoints inside it (version 3 kept those of the chip's strongest
# max_keypoints that fell inside).
OUTLINED_FEATURES_VERSION = 4
# Small boxes are enlarged at most this much: upsampling adds no pattern, only cost.
MAX_UPSCALE = 2.0
DEFAULT_MAX_KEYPOINTS = 800
# Half SIFT's default: soft rosettes in infrared and long winter fur have low contrast.
DEFAULT_CONTRAST_THRESHOLD = 0.02
# Share of the box's width and height inside which keypoints are kept.
DEFAULT_ELLIPSE_MASK = 0.9
MIN_BOX_SIDE = 24
# Grey-level standard deviation below which a crop is treated as blank (fog, lens cap).
MIN_CROP_STD = 2.0

ImageSource = np.ndarray | str | Path | bytes


@dataclass(frozen=True)
class Features:
    """Keypoints (x, y, size, angle in original image pixels) and RootSIFT descriptors."""

    keypoints: np.ndarray  # (n, 4) float32
    descriptors: np.ndarray  # (n, 128) uint8, RootSIFT * DESCRIPTOR_SCALE
    version: int = FEATURES_VERSION

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def to_bytes(self) -> bytes:
        """Serialise to a compact byte string for a database column."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            keypoints=self.keypoints.astype(np.float32, copy=False),
            descriptors=self.descriptors.astype(np.uint8, copy=False),
            version=np.array(self.version, np.int16),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        """Load features written by to_bytes."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return cls(
                keypoints=archive["keypoints"].astype(np.float32, copy=False),
                descriptors=archive["descriptors"].astype(np.uint8, copy=False),
                # Features stored before versions were recorded are version 1.
                version=int(archive["version"]) if "version" in archive.files else 1,
            )

    @staticmethod
    def stored_version(data: bytes) -> int:
        """Return the version of stored features without loading their arrays."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return int(archive["version"]) if "version" in archive.files else 1

    @classmethod
    def empty(cls) -> Features:
        """Return features with zero keypoints."""
        return cls(keypoints=np.zeros((0, 4), np.float32), descriptors=np.zeros((0, 128), np.uint8))

    def float_descriptors(self) -> np.ndarray:
        """Return descriptors as unit-norm float32 RootSIFT vectors."""
        return self.descriptors.astype(np.float32) / DESCRIPTOR_SCALE


Box = tuple[float, float, float, float]


def _load_grey_crop(image: ImageSource, box: Box | None, chip_size: int) -> tuple[np.ndarray, Box]:
    """Return the grey crop and the box actually used, in original image pixels."""
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3:
            array = cv2.cvtColor(array[:, :, :3], cv2.COLOR_RGB2GRAY)
        height, width = array.shape[:2]
        x, y, w, h = _clip_box(box, width, height)
        return np.ascontiguousarray(array[y : y + h, x : x + w]), (x, y, w, h)

    with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as pil:
        width, height = pil.size
        x, y, w, h = _clip_box(box, width, height)
        if pil.format == "JPEG" and w > 0 and h > 0:
            # The DCT can decode at 1/2, 1/4 or 1/8 scale almost for free: pick the
            # strongest reduction that still leaves the box at least chip_size (square
            # root of its area), and decode luma only.
            reduction = 1
            while reduction < 8 and math.sqrt(w * h) / (reduction * 2) >= chip_size:
                reduction *= 2
            pil.draft("L", (-(-width // reduction), -(-height // reduction)))
        factor = width / pil.size[0]
        grey = pil.convert("L")
        left, top = int(x / factor), int(y / factor)
        right = min(grey.size[0], int(np.ceil((x + w) / factor)))
        bottom = min(grey.size[1], int(np.ceil((y + h) / factor)))
        crop = np.asarray(grey.crop((left, top, right, bottom)))
        # Report the box back in original pixels, as the reduced decode saw it.
        return crop, (left * factor, top * factor, (right - left) * factor, (bottom - top) * factor)


def _clip_box(box: Box | None, width: int, height: int) -> tuple[int, int, int, int]:
    """Clip a box to the image; None means the whole image."""
    if box is None:
        return 0, 0, width, height
    x, y, w, h = box
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(width, round(x + w)), min(height, round(y + h))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def extract_features(
    image: ImageSource,
    box: Box | None = None,
    *,
    chip_size: int = DEFAULT_CHIP_SIZE,
    max_keypoints: int = DEFAULT_MAX_KEYPOINTS,
    clahe_clip: float = 2.0,
    contrast_threshold: float = DEFAULT_CONTRAST_THRESHOLD,
    upright: bool = True,
    ellipse_mask: float = DEFAULT_ELLIPSE_MASK,
    foreground: np.ndarray | None = None,
) -> Features:
    """Extract RootSIFT features from the box (x, y, w, h) of an image array, path or bytes.

    foreground, a mask of the box (255 = animal, any size), keeps keypoints inside it as
    well as inside the inscribed ellipse. The version of features cut so is the caller's
    to set (leopards.matching.extraction.sift_features).
    """
    crop, (bx, by, bw, bh) = _load_grey_crop(image, box, chip_size)
    if min(crop.shape[:2], default=0) < MIN_BOX_SIDE or float(crop.std()) < MIN_CROP_STD:
        return Features.empty()

    scale = min(MAX_UPSCALE, chip_size / math.sqrt(crop.shape[0] * crop.shape[1]))
    if abs(scale - 1.0) > 0.02:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation)
    # CLAHE lifts the flat contrast of infrared night shots and of shaded flanks so that
    # the rosettes give keypoints in both.
    tile = max(2, min(8, min(crop.shape[:2]) // 64))
    clahe = cv2.createCLAHE(clipLimit=clahe_clip, tileGridSize=(tile, tile))
    crop = clahe.apply(crop)

    mask = None
    if ellipse_mask:
        # A box around a standing cat has background in its corners (above the back,
        # between the legs): an inscribed ellipse keeps most coat and little rock.
        mask = np.zeros(crop.shape[:2], np.uint8)
        centre = (crop.shape[1] // 2, crop.shape[0] // 2)
        axes = (int(crop.shape[1] * ellipse_mask / 2), int(crop.shape[0] * ellipse_mask / 2))
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1)
    if foreground is not None:
        # Inside the ellipse too: the outline alone keeps legs, head and the photo's
        # edges, and ranked nyala flanks less well (bench/README.md).
        animal = cv2.resize(foreground, crop.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        mask = animal if mask is None else cv2.bitwise_and(mask, animal)
    # OpenCV's nfeatures keeps the strongest of the whole chip before it drops those
    # outside the mask. Inside the animal's outline that left far fewer than
    # max_keypoints (on nyala photos a median of 279 of 800): there every keypoint is
    # found and the strongest inside are kept (459), which ranks real flanks better.
    # The ellipse alone keeps OpenCV's choice, the chip's strongest that fall inside
    # it: on synthetic coats with fur, the shortlist alone ranked worse with 800
    # inside the ellipse (rank-1 0.775 against 0.906, bench/README.md).
    keypoints, descriptors = rootsift(
        crop,
        mask,
        max_keypoints=max_keypoints,
        contrast_threshold=contrast_threshold,
        upright=upright,
        strongest_of_chip=foreground is None,
    )
    if not keypoints:
        return Features.empty()

    # Keypoints go back to original image pixels so the review page can draw them.
    sx, sy = bw / crop.shape[1], bh / crop.shape[0]
    points = np.array(
        [
            (
                bx + (kp.pt[0] + 0.5) * sx - 0.5,
                by + (kp.pt[1] + 0.5) * sy - 0.5,
                kp.size * sx,
                kp.angle,
            )
            for kp in keypoints
        ],
        dtype=np.float32,
    ).reshape(-1, 4)
    return Features(keypoints=points, descriptors=quantise(descriptors))


def rootsift(
    crop: np.ndarray,
    mask: np.ndarray | None,
    *,
    max_keypoints: int,
    contrast_threshold: float,
    upright: bool = True,
    strongest_of_chip: bool = False,
) -> tuple[list[cv2.KeyPoint], np.ndarray]:
    """Return the strongest max_keypoints SIFT keypoints of a grey crop inside mask (None:
    all of it), strongest first, with their RootSIFT descriptors ((n, 128) float32, unit
    length; ([], an empty array) when none).

    strongest_of_chip leaves the choice to OpenCV's nfeatures, which keeps the strongest
    of the whole crop before it drops those outside the mask.
    """
    none = np.zeros((0, 128), np.float32)
    sift = cv2.SIFT_create(
        nfeatures=max_keypoints if strongest_of_chip else 0,
        contrastThreshold=contrast_threshold,
    )
    keypoints = sift.detect(crop, mask)
    if upright:
        # Camera traps are level, so a flank is seen upright give or take a few degrees
        # (HotSpotter's gravity vector). A rosette is nearly round, so SIFT's own
        # orientation for it is unstable; fixing it makes descriptors repeatable.
        unique = {}
        for kp in keypoints:
            key = (round(kp.pt[0], 1), round(kp.pt[1], 1), round(kp.size, 1))
            if key not in unique or kp.response > unique[key].response:
                unique[key] = kp
        keypoints = [
            cv2.KeyPoint(kp.pt[0], kp.pt[1], kp.size, 0.0, kp.response, kp.octave, kp.class_id)
            for kp in unique.values()
        ]
    if not keypoints:
        return [], none
    keypoints = sorted(keypoints, key=lambda kp: -kp.response)[:max_keypoints]
    keypoints, descriptors = sift.compute(crop, keypoints)
    if descriptors is None or len(keypoints) == 0:
        return [], none
    # RootSIFT (Arandjelovic and Zisserman 2012): Hellinger kernel as a Euclidean distance.
    descriptors = descriptors / np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-7)
    return list(keypoints), np.sqrt(descriptors).astype(np.float32)
