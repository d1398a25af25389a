"""Spatial capture-recapture against the R package secr.

Reference values (secr 5.4.2 stored fits in MurrayEfford/secr data/*.RData, printed
output in Efford's SECR book, and secr's tests/testthat) as collected with the data in
the shared secr-reference folder: captdata (secrdemo.0, secrdemo.CL, the SECR book's
usage variant of ch. 10), hareCH6 (SECR book ch. 2, secr 5.2.1), stoatDNA (stoat.model.HN
and .EX), and ovenCHp 2005 (secr tests/testthat/test-initial.R).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from census.density.data import read_capthist
from census.density.fit import fit_density
from census.density.likelihood import Likelihood
from census.density.mask import buffer_mask, parse_mask
from census.density.simulate import simulate

DATA = Path(__file__).parent / "data" / "secr"


def load(name: str, detector: str = "multi", traps: str | None = None):
    return read_capthist(
        (DATA / f"{name}_capt.txt").read_text(),
        (DATA / f"{traps or name + '_traps'}.txt").read_text(),
        detector=detector,
    )


def likelihood(history, mask, detectfn, *, fast=True, usage=None):
    return Likelihood(
        detector=history.detector,
        detectfn=detectfn,
        traps=history.traps,
        usage=history.usage if usage is None else usage,
        counts=history.counts(),
        mask_points=mask.points,
        cell_area_ha=mask.cell_area_ha,
        fast=fast,
    )


def expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# --- data and masks ------------------------------------------------------------------


def test_reads_captdata_as_secr_summarises_it():
    history = load("captdata")

    assert (history.n_animals, history.n_detections, history.n_occasions) == (76, 235, 5)
    assert history.n_traps == 100


def test_reads_usage_digits_per_occasion():
    history = load("captdata", traps="captdata_traps_usage")

    assert history.usage[13].tolist() == [0, 0, 0, 1, 1]
    assert history.usage[0].tolist() == [1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("name", "buffer", "nx", "points", "spacing"),
    [
        ("captdata", 100, 64, 3936, 7.34375),
        ("stoat", 1000, 64, 3960, 78.125),
        ("hare", 250, 64, 3896, 16.385),
        ("ovenbird2005", 200, 20, 728, 24.95),
    ],
)
def test_buffer_mask_has_secrs_points_and_spacing(name, buffer, nx, points, spacing):
    mask = buffer_mask(load(name, "proximity").traps, buffer, nx=nx)

    assert len(mask) == points
    assert mask.spacing == pytest.approx(spacing, rel=1e-12)


def test_buffer_mask_is_the_mask_secr_stored_with_its_fits():
    stored = parse_mask((DATA / "captdata_mask.csv").read_text())
    built = buffer_mask(load("captdata").traps, 100)

    assert stored.spacing == pytest.approx(7.34375)
    assert np.array_equal(np.sort(built.points, axis=0), np.sort(stored.points, axis=0))
    assert built.area_ha == pytest.approx(3936 * 0.00539306640625)


# --- the log-likelihood at secr's own estimates ---------------------------------------


def test_full_loglik_at_secrs_estimates_of_captdata():
    history = load("captdata")
    lik = likelihood(history, buffer_mask(history.traps, 100), "halfnormal")

    value = lik.full(math.exp(1.70106915), expit(-0.9784941437), math.exp(3.3798318989))

    assert value == pytest.approx(-759.025745732, abs=5e-7)


def test_conditional_loglik_at_secrs_estimates_of_captdata():
    history = load("captdata")
    lik = likelihood(history, buffer_mask(history.traps, 100), "halfnormal")

    value = lik.conditional(expit(-0.9784947309), math.exp(3.3798319669))

    assert value == pytest.approx(-755.940344043, abs=5e-7)


@pytest.mark.parametrize(
    ("detectfn", "beta", "loglik"),
    [
        ("halfnormal", (-3.800349128, -2.91402419, 5.552640845), -144.001516944),
        ("exponential", (-3.803195601, -1.947903083, 5.112471835), -144.708286394),
    ],
)
def test_full_loglik_at_secrs_estimates_of_stoats(detectfn, beta, loglik):
    history = load("stoat")
    lik = likelihood(history, buffer_mask(history.traps, 1000), detectfn)

    value = lik.full(math.exp(beta[0]), expit(beta[1]), math.exp(beta[2]))

    assert value == pytest.approx(loglik, abs=5e-7)


def test_proximity_loglik_of_ovenbirds_is_secrs_fastproximity_value():
    history = load("ovenbird2005", "proximity")
    lik = likelihood(history, buffer_mask(history.traps, 200, nx=20), "hazard-halfnormal")

    assert lik.conditional(0.037, 65.3) == pytest.approx(-110.5090678, abs=5e-7)


def test_proximity_loglik_per_occasion_is_secrs_full_history_value():
    history = load("ovenbird2005", "proximity")
    mask = buffer_mask(history.traps, 200, nx=20)
    lik = likelihood(history, mask, "hazard-halfnormal", fast=False)

    assert lik.conditional(0.037, 65.3) == pytest.approx(-198.16248, abs=5e-6)


def test_proximity_loglik_with_half_usage_truncates_the_summed_usage_as_secr():
    history = load("ovenbird2005", "proximity")
    usage = history.usage.copy()
    usage[1::2, :] = 0.5  # even-numbered nets set for half of each occasion
    lik = likelihood(
        history, buffer_mask(history.traps, 200, nx=20), "hazard-halfnormal", usage=usage
    )

    assert lik.conditional(0.037, 65.3) == pytest.approx(-116.2598708, abs=5e-7)


# --- fitted models ----------------------------------------------------------------------

# (estimate, SE, lcl, ucl) as secr's predict() gives them, D per hectare.
CASES = {
    "captdata": {
        "load": ("captdata", None),
        "buffer": 100,
        "detectfn": "halfnormal",
        "loglik": -759.025745732,
        "D": (5.479802992, 0.6467406418, 4.351621789, 6.9004712),
        "intercept": (0.2731906806, 0.02705127821, 0.2234770172, 0.3292739673),
        "sigma": (29.36583427, 1.304938047, 26.91757353, 32.0367741),
    },
    "captdata usage": {
        "load": ("captdata", "captdata_traps_usage"),
        "buffer": 100,
        "detectfn": "halfnormal",
        "loglik": None,
        "D": (5.47346, 0.645991, 4.34659, 6.89249),
        "intercept": (0.27473, 0.027164, 0.22479, 0.33102),
        "sigma": (29.39668, 1.308422, 26.94206, 32.07494),
    },
    "hare": {
        "load": ("hare", None),
        "buffer": 250,
        "detectfn": "halfnormal",
        "loglik": -607.988,
        "D": (1.4659871, 0.19131247, 1.1363609, 1.8912284),
        "intercept": (0.0615839, 0.00930045, 0.0456855, 0.0825365),
        "sigma": (68.3457775, 4.46931251, 60.1324252, 77.6809731),
    },
    "stoat halfnormal": {
        "load": ("stoat", None),
        "buffer": 1000,
        "detectfn": "halfnormal",
        "loglik": -144.001516944,
        "D": (0.02236296295, 0.006542496744, 0.01275255555, 0.03921583483),
        "intercept": (0.05146463554, 0.02170397623, 0.02219509037, 0.1148013013),
        "sigma": (257.9177783, 44.74649696, 184.034257, 361.4630311),
    },
    "stoat exponential": {
        "load": ("stoat", None),
        "buffer": 1000,
        "detectfn": "exponential",
        "loglik": -144.708286394,
        "D": (0.0222993979, 0.006610897314, 0.01262526766, 0.03938634492),
        "intercept": (0.1247821857, 0.05981387566, 0.04647053859, 0.2943282851),
        "sigma": (166.0803712, 36.02363443, 109.0954241, 252.8308581),
    },
}


@pytest.fixture(scope="module")
def fits():
    results = {}
    for name, case in CASES.items():
        history = load(case["load"][0], traps=case["load"][1])
        mask = buffer_mask(history.traps, case["buffer"])
        results[name] = fit_density(history, mask, detectfn=case["detectfn"])
    return results


def assert_matches(real, expected):
    estimate, se, lcl, ucl = expected
    # 4 significant figures for estimates, 3 for SEs and the limits built from them:
    # both sides use a finite-difference Hessian, so SEs agree to 3-4 figures only.
    assert real.estimate == pytest.approx(estimate, rel=1e-4)
    assert real.se == pytest.approx(se, rel=1e-3)
    assert real.lcl == pytest.approx(lcl, rel=1e-3)
    assert real.ucl == pytest.approx(ucl, rel=1e-3)


@pytest.mark.parametrize("name", list(CASES))
def test_fit_matches_secr(fits, name):
    fit, case = fits[name], CASES[name]

    assert fit.reason is None
    assert_matches(fit.density, case["D"])
    assert_matches(fit.intercept, case["intercept"])
    assert_matches(fit.sigma, case["sigma"])
    if case["loglik"] is not None:
        decimals = 6 if name != "hare" else 3  # the hare value was printed to 3 decimals
        assert fit.loglik == pytest.approx(case["loglik"], abs=0.5 * 10**-decimals)


def test_fit_reports_aic_as_secr(fits):
    assert fits["captdata"].aic == pytest.approx(1524.051491, abs=1e-5)
    assert fits["captdata"].aicc == pytest.approx(1524.384825, abs=1e-5)
    assert fits["hare"].aic == pytest.approx(1221.98, abs=5e-3)
    assert fits["hare"].aicc == pytest.approx(1222.35, abs=5e-3)
    assert fits["stoat halfnormal"].aicc == pytest.approx(295.503034, abs=1e-5)


def test_fit_gives_json_with_the_documented_keys(fits):
    data = json.loads(json.dumps(fits["captdata"].to_dict(), allow_nan=False))

    for key in ("D_per_ha", "D_per_100km2", "se", "lcl", "ucl", "g0", "sigma", "loglik"):
        assert data[key] is not None
    assert data["D_per_100km2"] == pytest.approx(54798.03, rel=1e-4)
    assert data["n_animals"] == 76
    assert data["n_detections"] == 235
    assert data["mask_points"] == 3936
    assert data["reason"] is None
    assert data["buffer_ok"] is True


def test_conditional_fit_gives_secrs_derived_density():
    history = load("captdata")
    fit = fit_density(
        history, buffer_mask(history.traps, 100), detectfn="halfnormal", conditional=True
    )

    assert fit.loglik == pytest.approx(-755.940344043, abs=5e-7)
    assert fit.npar == 2
    assert fit.esa_ha == pytest.approx(13.8691, abs=5e-5)
    # derived(secrdemo.CL): 5.4798074, SE 0.6445541, 4.3549957-6.8951365.
    assert_matches(fit.density, (5.4798074, 0.6445541, 4.3549957, 6.8951365))
    assert_matches(fit.intercept, (0.273190564, 0.0270513701, 0.2234767456, 0.3292740536))
    assert_matches(fit.sigma, (29.36583627, 1.304955171, 26.9175448, 32.03681264))


def test_conditional_fit_of_proximity_ovenbirds_improves_on_secrs_test_values():
    history = load("ovenbird2005", "proximity")
    mask = buffer_mask(history.traps, 200, nx=20)

    fit = fit_density(history, mask, detectfn="hazard-halfnormal", conditional=True)

    assert fit.reason is None
    assert fit.loglik >= -110.5090678
    assert fit.to_dict()["lambda0"] == fit.intercept.estimate
    assert "g0" not in fit.to_dict()


def test_region_n_is_density_times_the_area(fits):
    history = load("captdata")
    fit = fit_density(
        history, buffer_mask(history.traps, 100), detectfn="halfnormal", region_area_ha=50
    )

    assert fit.region_n.estimate == pytest.approx(50 * fit.density.estimate)
    assert fit.region_n.lcl == pytest.approx(50 * fit.density.lcl)


# --- no estimate, with a reason ----------------------------------------------------------


def test_narrow_buffer_gives_a_warning_with_the_bias():
    history = load("captdata")

    fit = fit_density(history, buffer_mask(history.traps, 30), detectfn="halfnormal")

    assert fit.buffer_ok is False
    assert fit.buffer_bias > 0.01
    assert any("buffer of 30 m is too narrow" in warning for warning in fit.warnings)


def test_too_few_animals_give_no_estimate():
    history = read_capthist(
        "1 A 1 1\n1 A 2 2\n1 B 1 3\n", "1 0 0\n2 30 0\n3 60 0\n", detector="proximity"
    )

    fit = fit_density(history, buffer_mask(history.traps, 100), detectfn="halfnormal")

    assert fit.density is None
    assert fit.reason_code == "too_few_animals"
    assert json.dumps(fit.to_dict(), allow_nan=False)


def test_no_spatial_recaptures_give_no_estimate():
    captures = "".join(f"1 A{i} 1 {i}\n1 A{i} 2 {i}\n" for i in range(1, 7))
    traps = "".join(f"{i} {30 * i} 0\n" for i in range(1, 7))
    history = read_capthist(captures, traps, detector="proximity")

    fit = fit_density(history, buffer_mask(history.traps, 100), detectfn="halfnormal")

    assert fit.reason_code == "no_spatial_recaptures"


def test_mask_that_misses_cameras_gives_no_estimate():
    history = load("captdata")
    mask = parse_mask("x,y\n0,0\n10,0\n0,10\n10,10\n")

    fit = fit_density(history, mask, detectfn="halfnormal")

    assert fit.reason_code == "mask_misses_detectors"
    assert "does not cover 100 cameras" in fit.reason


def test_detection_at_a_camera_that_did_not_work_gives_no_estimate():
    traps = (DATA / "captdata_traps_usage.txt").read_text()
    # Detector 14 was not set on occasions 1-3; put a detection there on occasion 1.
    captures = (DATA / "captdata_capt.txt").read_text() + "1 999 1 14\n1 999 4 15\n"
    history = read_capthist(captures, traps, detector="multi")

    fit = fit_density(history, buffer_mask(history.traps, 100), detectfn="halfnormal")

    assert fit.reason_code == "detection_without_usage"
    assert "detector 14 on occasion 1" in fit.reason


def test_all_usage_zero_gives_no_estimate():
    history = read_capthist("1 A 1 1\n", "1 0 0 00\n2 30 0 00\n", detector="proximity")

    fit = fit_density(history, buffer_mask(history.traps, 100), detectfn="halfnormal")

    assert fit.reason_code == "no_usage"


def test_cameras_that_never_worked_are_named_in_a_warning():
    # No animal of captdata was caught in trap 13.
    traps = "\n".join(
        line + (" 00000" if line.startswith("13 ") else " 11111")
        if line and line[0] != "#"
        else line
        for line in (DATA / "captdata_traps.txt").read_text().splitlines()
    )
    history = read_capthist((DATA / "captdata_capt.txt").read_text(), traps, detector="multi")

    fit = fit_density(history, buffer_mask(history.traps, 100), detectfn="halfnormal")

    assert fit.ok
    assert any("never worked" in warning for warning in fit.warnings)


# --- simulated surveys with known density --------------------------------------------------


@pytest.mark.parametrize(
    ("detector", "detectfn", "intercept"),
    [
        ("proximity", "halfnormal", 0.1),
        ("count", "hazard-halfnormal", 0.1),
        ("multi", "exponential", 0.2),
    ],
)
def test_fit_recovers_the_density_of_a_simulated_survey(detector, detectfn, intercept):
    rng = np.random.default_rng(7)
    grid = np.arange(8) * 40.0
    traps = np.column_stack([np.tile(grid, 8), np.repeat(grid, 8)])
    usage = np.ones((64, 6))
    history, _ = simulate(
        traps=traps,
        usage=usage,
        density=2.0,
        intercept=intercept,
        sigma=40.0,
        detectfn=detectfn,
        detector=detector,
        buffer=300,
        rng=rng,
    )

    fit = fit_density(history, buffer_mask(traps, 300, nx=32), detectfn=detectfn)

    assert fit.ok, fit.reason
    assert fit.density.lcl < 2.0 < fit.density.ucl
    assert fit.sigma.lcl < 40.0 < fit.sigma.ucl


def test_mask_is_clipped_to_a_boundary_with_a_hole():
    traps = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    outer = np.array([[-50.0, -50.0], [150.0, -50.0], [150.0, 150.0], [-50.0, 150.0]])
    hole = np.array([[40.0, 40.0], [60.0, 40.0], [60.0, 60.0], [40.0, 60.0]])

    full = buffer_mask(traps, 100, spacing=10)
    clipped = buffer_mask(traps, 100, spacing=10, polygons=[[outer, hole]])

    x, y = clipped.points.T
    assert len(clipped) < len(full)
    assert np.all((x > -50) & (x < 150) & (y > -50) & (y < 150))
    assert not np.any((x > 40) & (x < 60) & (y > 40) & (y < 60))


def test_park_boundary_in_geojson_becomes_rings_in_metres():
    from census.density.registry import boundary_polygons

    square = {
        "type": "Polygon",
        "coordinates": [
            [[131.0, 43.0], [131.1, 43.0], [131.1, 43.1], [131.0, 43.1], [131.0, 43.0]]
        ],
    }

    (rings,) = boundary_polygons(square)
    (ring,) = rings
    # The southern edge: 0.1 degree of longitude at 43 N is about 8.14 km.
    assert np.hypot(*(ring[1] - ring[0])) == pytest.approx(8_140, rel=0.01)
    assert boundary_polygons({"type": "Point", "coordinates": [131, 43]}) is None
    assert boundary_polygons(None) is None
