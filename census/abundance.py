"""Run a named closed-population estimator on capture histories or frequencies.

The one place that maps the model names users type (`chapman`, `m0`, `mt`, `mb`, `mh2`,
`mh-jackknife`, `mh-chao`, and `best`) to census.estimators, shared by the command line
and the census page.
"""

import dataclasses
from typing import Any

import numpy as np

from census import estimators
from census.estimators import Estimate

MODELS = {
    "chapman": estimators.CHAPMAN,
    "m0": estimators.M0,
    "mt": estimators.MT,
    "mb": estimators.MB,
    "mh2": estimators.MH2,
    "mh-jackknife": estimators.MH_JACKKNIFE,
    "mh-chao": estimators.MH_CHAO,
}
# The models with a likelihood, whose AICs can be compared.
BY_AIC = ("m0", "mt", "mb", "mh2")
BEST = "best"


def estimate(model: str, data: Any, *, frequencies: bool = False) -> Estimate:
    """Estimate N with a named model from a 0/1 matrix or (frequencies=True) f1..ft."""
    if model == BEST:
        return best(data, frequencies=frequencies)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join([*MODELS, BEST])}")
    if model == "chapman":
        if frequencies:
            return estimators.no_estimate(
                estimators.CHAPMAN, int(np.sum(data)), len(data), "chapman_needs_histories"
            )
        return estimators.chapman_from_histories(data)
    function = {
        "m0": estimators.m0,
        "mt": estimators.mt,
        "mb": estimators.mb,
        "mh2": estimators.mh2,
        "mh-jackknife": estimators.mh_jackknife,
        "mh-chao": estimators.chao_mh,
    }[model]
    return function(data)


def best(data: Any, *, frequencies: bool = False) -> Estimate:
    """Fit M0, Mt, Mb and Mh2 and return the one with the lowest AIC, with every AIC."""
    names = ("m0", "mh2") if frequencies else BY_AIC
    fits = {name: estimate(name, data, frequencies=frequencies) for name in names}
    chosen = estimators.best_by_aic(list(fits.values()))
    if chosen is None:
        # None fits: M0's reason (no captures, no recaptures...) says why.
        return fits["m0"]
    selection = {
        "rule": "lowest AIC among " + ", ".join(names),
        "aic": {name: fit.aic if fit.ok else None for name, fit in fits.items()},
    }
    return dataclasses.replace(chosen, parameters={**chosen.parameters, "selection": selection})
