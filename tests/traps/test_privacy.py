"""Exact coordinates only for park members who work at the stations."""

from decimal import Decimal

import pytest

from accounts.privacy import EXACT_PRECISION, can_see_exact, coordinates_for, generalise


def test_generalise_returns_the_centre_of_the_tenth_degree_cell():
    point = generalise(Decimal("43.123456"), Decimal("131.987654"))
    assert (point.latitude, point.longitude, point.precision) == (43.15, 131.95, 0.1)


def test_generalise_handles_southern_and_western_points_by_the_grid():
    point = generalise(-0.01, -179.99)
    assert (point.latitude, point.longitude) == (-0.05, -179.95)


def test_two_stations_in_one_cell_become_indistinguishable():
    assert generalise(43.101, 131.101) == generalise(43.199, 131.199)


@pytest.mark.django_db
def test_rangers_and_scientists_of_the_park_see_exact_coordinates(park, ranger, scientist):
    assert can_see_exact(ranger, park)
    exact = coordinates_for(scientist, park, Decimal("43.123456"), Decimal("131.654321"))
    assert (exact.latitude, exact.longitude, exact.precision) == (
        43.123456,
        131.654321,
        EXACT_PRECISION,
    )
    assert exact.exact


@pytest.mark.django_db
def test_managers_and_outsiders_get_the_grid_cell(park, manager, outsider):
    assert not can_see_exact(manager, park)
    assert not can_see_exact(outsider, park)
    shown = coordinates_for(outsider, park, 43.123456, 131.654321)
    assert (shown.latitude, shown.longitude) == (43.15, 131.65)
    assert not shown.exact


@pytest.mark.django_db
def test_exports_are_generalised_unless_exact_is_asked_for(park, scientist):
    assert not coordinates_for(scientist, park, 43.12, 131.65, want_exact=False).exact
