"""The estimators' reasons, notes and interval methods as pages show them."""

import re
import string

import numpy as np
from django.utils import translation

from census import estimate_text, estimators
from census.abundance import estimate


def _braced(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


def _named(template: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)", template))


def test_every_reason_and_note_has_a_translatable_text_with_the_same_values():
    assert estimate_text.REASONS.keys() == estimators.REASONS.keys()
    assert estimate_text.NOTES.keys() == estimators.NOTES.keys()
    for code, english in estimators.REASONS.items():
        lazy = estimate_text.REASONS[code]
        # ngettext_lazy keeps its plural form for a number given at format time.
        for text in (str(lazy), getattr(lazy, "_proxy____kw", {}).get("plural", "")):
            if text:
                assert _named(text) == _braced(english), code


def test_every_interval_method_has_a_translatable_text():
    assert set(estimators.INTERVAL_METHODS) <= estimate_text.INTERVAL_METHODS.keys()


def test_a_missing_estimate_is_explained_in_the_users_language():
    result = estimate("m0", np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]))
    assert result.reason_code == "no_recaptures"

    with translation.override("en"):
        english = estimate_text.estimate_reason(result)
    with translation.override("ru"):
        russian = estimate_text.estimate_reason(result)
    with translation.override("zh-hans"):
        chinese = estimate_text.estimate_reason(result)

    assert english == result.reason
    assert "3" in russian and re.search("[\u0430-\u044f]", russian)
    assert "3" in chinese and re.search("[\u4e00-\u9fff]", chinese)


def test_a_missing_density_carries_the_estimates_reason_code():
    result = estimators.density_from_estimate(estimators.m0([4, 0, 0]), 100.0)

    assert result.reason_code == "no_recaptures"
    assert result.reason_params == {"captured": 4}
    with translation.override("en"):
        assert estimate_text.estimate_reason(result) == result.reason
