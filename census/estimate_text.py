"""Translated words for the estimators' models, interval methods, reasons and notes.

census.estimators is kept free of Django and explains itself in English with stable
codes; pages translate those codes here, with whole sentences and named placeholders.
"""

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from census import estimators
from census.estimators import DensityEstimate, Estimate

MODEL_LABELS: dict[str, Promise] = {
    "chapman": _("Chapman (two samples)"),
    "m0": _("M0 (equal capture probability)"),
    "mt": _("Mt (capture probability varies by occasion)"),
    "mb": _("Mb (trap-happy or trap-shy response)"),
    "mh2": _("Mh2 (two groups of catchability, Pledger)"),
    "mh-jackknife": _("Mh jackknife"),
    "mh-chao": _("Mh Chao"),
}

INTERVAL_METHODS: dict[str, Promise] = {
    estimators.NO_INTERVAL: _("no interval"),
    estimators.LOG_NORMAL_F0: _("log-normal on f0 = N - S (Chao 1987)"),
    estimators.CHAPMAN_INTERVAL: _("log-normal on f0 = N - S (Chao 1987), Seber (1970) variance"),
    estimators.M0_INTERVAL: _(
        "Wald interval on log(N - S) from the observed information of the full "
        "likelihood (as wiqid closedCapM0)"
    ),
    estimators.JACKKNIFE_INTERVAL: _(
        "log-normal on f0 = N - S (Chao 1987; Rexstad & Burnham 1991, as program "
        "CAPTURE), SE from CAPTURE's power-weighted variance over orders"
    ),
    estimators.CHAO_NO_SINGLETONS_INTERVAL: _(
        "Chao's interval for no singletons (EstimateS eqn 14)"
    ),
    estimators.LOG_F0_INTERVAL: _(
        "Wald interval on log(N - S) from the observed information (as wiqid, program "
        "MARK's log-normal form)"
    ),
}

REASONS: dict[str, Promise] = {
    "histories_not_binary": _("capture histories must contain only 0 and 1"),
    "negative_occasions": _("the number of occasions cannot be negative"),
    "frequencies_not_whole": _("capture frequencies must be whole numbers"),
    "negative_frequencies": _("capture frequencies cannot be negative"),
    "too_many_captures": ngettext_lazy(
        "frequencies list animals caught more than %(occasions)d time in %(occasions)d occasion",
        "frequencies list animals caught more than %(occasions)d times in %(occasions)d occasions",
        "occasions",
    ),
    "no_captures": _("no animals captured"),
    "one_occasion": _(
        "only one capture occasion: no animal can be recaptured, so there is nothing to "
        "estimate the missed animals from"
    ),
    "no_recaptures": ngettext_lazy(
        "no recaptures: the %(captured)d animal was caught only once, so the data cannot "
        "tell how many were missed",
        "no recaptures: all %(captured)d animals were caught only once, so the data "
        "cannot tell how many were missed",
        "captured",
    ),
    "negative_samples": _("sample sizes and recaptures cannot be negative"),
    "recaptures_exceed_sample": _(
        "m2 = %(m2)d recaptures cannot exceed either sample (n1 = %(n1)d, n2 = %(n2)d)"
    ),
    "empty_sample": _("one of the two samples is empty: nothing to compare"),
    "no_recaptures_second_sample": ngettext_lazy(
        "no recaptures: the %(n2)d animal in the second sample had not been caught in the first",
        "no recaptures: none of the %(n2)d animals in the second sample had been caught "
        "in the first",
        "n2",
    ),
    "chapman_two_occasions": _(
        "Chapman's estimator needs exactly two sampling occasions, not %(occasions)d; "
        "define two occasions or use M0, the jackknife or Chao"
    ),
    "chapman_needs_histories": _(
        "Chapman's estimator needs who was caught in each of two samples; capture "
        "frequencies do not say that. Give the capture histories instead."
    ),
    "no_maximum": _(
        "too few recaptures: the likelihood has no maximum, so the population size is "
        "not identifiable"
    ),
    "jackknife_one_animal": _(
        "only one animal captured: the jackknife's order test needs at least two"
    ),
    "jackknife_failed": _("the jackknife failed numerically on these frequencies"),
    "needs_histories": _(
        "model %(model)s needs who was caught on which occasion; capture frequencies do "
        "not say that. Give the capture histories instead."
    ),
    "no_convergence": _("the likelihood maximisation did not converge; no estimate"),
    "area_not_positive": _("the effective area must be a positive number of km²"),
    "no_abundance": _("there is no abundance estimate to convert"),
}

NOTES: dict[str, Promise] = {
    "boundary": _(
        "the likelihood peaks at N = S (every animal seems to have been caught); no "
        "standard error or interval can be computed there"
    ),
    "singular_information": _("the information matrix is singular; no standard error"),
    "negative_variance": _("the jackknife variance came out negative and was set to zero"),
    "bias_corrected": _("bias-corrected form S + f1(f1 - 1) / (2(f2 + 1))"),
}


def _text(messages: Mapping[str, Promise], code: str | None, params: Mapping[str, Any]) -> str:
    if code is None:
        return ""
    return str(messages[code] % dict(params)) if params else str(messages[code])


def model_label(name: str) -> str:
    """Return the translated name of a model as users type it (`mh-chao`)."""
    return str(MODEL_LABELS.get(name, name))


def estimate_reason(estimate: Estimate | DensityEstimate) -> str:
    """Return why there is no estimate, in the user's language ('' if there is one)."""
    return _text(REASONS, estimate.reason_code, estimate.reason_params)


def estimate_note(estimate: Estimate) -> str:
    """Return the caveat about an estimate, in the user's language ('' if none)."""
    return _text(NOTES, estimate.note_code, {})


def interval_method(estimate: Estimate) -> str:
    """Return how the estimate's interval was computed, in the user's language."""
    return str(INTERVAL_METHODS.get(estimate.interval_method, estimate.interval_method))


# census.density.fit.REASONS and census.survival.REASONS, for pages.
DENSITY_REASONS: dict[str, Promise] = {
    "no_animals": _("no animals detected"),
    "too_few_animals": _("only %(n)s animals detected; a spatial model needs at least %(minimum)s"),
    "no_recaptures": _(
        "no recaptures: each of the %(n)s animals was detected once, so the detection "
        "scale (sigma) cannot be estimated"
    ),
    "no_spatial_recaptures": _(
        "no animal was detected at more than one camera, so the detection scale (sigma) "
        "cannot be estimated"
    ),
    "no_usage": _("no camera worked on any occasion (every usage is zero)"),
    "detection_without_usage": _(
        "%(count)s detections at cameras on occasions when they did not work (usage 0), "
        "e.g. detector %(detector)s on occasion %(occasion)s; correct the deployments or "
        "the usage"
    ),
    "detections_exceed_usage": _(
        "detector %(detector)s has more detections of one animal (%(count)s) than "
        "occasions it worked (%(size)s)"
    ),
    "mask_misses_detectors": _(
        "the mask does not cover %(count)s cameras (e.g. %(detector)s): widen it or give a "
        "mask that contains every camera"
    ),
    "mask_empty": _("the mask has no points"),
    "no_convergence": _("the fit did not converge (%(detail)s); no estimate"),
    "singular_hessian": _(
        "the fit reached a point where the information matrix is not positive definite "
        "(%(detail)s); the parameters are not identifiable from these data"
    ),
}

SURVIVAL_REASONS: dict[str, Promise] = {
    "too_few_occasions": _("survival needs at least three years of detections, got %(occasions)s"),
    "not_binary": _("detection histories must contain only 0 and 1"),
    "no_recaptures": _(
        "no animal was seen again after its first year, so survival cannot be told from detection"
    ),
    "no_convergence": _("the likelihood maximisation did not converge; no estimate"),
}


def density_reason(code: str | None, params: Mapping[str, Any], fallback: str = "") -> str:
    """Return why a density fit gave no estimate, in the user's language."""
    if code not in DENSITY_REASONS:
        return fallback
    return _text(DENSITY_REASONS, code, params)


def survival_reason(code: str | None, params: Mapping[str, Any]) -> str:
    """Return why a survival fit gave no estimate, in the user's language."""
    if code not in SURVIVAL_REASONS:
        return ""
    return _text(SURVIVAL_REASONS, code, params)
