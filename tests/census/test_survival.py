"""Cormack-Jolly-Seber apparent survival against program MARK's dipper results.

The European dipper data of Lebreton et al. (1992), as program MARK ships them (ed.inp;
also RMark's and wiqid's `dipper(s)`). Reference figures: MARK output as asserted in the
test suite of wiqid (M. Meredith, tests/test-survCJS.R): phi(.)p(.) phi 0.5602
(0.5105-0.6088), p 0.9026 (0.8305-0.9460), AIC 670.8377; phi(t)p(.) AIC 673.7301.
"""

import json
from datetime import date
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from census.selectors import yearly_adult_histories
from census.survival import cjs, read_mark_inp
from tests.census.helpers import cat, local, sight, station_running

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def dippers():
    histories, _groups = read_mark_inp((DATA / "dipper.inp").read_text())
    return histories


def test_reads_the_294_dippers_of_marks_example(dippers):
    assert dippers.shape == (294, 7)
    _histories, (groups,) = read_mark_inp((DATA / "dipper.inp").read_text())
    assert groups.count(0) == 141  # males
    assert groups.count(1) == 153  # females


def test_constant_model_matches_mark_on_dippers(dippers):
    fit = cjs(dippers, "phi(.)p(.)")

    (phi,), (p,) = fit.phi, fit.p
    assert phi.estimate == pytest.approx(0.5602, abs=5e-5)
    assert phi.lcl == pytest.approx(0.5105, abs=1e-4)
    assert phi.ucl == pytest.approx(0.6088, abs=5e-5)
    assert p.estimate == pytest.approx(0.9026, abs=5e-5)
    assert p.lcl == pytest.approx(0.8305, abs=5e-5)
    assert p.ucl == pytest.approx(0.9460, abs=5e-5)
    # SE: MARK's 0.0251 for phi; for p, MARK's own logit interval above implies 0.0286.
    assert phi.se == pytest.approx(0.0251, abs=5e-5)
    assert p.se == pytest.approx(0.0286, abs=5e-5)
    assert fit.npar == 2
    assert fit.aic == pytest.approx(670.8377, abs=5e-5)


def test_survival_by_year_matches_mark_on_dippers(dippers):
    fit = cjs(dippers, "phi(t)p(.)")

    expected = [
        (0.6258, 0.3965, 0.8098),
        (0.4542, 0.3295, 0.5849),
        (0.4784, 0.3669, 0.5921),
        (0.6244, 0.5079, 0.7281),
        (0.6079, 0.4970, 0.7088),
        (0.5833, 0.4688, 0.6895),
    ]
    for rate, (estimate, lcl, ucl) in zip(fit.phi, expected, strict=True):
        assert rate.estimate == pytest.approx(estimate, abs=1e-4)
        assert rate.lcl == pytest.approx(lcl, abs=1e-4)
        assert rate.ucl == pytest.approx(ucl, abs=1e-4)
    assert fit.p[0].estimate == pytest.approx(0.9021, abs=5e-5)
    assert fit.aic == pytest.approx(673.7301, abs=5e-5)


def test_fully_time_dependent_model_marks_the_confounded_last_survival(dippers):
    constant = cjs(dippers, "phi(.)p(.)")
    by_year = cjs(dippers, "phi(t)p(.)")
    full = cjs(dippers, "phi(t)p(t)")

    # 2T - 3 = 11 estimable parameters, as MARK counts them.
    assert full.npar == 11
    assert len(full.phi) == 6
    assert len(full.p) == 5
    assert [rate.confounded for rate in full.phi] == [False] * 5 + [True]
    # Nested models: more parameters never fit worse.
    assert full.loglik >= by_year.loglik >= constant.loglik
    # A regression value: this fit's -2 log L, not checked here against a published table.
    assert -2 * full.loglik == pytest.approx(656.95, abs=5e-3)


def test_first_seen_counts_the_newcomers_of_each_year(dippers):
    fit = cjs(dippers)

    assert sum(fit.first_seen) == 294
    assert fit.first_seen[0] == 22


def test_too_few_years_or_no_recaptures_give_no_estimate():
    assert cjs([[1, 0], [1, 1]]).reason_code == "too_few_occasions"
    fit = cjs([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert fit.reason_code == "no_recaptures"
    assert json.dumps(fit.to_dict(), allow_nan=False)


def test_estimate_survival_reads_a_mark_file():
    out = StringIO()
    call_command("estimate_survival", str(DATA / "dipper.inp"), "--format", "json", stdout=out)

    data = json.loads(out.getvalue())
    assert data["animals"] == 294
    assert data["phi"][0]["estimate"] == pytest.approx(0.5602, abs=5e-5)


@pytest.mark.django_db
def test_yearly_histories_keep_adults_only(park):
    _station, deployment = station_running(park, "A1", 2018, 2024)
    old = cat("LEO-1F", date(2015, 5, 1))
    young = cat("LEO-2M", date(2020, 5, 1))  # adult from May 2022
    unknown = cat("LEO-3U", None)
    for year in (2020, 2021, 2023):
        sight(deployment, old, local(park, year, 6, 1, 22, 0))
    for year in (2021, 2022, 2023):
        sight(deployment, young, local(park, year, 6, 1, 22, 0))
    sight(deployment, unknown, local(park, 2021, 6, 1, 22, 0))

    histories = yearly_adult_histories(park=park, first_year=2020, last_year=2023)

    assert histories.years == [2020, 2021, 2022, 2023]
    assert histories.codes == ["LEO-1F", "LEO-2M"]
    assert histories.matrix == [[1, 1, 0, 1], [0, 0, 1, 1]]
    assert histories.excluded_unknown_age == 1
    assert histories.excluded_young == 0


@pytest.mark.django_db
def test_estimate_survival_for_a_park_says_why_there_is_no_estimate(park):
    _station, deployment = station_running(park, "A1", 2018, 2024)
    sight(deployment, cat("LEO-1F", date(2010, 1, 1)), local(park, 2020, 6, 1, 22, 0))
    out = StringIO()

    call_command(
        "estimate_survival",
        "--park",
        "alpha",
        "--first-year",
        "2020",
        "--last-year",
        "2022",
        stdout=out,
    )

    assert "no estimate: no animal was seen again" in out.getvalue()


def test_histories_as_array_and_list_agree(dippers):
    assert cjs(dippers.tolist()).loglik == pytest.approx(cjs(np.asarray(dippers)).loglik)
