"""Turn a ranking's top scores into the probability that the first candidate is right.

A logistic model is fitted to labelled queries: leave-one-out queries (the individual
is in the catalogue) and open-set queries whose individual has been taken out (the
first candidate is then always wrong, which is what a new individual looks like).
Below ``threshold`` the review page says "probably a new individual".

Which inputs: raw LNBNN scores do not carry over between catalogues. A vote is how
much closer a match is than the query descriptor's (k+1)-th neighbour, so a small or
sparse catalogue gives every candidate, right or wrong, larger scores than a dense one
(the 22 real photos give strangers 3-5 where a 480-box synthetic catalogue gives them
0.5-3), and a hard real pair scores far below an easy synthetic one. The default model
therefore reads only inputs that keep their meaning from one catalogue to another:

- ``log_noise_ratio``: how far the best individual stands out from the others, as
  log((top1 + b) / (top2 + b)) where b, the query's own noise, is the median score of
  ranks 2-5. A catalogue with fewer individuals cannot fill those ranks: an empty rank
  counts as 0.7 of the first score, about what a stranger's runner-up scores (0.7-0.9 of
  its first in every set measured), so that a stranger whose runner-up is missing or
  near zero is not taken for certain;
- ``log1p_inliers``: the geometrically consistent matches of the first candidate, and
- ``static_share``: the share of those matches that sit at the same place in both
  photos. A camera trap does not move, so a stranger photographed at the same station
  matches on the rocks behind it, with the spots of a rock at the same pixels; the
  spots of an animal that walked past again almost never are (0 of the real Cat1
  matches, against a median of 0.8 for synthetic strangers at a shared station).

bench/calibration.py measures the alternatives and fits the shipped parameters.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from leopards.matching.scoring import Candidate

DEFAULT_PATH = Path(__file__).with_name("calibration_default.json")
DEFAULT_THRESHOLD = 0.5
# A floor under the runner-up's score, so that near-zero votes do not make an enormous
# ratio out of nothing; and a cap, beyond which a match is certain.
RATIO_FLOOR = 0.1
MAX_RATIO = 50.0
# The runner-ups whose median is the query's noise (ranks 2..NOISE_RANKS), and what a
# rank counts when the catalogue has too few individuals to fill it: a share of the
# first score. A stranger in a catalogue of one other individual has no runner-up at
# all, and the floor alone made it certain (bench/README.md, "Score calibration").
NOISE_RANKS = 5
UNFILLED_RANK_SHARE = 0.7
# The model of the first calibration, kept so that files written then still load.
LEGACY_FEATURES = ("log1p_top1", "log1p_margin")
DEFAULT_FEATURES = ("log_noise_ratio", "log1p_inliers", "static_share")
# With the second stage: the shortlist's evidence and the learned matcher's, fused. The
# matcher's confidence in its pairs, beside their count, tells real flanks apart better:
# on nyala photos held out by animal, right first candidates kept at 92-93 % of
# strangers flagged rose from 0.23 to 0.35 with it (bench/README.md, "The probability on real
# flanks").
# The pair check's inliers (the first candidate's, and how far they exceed the
# runner-up's) then flagged 70 % of nyala strangers instead of 63 %, with 85 % of right
# first places kept (86 % before; bench/README.md, "The pair check's inliers in the
# probability").
FUSED_FEATURES = (
    "log_noise_ratio",
    "log1p_inliers",
    "static_share",
    "log1p_learned",
    "learned_margin",
    "log1p_learned_confidence",
    "learned_confidence_margin",
    "log1p_verified",
    "verified_margin",
)
# A matched pair is "static" when it moved less than this share of the spread of the
# query's matched spots: the same rock seen by the same camera, not a walking animal.
STATIC_TOLERANCE = 0.05


@dataclass(frozen=True)
class Sample:
    """One labelled query outcome for fitting."""

    top1: float
    top2: float
    correct: bool
    inliers: int = 0  # geometric inliers of the first candidate
    static: float = 0.0  # share of those inliers at the same image position in both photos
    # Second stage: learned-matcher inliers of the first candidate and of the runner-up.
    learned: int = 0
    learned_second: int = 0
    # The same pairs' summed matcher confidence (each pair 0-1).
    learned_confidence: float = 0.0
    learned_second_confidence: float = 0.0
    # The pair check's inliers (leopards.matching.verify) of the first candidate's best
    # pair and of the runner-up's: 0 where the check did not run.
    verified: int = 0
    verified_second: int = 0
    # A query whose individual was left out of the catalogue: a stranger.
    open_set: bool = False
    # The scores of ranks 2..NOISE_RANKS, as many as the ranking had (top2 first).
    runners_up: tuple[float, ...] = ()


def _log_ratio(s: Sample) -> float:
    ratio = (max(s.top1, 0.0) + RATIO_FLOOR) / (max(s.top2, 0.0) + RATIO_FLOOR)
    return math.log(min(max(ratio, 1.0), MAX_RATIO))


def _log_noise_ratio(s: Sample) -> float:
    top1 = max(s.top1, 0.0)
    # A sample written with the second score alone (no runner-ups) had that one.
    known = s.runners_up or ((s.top2,) if s.top2 > 0 else ())
    ranks = [max(v, 0.0) for v in known[: NOISE_RANKS - 1]]
    ranks += [UNFILLED_RANK_SHARE * top1] * (NOISE_RANKS - 1 - len(ranks))
    noise = max(float(np.median(ranks)), RATIO_FLOOR)
    ratio = (top1 + noise) / (ranks[0] + noise)
    return math.log(min(max(ratio, 1.0), MAX_RATIO))


def _log1p(value: float) -> float:
    return math.log1p(max(value, 0.0))


def _log1p_margin(first: float, second: float) -> float:
    """Return how far the first candidate's evidence exceeds the runner-up's, in log1p."""
    return _log1p(first) - _log1p(second)


FEATURES: dict[str, Callable[[Sample], float]] = {
    "log1p_top1": lambda s: _log1p(s.top1),
    "log1p_margin": lambda s: _log1p_margin(s.top1, s.top2),
    "log_ratio": _log_ratio,
    "log_noise_ratio": _log_noise_ratio,
    "log1p_inliers": lambda s: _log1p(s.inliers),
    "static_share": lambda s: min(max(s.static, 0.0), 1.0),
    "log1p_learned": lambda s: _log1p(s.learned),
    "learned_margin": lambda s: _log1p_margin(s.learned, s.learned_second),
    "log1p_learned_confidence": lambda s: _log1p(s.learned_confidence),
    "learned_confidence_margin": lambda s: _log1p_margin(
        s.learned_confidence, s.learned_second_confidence
    ),
    "log1p_verified": lambda s: _log1p(s.verified),
    "verified_margin": lambda s: _log1p_margin(s.verified, s.verified_second),
}


def static_share(matches: np.ndarray) -> float:
    """Return the share of matched pairs (qx, qy, rx, ry) that did not move between photos."""
    if len(matches) == 0:
        return 0.0
    query, reference = matches[:, :2], matches[:, 2:4]
    spread = float(np.linalg.norm(query.max(axis=0) - query.min(axis=0)))
    if spread <= 0:
        return 0.0
    moved = np.linalg.norm(query - reference, axis=1)
    return float(np.mean(moved < STATIC_TOLERANCE * spread))


def _design(samples: Sequence[Sample], features: Sequence[str]) -> np.ndarray:
    """Return the model's inputs: a bias column, then one column per feature."""
    rows = [[1.0, *(FEATURES[name](s) for name in features)] for s in samples]
    return np.array(rows, float).reshape(len(samples), 1 + len(features))


@dataclass(frozen=True)
class Calibration:
    """Fitted logistic parameters, their inputs and the new-individual threshold."""

    coef: list[float] = field(default_factory=lambda: [-3.0, 1.0, 3.0])
    threshold: float = DEFAULT_THRESHOLD
    fitted_on: str = ""
    features: list[str] = field(default_factory=lambda: list(LEGACY_FEATURES))
    # What the parameters were fitted on and what they achieved, for the record.
    provenance: dict = field(default_factory=dict)
    # The model used when the second stage placed the first candidate: fitted on both
    # stages' evidence (FUSED_FEATURES). This one answers when the shortlist alone
    # ranked (no learned features for the box, or MATCH_RERANK_TOP_K = 0).
    second_stage: Calibration | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.features if name not in FEATURES]
        if unknown or len(self.coef) != len(self.features) + 1:
            raise ValueError(
                f"calibration needs one coefficient per feature plus a bias: {self.features}"
            )

    def probability_of(self, sample: Sample) -> float:
        """Return the probability that the sample's top candidate is the right individual."""
        z = float(_design([sample], self.features)[0] @ np.array(self.coef))
        return float(1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))))

    def probability(
        self,
        top1: float,
        top2: float = 0.0,
        *,
        inliers: int = 0,
        static: float = 0.0,
        runners_up: Sequence[float] = (),
    ) -> float:
        """Return the probability that the top candidate is the right individual.

        runners_up are the scores of ranks 2-5; without them top2 is the only one, as in
        a catalogue of two individuals.
        """
        return self.probability_of(
            Sample(
                top1=top1,
                top2=runners_up[0] if runners_up else top2,
                correct=False,
                inliers=inliers,
                static=static,
                runners_up=tuple(runners_up),
            )
        )

    def assess(self, candidates: Sequence[Candidate]) -> tuple[float, bool]:
        """Return (probability the first candidate is right, probably a new individual)."""
        if not candidates:
            return 0.0, True
        if self.second_stage is not None and candidates[0].stage == 2:
            return self.second_stage.assess(candidates)
        p = self.probability_of(sample_from(candidates, None))
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
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """Build parameters from the dictionary that to_json writes."""
        fused = data.get("second_stage")
        return cls(
            coef=[float(c) for c in data["coef"]],
            threshold=float(data.get("threshold", DEFAULT_THRESHOLD)),
            fitted_on=str(data.get("fitted_on", "")),
            features=[str(f) for f in data.get("features", LEGACY_FEATURES)],
            provenance=dict(data.get("provenance", {})),
            second_stage=cls.from_dict(fused) if fused else None,
        )


def fit(
    samples: Sequence[Sample],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    weights: Sequence[float] | None = None,
    threshold: float | None = None,
    stranger_share: float | None = None,
    l2: float = 1e-2,
    fitted_on: str = "",
    provenance: dict | None = None,
    second_stage: Calibration | None = None,
) -> Calibration:
    """Fit the logistic model by weighted maximum likelihood (a little L2 keeps it finite).

    Without a threshold: with stranger_share, the threshold under which that share of
    the open-set queries (strangers) falls, so that they are flagged "probably new";
    otherwise the one that balances the two errors on these samples (as many right
    first candidates called new as strangers not called new).
    """
    if not samples:
        raise ValueError("calibration needs labelled samples")
    x = _design(samples, features)
    y = np.array([s.correct for s in samples], float)
    w = np.ones(len(samples)) if weights is None else np.asarray(weights, float)
    fitted = logistic_coefficients(x, y, w, l2)
    coef = [float(c) for c in fitted]
    strangers = np.array([s.open_set for s in samples], bool)
    if threshold is None:
        p = 1.0 / (1.0 + np.exp(-(x @ fitted)))
        if stranger_share is not None and strangers.any():
            threshold = float(np.quantile(p[strangers], stranger_share))
        else:
            threshold = balanced_threshold(p, y.astype(bool), weights=w)
    return Calibration(
        coef=coef,
        threshold=round(float(threshold), 4),
        fitted_on=fitted_on,
        features=list(features),
        provenance=dict(provenance or {}),
        second_stage=second_stage,
    )


def logistic_coefficients(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2: float = 1e-2
) -> np.ndarray:
    """Return the coefficients of a logistic regression of y (0 or 1) on x, whose first
    column is the bias (ones): weighted maximum likelihood, a little L2 on the others
    keeping them finite."""
    w = np.ones(len(y)) if weights is None else weights

    def loss(coef: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ coef
        # log(1 + e^z) - y z, written to stay finite for large |z|.
        value = np.sum(w * (np.logaddexp(0.0, z) - y * z)) + l2 * np.sum(coef[1:] ** 2)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (w * (p - y)) + 2 * l2 * np.concatenate([[0.0], coef[1:]])
        return float(value), grad

    return minimize(loss, np.zeros(x.shape[1]), jac=True, method="BFGS").x


def reliability_table(
    probabilities: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> str:
    """Return a text table: per probability bin, queries, mean prediction, observed share."""
    probabilities = np.asarray(probabilities, float)
    correct = np.asarray(correct, bool)
    lines = ["| predicted | queries | mean predicted | observed right |", "|---|---:|---:|---:|"]
    edges = np.linspace(0.0, 1.0, bins + 1)
    for low, high in itertools.pairwise(edges):
        inside = (probabilities >= low) & (
            (probabilities < high) if high < 1.0 else (probabilities <= high)
        )
        if not inside.any():
            continue
        lines.append(
            f"| {low:.1f}-{high:.1f} | {int(inside.sum())} | "
            f"{probabilities[inside].mean():.3f} | {correct[inside].mean():.3f} |"
        )
    brier = float(np.mean((probabilities - correct) ** 2)) if len(correct) else float("nan")
    lines.append(f"Brier score {brier:.4f} over {len(correct)} queries")
    return "\n".join(lines)


def balanced_threshold(
    probabilities: np.ndarray, correct: np.ndarray, *, weights: np.ndarray | None = None
) -> float:
    """Return the threshold where right answers called new and wrong ones kept weigh the same."""
    probabilities = np.asarray(probabilities, float)
    correct = np.asarray(correct, bool)
    weights = np.ones(len(probabilities)) if weights is None else np.asarray(weights, float)
    if not correct.any() or correct.all():
        return DEFAULT_THRESHOLD
    best, best_gap = DEFAULT_THRESHOLD, math.inf
    for t in np.unique(np.round(probabilities, 4)):
        missed = np.sum(weights[correct & (probabilities < t)]) / np.sum(weights[correct])
        kept = np.sum(weights[~correct & (probabilities >= t)]) / np.sum(weights[~correct])
        if abs(missed - kept) < best_gap:
            best, best_gap = float(t), abs(missed - kept)
    return best


def sample_from(
    candidates: Sequence[Candidate], individual_id: object, *, open_set: bool = False
) -> Sample:
    """Label a ranking: is its first candidate the query's individual?"""
    top1 = candidates[0].score if candidates else 0.0
    top2 = candidates[1].score if len(candidates) > 1 else 0.0
    correct = not open_set and bool(candidates) and candidates[0].individual_id == individual_id
    inliers = candidates[0].inliers if candidates else 0
    static = static_share(candidates[0].matches) if candidates else 0.0
    learned = candidates[0].learned_inliers if candidates else 0
    learned_second = candidates[1].learned_inliers if len(candidates) > 1 else 0
    confidence = candidates[0].learned_confidence if candidates else 0.0
    second_confidence = candidates[1].learned_confidence if len(candidates) > 1 else 0.0
    runners_up = tuple(float(c.score) for c in candidates[1:NOISE_RANKS])
    verified = (candidates[0].verified_inliers or 0) if candidates else 0
    verified_second = (candidates[1].verified_inliers or 0) if len(candidates) > 1 else 0
    return Sample(
        top1=top1,
        top2=top2,
        correct=correct,
        inliers=inliers,
        static=static,
        learned=learned,
        learned_second=learned_second,
        learned_confidence=confidence,
        learned_second_confidence=second_confidence,
        verified=verified,
        verified_second=verified_second,
        open_set=open_set,
        runners_up=runners_up,
    )


def load_default() -> Calibration:
    """Return the parameters shipped with the code (see their provenance)."""
    return Calibration.load(DEFAULT_PATH)
