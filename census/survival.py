"""Apparent survival between years: the Cormack-Jolly-Seber model (Lebreton et al. 1992).

From yearly detection histories of identified animals (1 = seen that year), each
animal's history after its first sighting is modelled: it survives (and stays) from
year j to j + 1 with probability phi_j and, if alive, is seen in year j with
probability p_j. Apparent survival does not tell death from permanent emigration.

Models: phi and p each constant (".") or by year ("t"). In phi(t)p(t) the last survival
and the last detection probability are confounded (Lebreton et al. 1992): only their
product is estimable, reported as the last phi with `confounded` set, and the model
counts 2T - 3 parameters as program MARK does. Estimates, SEs (delta method, p(1-p) SE
on the logit) and Wald intervals on the logit scale are those of MARK and wiqid's
survCJS; the likelihood carries no multinomial constant, as theirs.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from census.numdiff import gradient, hessian

MODELS = ("phi(.)p(.)", "phi(t)p(.)", "phi(.)p(t)", "phi(t)p(t)")

REASONS = {
    "too_few_occasions": "survival needs at least three years of detections, got {occasions}",
    "not_binary": "detection histories must contain only 0 and 1",
    "no_recaptures": "no animal was seen again after its first year, so survival cannot be "
    "told from detection",
    "no_convergence": "the likelihood maximisation did not converge; no estimate",
}


@dataclass(frozen=True)
class Rate:
    """A probability with its SE and interval, or marked confounded."""

    estimate: float
    se: float | None
    lcl: float | None
    ucl: float | None
    confounded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "lcl": self.lcl,
            "ucl": self.ucl,
            "confounded": self.confounded,
        }


@dataclass(frozen=True)
class SurvivalEstimate:
    """A CJS fit: survival per interval, detection per occasion, or the reason for none."""

    model: str
    animals: int
    occasions: int
    phi: tuple[Rate, ...] = ()  # one per interval between occasions
    p: tuple[Rate, ...] = ()  # one per occasion from the second
    loglik: float | None = None
    npar: int | None = None
    # Animals first seen in each year: the newcomers (births grown up, immigrants).
    first_seen: tuple[int, ...] = ()
    reason: str | None = None
    reason_code: str | None = None
    reason_params: dict[str, Any] = field(default_factory=dict)
    ci_level: float = 0.95

    @property
    def ok(self) -> bool:
        return bool(self.phi)

    @property
    def aic(self) -> float | None:
        return None if self.loglik is None else -2 * self.loglik + 2 * self.npar

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as plain JSON values."""
        return {
            "model": self.model,
            "animals": self.animals,
            "occasions": self.occasions,
            "phi": [rate.to_dict() for rate in self.phi],
            "p": [rate.to_dict() for rate in self.p],
            "loglik": self.loglik,
            "npar": self.npar,
            "aic": self.aic,
            "first_seen": list(self.first_seen),
            "ci_level": self.ci_level,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "reason_params": dict(self.reason_params),
        }


def _no_estimate(
    model: str, animals: int, occasions: int, code: str, /, **params: Any
) -> SurvivalEstimate:
    return SurvivalEstimate(
        model=model,
        animals=animals,
        occasions=occasions,
        reason=REASONS[code].format(**params),
        reason_code=code,
        reason_params=params,
    )


@dataclass(frozen=True)
class _Summary:
    """The sufficient statistics of CJS: what the likelihood needs of the histories."""

    alive: np.ndarray  # per interval j: animals known alive across it
    seen: np.ndarray  # per occasion: known-alive animals seen (after first capture)
    missed: np.ndarray  # per occasion: known-alive animals not seen
    last: np.ndarray  # per occasion: animals last seen then


def _summarise(histories: np.ndarray) -> _Summary:
    t = histories.shape[1]
    first = np.argmax(histories, axis=1)
    last = t - 1 - np.argmax(histories[:, ::-1], axis=1)
    j = np.arange(t)
    known = (j[None, :] > first[:, None]) & (j[None, :] <= last[:, None])
    alive = ((j[None, :-1] >= first[:, None]) & (j[None, :-1] < last[:, None])).sum(axis=0)
    return _Summary(
        alive=alive.astype(float),
        seen=(known & (histories == 1)).sum(axis=0).astype(float),
        missed=(known & (histories == 0)).sum(axis=0).astype(float),
        last=np.bincount(last, minlength=t).astype(float),
    )


def _loglik(phi: np.ndarray, p: np.ndarray, summary: _Summary) -> float:
    """Return the CJS log-likelihood; phi has T - 1 entries, p has T (p[0] unused)."""
    t = len(p)
    chi = np.ones(t)
    for j in range(t - 2, -1, -1):
        chi[j] = 1 - phi[j] + phi[j] * (1 - p[j + 1]) * chi[j + 1]
    with np.errstate(divide="ignore"):
        value = (
            float(special.xlogy(summary.alive, phi).sum())
            + float(special.xlogy(summary.seen[1:], p[1:]).sum())
            + float(special.xlog1py(summary.missed[1:], -p[1:]).sum())
            + float(special.xlogy(summary.last, chi).sum())
        )
    return value


def cjs(histories: Any, model: str = "phi(.)p(.)", *, ci: float = 0.95) -> SurvivalEstimate:
    """Fit a Cormack-Jolly-Seber model to 0/1 yearly detection histories (animals x years)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    array = np.asarray(histories)
    if array.ndim != 2:
        raise ValueError("detection histories must be a 2-D table: one row per animal")
    animals, t = array.shape
    if not np.all(np.isin(array, (0, 1))):
        return _no_estimate(model, animals, t, "not_binary")
    array = array[array.sum(axis=1) > 0].astype(np.int64)
    animals = len(array)
    if t < 3:
        return _no_estimate(model, animals, t, "too_few_occasions", occasions=t)
    summary = _summarise(array)
    if summary.seen.sum() == 0:
        return _no_estimate(model, animals, t, "no_recaptures")
    phi_by_time, p_by_time = model.startswith("phi(t)"), model.endswith("p(t)")
    confounded = phi_by_time and p_by_time
    n_phi = t - 1 if phi_by_time else 1
    # With both by time, p of the last year is fixed at 1 and the last phi stands for
    # the estimable product phi_{T-1} p_T.
    n_p = (t - 2 if confounded else t - 1) if p_by_time else 1

    def unpack(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = special.expit(beta)
        phi = values[:n_phi] if phi_by_time else np.repeat(values[0], t - 1)
        p_values = values[n_phi:]
        if not p_by_time:
            p = np.repeat(p_values[0], t)
        elif confounded:
            p = np.concatenate([[np.nan], p_values, [1.0]])
        else:
            p = np.concatenate([[np.nan], p_values])
        return phi, p

    def objective(beta: np.ndarray) -> float:
        value = _loglik(*unpack(beta), summary)
        return -value if math.isfinite(value) else 1e12

    start = np.zeros(n_phi + n_p)
    result = optimize.minimize(objective, start, method="BFGS", options={"gtol": 1e-7})
    beta = result.x
    for _ in range(5):
        step = np.linalg.lstsq(hessian(objective, beta), gradient(objective, beta), rcond=None)[0]
        candidate = beta - step
        if not objective(candidate) <= objective(beta) + 1e-10:
            break
        beta = candidate
        if np.max(np.abs(step)) < 1e-9:
            break
    if not np.all(np.isfinite(beta)) or np.max(np.abs(gradient(objective, beta))) > 1e-2:
        return _no_estimate(model, animals, t, "no_convergence")
    information = hessian(objective, beta)
    try:
        covariance = np.linalg.pinv(information)
    except np.linalg.LinAlgError:
        return _no_estimate(model, animals, t, "no_convergence")
    z = float(stats.norm.ppf(1 - (1 - ci) / 2))
    rates = []
    for index, value in enumerate(beta):
        variance = covariance[index, index]
        estimate = float(special.expit(value))
        # A parameter at the boundary (logit beyond +/-10) has no usable SE.
        if variance > 0 and abs(value) < 10:
            se_beta = math.sqrt(variance)
            rates.append(
                Rate(
                    estimate,
                    estimate * (1 - estimate) * se_beta,
                    float(special.expit(value - z * se_beta)),
                    float(special.expit(value + z * se_beta)),
                )
            )
        else:
            rates.append(Rate(estimate, None, None, None))
    phi_rates = rates[:n_phi]
    p_rates = rates[n_phi:]
    if confounded:
        last = phi_rates[-1]
        phi_rates[-1] = Rate(last.estimate, last.se, last.lcl, last.ucl, confounded=True)
    first = np.argmax(array, axis=1)
    return SurvivalEstimate(
        model=model,
        animals=animals,
        occasions=t,
        phi=tuple(phi_rates),
        p=tuple(p_rates),
        loglik=-objective(beta),
        npar=len(beta),
        first_seen=tuple(int(x) for x in np.bincount(first, minlength=t)),
        ci_level=ci,
    )


def read_mark_inp(text: str) -> tuple[np.ndarray, list[list[int]]]:
    """Read a program MARK .inp file: histories and group frequencies (one per row)."""
    text = _strip_comments(text)
    histories, groups = [], []
    for statement in text.split(";"):
        tokens = statement.split()
        if not tokens:
            continue
        counts = [int(token) for token in tokens[1:]]
        for group, count in enumerate(counts):
            for _ in range(count):
                histories.append([int(digit) for digit in tokens[0]])
                groups.append(group)
    return np.array(histories, dtype=np.int64), [groups]


def _strip_comments(text: str) -> str:
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i) and depth:
            depth, i = depth - 1, i + 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)
