"""Fit secr's homogeneous-density model by maximum likelihood and report it as secr does.

The detection parameters are found by maximising the conditional likelihood; for the
full likelihood the density then has its closed form D = n / esa, which is the exact
joint maximum (Borchers & Efford 2008). Standard errors come from a central
finite-difference Hessian on the link scale (log D, logit g0 or log lambda0, log sigma),
as secr's nlm does; real-scale SEs and intervals follow secr's predict: for a log link
SE = exp(b) sqrt(exp(SE_b^2) - 1) and the interval is exp(b -/+ z SE_b).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from census.density.data import CaptureHistory
from census.density.likelihood import (
    DETECTFNS,
    EXPONENTIAL,
    HAZARD_HALFNORMAL,
    Likelihood,
    detection,
    intercept_name,
    pdot,
)
from census.density.mask import Mask, distance_to_nearest, uncovered_detectors
from census.numdiff import gradient, hessian

HA_PER_100KM2 = 10_000
# secr.fit's biasLimit: warn when truncating at the buffer biases D by more than 1 %.
BIAS_LIMIT = 0.01
MIN_ANIMALS = 5

REASONS = {
    "no_animals": "no animals detected",
    "too_few_animals": "only {n} animals detected; a spatial model needs at least {minimum}",
    "no_recaptures": "no recaptures: each of the {n} animals was detected once, so the "
    "detection scale (sigma) cannot be estimated",
    "no_spatial_recaptures": "no animal was detected at more than one camera, so the "
    "detection scale (sigma) cannot be estimated",
    "no_usage": "no camera worked on any occasion (every usage is zero)",
    "detection_without_usage": "{count} detections at cameras on occasions when they did "
    "not work (usage 0), e.g. detector {detector} on occasion {occasion}; correct the "
    "deployments or the usage",
    "detections_exceed_usage": "detector {detector} has more detections of one animal "
    "({count}) than occasions it worked ({size})",
    "mask_misses_detectors": "the mask does not cover {count} cameras (e.g. {detector}): "
    "widen it or give a mask that contains every camera",
    "mask_empty": "the mask has no points",
    "no_convergence": "the fit did not converge ({detail}); no estimate",
    "singular_hessian": "the fit reached a point where the information matrix is not "
    "positive definite ({detail}); the parameters are not identifiable from these data",
}


@dataclass(frozen=True)
class Real:
    """One real-scale parameter with secr's SE and Wald interval on its link scale."""

    estimate: float
    se: float | None
    lcl: float | None
    ucl: float | None
    link: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "lcl": self.lcl,
            "ucl": self.ucl,
            "link": self.link,
        }

    def scaled(self, factor: float) -> "Real":
        """Return the parameter in other units (e.g. per 100 km2 instead of per ha)."""

        def times(value: float | None) -> float | None:
            return None if value is None else value * factor

        return Real(
            self.estimate * factor, times(self.se), times(self.lcl), times(self.ucl), self.link
        )


def _real(beta: float, se_beta: float | None, link: str, z: float) -> Real:
    inverse = special.expit if link == "logit" else np.exp
    estimate = float(inverse(beta))
    if se_beta is None or not math.isfinite(se_beta):
        return Real(estimate, None, None, None, link)
    if link == "logit":
        se = estimate * (1 - estimate) * se_beta
    else:
        se = estimate * math.sqrt(math.expm1(se_beta**2))
    return Real(
        estimate,
        float(se),
        float(inverse(beta - z * se_beta)),
        float(inverse(beta + z * se_beta)),
        link,
    )


@dataclass(frozen=True)
class DensityFit:
    """Density from a spatial capture-recapture fit, or the reason there is none."""

    detector: str
    detectfn: str
    conditional: bool
    n_animals: int
    n_detections: int
    n_occasions: int
    n_detectors: int
    mask_points: int
    mask_spacing: float | None
    mask_area_ha: float | None
    buffer: float | None
    density: Real | None = None  # animals per hectare
    intercept: Real | None = None
    sigma: Real | None = None
    loglik: float | None = None
    npar: int | None = None
    esa_ha: float | None = None
    region_area_ha: float | None = None
    region_n: Real | None = None
    buffer_bias: float | None = None
    beta: tuple[float, ...] = ()
    beta_vcv: tuple[tuple[float, ...], ...] = ()
    reason: str | None = None
    reason_code: str | None = None
    reason_params: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    ci_level: float = 0.95

    @property
    def ok(self) -> bool:
        return self.density is not None

    @property
    def intercept_name(self) -> str:
        return intercept_name(self.detectfn)

    @property
    def aic(self) -> float | None:
        return None if self.loglik is None else -2 * self.loglik + 2 * self.npar

    @property
    def aicc(self) -> float | None:
        if self.aic is None or self.n_animals - self.npar - 1 <= 0:
            return None
        return self.aic + 2 * self.npar * (self.npar + 1) / (self.n_animals - self.npar - 1)

    @property
    def buffer_ok(self) -> bool | None:
        return None if self.buffer_bias is None else self.buffer_bias <= BIAS_LIMIT

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as plain JSON values (D per ha as secr, and per 100 km2)."""
        density = self.density
        per_100km2 = density.scaled(HA_PER_100KM2) if density else None
        name = self.intercept_name
        sigma = self.sigma
        return {
            "D_per_ha": density.estimate if density else None,
            "D_per_100km2": per_100km2.estimate if per_100km2 else None,
            "se": density.se if density else None,
            "lcl": density.lcl if density else None,
            "ucl": density.ucl if density else None,
            "se_per_100km2": per_100km2.se if per_100km2 else None,
            "lcl_per_100km2": per_100km2.lcl if per_100km2 else None,
            "ucl_per_100km2": per_100km2.ucl if per_100km2 else None,
            name: self.intercept.estimate if self.intercept else None,
            "sigma": sigma.estimate if sigma else None,
            "parameters": {
                "D": density.to_dict() if density else None,
                name: self.intercept.to_dict() if self.intercept else None,
                "sigma": sigma.to_dict() if sigma else None,
            },
            "N": self.region_n.to_dict() if self.region_n else None,
            "region_area_ha": self.region_area_ha,
            "loglik": self.loglik,
            "aic": self.aic,
            "aicc": self.aicc,
            "npar": self.npar,
            "esa_ha": self.esa_ha,
            "n_animals": self.n_animals,
            "n_detections": self.n_detections,
            "n_occasions": self.n_occasions,
            "n_detectors": self.n_detectors,
            "mask_points": self.mask_points,
            "mask_spacing": self.mask_spacing,
            "mask_area_ha": self.mask_area_ha,
            "buffer": self.buffer,
            "buffer_bias": self.buffer_bias,
            "buffer_ok": self.buffer_ok,
            "buffer_sigma_ratio": (
                self.buffer / sigma.estimate if self.buffer is not None and sigma else None
            ),
            "detector": self.detector,
            "detectfn": self.detectfn,
            "conditional": self.conditional,
            "ci_level": self.ci_level,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "reason_params": dict(self.reason_params),
            "warnings": list(self.warnings),
        }


def _rpsv(history: CaptureHistory) -> float | None:
    """Return secr's root pooled spatial variance of recaptured animals' detections."""
    detections = history.detections
    xy = history.traps[detections[:, 2]]
    total, degrees = 0.0, 0
    for animal in range(history.n_animals):
        points = xy[detections[:, 0] == animal]
        if len(points) > 1:
            total += float(((points - points.mean(axis=0)) ** 2).sum())
            degrees += len(points) - 1
    if degrees == 0 or total <= 0:
        return None
    return math.sqrt(total / (2 * degrees))


def _no_fit(base: dict[str, Any], code: str, /, **params: Any) -> DensityFit:
    return DensityFit(
        **base, reason=REASONS[code].format(**params), reason_code=code, reason_params=params
    )


def _check(history: CaptureHistory, mask: Mask) -> tuple[str, dict[str, Any]] | None:
    n = history.n_animals
    if n == 0:
        return "no_animals", {}
    if not np.any(history.usage > 0):
        return "no_usage", {}
    animal, occasion, trap = history.detections.T
    unused = history.usage[trap, occasion] <= 0
    if unused.any():
        first = int(np.flatnonzero(unused)[0])
        return "detection_without_usage", {
            "count": int(unused.sum()),
            "detector": history.trap_ids[trap[first]],
            "occasion": int(occasion[first]) + 1,
        }
    if len(mask) == 0:
        return "mask_empty", {}
    working = np.flatnonzero(history.usage.sum(axis=1) > 0)
    missing = uncovered_detectors(mask, history.traps[working])
    if len(missing):
        return "mask_misses_detectors", {
            "count": len(missing),
            "detector": history.trap_ids[working[missing[0]]],
        }
    if n < MIN_ANIMALS:
        return "too_few_animals", {"n": n, "minimum": MIN_ANIMALS}
    per_animal = np.bincount(animal, minlength=n)
    if per_animal.max() < 2:
        return "no_recaptures", {"n": n}
    traps_per_animal = [len(set(trap[animal == i])) for i in range(n)]
    if max(traps_per_animal) < 2:
        return "no_spatial_recaptures", {}
    return None


def _start(lik: Likelihood, history: CaptureHistory, links: tuple[str, str]) -> np.ndarray:
    """Choose starting values: sigma from the detections' spread, the intercept by a scan."""
    sigma = _rpsv(history)
    if sigma is None:
        spacing = distance_to_nearest(history.traps, history.traps)
        sigma = float(np.median(spacing)) if len(history.traps) > 1 else 100.0
    best, best_value = None, -np.inf
    for factor in (0.5, 1.0, 2.0):
        for intercept in (0.01, 0.03, 0.1, 0.3):
            value = lik.conditional(intercept, sigma * factor)
            if np.isfinite(value) and value > best_value:
                best, best_value = (intercept, sigma * factor), value
    intercept, sigma = best if best else (0.1, sigma)
    first = special.logit(intercept) if links[0] == "logit" else math.log(intercept)
    return np.array([first, math.log(sigma)])


def fit_density(
    history: CaptureHistory,
    mask: Mask,
    *,
    detectfn: str,
    conditional: bool = False,
    fast: bool | None = None,
    region_area_ha: float | None = None,
    ci: float = 0.95,
    progress: Callable[[float], None] | None = None,
) -> DensityFit:
    """Fit D, the detection intercept and sigma by maximum likelihood as secr.fit does.

    `fast` (proximity only) collapses the occasions as secr's fastproximity; by default
    it is used when every usage is 0 or 1, where it is exact. With other usage (nights
    per multi-night occasion) secr's collapsed form would treat the summed nights as
    binomial trials of occasion detections, so the per-occasion likelihood
    p = 1 - (1 - g)^usage is used instead.
    """
    if fast is None:
        fast = bool(np.all(np.isin(history.usage, (0, 1))))

    def report(fraction: float) -> None:
        if progress is not None:
            progress(fraction)

    if detectfn not in DETECTFNS:
        raise ValueError(f"unknown detection function {detectfn!r}")
    z = float(stats.norm.ppf(1 - (1 - ci) / 2))
    base: dict[str, Any] = {
        "detector": history.detector,
        "detectfn": detectfn,
        "conditional": conditional,
        "n_animals": history.n_animals,
        "n_detections": history.n_detections,
        "n_occasions": history.n_occasions,
        "n_detectors": history.n_traps,
        "mask_points": len(mask),
        "mask_spacing": mask.spacing,
        "mask_area_ha": mask.area_ha,
        "buffer": mask.buffer,
        "region_area_ha": region_area_ha,
        "ci_level": ci,
    }
    problem = _check(history, mask)
    if problem:
        return _no_fit(base, problem[0], **problem[1])
    warnings = []
    idle = np.flatnonzero(history.usage.sum(axis=1) <= 0)
    if len(idle):
        warnings.append(
            f"{len(idle)} cameras never worked (usage 0 on every occasion) and add nothing "
            f"to the fit, e.g. {history.trap_ids[idle[0]]}"
        )
    counts = history.counts()
    lik = Likelihood(
        detector=history.detector,
        detectfn=detectfn,
        traps=history.traps,
        usage=history.usage,
        counts=counts,
        mask_points=mask.points,
        cell_area_ha=mask.cell_area_ha,
        fast=fast,
    )
    if history.detector == "proximity" and fast:
        over = np.argwhere(lik.y > lik.size[None, :])
        if len(over):
            i, k = over[0]
            return _no_fit(
                base,
                "detections_exceed_usage",
                detector=history.trap_ids[k],
                count=int(lik.y[i, k]),
                size=int(lik.size[k]),
            )
    links = ("log" if detectfn == HAZARD_HALFNORMAL else "logit", "log")
    inverse = special.expit if links[0] == "logit" else np.exp

    def detection_real(theta: np.ndarray) -> tuple[float, float]:
        return float(inverse(theta[0])), float(np.exp(theta[1]))

    def negative_cl(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = lik.conditional(*detection_real(theta))
        return -value if np.isfinite(value) else 1e12

    report(0.05)
    start = _start(lik, history, links)
    iterations = [0]

    def step_done(_theta: np.ndarray) -> None:
        iterations[0] += 1
        # BFGS takes 10-30 iterations here; the bar moves on without claiming more.
        report(min(0.6, 0.1 + 0.025 * iterations[0]))

    result = optimize.minimize(
        negative_cl, start, method="BFGS", options={"gtol": 1e-5}, callback=step_done
    )
    report(0.65)
    theta = result.x
    # BFGS stops on its own gradient estimate; Newton steps on the finite-difference
    # Hessian take the optimum to many more digits, so fits are reproducible.
    for _ in range(3):
        grad = gradient(negative_cl, theta)
        if np.max(np.abs(grad)) < 1e-7:
            break
        step = np.linalg.lstsq(hessian(negative_cl, theta), grad, rcond=None)[0]
        candidate = theta - step
        if not negative_cl(candidate) <= negative_cl(theta) + 1e-9:
            break
        theta = candidate
    grad = gradient(negative_cl, theta)
    if not np.all(np.isfinite(theta)) or negative_cl(theta) >= 1e12 or np.max(np.abs(grad)) > 1e-2:
        return _no_fit(
            base, "no_convergence", detail=f"{result.message}; gradient {np.abs(grad).max():.2g}"
        )
    intercept, sigma = detection_real(theta)
    extent = np.ptp(mask.points, axis=0).max() if len(mask) > 1 else mask.spacing
    if sigma > 10 * max(extent, mask.spacing) or sigma < mask.spacing / 100:
        return _no_fit(
            base,
            "no_convergence",
            detail=f"sigma ran to {sigma:.4g} m, outside the scale of the mask",
        )
    esa = lik.esa(intercept, sigma)
    n = history.n_animals

    if conditional:
        beta = theta
        loglik = -negative_cl(theta)
        objective = negative_cl
    else:
        beta = np.concatenate([[math.log(n / esa)], theta])

        def objective(b: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                value = lik.full(math.exp(b[0]), *detection_real(b[1:]))
            return -value if np.isfinite(value) else 1e12

        loglik = -objective(beta)
    report(0.75)
    information = hessian(objective, beta)
    report(0.9)
    eigenvalues = np.linalg.eigvalsh(information)
    if not np.all(eigenvalues > 0):
        return _no_fit(
            base, "singular_hessian", detail=f"smallest eigenvalue {eigenvalues.min():.3g}"
        )
    vcv = np.linalg.pinv(information)
    se_beta = np.sqrt(np.diag(vcv))
    detection_se = se_beta[-2:]
    intercept_real = _real(theta[0], float(detection_se[0]), links[0], z)
    sigma_real = _real(theta[1], float(detection_se[1]), "log", z)
    if conditional:
        density = _derived_density(lik, n, theta, vcv, detection_real, z)
    else:
        density = _real(beta[0], float(se_beta[0]), "log", z)
    if intercept_real.estimate > 0.999 and links[0] == "logit":
        warnings.append(
            "g0 is at its upper limit of 1: detection at the centre looks certain, "
            "which is rarely true; check the occasions and usage"
        )
    bias = None
    if mask.buffer is not None:
        bias = buffer_bias(
            history=history,
            effort=lik.effort,
            detectfn=detectfn,
            intercept=intercept,
            sigma=sigma,
            buffer=mask.buffer,
            spacing=mask.spacing,
        )
        if bias > BIAS_LIMIT:
            warnings.append(
                f"the buffer of {mask.buffer:g} m is too narrow for sigma = {sigma:.4g} m: "
                f"D is biased upwards by about {100 * bias:.1f} % (secr's limit is "
                f"{100 * BIAS_LIMIT:g} %); widen it to at least {4 * sigma:.0f} m (4 sigma)"
            )
    region_n = density.scaled(region_area_ha) if region_area_ha else None
    return DensityFit(
        **base,
        density=density,
        intercept=intercept_real,
        sigma=sigma_real,
        loglik=float(loglik),
        npar=len(beta),
        esa_ha=esa,
        region_n=region_n,
        buffer_bias=bias,
        beta=tuple(float(b) for b in beta),
        beta_vcv=tuple(tuple(float(v) for v in row) for row in vcv),
        warnings=tuple(warnings),
    )


def _derived_density(
    lik: Likelihood,
    n: int,
    theta: np.ndarray,
    vcv: np.ndarray,
    detection_real: Callable[[np.ndarray], tuple[float, float]],
    z: float,
) -> Real:
    """Return secr's derived density of a conditional fit: n / esa with a log-normal CI."""

    def density(t: np.ndarray) -> float:
        return n / lik.esa(*detection_real(t))

    estimate = density(theta)
    esa = n / estimate
    slope = gradient(density, theta)
    variance = n / esa**2 + float(slope @ vcv @ slope)
    se = math.sqrt(variance)
    spread = math.exp(z * math.sqrt(math.log1p(variance / estimate**2)))
    return Real(estimate, se, estimate / spread, estimate * spread, "log")


def buffer_bias(
    *,
    history: CaptureHistory,
    effort: np.ndarray,
    detectfn: str,
    intercept: float,
    sigma: float,
    buffer: float,
    spacing: float,
) -> float:
    """Return the relative bias of D from ignoring centres beyond `buffer` (as secr's bias.D).

    Both areas are summed over one grid, so only the truncation differs: esa over
    centres within the buffer against esa over centres as far as detection reaches.
    """
    reach = sigma * (30 if detectfn == EXPONENTIAL else 8)
    wide = max(buffer, reach)
    traps = history.traps[effort > 0]
    used_effort = effort[effort > 0]
    low, high = traps.min(axis=0) - wide, traps.max(axis=0) + wide
    # Keep the grid to about 40,000 points whatever the buffer.
    cells = float(np.prod(high - low))
    step = max(spacing, math.sqrt(cells / 40_000))
    xs = np.arange(low[0] + step / 2, high[0], step)
    ys = np.arange(low[1] + step / 2, high[1], step)
    grid = np.column_stack([np.tile(xs, len(ys)), np.repeat(ys, len(xs))])
    distance = distance_to_nearest(grid, traps)
    grid, distance = grid[distance <= wide], distance[distance <= wide]
    inside_sum = total = 0.0
    for chunk in range(0, len(grid), 2000):
        points = grid[chunk : chunk + 2000]
        diff = points[:, None, :] - traps[None, :, :]
        d2 = np.einsum("mkc,mkc->mk", diff, diff)
        p = pdot(detection(detectfn, intercept, sigma, d2).h, used_effort)
        total += float(p.sum())
        inside_sum += float(p[distance[chunk : chunk + 2000] <= buffer].sum())
    if inside_sum <= 0:
        return math.inf
    return total / inside_sum - 1
