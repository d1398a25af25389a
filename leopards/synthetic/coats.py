"""Leopard-like rosette coats and camera-trap scenes rendered from a seed."""

from __future__ import annotations

import csv
import functools
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FLANKS = ("left", "right")
DEFAULT_COAT_SIZE = (640, 320)
DEFAULT_IMAGE_SIZE = (1000, 700)

_TAN = np.array([196, 156, 98], np.float32)
_BELLY = np.array([232, 214, 182], np.float32)
_ROSETTE_CENTRE = np.array([176, 112, 52], np.float32)
_SPOT = np.array([38, 30, 26], np.float32)
_PALETTE = np.array([[128, 124, 116], [122, 98, 72], [92, 104, 62], [196, 196, 200]], np.float32)


def _rng(*keys: int | str) -> np.random.Generator:
    """Return a generator seeded by a stable hash of the keys (not Python's salted hash)."""
    return np.random.default_rng([zlib.crc32(str(key).encode()) for key in keys])


def render_coat(
    individual_seed: int, flank: str, size: tuple[int, int] = DEFAULT_COAT_SIZE
) -> np.ndarray:
    """Render the (h, w, 3) RGB coat of one individual's flank; the two flanks differ."""
    if flank not in FLANKS:
        raise ValueError(f"flank must be one of {FLANKS}, not {flank!r}")
    width, height = size
    rng = _rng("coat", individual_seed, flank)
    tint = rng.uniform(0.88, 1.08, 3).astype(np.float32)

    # Tan back fading into a pale belly, with a little low-frequency fur variation.
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    belly = np.clip((rows - 0.55) / 0.35, 0.0, 1.0)
    coat = (_TAN * tint) * (1 - belly) + _BELLY * belly
    coat = np.broadcast_to(coat, (height, width, 3)).copy()
    blotches = cv2.resize(rng.normal(0, 10, (8, 16)).astype(np.float32), (width, height))
    coat += blotches[:, :, None]

    unit = width / 64.0  # one rosette is roughly 3-6 units across
    spacing = rng.uniform(5.0, 6.5) * unit
    ys = np.arange(spacing * 0.4, height, spacing * 0.87)
    for row, y0 in enumerate(ys):
        offset = (row % 2) * spacing / 2
        for x0 in np.arange(offset - spacing / 2, width + spacing, spacing):
            cx = x0 + rng.normal(0, spacing * 0.22)
            cy = y0 + rng.normal(0, spacing * 0.22)
            # Spots get smaller towards the belly and legs, as on a real coat.
            shrink = 1.0 - 0.45 * max(0.0, cy / height - 0.5)
            kind = rng.random()
            if kind < 0.22:
                _solid_spot(coat, rng, cx, cy, unit * shrink)
            elif kind < 0.96:
                _rosette(coat, rng, cx, cy, unit * shrink, tint)
    # A scatter of small solid spots between the rosettes.
    for _ in range(int(rng.integers(40, 90) * width * height / (640 * 320))):
        _solid_spot(coat, rng, rng.uniform(0, width), rng.uniform(0, height), unit * 0.45)
    return np.clip(coat, 0, 255).astype(np.uint8)


def _solid_spot(
    coat: np.ndarray, rng: np.random.Generator, cx: float, cy: float, unit: float
) -> None:
    """Draw one solid dark spot."""
    axes = (max(1, int(unit * rng.uniform(0.6, 1.3))), max(1, int(unit * rng.uniform(0.5, 1.0))))
    cv2.ellipse(
        coat, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360,
        (_SPOT * rng.uniform(0.8, 1.3)).tolist(), -1, cv2.LINE_AA,
    )  # fmt: skip


def _rosette(
    coat: np.ndarray, rng: np.random.Generator, cx: float, cy: float, unit: float, tint: np.ndarray
) -> None:
    """Draw a broken ring of dark blotches around an orange centre."""
    radius = unit * rng.uniform(1.4, 2.6)
    squash = rng.uniform(0.65, 1.0)
    tilt = rng.uniform(0, np.pi)
    centre_axes = (max(1, int(radius * 0.95)), max(1, int(radius * squash * 0.95)))
    cv2.ellipse(
        coat, (int(cx), int(cy)), centre_axes, np.degrees(tilt), 0, 360,
        (_ROSETTE_CENTRE * tint * rng.uniform(0.9, 1.1)).tolist(), -1, cv2.LINE_AA,
    )  # fmt: skip
    blobs = int(rng.integers(3, 7))
    start = rng.uniform(0, 2 * np.pi)
    for i in range(blobs):
        angle = start + 2 * np.pi * i / blobs + rng.normal(0, 0.25)
        # A point on the tilted, squashed ring.
        ex, ey = radius * np.cos(angle), radius * squash * np.sin(angle)
        px = cx + ex * np.cos(tilt) - ey * np.sin(tilt)
        py = cy + ex * np.sin(tilt) + ey * np.cos(tilt)
        length = radius * rng.uniform(0.45, 0.9)
        thickness = unit * rng.uniform(0.45, 0.8)
        tangent = np.degrees(np.arctan2(py - cy, px - cx)) + 90
        axes = (max(1, int(length)), max(1, int(thickness)))
        colour = (_SPOT * rng.uniform(0.8, 1.3)).tolist()
        cv2.ellipse(coat, (int(px), int(py)), axes, tangent, 0, 360, colour, -1, cv2.LINE_AA)
    if rng.random() < 0.3:
        # Some rosettes carry a small dot in the middle.
        _solid_spot(coat, rng, cx, cy, unit * 0.35)


def _body_mask(width: int, height: int, flank: str) -> np.ndarray:
    """Return a 0-255 silhouette of a walking cat on the coat canvas, head towards the flank."""
    mask = np.zeros((height, width), np.uint8)
    w, h = width, height
    cv2.ellipse(
        mask, (int(0.5 * w), int(0.42 * h)), (int(0.36 * w), int(0.25 * h)), 0, 0, 360, 255, -1
    )
    cv2.ellipse(
        mask, (int(0.26 * w), int(0.45 * h)), (int(0.13 * w), int(0.3 * h)), 0, 0, 360, 255, -1
    )
    cv2.ellipse(
        mask, (int(0.74 * w), int(0.45 * h)), (int(0.14 * w), int(0.3 * h)), 0, 0, 360, 255, -1
    )
    for x in (0.2, 0.31, 0.68, 0.79):
        cv2.rectangle(
            mask,
            (int((x - 0.035) * w), int(0.55 * h)),
            (int((x + 0.035) * w), int(0.97 * h)),
            255,
            -1,
        )
    cv2.ellipse(
        mask, (int(0.91 * w), int(0.22 * h)), (int(0.075 * w), int(0.13 * h)), 0, 0, 360, 255, -1
    )
    tail = np.array(
        [[0.15 * w, 0.3 * h], [0.07 * w, 0.45 * h], [0.04 * w, 0.7 * h], [0.07 * w, 0.9 * h]],
        np.int32,
    )
    cv2.polylines(mask, [tail], False, 255, max(2, int(0.045 * w)))
    if flank == "left":
        mask = mask[:, ::-1].copy()
    return mask


def _scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Render a rocky, grassy camera-trap background."""
    palette = _PALETTE[int(rng.integers(len(_PALETTE)))]
    base = palette * rng.uniform(0.7, 1.2) + rng.normal(0, 8, 3).astype(np.float32)
    # Mostly brightness variation, a little colour: rock, earth, grass and snow are dull.
    small = rng.normal(0, 26, (7, 10, 1)).astype(np.float32) + rng.normal(0, 6, (7, 10, 3)).astype(
        np.float32
    )
    scene = base + cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    detail = rng.normal(0, 14, (height // 8, width // 8, 1)).astype(np.float32)
    scene += cv2.resize(detail, (width, height), interpolation=cv2.INTER_LINEAR)[:, :, None]
    for _ in range(int(rng.integers(8, 20))):
        # Rocks: shaded ellipses that give the background real keypoints of its own.
        colour = (base * rng.uniform(0.6, 1.4)).tolist()
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (int(rng.uniform(20, 160)), int(rng.uniform(15, 90)))
        cv2.ellipse(scene, centre, axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA)
        cv2.ellipse(
            scene, centre, axes, rng.uniform(0, 180), 200, 340, (np.array(colour) * 0.6).tolist(), 3
        )
    for _ in range(int(rng.integers(20, 60))):
        x, y = int(rng.uniform(0, width)), int(rng.uniform(height * 0.5, height))
        tip = (x + int(rng.normal(0, 15)), y - int(rng.uniform(20, 80)))
        cv2.line(scene, (x, y), tip, (base * rng.uniform(0.4, 0.9)).tolist(), 2, cv2.LINE_AA)
    return scene


# A demo or benchmark renders many photos of one coat at one station: both are pure
# functions of their seeds, so they are drawn once per process (a few MB each).
@functools.lru_cache(maxsize=64)
def _coat(individual_seed: int, flank: str) -> np.ndarray:
    coat = render_coat(individual_seed, flank, DEFAULT_COAT_SIZE)
    coat.flags.writeable = False
    return coat


@functools.lru_cache(maxsize=4)
def _station_scene(station: int, width: int, height: int) -> np.ndarray:
    scene = _scene(_rng("station", station), width, height)
    scene.flags.writeable = False
    return scene


@dataclass(frozen=True)
class SyntheticPhoto:
    """A rendered photo (RGB uint8) and the animal's box (x, y, w, h) in pixels."""

    image: np.ndarray
    bbox: tuple[int, int, int, int]
    night: bool


def render_photo(
    individual_seed: int,
    flank: str,
    photo_seed: int,
    *,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    station_seed: int | None = None,
    difficulty: float = 1.0,
    fur: float = 0.0,
    revisit: float = 0.0,
) -> SyntheticPhoto:
    """Render one camera-trap photo of an individual's flank with random distortions.

    fur > 0 adds what makes real flanks hard (soft spot edges, hair lying differently
    in every photo, skin sliding over muscle, motion blur); revisit > 0 changes a
    station's scene between visits (the camera nudged, other light and shadows, grass
    moved), which a real station does and a pixel-identical one does not. 0 keeps the
    plain renders.
    """
    width, height = image_size
    rng = _rng("photo", individual_seed, flank, photo_seed)
    coat_w, coat_h = DEFAULT_COAT_SIZE
    coat = _coat(individual_seed, flank).astype(np.float32)
    mask = _body_mask(coat_w, coat_h, flank)
    # A generator of its own, so that fur=0 draws exactly the numbers it always drew.
    fur_rng = _rng("fur", individual_seed, flank, photo_seed) if fur > 0 else None
    if fur_rng is not None:
        coat = _furred(coat, fur_rng, fur)

    # Pose: a smooth random displacement bends the flank as a walking body does.
    grid_x, grid_y = np.meshgrid(
        np.arange(coat_w, dtype=np.float32), np.arange(coat_h, dtype=np.float32)
    )
    bend = cv2.resize(
        rng.normal(0, 7 * difficulty, (3, 4, 2)).astype(np.float32),
        (coat_w, coat_h),
        interpolation=cv2.INTER_CUBIC,
    )
    coat = cv2.remap(
        coat,
        grid_x + bend[:, :, 0],
        grid_y + bend[:, :, 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    mask = cv2.remap(mask, grid_x + bend[:, :, 0], grid_y + bend[:, :, 1], cv2.INTER_LINEAR)

    # Body shading: lit back, darker belly, light from a random side.
    light = rng.uniform(-0.25, 0.25) * difficulty
    shade = 1.0 + light * np.linspace(-1, 1, coat_w, dtype=np.float32)[None, :]
    shade = shade * (1.05 - 0.3 * np.linspace(0, 1, coat_h, dtype=np.float32)[:, None] ** 2)
    coat *= shade[:, :, None]

    # Camera: scale, a few degrees of roll, perspective from an oblique view, translation.
    scale = rng.uniform(0.45, 0.95) * width / coat_w
    angle = np.radians(rng.normal(0, 4) * difficulty)
    persp = 0.12 * difficulty
    src = np.float32([[0, 0], [coat_w, 0], [coat_w, coat_h], [0, coat_h]])
    jitter = rng.uniform(-persp, persp, (4, 2)).astype(np.float32) * np.float32([coat_w, coat_h])
    dst = (src + jitter - np.float32([coat_w / 2, coat_h / 2])) * scale
    rotation = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = dst @ rotation.T
    centre = np.float32([rng.uniform(0.3, 0.7) * width, rng.uniform(0.4, 0.65) * height])
    # Now and then the animal walks partly out of the frame.
    if rng.random() < 0.2 * difficulty:
        centre[0] += rng.choice([-1, 1]) * rng.uniform(0.15, 0.3) * width
    homography = cv2.getPerspectiveTransform(src, dst + centre)

    station = rng.integers(1 << 30) if station_seed is None else station_seed
    scene = _station_scene(int(station), width, height).copy()
    if revisit > 0:
        scene = _revisited(scene, _rng("revisit", individual_seed, flank, photo_seed), revisit)
    scene *= rng.uniform(0.8, 1.15)
    warped = cv2.warpPerspective(coat, homography, (width, height), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(mask, homography, (width, height), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(alpha > 127)
    if len(xs) == 0:
        return render_photo(
            individual_seed,
            flank,
            photo_seed + 7919,
            image_size=image_size,
            station_seed=station_seed,
            difficulty=difficulty,
            fur=fur,
            revisit=revisit,
        )
    bbox = (
        int(xs.min()),
        int(ys.min()),
        int(xs.max() - xs.min() + 1),
        int(ys.max() - ys.min() + 1),
    )
    a = (alpha.astype(np.float32) / 255.0)[:, :, None]
    image = scene * (1 - a) + warped * a

    # Occlusion: a branch or a post in front of the animal.
    if rng.random() < 0.6 * difficulty:
        bx, by, bw, bh = bbox
        x0 = int(bx + rng.uniform(0.1, 0.9) * bw)
        tilt = rng.uniform(-0.5, 0.5) * bh
        colour = (rng.uniform(30, 90) * np.float32([1.0, 0.85, 0.7])).tolist()
        thickness = int(rng.uniform(0.03, 0.09) * bw)
        cv2.line(
            image,
            (int(x0 - tilt), by - 20),
            (int(x0 + tilt), by + bh + 20),
            colour,
            max(3, thickness),
            cv2.LINE_AA,
        )

    night = bool(rng.random() < 0.4)
    if night:
        # Infrared: grey, flat contrast, a bright centre falling off to the corners.
        grey = image @ np.float32([0.35, 0.45, 0.2])
        grey = grey * rng.uniform(0.55, 0.85) + rng.uniform(20, 50)
        fall = np.float32(1.0) - 0.45 * _vignette(width, height)
        image = np.repeat((grey * fall)[:, :, None], 3, axis=2)

    sigma = rng.uniform(0.3, 1.6) * difficulty
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    if fur_rng is not None:
        # A walking cat at a night-time shutter speed smears along its path.
        length = int(fur_rng.uniform(1, 1 + 6 * fur))
        if length > 1:
            kernel = np.zeros((length, length), np.float32)
            kernel[length // 2, :] = 1.0 / length
            image = cv2.filter2D(image, -1, kernel)
    # numpy's generator, not cv2.randn: OpenCV's global RNG would break determinism.
    noise_sigma = float(rng.uniform(2, 7 if not night else 11) * difficulty)
    noise = rng.standard_normal((height, width, 1), dtype=np.float32) * noise_sigma
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    quality = int(rng.uniform(45, 90))
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return SyntheticPhoto(image=image, bbox=bbox, night=night)


def _revisited(scene: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Return the station's scene as another visit sees it: moved camera, other light."""
    height, width = scene.shape[:2]
    angle = rng.normal(0, 1.0) * amount
    zoom = 1.0 + rng.uniform(-0.03, 0.03) * amount
    nudge = rng.uniform(-0.03, 0.03, 2) * amount * np.float32([width, height])
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, zoom)
    matrix[:, 2] += nudge
    scene = cv2.warpAffine(scene, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    # Sun and shade fall differently at another hour or season.
    light = cv2.resize(
        rng.normal(1.0, 0.18 * amount, (3, 4)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    scene = scene * np.clip(light, 0.4, 1.6)[:, :, None]
    base = scene.mean(axis=(0, 1))
    for _ in range(int(rng.integers(10, 30) * amount)):
        x, y = int(rng.uniform(0, width)), int(rng.uniform(height * 0.5, height))
        tip = (x + int(rng.normal(0, 15)), y - int(rng.uniform(20, 80)))
        cv2.line(scene, (x, y), tip, (base * rng.uniform(0.4, 0.9)).tolist(), 2, cv2.LINE_AA)
    return scene


def _furred(coat: np.ndarray, rng: np.random.Generator, fur: float) -> np.ndarray:
    """Soften the spots, lay hair over them and slide the skin a little (one photo's worth)."""
    height, width = coat.shape[:2]
    # Long hair blurs the edges of the spots ...
    coat = cv2.GaussianBlur(coat, (0, 0), 0.4 + 1.2 * fur)
    # ... and lies differently in every photo: streaks of light and shade along the hair,
    # which give keypoints that never repeat.
    strands = rng.standard_normal((height, width)).astype(np.float32)
    length = max(3, int(5 + 8 * fur)) | 1
    kernel = np.zeros((length, length), np.float32)
    angle = rng.uniform(50, 130)
    cv2.line(
        kernel,
        (
            int(length / 2 - np.cos(np.radians(angle)) * length / 2),
            int(length / 2 - np.sin(np.radians(angle)) * length / 2),
        ),
        (
            int(length / 2 + np.cos(np.radians(angle)) * length / 2),
            int(length / 2 + np.sin(np.radians(angle)) * length / 2),
        ),
        1.0,
        1,
    )
    strands = cv2.filter2D(strands, -1, kernel / max(kernel.sum(), 1.0))
    strands /= max(float(strands.std()), 1e-6)
    coat = coat * (1.0 + 0.22 * fur * strands[:, :, None])
    # Skin and muscle slide over the body between strides: a finer bend than the pose's.
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    slide = cv2.resize(
        rng.normal(0, 3.0 * fur, (6, 12, 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    return cv2.remap(
        coat,
        grid_x + slide[:, :, 0],
        grid_y + slide[:, :, 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )


def _vignette(width: int, height: int) -> np.ndarray:
    """Return 0 at the image centre rising to 1 at the corners."""
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    return (xs**2 + ys**2) / 2


def individual_id(index: int) -> str:
    """Return the synthetic individual's label for its index."""
    return f"SYN-{index:04d}"


def write_dataset(
    out_dir: str | Path,
    individuals: int = 100,
    photos_per_flank: int = 5,
    seed: int = 0,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    stations: int | None = None,
    difficulty: float = 1.0,
    fur: float = 0.0,
    revisit: float = 0.0,
) -> Path:
    """Write JPEG photos and labels.csv (path,individual_id,side,bbox_*); return the CSV path."""
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = _rng("dataset", seed)
    # Shared stations give different individuals the same background, as real traps do.
    station_count = stations or max(3, individuals // 4)
    station_seeds = [int(s) for s in rng.integers(0, 1 << 30, station_count)]
    labels = out / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "individual_id", "side", "bbox_x", "bbox_y", "bbox_w", "bbox_h"])
        for index in range(individuals):
            individual_seed = seed * 1_000_003 + index
            for flank in FLANKS:
                for photo in range(photos_per_flank):
                    station = station_seeds[int(rng.integers(station_count))]
                    shot = render_photo(
                        individual_seed, flank, photo, image_size=image_size,
                        station_seed=station, difficulty=difficulty, fur=fur,
                        revisit=revisit,
                    )  # fmt: skip
                    name = f"images/{individual_id(index)}_{flank}_{photo:02d}.jpg"
                    # cv2 writes BGR; the rendered array is RGB.
                    cv2.imwrite(
                        str(out / name), shot.image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92]
                    )
                    writer.writerow([name, individual_id(index), flank, *shot.bbox])
    return labels
