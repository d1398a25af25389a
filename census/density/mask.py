"""Habitat masks: the grid of possible activity centres that secr integrates over.

`buffer_mask` follows secr's make.mask(type = "trapbuffer"), which secr.fit builds
when no mask is given: a square grid over the detectors' bounding box widened by the
buffer, nx = 64 cells across unless a spacing is given, cell centres offset by half a
spacing, and only the points within `buffer` metres of some detector kept.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

DEFAULT_NX = 64


@dataclass(frozen=True)
class Mask:
    """Points (metres) standing for equal square cells of `spacing` metres."""

    points: np.ndarray  # M x 2
    spacing: float
    buffer: float | None = None  # None for a mask read from a file

    @property
    def cell_area_ha(self) -> float:
        return self.spacing**2 / 1e4

    @property
    def area_ha(self) -> float:
        return self.cell_area_ha * len(self.points)

    def __len__(self) -> int:
        return len(self.points)


def _r_seq(start: float, stop: float, step: float) -> np.ndarray:
    """Return R's seq(start, stop, by = step), including its tolerance at the end."""
    count = math.floor((stop - start) / step + 1e-10) + 1
    return start + step * np.arange(max(count, 0))


def distance_to_nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Return each point's distance to the nearest target."""
    distance, _ = cKDTree(targets).query(points)
    return np.asarray(distance)


def buffer_mask(
    traps: np.ndarray,
    buffer: float,
    *,
    spacing: float | None = None,
    nx: int = DEFAULT_NX,
    polygons: Sequence[Sequence[np.ndarray]] | None = None,
) -> Mask:
    """Build secr's default trapbuffer mask, optionally clipped to `polygons`.

    `polygons` is a list of polygons, each a list of rings in metres (outer ring first,
    then holes); a cell is kept when its centre is inside, as secr's cell.overlap
    "centre".
    """
    if not buffer > 0:
        raise ValueError("the buffer must be a positive number of metres")
    traps = np.asarray(traps, dtype=float).reshape(-1, 2)
    x_low, x_high = traps[:, 0].min() - buffer, traps[:, 0].max() + buffer
    y_low, y_high = traps[:, 1].min() - buffer, traps[:, 1].max() + buffer
    if spacing is None:
        spacing = (x_high - x_low) / nx
    if not spacing > 0:
        raise ValueError("the mask spacing must be a positive number of metres")
    xs = _r_seq(x_low + spacing / 2, x_high, spacing)
    ys = _r_seq(y_low + spacing / 2, y_high, spacing)
    grid = np.column_stack([np.tile(xs, len(ys)), np.repeat(ys, len(xs))])
    points = grid[distance_to_nearest(grid, traps) <= buffer]
    if polygons is not None:
        points = points[inside_polygons(points, polygons)]
    return Mask(points=points, spacing=float(spacing), buffer=float(buffer))


def inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Say which points fall inside a polygon (even-odd rule; cell centres, as secr)."""
    polygon = np.asarray(polygon, dtype=float)
    x, y = points[:, 0], points[:, 1]
    result = np.zeros(len(points), dtype=bool)
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    for ax, ay, bx, by in zip(x1, y1, x2, y2, strict=True):
        crosses = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = ax + (y - ay) * (bx - ax) / (by - ay)
        result ^= crosses & (x < at)
    return result


def inside_polygons(points: np.ndarray, polygons: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Say which points fall inside any polygon; holes (inner rings) are left out."""
    result = np.zeros(len(points), dtype=bool)
    for rings in polygons:
        within = np.zeros(len(points), dtype=bool)
        for ring in rings:
            within ^= inside(points, ring)
        result |= within
    return result


def infer_spacing(points: np.ndarray) -> float:
    """Return the grid spacing of a mask: the median distance to the nearest other point."""
    if len(points) < 2:
        raise ValueError("a mask needs at least two points to tell its spacing")
    distance, _ = cKDTree(points).query(points, k=2)
    spacing = float(np.median(distance[:, 1]))
    if not spacing > 0:
        raise ValueError("the mask repeats the same point; its spacing cannot be told")
    return spacing


def parse_mask(text: str, *, spacing: float | None = None) -> Mask:
    """Read a mask CSV with x,y columns in metres (a header line and `#` comments allowed)."""
    points = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        fields = [field.strip() for field in content.replace(";", ",").split(",")]
        if len(fields) < 2:
            fields = content.split()
        try:
            points.append((float(fields[0]), float(fields[1])))
        except (ValueError, IndexError):
            if not points and fields[:2] == ["x", "y"]:
                continue
            raise ValueError(f"line {number}: expected `x,y` in metres") from None
    array = np.array(points, dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(array)):
        raise ValueError("the mask holds a coordinate that is not a finite number")
    if spacing is None:
        spacing = infer_spacing(array)
    elif not spacing > 0:
        raise ValueError("the mask spacing must be a positive number of metres")
    return Mask(points=array, spacing=float(spacing))


def uncovered_detectors(mask: Mask, traps: np.ndarray) -> np.ndarray:
    """Return the indices of detectors with no mask cell at or next to them."""
    if len(mask) == 0:
        return np.arange(len(traps))
    return np.flatnonzero(distance_to_nearest(traps, mask.points) > mask.spacing)
