"""Descriptors of coat patches seen in several photos, for the pair check's projection.

Each patch is described by KEPT dimensions that stay when it is seen again and
CHANGING ones that change with the light and the angle (by `changing`, their spread).
"""

import numpy as np

from leopards.matching.learned import LearnedFeatures

KEPT, CHANGING = 16, 112


def patches(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.6, size=(count, KEPT))


def views(of: np.ndarray, seed: int, changing: float = 1.0) -> np.ndarray:
    """Describe the patches in one photo."""
    rng = np.random.default_rng(seed)
    kept = of + rng.normal(scale=0.1, size=of.shape)
    return np.concatenate([kept, rng.normal(scale=changing, size=(len(of), CHANGING))], axis=1)


def points(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform((0, 0), (384, 288), size=(count, 2))


def box(descriptors: np.ndarray, where: np.ndarray, model: str = "disk-test") -> LearnedFeatures:
    unit = descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True)
    return LearnedFeatures(
        keypoints=where.astype(np.float32),
        descriptors=unit.astype(np.float16),
        size=(384, 288),
        origin=(0.0, 0.0, 1.0),
        model=model,
    )
