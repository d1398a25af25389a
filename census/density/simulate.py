"""Simulate spatial capture-recapture surveys with known density, for benches and checks.

Activity centres are a Poisson process of `density` animals per hectare over the
detectors' bounding box widened by `buffer`; each animal is then detected as the
detector type says (secr's sim.capthist): proximity, Bernoulli with
p = 1 - (1 - g)^usage per occasion and detector; count, Poisson with mean usage x h;
multi, one trap at most per occasion by competing hazards.
"""

import numpy as np

from census.density.data import CaptureHistory
from census.density.likelihood import detection


def simulate(
    *,
    traps: np.ndarray,
    usage: np.ndarray,
    density: float,
    intercept: float,
    sigma: float,
    detectfn: str = "halfnormal",
    detector: str = "proximity",
    buffer: float,
    rng: np.random.Generator,
) -> tuple[CaptureHistory, int]:
    """Return a simulated capture history and the number of animals in the population."""
    traps = np.asarray(traps, dtype=float)
    usage = np.asarray(usage, dtype=float)
    low, high = traps.min(axis=0) - buffer, traps.max(axis=0) + buffer
    area_ha = float(np.prod(high - low)) / 1e4
    population = int(rng.poisson(density * area_ha))
    centres = rng.uniform(low, high, size=(population, 2))
    diff = centres[:, None, :] - traps[None, :, :]
    det = detection(detectfn, intercept, sigma, np.einsum("nkc,nkc->nk", diff, diff))
    h = det.h  # N x K
    rows = []
    for occasion in range(usage.shape[1]):
        hazard = h * usage[None, :, occasion]
        if detector == "proximity":
            hits = rng.random(hazard.shape) < -np.expm1(-hazard)
            animal, trap = np.nonzero(hits)
            rows.extend(zip(animal, [occasion] * len(animal), trap, strict=True))
        elif detector == "count":
            counts = rng.poisson(hazard)
            animal, trap = np.nonzero(counts)
            for a, k in zip(animal, trap, strict=True):
                rows.extend([(a, occasion, k)] * int(counts[a, k]))
        elif detector == "multi":
            total = hazard.sum(axis=1)
            caught = rng.random(population) < -np.expm1(-total)
            for a in np.flatnonzero(caught):
                rows.append((a, occasion, rng.choice(len(traps), p=hazard[a] / total[a])))
        else:
            raise ValueError(f"unknown detector {detector!r}")
    detections = np.array(rows, dtype=np.int64).reshape(-1, 3)
    seen = np.unique(detections[:, 0])
    renumber = np.full(population, -1)
    renumber[seen] = np.arange(len(seen))
    detections[:, 0] = renumber[detections[:, 0]]
    history = CaptureHistory(
        detector=detector,
        trap_ids=tuple(str(k + 1) for k in range(len(traps))),
        traps=traps,
        usage=usage,
        animal_ids=tuple(str(a + 1) for a in seen),
        detections=detections[np.lexsort(detections.T[::-1])],
    )
    return history, population
