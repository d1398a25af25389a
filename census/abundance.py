"""Run a named closed-population estimator on capture histories or frequencies.

The one place that maps the model names users type (`chapman`, `m0`, `mh-jackknife`,
`mh-chao`) to census.estimators, shared by the command line and the census page.
"""

from typing import Any

import numpy as np

from census import estimators
from census.estimators import Estimate

MODELS = {
    "chapman": estimators.CHAPMAN,
    "m0": estimators.M0,
    "mh-jackknife": estimators.MH_JACKKNIFE,
    "mh-chao": estimators.MH_CHAO,
}


def estimate(model: str, data: Any, *, frequencies: bool = False) -> Estimate:
    """Estimate N with a named model from a 0/1 matrix or (frequencies=True) f1..ft."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if model == "chapman":
        if frequencies:
            return estimators.no_estimate(
                estimators.CHAPMAN, int(np.sum(data)), len(data), "chapman_needs_histories"
            )
        return estimators.chapman_from_histories(data)
    function = {
        "m0": estimators.m0,
        "mh-jackknife": estimators.mh_jackknife,
        "mh-chao": estimators.chao_mh,
    }[model]
    return function(data)
