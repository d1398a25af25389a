"""Closed-population capture-recapture: Chapman, M0, Mt, Mb, Mh2, Mh jackknife and Chao Mh.

Pure numpy/scipy, so the management command, a Celery task and a notebook give the same
figures. Each estimator takes either a 0/1 capture-history matrix (animals x occasions) or
the capture frequencies f1..ft (f_j = animals caught on exactly j occasions) and returns an
`Estimate`; data that cannot support an estimate give `n_hat=None` and a `reason` a person
can act on, never nan or inf. Only input of the wrong type or shape (text, ragged or 3-D
arrays) raises ValueError.

Reference results (tests/census/test_estimators.py): R package wiqid (M. Meredith),
which reproduces program CAPTURE for the jackknife, on the Kanha tigers of Karanth et al.
(2004) and the rabbits of Edwards & Eberhardt (1967).
"""

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from census.numdiff import gradient, hessian

CaptureData = Sequence[int] | Sequence[Sequence[int]] | np.ndarray

CHAPMAN = "chapman"
M0 = "m0"
MH_JACKKNIFE = "mh_jackknife"
MH_CHAO = "mh_chao"
MT = "mt"
MB = "mb"
MH2 = "mh2"
LIKELIHOOD_MODELS = (M0, MT, MB, MH2)

NO_INTERVAL = "none"
LOG_NORMAL_F0 = "log-normal on f0 = N - S (Chao 1987)"
CHAPMAN_INTERVAL = LOG_NORMAL_F0 + ", Seber (1970) variance"
CHAO_NO_SINGLETONS_INTERVAL = "Chao's interval for no singletons (EstimateS eqn 14)"
M0_INTERVAL = (
    "Wald interval on log(N - S) from the observed information of the full likelihood "
    "(as wiqid closedCapM0)"
)
JACKKNIFE_INTERVAL = (
    "log-normal on f0 = N - S (Chao 1987; Rexstad & Burnham 1991, as program CAPTURE), "
    "SE from CAPTURE's power-weighted variance over orders"
)

LOG_F0_INTERVAL = (
    "Wald interval on log(N - S) from the observed information (as wiqid, program MARK's "
    "log-normal form)"
)

INTERVAL_METHODS = (
    NO_INTERVAL,
    LOG_NORMAL_F0,
    CHAPMAN_INTERVAL,
    M0_INTERVAL,
    JACKKNIFE_INTERVAL,
    CHAO_NO_SINGLETONS_INTERVAL,
    LOG_F0_INTERVAL,
)

# Why there is no estimate, by code, with the values each message names. The English
# text goes to the command line and JSON; pages translate the code (census.estimate_text),
# so this module stays free of Django.
REASONS = {
    "histories_not_binary": "capture histories must contain only 0 and 1",
    "negative_occasions": "the number of occasions cannot be negative",
    "frequencies_not_whole": "capture frequencies must be whole numbers",
    "negative_frequencies": "capture frequencies cannot be negative",
    "too_many_captures": "frequencies list animals caught more than {occasions} times "
    "in {occasions} occasions",
    "no_captures": "no animals captured",
    "one_occasion": "only one capture occasion: no animal can be recaptured, so there is "
    "nothing to estimate the missed animals from",
    "no_recaptures": "no recaptures: all {captured} animals were caught only once, so the "
    "data cannot tell how many were missed",
    "negative_samples": "sample sizes and recaptures cannot be negative",
    "recaptures_exceed_sample": "m2={m2} recaptures cannot exceed either sample (n1={n1}, n2={n2})",
    "empty_sample": "one of the two samples is empty: nothing to compare",
    "no_recaptures_second_sample": "no recaptures: none of the {n2} animals in the second "
    "sample had been caught in the first",
    "chapman_two_occasions": "Chapman's estimator needs exactly two sampling occasions, "
    "got {occasions}; define two occasions or use M0, the jackknife or Chao",
    "chapman_needs_histories": "Chapman's estimator needs who was caught in each of two "
    "samples; capture frequencies do not say that. Give the capture histories instead.",
    "no_maximum": "too few recaptures: the likelihood has no maximum, so the population "
    "size is not identifiable",
    "jackknife_one_animal": "only one animal captured: the jackknife's order test needs "
    "at least two",
    "jackknife_failed": "the jackknife failed numerically on these frequencies",
    "needs_histories": "model {model} needs who was caught on which occasion; capture "
    "frequencies do not say that. Give the capture histories instead.",
    "no_convergence": "the likelihood maximisation did not converge; no estimate",
    "area_not_positive": "the effective area must be a positive number of km2",
    "no_abundance": "there is no abundance estimate to convert",
}

# Caveats about a figure that exists, by code.
NOTES = {
    "boundary": "the likelihood peaks at N = S (every animal seems to have been caught); "
    "no standard error or interval can be computed there",
    "singular_information": "the information matrix is singular; no standard error",
    "negative_variance": "the jackknife variance came out negative and was set to zero",
    "bias_corrected": "bias-corrected form S + f1(f1-1) / (2(f2+1))",
}

# Program CAPTURE's critical values: 3.8415 for the order tests, 3.84 when it
# interpolates. They differ in the fourth decimal and the published figures depend on it.
_CHI2_TEST = 3.8415
_CHI2_INTERPOLATE = 3.84
# Beyond this many missed animals the M0 likelihood is treated as having no maximum:
# such a figure says "no information", not "a trillion leopards".
_MAX_MISSED = 1e12


@dataclass(frozen=True)
class JackknifeSelection:
    """Record which jackknife order the sequential test chose and how it interpolated."""

    order: int
    # Order m-1 the estimate was interpolated towards (0 means S itself), or None.
    interpolated_with: int | None
    # Weight on `order` in the interpolation; the rest goes to `interpolated_with`.
    weight: float | None
    estimates: tuple[float, ...]
    chi_square: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the selection as plain JSON values."""
        return {
            "order": self.order,
            "interpolated_with": self.interpolated_with,
            "weight": self.weight,
            "estimates": list(self.estimates),
            "chi_square": list(self.chi_square),
        }


@dataclass(frozen=True)
class Estimate:
    """Hold one abundance estimate, or the reason there is none."""

    model: str
    captured: int
    occasions: int | None
    n_hat: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_hat: float | None = None
    reason: str | None = None
    interval_method: str = NO_INTERVAL
    ci_level: float = 0.95
    aic: float | None = None
    # A caveat about a figure that exists (e.g. no interval at a boundary estimate).
    note: str | None = None
    jackknife: JackknifeSelection | None = None
    # Further fitted parameters by name (p per occasion, c, mixture), plain numbers.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # The keys of REASONS and NOTES behind `reason` and `note`, and the values they name.
    reason_code: str | None = None
    reason_params: Mapping[str, Any] = field(default_factory=dict)
    note_code: str | None = None

    @property
    def ok(self) -> bool:
        """Say whether there is a point estimate."""
        return self.n_hat is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the estimate as plain JSON values."""
        data: dict[str, Any] = {
            "model": self.model,
            "n_hat": self.n_hat,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "captured": self.captured,
            "occasions": self.occasions,
            "p_hat": self.p_hat,
            "reason": self.reason,
            "interval_method": self.interval_method,
            "ci_level": self.ci_level,
            "note": self.note,
        }
        if self.model in LIKELIHOOD_MODELS:
            data["aic"] = self.aic
        if self.parameters:
            data["parameters"] = dict(self.parameters)
        if self.model == MH_JACKKNIFE:
            data["jackknife_order"] = self.jackknife.order if self.jackknife else None
            data["jackknife"] = self.jackknife.to_dict() if self.jackknife else None
        return data


@dataclass(frozen=True)
class DensityEstimate:
    """Hold animals per 100 km2 derived from an abundance estimate."""

    area_km2: float | None
    density: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None
    reason_code: str | None = None
    reason_params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the density as plain JSON values."""
        return {
            "density_per_100km2": self.density,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "area_km2": self.area_km2,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _Captures:
    frequencies: np.ndarray  # f1..ft as int64, length t
    occasions: int

    @property
    def captured(self) -> int:
        return int(self.frequencies.sum())

    @property
    def captures(self) -> int:
        return int((self.frequencies * np.arange(1, self.occasions + 1)).sum())

    @property
    def recaptured(self) -> int:
        return int(self.frequencies[1:].sum())


# ---------------------------------------------------------------------------
# Input handling


def _numeric_array(data: Any, what: str) -> np.ndarray:
    if isinstance(data, str | bytes):
        raise ValueError(f"{what} must be numbers, not text; parse the text first")
    try:
        array = np.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{what} must be a rectangular table of numbers: {error}") from error
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numbers, got {array.dtype} values")
    return array


def _whole(array: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))


def _check_occasions(occasions: Any) -> None:
    if occasions is not None and (
        isinstance(occasions, bool) or not isinstance(occasions, numbers.Integral)
    ):
        raise ValueError(f"occasions must be a whole number, got {occasions!r}")


def _check_ci(ci: float) -> float:
    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0 < ci < 1:
        raise ValueError(f"ci must be a confidence level between 0 and 1, got {ci!r}")
    return float(stats.norm.ppf(1 - (1 - ci) / 2))


def frequencies_from_histories(matrix: Any) -> list[int]:
    """Count f1..ft, the animals caught on exactly 1..t occasions, from 0/1 histories."""
    array = _numeric_array(matrix, "capture histories")
    if array.ndim != 2:
        raise ValueError("capture histories must be a 2-D table: one row per animal")
    if not np.all(np.isin(array, (0, 1))):
        raise ValueError("capture histories must contain only 0 and 1")
    occasions = array.shape[1]
    totals = array.sum(axis=1).astype(np.int64)
    # Rows of zeros are animals listed but never caught: they are not part of S.
    return np.bincount(totals, minlength=occasions + 1)[1:].tolist()


def _read_captures(data: Any, occasions: int | None, model: str) -> _Captures | Estimate:
    _check_occasions(occasions)
    array = _numeric_array(data, "capture data")
    if array.ndim == 2:
        columns = array.shape[1]
        if occasions is not None and occasions != columns:
            raise ValueError(
                f"occasions={occasions} but the capture histories have {columns} columns"
            )
        if not np.all(np.isin(array, (0, 1))):
            return no_estimate(model, 0, columns, "histories_not_binary")
        frequencies = np.asarray(frequencies_from_histories(array), dtype=np.int64)
        return _checked(_Captures(frequencies, columns), model)
    if array.ndim != 1:
        raise ValueError(
            "capture data must be capture frequencies f1..ft (1-D) "
            f"or 0/1 capture histories (2-D), got {array.ndim}-D"
        )
    t = len(array) if occasions is None else int(occasions)
    if t < 0:
        return no_estimate(model, 0, None, "negative_occasions")
    if not _whole(array):
        return no_estimate(model, 0, t, "frequencies_not_whole")
    if np.any(array < 0):
        return no_estimate(model, 0, t, "negative_frequencies")
    counts = array.astype(np.int64)
    if np.any(counts[t:] != 0):
        return no_estimate(model, int(counts.sum()), t, "too_many_captures", occasions=t)
    frequencies = np.zeros(t, dtype=np.int64)
    frequencies[: min(t, len(counts))] = counts[:t]
    return _checked(_Captures(frequencies, t), model)


def _checked(captures: _Captures, model: str) -> _Captures | Estimate:
    captured, t = captures.captured, captures.occasions
    if captured == 0:
        return no_estimate(model, 0, t, "no_captures")
    if t < 2:
        return no_estimate(model, captured, t, "one_occasion")
    if captures.recaptured == 0:
        return no_estimate(model, captured, t, "no_recaptures", captured=captured)
    return captures


def no_estimate(
    model: str, captured: int, occasions: int | None, code: str, /, **params: Any
) -> Estimate:
    """Return an estimate that is missing for the reason `code` (a key of REASONS)."""
    return Estimate(
        model=model,
        captured=captured,
        occasions=occasions,
        reason=REASONS[code].format(**params),
        reason_code=code,
        reason_params=params,
    )


def _note(code: str | None) -> dict[str, str | None]:
    return {"note": NOTES[code] if code else None, "note_code": code}


def _log_normal_interval(captured: int, missed: float, se: float, z: float) -> tuple[float, float]:
    """Return Chao's (1987) log-normal interval, which never falls below S."""
    if missed <= 0:
        return float(captured), float(captured)
    spread = math.exp(z * math.sqrt(math.log1p(se**2 / missed**2)))
    return captured + missed / spread, captured + missed * spread


# ---------------------------------------------------------------------------
# Chapman two-sample estimator


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def chapman(n1: int, n2: int, m2: int, *, ci: float = 0.95) -> Estimate:
    """Estimate N from two samples with Chapman's bias-corrected Lincoln-Petersen estimator."""
    n1, n2, m2 = _count(n1, "n1"), _count(n2, "n2"), _count(m2, "m2")
    z = _check_ci(ci)
    if min(n1, n2, m2) < 0:
        return no_estimate(CHAPMAN, 0, 2, "negative_samples")
    if m2 > min(n1, n2):
        return no_estimate(CHAPMAN, 0, 2, "recaptures_exceed_sample", m2=m2, n1=n1, n2=n2)
    captured = n1 + n2 - m2
    if captured == 0:
        return no_estimate(CHAPMAN, 0, 2, "no_captures")
    if n1 == 0 or n2 == 0:
        return no_estimate(CHAPMAN, captured, 2, "empty_sample")
    if m2 == 0:
        # Chapman's formula still gives a number, but with no recaptures it is driven
        # by the +1 corrections alone and its variance is as large as the estimate.
        return no_estimate(CHAPMAN, captured, 2, "no_recaptures_second_sample", n2=n2)
    n_hat = (n1 + 1) * (n2 + 1) / (m2 + 1) - 1
    # Seber (1970): unbiased for the variance of Chapman's estimator.
    variance = (n1 + 1) * (n2 + 1) * (n1 - m2) * (n2 - m2) / ((m2 + 1) ** 2 * (m2 + 2))
    se = math.sqrt(variance)
    low, high = _log_normal_interval(captured, n_hat - captured, se, z)
    return Estimate(
        model=CHAPMAN,
        captured=captured,
        occasions=2,
        n_hat=n_hat,
        se=se,
        ci_low=low,
        ci_high=high,
        p_hat=(n1 + n2) / (2 * n_hat),
        interval_method=CHAPMAN_INTERVAL,
        ci_level=ci,
    )


def chapman_from_histories(matrix: Any, *, ci: float = 0.95) -> Estimate:
    """Estimate N with Chapman's estimator from 0/1 histories of exactly two occasions."""
    array = _numeric_array(matrix, "capture histories")
    if array.ndim != 2:
        raise ValueError("capture histories must be a 2-D table: one row per animal")
    occasions = array.shape[1]
    if not np.all(np.isin(array, (0, 1))):
        return no_estimate(CHAPMAN, 0, occasions, "histories_not_binary")
    if occasions != 2:
        # Which occasions to pool is a survey-design decision (e.g. halves of the season),
        # so it is made where occasions are built, not silently here.
        captured = int(np.count_nonzero(array.sum(axis=1))) if array.size else 0
        return no_estimate(
            CHAPMAN, captured, occasions, "chapman_two_occasions", occasions=occasions
        )
    first, second = array[:, 0] == 1, array[:, 1] == 1
    return chapman(int(first.sum()), int(second.sum()), int((first & second).sum()), ci=ci)


# ---------------------------------------------------------------------------
# M0: constant capture probability (Otis et al. 1978)


def _m0_score(missed: float, captured: int, captures: int, occasions: int) -> float:
    """Return d logL / dN with p profiled out (p = n / (N t))."""
    n_total = captured + missed
    p = captures / (n_total * occasions)
    if p >= 1:
        return -math.inf
    return float(
        special.digamma(n_total + 1) - special.digamma(missed + 1) + occasions * math.log1p(-p)
    )


def _m0_loglik(n_total: float, captured: int, captures: int, occasions: int) -> float:
    p = captures / (n_total * occasions)
    # Same likelihood as wiqid (no multinomial constant), so AIC values are comparable.
    return float(
        special.gammaln(n_total + 1)
        - special.gammaln(n_total - captured + 1)
        + special.xlogy(captures, p)
        + special.xlog1py(n_total * occasions - captures, -p)
    )


def m0(data: CaptureData, occasions: int | None = None, *, ci: float = 0.95) -> Estimate:
    """Estimate N under model M0 by maximum likelihood over continuous N."""
    z = _check_ci(ci)
    captures = _read_captures(data, occasions, M0)
    if isinstance(captures, Estimate):
        return captures
    s, n, t = captures.captured, captures.captures, captures.occasions

    def score(missed: float) -> float:
        return _m0_score(missed, s, n, t)

    if score(0.0) <= 0:
        # The likelihood falls as soon as N exceeds S: the best estimate is S itself,
        # where the information matrix is singular, so no SE or interval exists.
        loglik = _m0_loglik(float(s), s, n, t)
        return Estimate(
            model=M0,
            captured=s,
            occasions=t,
            n_hat=float(s),
            p_hat=n / (s * t),
            aic=-2 * loglik + 4,
            ci_level=ci,
            **_note("boundary"),
        )
    upper = float(max(s, 1))
    while score(upper) > 0:
        upper *= 2
        if upper > _MAX_MISSED:
            return no_estimate(M0, s, t, "no_maximum")
    missed = optimize.brentq(score, 0.0, upper, xtol=1e-12, rtol=4 * np.finfo(float).eps)
    n_hat = s + missed
    p = n / (n_hat * t)
    loglik = _m0_loglik(n_hat, s, n, t)

    # Observed information in (N, p); at the maximum it transforms to wiqid's
    # (log f0, logit p) scale exactly, without its finite-difference Hessian.
    info_nn = float(special.polygamma(1, missed + 1) - special.polygamma(1, n_hat + 1))
    info_np = t / (1 - p)
    info_pp = n / p**2 + (n_hat * t - n) / (1 - p) ** 2
    determinant = info_nn * info_pp - info_np**2
    if not determinant > 0:
        return Estimate(
            model=M0,
            captured=s,
            occasions=t,
            n_hat=n_hat,
            p_hat=p,
            aic=-2 * loglik + 4,
            ci_level=ci,
            **_note("singular_information"),
        )
    se = math.sqrt(info_pp / determinant)
    se_log_missed = se / missed
    return Estimate(
        model=M0,
        captured=s,
        occasions=t,
        n_hat=n_hat,
        se=se,
        ci_low=s + missed * math.exp(-z * se_log_missed),
        ci_high=s + missed * math.exp(z * se_log_missed),
        p_hat=p,
        interval_method=M0_INTERVAL,
        ci_level=ci,
        aic=-2 * loglik + 4,
    )


# ---------------------------------------------------------------------------
# Mh jackknife (Burnham & Overton 1978, 1979; program CAPTURE)

# CAPTURE's simplified coefficients when there are more than 30 occasions.
_JACKKNIFE_MANY_OCCASIONS = np.array(
    [
        [2, 1, 1, 1, 1],
        [3, 0, 1, 1, 1],
        [4, -2, 2, 1, 1],
        [5, -5, 5, 0, 1],
        [6, -9, 11, -4, 2],
    ],
    dtype=float,
)


def _jackknife_coefficients(occasions: int) -> np.ndarray:
    """Return a_ij such that the order-i jackknife is sum_j a_ij f_j (B&O 1978, Table 1)."""
    orders = min(5, occasions)
    if occasions > 30:
        return _JACKKNIFE_MANY_OCCASIONS[:orders, :orders].copy()
    t = occasions
    rows = [
        [t - 1, 0, 0, 0, 0],
        [2 * t - 3, -((t - 2) ** 2), 0, 0, 0],
        [3 * t - 6, -(3 * t**2 - 15 * t + 19), (t - 3) ** 3, 0, 0],
        [
            4 * t - 10,
            -(6 * t**2 - 36 * t + 55),
            4 * t**3 - 42 * t**2 + 148 * t - 175,
            -((t - 4) ** 4),
            0,
        ],
        [
            5 * t - 15,
            -(10 * t**2 - 70 * t + 125),
            10 * t**3 - 120 * t**2 + 485 * t - 660,
            -((t - 4) ** 5 - (t - 5) ** 5),
            (t - 5) ** 5,
        ],
    ]
    # The coefficient of f_j carries the divisor t(t-1)...(t-j+1); orders above t are
    # never built, so the divisor is never zero.
    divisors = np.array([math.perm(t, j + 1) for j in range(orders)], dtype=float)
    numerators = np.array([row[:orders] for row in rows[:orders]], dtype=float)
    return numerators / divisors + 1


def mh_jackknife(data: CaptureData, occasions: int | None = None, *, ci: float = 0.95) -> Estimate:
    """Estimate N under model Mh with the Burnham-Overton jackknife as program CAPTURE does."""
    z = _check_ci(ci)
    captures = _read_captures(data, occasions, MH_JACKKNIFE)
    if isinstance(captures, Estimate):
        return captures
    s, n, t = captures.captured, captures.captures, captures.occasions
    if s < 2:
        return no_estimate(MH_JACKKNIFE, s, t, "jackknife_one_animal")
    coefficients = _jackknife_coefficients(t)
    orders = coefficients.shape[0]
    freq = captures.frequencies.astype(float)
    # Capture counts above the highest order all carry coefficient 1.
    if t > orders:
        coefficients = np.hstack([coefficients, np.ones((orders, t - orders))])
    else:
        freq = freq[:orders]

    estimates = coefficients @ freq
    variances = (coefficients**2) @ freq - estimates  # can be negative
    diffs = np.diff(estimates)
    b = np.diff(coefficients, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Burnham & Overton (1979, p. 929): variance of N(i+1) - N(i) given S.
        var_diffs = ((b**2) @ freq - diffs**2 / s) * s / (s - 1)
        chi2 = diffs**2 / var_diffs
    # 0/0 arises when two orders coincide (few occasions): no evidence of a difference.
    chi2 = np.where(np.isnan(chi2), 0.0, chi2)
    chi2 = np.append(chi2, 0.0)  # the highest order is never tested against a higher one

    # Rexstad & Burnham (1991): weight each order by the probability that the test
    # sequence stops there; CAPTURE's power uses noncentrality chi2 - 1, or 0.5 if chi2 < 1.
    noncentrality = np.maximum(0.0, chi2 - 1)[:-1]
    power = np.full(len(noncentrality), 0.5)
    positive = noncentrality > 0
    power[positive] = stats.ncx2.sf(_CHI2_TEST, 1, noncentrality[positive])
    weights = np.append(1 - power, 1.0) * np.concatenate([[1.0], np.cumprod(power)])
    expected = float((weights * estimates).sum())
    variance = float((weights * variances + weights * (estimates - expected) ** 2).sum())
    note = None
    if variance < 0:
        note = "negative_variance"
    se = math.sqrt(max(0.0, variance))

    # First order whose test against the next order is not significant.
    order = int(np.flatnonzero(chi2 < _CHI2_TEST)[0]) + 1
    interpolated_with: int | None = None
    weight: float | None = None
    if order > 1:
        previous = chi2[order - 2]
        weight = (
            1.0
            if math.isinf(previous)
            else float((previous - _CHI2_INTERPOLATE) / (previous - chi2[order - 1]))
        )
        mixed = weight * coefficients[order - 1] + (1 - weight) * coefficients[order - 2]
        n_hat = float(mixed @ freq)
        interpolated_with = order - 1
        # CAPTURE never reports less than the first-order jackknife.
        n_hat = max(n_hat, float(estimates[0]))
    else:
        f1 = freq[0]
        # CAPTURE's test of the first order against S itself (order 0).
        x_test = estimates[0] * f1 / (estimates[0] - f1)
        if x_test > _CHI2_INTERPOLATE:
            weight = float((x_test - _CHI2_INTERPOLATE) / (x_test - chi2[0]))
            n_hat = float(((weight * coefficients[0] + (1 - weight)) * freq).sum())
            interpolated_with = 0
        else:
            n_hat = float(estimates[0])

    low, high = _log_normal_interval(s, n_hat - s, se, z)
    selection = JackknifeSelection(
        order=order,
        interpolated_with=interpolated_with,
        weight=weight,
        estimates=tuple(float(x) for x in estimates),
        chi_square=tuple(float(x) for x in chi2[:-1]),
    )
    if not all(math.isfinite(x) for x in (n_hat, low, high)):
        return no_estimate(MH_JACKKNIFE, s, t, "jackknife_failed")
    return Estimate(
        model=MH_JACKKNIFE,
        captured=s,
        occasions=t,
        n_hat=n_hat,
        se=se,
        ci_low=low,
        ci_high=high,
        p_hat=n / (n_hat * t),
        interval_method=JACKKNIFE_INTERVAL,
        ci_level=ci,
        jackknife=selection,
        **_note(note),
    )


# ---------------------------------------------------------------------------
# Chao Mh (Chao 1987)


def chao_mh(
    data: CaptureData,
    occasions: int | None = None,
    *,
    ci: float = 0.95,
    bias_corrected: bool = False,
) -> Estimate:
    """Estimate N under model Mh with Chao's (1987) lower-bound estimator S + f1^2 / (2 f2)."""
    z = _check_ci(ci)
    captures = _read_captures(data, occasions, MH_CHAO)
    if isinstance(captures, Estimate):
        return captures
    s, n, t = captures.captured, captures.captures, captures.occasions
    f1, f2 = int(captures.frequencies[0]), int(captures.frequencies[1])
    interval_method = LOG_NORMAL_F0
    if f1 == 0:
        # Nobody was caught just once: N-hat = S. Variance and interval follow Chao's
        # no-singleton formulas (EstimateS 8.2 Appendix B, eqns 8 and 14).
        missed = 0.0
        p_missed = math.exp(-n / s)
        variance = s * p_missed * (1 - p_missed)
        half_width = z * math.sqrt(s * p_missed / (1 - p_missed))
        centre = s / (1 - p_missed)
        low, high = max(float(s), centre - half_width), centre + half_width
        interval_method = CHAO_NO_SINGLETONS_INTERVAL
    else:
        # f1^2 / (2 f2) is undefined without doubletons; the bias-corrected form is not.
        corrected = f2 == 0 or bias_corrected
        missed = f1 * (f1 - 1) / (2 * (f2 + 1)) if corrected else f1**2 / (2 * f2)
        # Variances: Chao (1987) for f1^2 / (2 f2); the bias-corrected forms as in
        # EstimateS 8.2 Appendix B, eqns 6-7, with capture counts in place of abundances.
        if f2 == 0:
            variance = f1 * (f1 - 1) / 2 + f1 * (2 * f1 - 1) ** 2 / 4 - f1**4 / (4 * (s + missed))
        elif bias_corrected:
            variance = (
                f1 * (f1 - 1) / (2 * (f2 + 1))
                + f1 * (2 * f1 - 1) ** 2 / (4 * (f2 + 1) ** 2)
                + f1**2 * f2 * (f1 - 1) ** 2 / (4 * (f2 + 1) ** 4)
            )
        else:
            ratio = f1 / f2
            variance = f2 * (ratio**4 / 4 + ratio**3 + ratio**2 / 2)
        variance = max(0.0, variance)
        low, high = _log_normal_interval(s, missed, math.sqrt(variance), z)
    n_hat = s + missed
    return Estimate(
        model=MH_CHAO,
        captured=s,
        occasions=t,
        n_hat=n_hat,
        se=math.sqrt(variance),
        ci_low=low,
        ci_high=high,
        p_hat=n / (n_hat * t),
        interval_method=interval_method,
        ci_level=ci,
        **_note("bias_corrected" if (f1 and (f2 == 0 or bias_corrected)) else None),
    )


# ---------------------------------------------------------------------------
# Mt, Mb and Mh2: likelihoods of individual histories (Otis et al. 1978; Pledger 2000)
#
# All four likelihood models (with M0) share the history-level likelihood with
# N! / (N - S)! and no multinomial constant for the histories, as wiqid and program
# MARK, so their AICs can be compared and `best_by_aic` can pick one.


def _histories(data: CaptureData, model: str) -> np.ndarray | Estimate:
    array = _numeric_array(data, "capture data")
    if array.ndim == 1:
        return no_estimate(model, int(np.sum(array)), len(array), "needs_histories", model=model)
    captures = _read_captures(array, None, model)
    if isinstance(captures, Estimate):
        return captures
    rows = array[array.sum(axis=1) > 0].astype(np.int64)
    return rows


def _log_f0_estimate(
    model: str,
    captured: int,
    occasions: int,
    n_hat: float,
    variance: float | None,
    loglik: float,
    parameters_count: int,
    z: float,
    ci: float,
    p_hat: float,
    parameters: Mapping[str, Any],
) -> Estimate:
    """Return an estimate with the Wald interval on log(N - S) (never below S)."""
    missed = n_hat - captured
    aic = -2 * loglik + 2 * parameters_count
    common = {
        "model": model,
        "captured": captured,
        "occasions": occasions,
        "n_hat": n_hat,
        "p_hat": p_hat,
        "aic": aic,
        "ci_level": ci,
        "parameters": parameters,
    }
    if missed <= 1e-6 * captured:
        # The optimiser stops a hair above N = S: that is the boundary estimate.
        return Estimate(**common, **_note("boundary"))
    if variance is None or not variance > 0 or not math.isfinite(variance):
        return Estimate(**common, **_note("singular_information"))
    se = math.sqrt(variance)
    se_log = se / missed
    if z * se_log > 50:
        # An interval spanning e^50 says nothing; report the estimate without one.
        return Estimate(**common, se=se, **_note("singular_information"))
    return Estimate(
        **common,
        se=se,
        ci_low=captured + missed * math.exp(-z * se_log),
        ci_high=captured + missed * math.exp(z * se_log),
        interval_method=LOG_F0_INTERVAL,
    )


def _root_in_missed(score: Any, captured: int) -> float | None:
    """Return the number missed where the profile score crosses zero, or None if it never does."""
    upper = float(max(captured, 1))
    while score(upper) > 0:
        upper *= 2
        if upper > _MAX_MISSED:
            return None
    return float(optimize.brentq(score, 0.0, upper, xtol=1e-12, rtol=4 * np.finfo(float).eps))


def mt(data: CaptureData, *, ci: float = 0.95) -> Estimate:
    """Estimate N under model Mt (capture probability varies by occasion; Darroch 1958)."""
    z = _check_ci(ci)
    rows = _histories(data, MT)
    if isinstance(rows, Estimate):
        return rows
    s, t = rows.shape
    per_occasion = rows.sum(axis=0).astype(float)

    def score(missed: float) -> float:
        n_total = s + missed
        with np.errstate(divide="ignore"):
            tail = float(np.log1p(-per_occasion / n_total).sum())
        return float(special.digamma(n_total + 1) - special.digamma(missed + 1)) + tail

    def loglik(n_total: float) -> float:
        p = per_occasion / n_total
        return float(
            special.gammaln(n_total + 1)
            - special.gammaln(n_total - s + 1)
            + (special.xlogy(per_occasion, p) + special.xlog1py(n_total - per_occasion, -p)).sum()
        )

    missed = 0.0 if not score(0.0) > 0 else _root_in_missed(score, s)
    if missed is None:
        return no_estimate(MT, s, t, "no_maximum")
    n_hat = s + missed
    p = per_occasion / n_hat
    variance = None
    if missed > 0:
        # Observed information in (N, p_1..p_t), N's variance by the Schur complement;
        # occasions with no captures have p = 0 on the boundary and carry no information.
        info_nn = float(special.polygamma(1, missed + 1) - special.polygamma(1, n_hat + 1))
        used = (p > 0) & (p < 1)
        info_np = 1 / (1 - p[used])
        info_pp = (
            per_occasion[used] / p[used] ** 2 + (n_hat - per_occasion[used]) / (1 - p[used]) ** 2
        )
        reduced = info_nn - float((info_np**2 / info_pp).sum())
        variance = 1 / reduced if reduced > 0 else None
    return _log_f0_estimate(
        MT,
        s,
        t,
        n_hat,
        variance,
        loglik(n_hat),
        t + 1,
        z,
        ci,
        float(per_occasion.sum() / (n_hat * t)),
        {"p": [float(x) for x in p]},
    )


def mb(data: CaptureData, *, ci: float = 0.95) -> Estimate:
    """Estimate N under model Mb (trap response: first capture p, recapture c; Otis et al. 1978)."""
    z = _check_ci(ci)
    rows = _histories(data, MB)
    if isinstance(rows, Estimate):
        return rows
    s, t = rows.shape
    first = np.argmax(rows, axis=1)
    new = np.bincount(first, minlength=t)  # u_j
    marked_after = np.cumsum(new)  # M_{j+1}
    exposures = float(marked_after.sum())  # A = sum_j M_{j+1}
    recaptures = int(rows.sum() - s)  # m.
    marked_before = exposures - s  # sum_j M_j: marked animals available for recapture

    def p_of(n_total: float) -> float:
        return s / (s + n_total * t - exposures)

    def score(missed: float) -> float:
        n_total = s + missed
        with np.errstate(divide="ignore"):
            return float(
                special.digamma(n_total + 1)
                - special.digamma(missed + 1)
                + t * np.log1p(-p_of(n_total))
            )

    if not score(0.0) > 0:
        missed: float | None = 0.0
    else:
        missed = _root_in_missed(score, s)
    if missed is None:
        # First captures do not fall over the occasions: the removal model has no finite
        # maximum (a known trait of Mb).
        return no_estimate(MB, s, t, "no_maximum")
    n_hat = s + missed
    p = p_of(n_hat)
    c = recaptures / marked_before if marked_before > 0 else 0.0
    loglik = float(
        special.gammaln(n_hat + 1)
        - special.gammaln(missed + 1)
        + special.xlogy(s, p)
        + special.xlog1py(n_hat * t - exposures, -p)
        + special.xlogy(recaptures, c)
        + special.xlog1py(marked_before - recaptures, -c)
    )
    variance = None
    if missed > 0:
        info_nn = float(special.polygamma(1, missed + 1) - special.polygamma(1, n_hat + 1))
        info_np = t / (1 - p)
        info_pp = s / p**2 + (n_hat * t - exposures) / (1 - p) ** 2
        determinant = info_nn * info_pp - info_np**2
        variance = info_pp / determinant if determinant > 0 else None
    return _log_f0_estimate(MB, s, t, n_hat, variance, loglik, 3, z, ci, p, {"p": p, "c": c})


# log(N - S) beyond this is "no information", and exp() of it would overflow.
_MAX_LOG_MISSED = math.log(_MAX_MISSED)


def _mh2_negative_loglik(beta: np.ndarray, frequencies: np.ndarray, s: int, t: int) -> float:
    if not np.all(np.isfinite(beta)) or beta[0] > _MAX_LOG_MISSED + 1:
        return 1e12
    missed = math.exp(beta[0])
    weight, p1, p2 = special.expit(beta[1:])
    j = np.arange(t + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_class1 = np.log(weight) + special.xlogy(j, p1) + special.xlog1py(t - j, -p1)
        log_class2 = np.log1p(-weight) + special.xlogy(j, p2) + special.xlog1py(t - j, -p2)
    log_q = np.logaddexp(log_class1, log_class2)
    counts = np.concatenate([[missed], frequencies])
    value = special.gammaln(s + missed + 1) - special.gammaln(missed + 1) + float(counts @ log_q)
    return -value if math.isfinite(value) else 1e12


def mh2(data: CaptureData, occasions: int | None = None, *, ci: float = 0.95) -> Estimate:
    """Estimate N under Pledger's (2000) two-class finite mixture Mh2."""
    z = _check_ci(ci)
    captures = _read_captures(data, occasions, MH2)
    if isinstance(captures, Estimate):
        return captures
    s, n, t = captures.captured, captures.captures, captures.occasions
    frequencies = captures.frequencies.astype(float)
    if t < 3 or int(np.count_nonzero(frequencies)) < 2:
        # Four parameters from t + 1 frequency classes: with t < 3, or all animals caught
        # the same number of times, the mixture is not identifiable.
        return no_estimate(MH2, s, t, "no_maximum")

    def objective(beta: np.ndarray) -> float:
        return _mh2_negative_loglik(beta, frequencies, s, t)

    mean_p = n / (s * t)
    best = None
    # The mixture likelihood has local maxima; start from several splits of the classes.
    for missed0 in (0.1 * s, 0.5 * s, 2.0 * s):
        for weight0, low, high in ((0.5, 0.5, 1.5), (0.2, 0.3, 2.5), (0.8, 0.2, 1.2)):
            p_high = min(0.95, mean_p * high)
            p_low = max(0.005, mean_p * low)
            start = np.array(
                [
                    math.log(missed0),
                    special.logit(weight0),
                    special.logit(p_high),
                    special.logit(p_low),
                ]
            )
            result = optimize.minimize(objective, start, method="BFGS", options={"gtol": 1e-7})
            if best is None or result.fun < best.fun:
                best = result
    assert best is not None
    beta = best.x
    # Polish with Newton steps on the finite-difference Hessian.
    for _ in range(5):
        step = np.linalg.lstsq(hessian(objective, beta), gradient(objective, beta), rcond=None)[0]
        candidate = beta - step
        if not objective(candidate) <= objective(beta) + 1e-10:
            break
        beta = candidate
        if np.max(np.abs(step)) < 1e-9:
            break
    if not np.all(np.isfinite(beta)) or beta[0] > _MAX_LOG_MISSED:
        return no_estimate(MH2, s, t, "no_maximum")
    missed = math.exp(beta[0])
    weight, p1, p2 = (float(x) for x in special.expit(beta[1:]))
    if p1 < p2:  # report the more catchable class first, as wiqid
        weight, p1, p2 = 1 - weight, p2, p1
    information = hessian(objective, beta)
    variance = None
    try:
        covariance = np.linalg.inv(information)
        if covariance[0, 0] > 0:
            variance = float(covariance[0, 0]) * missed**2  # var(N) from var(log f0)
    except np.linalg.LinAlgError:
        pass
    n_hat = s + missed
    return _log_f0_estimate(
        MH2,
        s,
        t,
        n_hat,
        variance,
        -objective(beta),
        4,
        z,
        ci,
        n / (n_hat * t),
        {"pmix": weight, "p1": p1, "p2": p2},
    )


def best_by_aic(estimates: Sequence[Estimate]) -> Estimate | None:
    """Return the estimate with the lowest AIC among those that have one."""
    candidates = [e for e in estimates if e.ok and e.aic is not None]
    return min(candidates, key=lambda e: e.aic) if candidates else None


# ---------------------------------------------------------------------------
# Density


def _real(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _no_density(area_km2: float | None, code: str, /, **params: Any) -> DensityEstimate:
    return DensityEstimate(
        area_km2=area_km2,
        reason=REASONS[code].format(**params),
        reason_code=code,
        reason_params=params,
    )


def density(
    n_hat: float | None,
    se: float | None,
    area_km2: float | None,
    *,
    ci_low: float | None = None,
    ci_high: float | None = None,
) -> DensityEstimate:
    """Convert an abundance estimate to animals per 100 km2 of effective area."""
    n_hat, se = _real(n_hat, "n_hat"), _real(se, "se")
    area, ci_low, ci_high = (
        _real(area_km2, "area_km2"),
        _real(ci_low, "ci_low"),
        _real(ci_high, "ci_high"),
    )
    if area is None or not math.isfinite(area) or area <= 0:
        # A non-finite area is dropped so the result still serialises as strict JSON.
        shown_area = area if area is not None and math.isfinite(area) else None
        return _no_density(shown_area, "area_not_positive")
    if n_hat is None or not math.isfinite(n_hat) or n_hat < 0:
        return _no_density(area, "no_abundance")
    # The area is taken as known: the uncertainty of the buffer that defines it is not
    # propagated here, which is one reason to fit spatial capture-recapture (secr) too.
    scale = 100.0 / area

    def scaled(value: float | None) -> float | None:
        return value * scale if value is not None and math.isfinite(value) else None

    return DensityEstimate(
        area_km2=area,
        density=n_hat * scale,
        se=scaled(se),
        ci_low=scaled(ci_low),
        ci_high=scaled(ci_high),
    )


def density_from_estimate(estimate: Estimate, area_km2: float | None) -> DensityEstimate:
    """Convert an `Estimate` to animals per 100 km2, carrying its reason if it has none."""
    if not estimate.ok:
        if estimate.reason_code is None:
            return _no_density(_real(area_km2, "area_km2"), "no_abundance")
        return _no_density(
            _real(area_km2, "area_km2"), estimate.reason_code, **estimate.reason_params
        )
    return density(
        estimate.n_hat,
        estimate.se,
        area_km2,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
    )
