"""Age class is derived from the birth estimate at each reference date."""

from datetime import date

import pytest

from leopards.models import AgeClass, age_class_at


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2019, 5, 1), AgeClass.KITTEN),
        (date(2020, 4, 30), AgeClass.KITTEN),
        (date(2020, 5, 1), AgeClass.SUBADULT),
        (date(2021, 4, 30), AgeClass.SUBADULT),
        (date(2021, 5, 1), AgeClass.ADULT),
        (date(2022, 1, 1), AgeClass.ADULT),
        (date(2019, 4, 1), AgeClass.UNKNOWN),
    ],
)
def test_kitten_of_2019_grows_into_an_adult(on, expected):
    assert age_class_at(date(2019, 5, 1), on) == expected


def test_age_class_is_unknown_without_a_birth_estimate():
    assert age_class_at(None, date(2022, 1, 1)) == AgeClass.UNKNOWN


def test_age_thresholds_are_species_settings(settings):
    settings.AGE_CLASS_SUBADULT_FROM_MONTHS = 18
    assert age_class_at(date(2020, 1, 1), date(2021, 5, 1)) == AgeClass.KITTEN
