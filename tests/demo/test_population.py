"""The demo's leopards come from a stated truth that the registry's estimators recover."""

from datetime import date

import numpy as np
import pytest

from census.density.data import capture_history
from census.density.fit import fit_density
from census.density.mask import Mask
from census.survival import cjs
from demo.landscape import FIRST_DAY, PARKS, YEARS, DemoBuilder, park_population
from demo.population import SURVEY_YEAR, Truth, simulate_population
from traps.models import Park

pytestmark = pytest.mark.django_db


@pytest.fixture
def lotl():
    DemoBuilder(log=lambda _line: None)._users_and_parks()
    spec = next(spec for spec in PARKS if spec.code == "lotl")
    return spec, park_population(spec, Park.objects.get(code="lotl"))


def _survey_history(population):
    start, end = date(SURVEY_YEAR, 1, 1).toordinal(), date(SURVEY_YEAR, 12, 31).toordinal()
    offset = start - FIRST_DAY.toordinal()
    captures = [
        ("1", str(animal.key), day - start + 1, str(trap))
        for animal in population.animals
        for day, trap in animal.detections
        if start <= day <= end
    ]
    return capture_history(
        captures=captures,
        trap_ids=[str(k) for k in range(len(population.traps))],
        traps=population.traps,
        usage=population.usage[:, offset : offset + end - start + 1],
        detector="proximity",
        occasions=end - start + 1,
    )


def test_the_survey_year_fit_holds_the_true_density_in_its_interval(lotl):
    spec, population = lotl
    history = _survey_history(population)
    mask = Mask(points=population.mask_points, spacing=population.mask_spacing, buffer=12_000)
    fit = fit_density(history, mask, detectfn="halfnormal").to_dict()

    assert fit["reason"] is None
    assert fit["n_animals"] >= 8
    assert fit["lcl_per_100km2"] < spec.truth.density_per_100km2 < fit["ucl_per_100km2"]
    sigma, g0 = fit["parameters"]["sigma"], fit["parameters"]["g0"]
    assert sigma["lcl"] < spec.truth.sigma_m < sigma["ucl"]
    assert g0["lcl"] < spec.truth.g0 < g0["ucl"]


def test_detections_fall_on_nights_the_cameras_worked(lotl):
    _spec, population = lotl
    first = FIRST_DAY.toordinal()
    nights = [
        population.usage[trap, day - first]
        for animal in population.animals
        for day, trap in animal.detections
    ]
    assert nights and min(nights) >= 1


def test_yearly_survival_of_the_simulated_adults_holds_the_true_phi(lotl):
    spec, population = lotl
    seen = [
        [
            int(any(date.fromordinal(day).year == year for day, _ in animal.detections))
            for year in YEARS
        ]
        for animal in population.animals
        if animal.detections
    ]
    fit = cjs(np.array(seen))
    assert fit.ok
    phi = fit.phi[0].to_dict()
    assert phi["lcl"] < spec.truth.phi < phi["ucl"]


def test_no_kitten_is_dependent_in_the_survey_year():
    truth = Truth(density_per_100km2=5.0, g0=0.01, sigma_m=3000.0, phi=0.7)
    points = np.array([[x, y] for x in range(0, 30_000, 1000) for y in range(0, 30_000, 1000)])
    animals = simulate_population(
        mask_points=points,
        spacing=1000.0,
        truth=truth,
        years=YEARS,
        rng=np.random.default_rng(3),
    )
    with_mothers = [a for a in animals if a.mother is not None]
    assert with_mothers
    # A kitten follows its mother until the year it settles: never in the survey year.
    assert not [a for a in with_mothers if a.birth.year in (SURVEY_YEAR - 1, SURVEY_YEAR)]
    # The survey year's population is independent leopards settled in the mask.
    assert all(a.first_year <= SURVEY_YEAR for a in animals if a.alive_in(SURVEY_YEAR))
