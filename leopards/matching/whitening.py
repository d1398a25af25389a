"""DISK descriptors projected so that patches of one coat lie closer, for the pair check.

DISK was trained on buildings and landscapes, not on coats: two photos of the same
rosette, taken in other light and from another angle, often describe it less alike
than two different rosettes. A linear projection learned from matched patches fixes
part of that (Mikolajczyk & Matas, ICCV 2007; the "learned whitening" of Radenović,
Tolias & Chum, TPAMI 2018): the descriptors are centred, whitened by the covariance
of the difference between the two sides of a matched pair, so that the ways a patch
changes between two photos of one animal weigh little, then rotated onto their
principal axes and cut to the strongest DIMENSIONS, and normalised again.

The matched pairs are the inliers of the pair check itself (leopards.matching.verify)
between photos of one flank of one individual: patches that one geometry puts at the
same place of the coat. bench/whitening_nyala.py fits on four folds of nyala
animals and checks the fifth's queries: the check put the animal first for 0.459 of
them instead of 0.438, and among its first 2 for 0.545 instead of 0.522; after the
learned re-rank, 0.473 instead of 0.458 (bench/README.md, "DISK's descriptors
whitened for the pair check"). The projection shipped (DEFAULT_PATH) is fitted on
every nyala animal; ``manage.py fit_match_whitening`` fits one on the registry's own
confirmed photos.

Only the pair check reads the projection: the learned matcher (LightGlue) was trained
on DISK's own descriptors, and in the shortlist's LNBNN vote the projected
descriptors ranked worse (bench/README.md, the same section).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The projection shipped with the code: fitted on the nyala flanks' matched patches
# (bench/whitening_nyala.py --out), the only real labelled flanks within reach. It is
# what MATCH_WHITENING_FILE empty means; "none" turns the projection off.
DEFAULT_PATH = Path(__file__).with_name("whitening_default.npz")
OFF = "none"
# Dimensions kept after the rotation: on held-out nyala animals the check ranked about
# as well with 32, 48 or 64 of DISK's 128, and worse with 96 or 128 (bench/README.md);
# 64 keeps the most of what DISK says for coats other than those it was fitted on.
DIMENSIONS = 64
# A pair of photos gives matched patches when its check finds at least this many inliers:
# fewer may be a stranger's chance matches (the check finds up to a dozen between two
# different nyala).
MIN_INLIERS = 15
# Matched pairs needed before a fit says anything: a 128 x 128 covariance from fewer
# is mostly noise.
MIN_PAIRS = 2000
# Added to the covariance's diagonal, as a share of its mean eigenvalue, so that a
# direction no matched pair varies along is not blown up.
RIDGE = 1e-3


class WhiteningError(ValueError):
    """A fit without enough pairs, or a file that is not a projection."""


@dataclass(frozen=True)
class Whitening:
    """A learned projection of one learned model's descriptors."""

    mean: np.ndarray  # (d,) float32
    projection: np.ndarray  # (d, k) float32
    model: str  # the network whose descriptors it projects (learned.network_of)
    pairs: int  # the matched pairs it was fitted on
    fitted_on: str = ""

    def apply(self, descriptors: np.ndarray) -> np.ndarray:
        """Return descriptors projected and scaled to unit length (float32)."""
        projected = (descriptors.astype(np.float32) - self.mean) @ self.projection
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return projected / np.maximum(norms, 1e-12)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            mean=self.mean.astype(np.float32),
            projection=self.projection.astype(np.float32),
            about=np.array(
                json.dumps({"model": self.model, "pairs": self.pairs, "fitted_on": self.fitted_on})
            ),
        )
        return buffer.getvalue()

    def save(self, path: Path | str) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path | str) -> Whitening:
        """Read a file written by save(); WhiteningError when it is not one."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                mean, projection = data["mean"], data["projection"]
                about = json.loads(str(data["about"]))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
            raise WhiteningError(f"{path} is not a descriptor projection: {error}") from error
        if mean.ndim != 1 or projection.ndim != 2 or projection.shape[0] != mean.shape[0]:
            raise WhiteningError(f"{path}: mean {mean.shape} and projection {projection.shape}")
        return cls(
            mean=mean.astype(np.float32),
            projection=projection.astype(np.float32),
            model=str(about.get("model", "")),
            pairs=int(about.get("pairs", 0)),
            fitted_on=str(about.get("fitted_on", "")),
        )


def fit(
    first: np.ndarray,
    second: np.ndarray,
    *,
    model: str,
    dimensions: int = DIMENSIONS,
    min_pairs: int = MIN_PAIRS,
    fitted_on: str = "",
) -> Whitening:
    """Fit the projection on matched descriptors: first[i] and second[i] describe one patch.

    model names the network that described them (learned.network_of).
    """
    if first.shape != second.shape or first.ndim != 2:
        raise WhiteningError(f"matched descriptors of shapes {first.shape} and {second.shape}")
    pairs, width = first.shape
    if pairs < min_pairs:
        raise WhiteningError(f"{pairs} matched pairs; a fit needs at least {min_pairs}")
    if not 0 < dimensions <= width:
        raise WhiteningError(f"{dimensions} dimensions of {width}")
    a, b = first.astype(np.float64), second.astype(np.float64)
    both = np.concatenate([a, b])
    mean = both.mean(axis=0)
    difference = a - b
    within = difference.T @ difference / pairs
    within += RIDGE * np.trace(within) / width * np.eye(width)
    # within = L L^T; L^-1 whitens the matched pairs' differences.
    whiten = np.linalg.inv(np.linalg.cholesky(within))
    centred = (both - mean) @ whiten.T
    values, vectors = np.linalg.eigh(centred.T @ centred / len(centred))
    strongest = vectors[:, np.argsort(values)[::-1][:dimensions]]
    projection = whiten.T @ strongest
    return Whitening(
        mean=mean.astype(np.float32),
        projection=projection.astype(np.float32),
        model=model,
        pairs=pairs,
        fitted_on=fitted_on,
    )
