"""Turn a ranking's top scores into the probability that the first candidate is right.

A logistic model on x = (log1p(top-1 score), log1p(top-1) - log1p(top-2)) is fitted to
labelled queries: leave-one-out queries (the individual is in the catalogue) and
open-set queries whose individual has been taken out (the first candidate is then
always wrong, which is what a new individual looks like). Below ``threshold`` the
review page should say "probably a new individual".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from leopards.matching.scoring import Candidate

DEFAULT_PATH = Path(__file__).with_name("calibration_default.json")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Sample:
    """One labelled query outcome for fitting."""

    top1: float
    top2: float
    correct: bool


def _design(top1: np.ndarray, top2: np.ndarray) -> np.ndarray:
    """Return the model's inputs: bias, log score and log margin."""
    a, b = np.log1p(np.maximum(top1, 0)), np.log1p(np.maximum(top2, 0))
    return np.stack([np.ones_like(a), a, a - b], axis=1)


@dataclass(frozen=True)
class Calibration:
    """Fitted logistic parameters and the new-individual threshold."""

    coef: list[float] = field(default_factory=lambda: [-3.0, 1.0, 3.0])
    threshold: float = DEFAULT_THRESHOLD
    fitted_on: str = ""

    def probability(self, top1: float, top2: float = 0.0) -> float:
        """Return the probability that the top candidate is the right individual."""
        x = _design(np.array([top1], float), np.array([top2], float))[0]
        return float(1.0 / (1.0 + np.exp(-float(x @ np.array(self.coef)))))

    def assess(self, candidates: Sequence[Candidate]) -> tuple[float, bool]:
        """Return (probability the first candidate is right, probably a new individual)."""
        if not candidates:
            return 0.0, True
        top2 = candidates[1].score if len(candidates) > 1 else 0.0
        p = self.probability(candidates[0].score, top2)
        return p, p < self.threshold

    def to_json(self) -> str:
        """Serialise the parameters."""
        return json.dumps(asdict(self), indent=2)

    def save(self, path: str | Path) -> None:
        """Write the parameters as JSON."""
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> Calibration:
        """Read parameters written by save(); the shipped defaults without a path."""
        data = json.loads(Path(path).read_text())
        return cls(
            coef=[float(c) for c in data["coef"]],
            threshold=float(data.get("threshold", DEFAULT_THRESHOLD)),
            fitted_on=str(data.get("fitted_on", "")),
        )


def fit(
    samples: Sequence[Sample],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    l2: float = 1e-3,
    fitted_on: str = "",
) -> Calibration:
    """Fit the logistic model by maximum likelihood (a little L2 keeps it finite)."""
    if not samples:
        raise ValueError("calibration needs labelled samples")
    x = _design(
        np.array([s.top1 for s in samples], float), np.array([s.top2 for s in samples], float)
    )
    y = np.array([s.correct for s in samples], float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        # log(1 + e^z) - y z, written to stay finite for large |z|.
        value = np.sum(np.logaddexp(0.0, z) - y * z) + l2 * np.sum(w[1:] ** 2)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (p - y) + 2 * l2 * np.concatenate([[0.0], w[1:]])
        return float(value), grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="BFGS")
    return Calibration(coef=[float(c) for c in result.x], threshold=threshold, fitted_on=fitted_on)


def sample_from(candidates: Sequence[Candidate], individual_id: object) -> Sample:
    """Label a ranking: is its first candidate the query's individual?"""
    top1 = candidates[0].score if candidates else 0.0
    top2 = candidates[1].score if len(candidates) > 1 else 0.0
    correct = bool(candidates) and candidates[0].individual_id == individual_id
    return Sample(top1=top1, top2=top2, correct=correct)


def load_default() -> Calibration:
    """Return the parameters shipped with the code (fitted on the synthetic set)."""
    return Calibration.load(DEFAULT_PATH)
