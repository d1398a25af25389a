"""secr's log-likelihood for one session with homogeneous density (Borchers & Efford 2008).

What is computed is written out in the reference note on secr (its LIKELIHOOD.md); in
brief, with Pr(w_i | x) the probability of animal i's history given a centre at mask
point x, p.(x) the probability of being detected at all, a the cell area (ha) and
log C = log n! - sum_c log n_c! over the distinct histories:

    full:         sum_i log(a sum_x Pr(w_i|x)) + n log D - D a sum_x p.(x) + log C - log n!
    conditional:  sum_i log(sum_x Pr(w_i|x) / sum_x p.(x)) + log C

Proximity and count detectors use secr's default "fastproximity" form: the occasions
are collapsed to binomial (proximity, size = the summed usage truncated to a whole
number, as secr does) or Poisson (count) counts per detector. The MLEs are those of the
full history; the log-likelihood differs by a constant, and is the figure secr reports.
`fast=False` gives the per-occasion proximity likelihood instead.

Every term is a matrix product over mask points x detectors, so one evaluation costs a
few passes over an M x K array, whatever the number of occasions.
"""

from functools import cached_property

import numpy as np
from scipy import special

HALFNORMAL = "halfnormal"
EXPONENTIAL = "exponential"
HAZARD_HALFNORMAL = "hazard-halfnormal"
DETECTFNS = (HALFNORMAL, EXPONENTIAL, HAZARD_HALFNORMAL)


def intercept_name(detectfn: str) -> str:
    """Return the name of the detection intercept: g0, or lambda0 for hazard functions."""
    return "lambda0" if detectfn == HAZARD_HALFNORMAL else "g0"


def _log_ratio_expm1(h: np.ndarray) -> np.ndarray:
    """Return log((1 - exp(-h)) / h), taking the limit 0 where h is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = -np.expm1(-h) / h
    return np.log(np.where(h > 0, ratio, 1.0))


class Detection:
    """log g, h = -log(1 - g) and log h for every mask point and detector.

    Each array is computed when first asked for: a likelihood needs two of the three,
    and each costs a pass of transcendental functions over mask points x detectors.
    """

    def __init__(self, detectfn: str, intercept: float, sigma: float, d2: np.ndarray) -> None:
        if detectfn not in DETECTFNS:
            raise ValueError(f"unknown detection function {detectfn!r}")
        self.detectfn = detectfn
        if detectfn == EXPONENTIAL:
            log_scaled = np.log(intercept) - np.sqrt(d2) / sigma
        else:
            log_scaled = np.log(intercept) - d2 / (2 * sigma**2)
        # log g for the g-type functions, log lambda = log h for hazard functions.
        self._log_scaled = log_scaled

    @cached_property
    def _scaled(self) -> np.ndarray:
        return np.exp(self._log_scaled)

    @cached_property
    def h(self) -> np.ndarray:
        if self.detectfn == HAZARD_HALFNORMAL:
            return self._scaled
        return -np.log1p(-self._scaled)

    @cached_property
    def log_g(self) -> np.ndarray:
        if self.detectfn == HAZARD_HALFNORMAL:
            return self._log_scaled + _log_ratio_expm1(self.h)
        return self._log_scaled

    @cached_property
    def log_h(self) -> np.ndarray:
        if self.detectfn == HAZARD_HALFNORMAL:
            return self._log_scaled
        g = self._scaled
        # log h = log g + log(h / g); h / g tends to 1 as g vanishes far from a detector.
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(g > 0, self.h / g, 1.0)
        return self._log_scaled + np.log(ratio)


def detection(detectfn: str, intercept: float, sigma: float, d2: np.ndarray) -> Detection:
    """Evaluate a detection function at squared distances `d2` (metres squared)."""
    return Detection(detectfn, intercept, sigma, d2)


def _log_multinomial(histories: np.ndarray) -> float:
    """Return log n! - sum log n_c! over the distinct rows of `histories`."""
    n = len(histories)
    if n == 0:
        return 0.0
    _, frequencies = np.unique(histories.reshape(n, -1), axis=0, return_counts=True)
    return float(special.gammaln(n + 1) - special.gammaln(frequencies + 1).sum())


def pdot(h: np.ndarray, effort: np.ndarray) -> np.ndarray:
    """Return 1 - exp(-sum_k effort_k h_k): the probability of any detection."""
    return -np.expm1(-(h @ effort))


class Likelihood:
    """The log-likelihood of one capture history on one mask, ready to evaluate."""

    def __init__(
        self,
        *,
        detector: str,
        detectfn: str,
        traps: np.ndarray,
        usage: np.ndarray,
        counts: np.ndarray,
        mask_points: np.ndarray,
        cell_area_ha: float,
        fast: bool = True,
    ) -> None:
        if detectfn not in DETECTFNS:
            raise ValueError(f"unknown detection function {detectfn!r}")
        self.detector = detector
        self.detectfn = detectfn
        self.cell_area = cell_area_ha
        self.fast = fast
        self.n = counts.shape[0]
        self.usage = np.asarray(usage, dtype=float)  # K x S
        diff = mask_points[:, None, :] - np.asarray(traps)[None, :, :]
        self.d2 = np.einsum("mkc,mkc->mk", diff, diff)  # M x K
        effort = self.usage.sum(axis=1)  # K
        if detector == "multi":
            caught = counts.sum(axis=2)  # n x S, 0 or 1
            self.caught = caught.astype(float)
            self.trap_counts = counts.sum(axis=1).astype(float)  # n x K
            with np.errstate(divide="ignore"):
                log_usage = np.where(self.usage > 0, np.log(self.usage), 0.0)
            # sum over an animal's captures of log T_sk: a constant of the data.
            self.constant = np.einsum("isk,ks->i", counts, log_usage)
            # A multi-catch history is the trap (or none) of each occasion.
            self.log_c = _log_multinomial(np.where(caught > 0, np.argmax(counts, axis=2) + 1, 0))
        elif detector == "proximity" and fast:
            y = counts.sum(axis=1)  # n x K
            # secr collapses binary data to Binomial(size, g), size = as.integer(sum T).
            self.size = np.floor(effort + 1e-9)
            self.y = y.astype(float)
            self.misses = self.size[None, :] - self.y
            self.constant = (
                special.gammaln(self.size + 1)[None, :]
                - special.gammaln(self.y + 1)
                - special.gammaln(np.maximum(self.misses, 0) + 1)
            ).sum(axis=1)
            self.log_c = _log_multinomial(y)
            self.effort = self.size
        elif detector == "proximity":
            self.effort = effort
            animal, occasion, trap = np.nonzero(counts)
            self.det_animal = animal
            self.det_trap = trap
            self.det_usage = self.usage[trap, occasion]
            # np.nonzero lists detections animal by animal: each animal's terms are one
            # contiguous run of columns, summed with reduceat.
            self.det_starts = np.flatnonzero(np.diff(animal, prepend=-1))
            self.constant = np.zeros(self.n)
            self.log_c = _log_multinomial(counts)
        elif detector == "count":
            y = counts.sum(axis=1)
            self.y = y.astype(float)
            self.effort = effort
            with np.errstate(divide="ignore"):
                log_effort = np.where(effort > 0, np.log(effort), 0.0)
            self.constant = self.y @ log_effort - special.gammaln(self.y + 1).sum(axis=1)
            self.log_c = _log_multinomial(y)
        else:
            raise ValueError(f"unknown detector {detector!r}")
        if detector == "multi":
            self.effort = effort

    @property
    def log_n_factorial(self) -> float:
        return float(special.gammaln(self.n + 1))

    def detection(self, intercept: float, sigma: float) -> Detection:
        """Evaluate the detection function on this mask and these detectors."""
        return detection(self.detectfn, intercept, sigma, self.d2)

    def pdot(self, det: Detection) -> np.ndarray:
        """Return p.(x): the probability of detecting an animal centred at each mask point."""
        # log(1 - g) = -h, so prod_k (1 - g_k)^effort_k = exp(-h @ effort); for the
        # collapsed proximity form the effort is the truncated size.
        return pdot(det.h, self.effort)

    def log_pr(self, det: Detection) -> np.ndarray:
        """Return log Pr(w_i | x) for every mask point and animal (M x n)."""
        if self.detector == "multi":
            hazard = det.h @ self.usage  # M x S
            caught_term = _log_ratio_expm1(hazard) + hazard  # log(1 - e^-H) - log H + H
            return (
                -hazard.sum(axis=1)[:, None]
                + caught_term @ self.caught.T
                + det.log_h @ self.trap_counts.T
                + self.constant[None, :]
            )
        if self.detector == "proximity" and self.fast:
            return det.log_g @ self.y.T - det.h @ self.misses.T + self.constant[None, :]
        if self.detector == "proximity":
            h = det.h[:, self.det_trap] * self.det_usage[None, :]  # M x J
            log_p = np.log(self.det_usage)[None, :] + det.log_h[:, self.det_trap]
            log_p = log_p + _log_ratio_expm1(h)
            per_animal = np.add.reduceat(log_p + h, self.det_starts, axis=1)
            return per_animal - (det.h @ self.effort)[:, None]
        # count: Poisson(T h) per detector
        return det.log_h @ self.y.T - (det.h @ self.effort)[:, None] + self.constant[None, :]

    def components(self, intercept: float, sigma: float) -> tuple[float, float]:
        """Return sum_i log sum_x Pr(w_i|x) and sum_x p.(x) at these detection parameters."""
        det = self.detection(intercept, sigma)
        log_pr = self.log_pr(det)
        return float(special.logsumexp(log_pr, axis=0).sum()), float(self.pdot(det).sum())

    def esa(self, intercept: float, sigma: float) -> float:
        """Return the effective sampling area in hectares."""
        return self.cell_area * float(self.pdot(self.detection(intercept, sigma)).sum())

    def conditional(self, intercept: float, sigma: float) -> float:
        """Return the conditional log-likelihood (density not a parameter)."""
        summed, pdot_sum = self.components(intercept, sigma)
        if not pdot_sum > 0:
            return -np.inf
        return summed - self.n * np.log(pdot_sum) + self.log_c

    def full(self, density: float, intercept: float, sigma: float) -> float:
        """Return the full (Poisson) log-likelihood with density in animals per hectare."""
        summed, pdot_sum = self.components(intercept, sigma)
        esa = self.cell_area * pdot_sum
        return (
            summed
            + self.n * np.log(self.cell_area)
            + self.n * np.log(density)
            - density * esa
            + self.log_c
            - float(special.gammaln(self.n + 1))
        )
