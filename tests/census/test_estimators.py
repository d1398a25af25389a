"""Check the capture-recapture estimators against published results.

Reference figures come from the test suite of the R package wiqid (M. Meredith), whose
jackknife reproduces program CAPTURE: Kanha tigers (Karanth et al. 2004) and the rabbits
of Edwards & Eberhardt (1967).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from census.abundance import estimate as estimate_model
from census.estimators import (
    CHAPMAN,
    M0,
    MB,
    MH2,
    MH_CHAO,
    MH_JACKKNIFE,
    MT,
    Estimate,
    chao_mh,
    chapman,
    chapman_from_histories,
    density,
    density_from_estimate,
    frequencies_from_histories,
    m0,
    mb,
    mh2,
    mh_jackknife,
    mt,
)

DATA = Path(__file__).parent / "data"
KANHA = np.loadtxt(DATA / "kanha_tigers_ch.txt", dtype=int)
RABBITS = np.loadtxt(DATA / "rabbit_freq.txt", dtype=int).tolist()
KANHA_FREQUENCIES = [10, 6, 6, 2, 2, 0, 0, 0, 0, 0]

ESTIMATORS = [m0, mh_jackknife, chao_mh]


def assert_json_safe(estimate: Estimate) -> None:
    json.dumps(estimate.to_dict(), allow_nan=False)


# --- frequencies -------------------------------------------------------------------


def test_frequencies_from_kanha_histories_match_published_counts() -> None:
    assert frequencies_from_histories(KANHA) == KANHA_FREQUENCIES


def test_frequencies_ignore_animals_never_caught() -> None:
    assert frequencies_from_histories([[0, 0, 0], [1, 1, 0], [0, 0, 1]]) == [1, 1, 0]


def test_frequencies_reject_values_other_than_zero_and_one() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        frequencies_from_histories([[0, 2, 1]])


# --- M0 ----------------------------------------------------------------------------


def test_m0_matches_wiqid_on_kanha_tigers() -> None:
    estimate = m0(KANHA)

    assert estimate.model == M0
    assert estimate.captured == 26
    assert estimate.occasions == 10
    assert estimate.n_hat == pytest.approx(28.446, abs=5e-4)
    assert estimate.p_hat == pytest.approx(0.2039, abs=5e-5)
    assert estimate.aic == pytest.approx(155.2433, abs=5e-5)
    assert estimate.se == pytest.approx(2.1735, abs=5e-4)
    # wiqid's interval (26.429, 39.953) uses a finite-difference Hessian; ours is exact.
    assert estimate.ci_low == pytest.approx(26.429, rel=2e-4)
    assert estimate.ci_high == pytest.approx(39.953, rel=2e-4)


def test_m0_matches_wiqid_on_rabbits() -> None:
    estimate = m0(RABBITS)

    assert estimate.captured == 76
    assert estimate.occasions == 18
    # wiqid's optimiser stops at 96.2589; program MARK and our exact root give 96.258770.
    assert estimate.n_hat == pytest.approx(96.2589, abs=2e-4)
    assert estimate.n_hat == pytest.approx(96.258770, abs=5e-6)
    assert estimate.p_hat == pytest.approx(0.0820, abs=5e-5)
    assert estimate.aic == pytest.approx(379.5941, abs=5e-5)
    assert estimate.ci_low == pytest.approx(86.4162, rel=2e-4)
    assert estimate.ci_high == pytest.approx(115.4025, rel=2e-4)


def test_m0_gives_the_same_estimate_from_histories_and_frequencies() -> None:
    from_histories = m0(KANHA)
    from_frequencies = m0(KANHA_FREQUENCIES)

    assert from_frequencies.n_hat == pytest.approx(from_histories.n_hat, rel=1e-12)
    assert from_frequencies.se == pytest.approx(from_histories.se, rel=1e-12)


def test_m0_pads_short_frequencies_to_the_number_of_occasions() -> None:
    assert m0([10, 6, 6, 2, 2], occasions=10).n_hat == pytest.approx(m0(KANHA).n_hat)


def test_m0_interval_narrows_with_lower_confidence_level() -> None:
    wide, narrow = m0(RABBITS, ci=0.95), m0(RABBITS, ci=0.85)

    assert narrow.ci_level == 0.85
    assert wide.ci_low < narrow.ci_low < narrow.n_hat < narrow.ci_high < wide.ci_high
    # wiqid with ci=0.85: 88.4286-109.0225.
    assert narrow.ci_low == pytest.approx(88.4286, rel=2e-4)
    assert narrow.ci_high == pytest.approx(109.0225, rel=2e-4)


def test_m0_reports_boundary_estimate_without_interval_when_likelihood_peaks_at_s() -> None:
    # wiqid: two animals each caught twice in 18 occasions -> N-hat 2, AIC 27.7296.
    estimate = m0([0, 2] + [0] * 16)

    assert estimate.n_hat == 2
    assert estimate.p_hat == pytest.approx(0.1111, abs=5e-5)
    assert estimate.aic == pytest.approx(27.7296, abs=5e-5)
    assert estimate.se is None
    assert estimate.ci_low is None
    assert "N = S" in estimate.note
    assert_json_safe(estimate)


def test_m0_handles_every_animal_caught_on_every_occasion() -> None:
    estimate = m0([[1, 1, 1], [1, 1, 1]])

    assert estimate.n_hat == 2
    assert estimate.p_hat == 1
    assert_json_safe(estimate)


def test_m0_reports_unidentifiable_population_instead_of_a_huge_number() -> None:
    # One recapture among hundreds of animals: the likelihood is nearly flat.
    estimate = m0([500, 1])

    assert estimate.n_hat is None or math.isfinite(estimate.n_hat)
    assert_json_safe(estimate)


# --- Mh jackknife ------------------------------------------------------------------


def test_mh_jackknife_matches_wiqid_on_kanha_tigers() -> None:
    estimate = mh_jackknife(KANHA)

    assert estimate.model == MH_JACKKNIFE
    assert estimate.n_hat == pytest.approx(33.3188, abs=5e-5)
    assert estimate.ci_low == pytest.approx(27.8792, abs=5e-5)
    assert estimate.ci_high == pytest.approx(54.5044, abs=5e-5)
    assert estimate.p_hat == pytest.approx(0.1741, abs=5e-5)
    assert estimate.se == pytest.approx(5.7537, abs=5e-4)
    # No order differs significantly from the next, and CAPTURE's test of the first
    # order against S is significant, so it interpolates between S and order 1.
    assert estimate.jackknife.order == 1
    assert estimate.jackknife.interpolated_with == 0


def test_mh_jackknife_matches_program_capture_on_rabbits() -> None:
    estimate = mh_jackknife(RABBITS)

    assert estimate.n_hat == pytest.approx(143.8743, abs=5e-5)
    assert estimate.ci_low == pytest.approx(112.9113, abs=5e-5)
    assert estimate.ci_high == pytest.approx(200.8106, abs=5e-5)
    assert estimate.p_hat == pytest.approx(0.0548, abs=5e-5)
    assert estimate.jackknife.order == 3
    assert estimate.jackknife.interpolated_with == 2
    assert estimate.to_dict()["jackknife_order"] == 3


def test_mh_jackknife_honours_confidence_level_like_wiqid() -> None:
    estimate = mh_jackknife(RABBITS, ci=0.85)

    assert estimate.ci_low == pytest.approx(119.3915, abs=5e-5)
    assert estimate.ci_high == pytest.approx(182.1710, abs=5e-5)


def test_mh_jackknife_first_two_orders_follow_burnham_overton_formulas() -> None:
    t, f1, f2, s = 18, 43, 16, 76
    estimates = mh_jackknife(RABBITS).jackknife.estimates

    assert estimates[0] == pytest.approx(s + (t - 1) / t * f1)
    assert estimates[1] == pytest.approx(
        s + (2 * t - 3) / t * f1 - (t - 2) ** 2 / (t * (t - 1)) * f2
    )


def test_mh_jackknife_uses_capture_simplified_coefficients_beyond_thirty_occasions() -> None:
    estimate = mh_jackknife([3, 2, 1] + [0] * 40)

    # CAPTURE's order 1 for t > 30 is S + f1.
    assert estimate.jackknife.estimates[0] == 9
    assert_json_safe(estimate)


@pytest.mark.parametrize("occasions", [2, 3, 4, 5])
def test_mh_jackknife_works_with_fewer_occasions_than_orders(occasions: int) -> None:
    estimate = mh_jackknife([3, 2] + [0] * (occasions - 2))

    assert len(estimate.jackknife.estimates) == min(5, occasions)
    assert estimate.n_hat >= estimate.captured
    assert_json_safe(estimate)


def test_mh_jackknife_needs_two_animals() -> None:
    estimate = mh_jackknife([0, 1] + [0] * 16)

    assert estimate.n_hat is None
    assert "at least two" in estimate.reason


# --- Chao Mh -----------------------------------------------------------------------


def test_chao_mh_on_kanha_tigers_is_s_plus_f1_squared_over_twice_f2() -> None:
    estimate = chao_mh(KANHA)
    ratio = 10 / 6
    variance = 6 * (ratio**4 / 4 + ratio**3 + ratio**2 / 2)

    assert estimate.model == MH_CHAO
    assert estimate.n_hat == pytest.approx(26 + 100 / 12)
    assert estimate.n_hat == pytest.approx(34.33, abs=5e-3)
    assert estimate.se == pytest.approx(math.sqrt(variance))
    spread = math.exp(1.959964 * math.sqrt(math.log(1 + variance / (100 / 12) ** 2)))
    assert estimate.ci_low == pytest.approx(26 + (100 / 12) / spread, rel=1e-6)
    assert estimate.ci_high == pytest.approx(26 + (100 / 12) * spread, rel=1e-6)


def test_chao_mh_on_rabbits() -> None:
    assert chao_mh(RABBITS).n_hat == pytest.approx(76 + 43**2 / 32)


def test_chao_mh_uses_bias_corrected_form_when_no_animal_was_caught_twice() -> None:
    estimate = chao_mh([5, 0, 2])

    assert estimate.n_hat == pytest.approx(7 + 5 * 4 / 2)
    assert "bias-corrected" in estimate.note
    assert estimate.ci_low >= estimate.captured


def test_chao_mh_bias_corrected_option_shrinks_the_estimate() -> None:
    corrected = chao_mh(KANHA, bias_corrected=True)

    assert corrected.n_hat == pytest.approx(26 + 10 * 9 / (2 * 7))
    assert corrected.n_hat < chao_mh(KANHA).n_hat


def test_chao_mh_without_singletons_estimates_the_animals_seen() -> None:
    estimate = chao_mh([0, 3, 2])

    assert estimate.n_hat == 5
    assert estimate.ci_low == 5
    assert estimate.ci_high >= 5
    assert_json_safe(estimate)


# --- Chapman -----------------------------------------------------------------------


def test_chapman_matches_published_razorback_sucker_estimates() -> None:
    # Marsh et al. (2005, N. Am. J. Fish. Manage.), Table 2: Chapman estimates from
    # M, C, R of repatriated razorback suckers in Lake Mohave.
    published = {(105, 62, 4): 1335, (153, 105, 8): 1813, (80, 153, 4): 2494, (87, 80, 6): 1017}
    for (n1, n2, m2), n_hat in published.items():
        assert round(chapman(n1, n2, m2).n_hat) == n_hat


def test_chapman_uses_seber_variance() -> None:
    estimate = chapman(100, 100, 20)

    assert estimate.model == CHAPMAN
    assert estimate.n_hat == pytest.approx(101 * 101 / 21 - 1)
    assert estimate.se == pytest.approx(math.sqrt(101 * 101 * 80 * 80 / (21**2 * 22)))
    assert estimate.captured == 180
    assert estimate.occasions == 2
    assert estimate.captured < estimate.ci_low < estimate.n_hat < estimate.ci_high


def test_chapman_from_histories_counts_both_samples_and_recaptures() -> None:
    histories = [[1, 0]] * 3 + [[0, 1]] * 2 + [[1, 1]] * 4 + [[0, 0]]

    assert chapman_from_histories(histories).n_hat == pytest.approx(chapman(7, 6, 4).n_hat)


def test_chapman_from_histories_refuses_more_than_two_occasions() -> None:
    estimate = chapman_from_histories(KANHA)

    assert estimate.n_hat is None
    assert "exactly two" in estimate.reason
    assert estimate.captured == 26


def test_chapman_without_recaptures_gives_no_estimate() -> None:
    estimate = chapman(30, 25, 0)

    assert estimate.n_hat is None
    assert estimate.reason.startswith("no recaptures")
    assert estimate.captured == 55


@pytest.mark.parametrize(
    ("n1", "n2", "m2", "reason"),
    [
        (0, 0, 0, "no animals"),
        (10, 0, 0, "empty"),
        (-1, 5, 0, "negative"),
        (5, 4, 6, "cannot exceed"),
    ],
)
def test_chapman_guards_impossible_samples(n1: int, n2: int, m2: int, reason: str) -> None:
    estimate = chapman(n1, n2, m2)

    assert estimate.n_hat is None
    assert reason in estimate.reason
    assert_json_safe(estimate)


def test_chapman_rejects_non_integer_counts() -> None:
    with pytest.raises(ValueError, match="whole number"):
        chapman(10.5, 10, 2)


# --- degenerate data for the multi-occasion estimators ------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    ("data", "occasions", "reason"),
    [
        ([0] * 18, None, "no animals captured"),
        ([], None, "no animals captured"),
        (np.zeros((0, 5), dtype=int), None, "no animals captured"),
        ([[0, 0, 0], [0, 0, 0]], None, "no animals captured"),
        ([30] + [0] * 17, None, "no recaptures"),
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], None, "no recaptures"),
        ([7], None, "only one capture occasion"),
        ([[1], [1]], None, "only one capture occasion"),
        ([5, -1, 2], None, "cannot be negative"),
        ([5, 1.5, 2], None, "whole numbers"),
        ([5, float("nan"), 2], None, "whole numbers"),
        ([[1, 2, 0], [0, 1, 1]], None, "only 0 and 1"),
        ([5, 2, 1], 2, "more than 2 times"),
        ([5, 2, 1], -3, "cannot be negative"),
    ],
)
def test_estimators_explain_why_there_is_no_estimate(
    estimator, data, occasions: int | None, reason: str
) -> None:
    estimate = estimator(data, occasions)

    assert estimate.n_hat is None
    assert estimate.se is None
    assert estimate.ci_low is None and estimate.ci_high is None
    assert reason in estimate.reason
    assert estimate.interval_method == "none"
    assert_json_safe(estimate)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "data",
    [
        "10 6 6 2 2",
        ["10", "6"],
        np.zeros((2, 2, 2)),
        [[1, 0, 1], [1, 0]],
        None,
    ],
)
def test_estimators_reject_malformed_input_types(estimator, data) -> None:
    with pytest.raises(ValueError):
        estimator(data)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimators_reject_occasions_that_contradict_the_histories(estimator) -> None:
    with pytest.raises(ValueError, match="occasions=4"):
        estimator(KANHA, 4)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("ci", [0, 1, 1.5, -0.2])
def test_estimators_reject_impossible_confidence_levels(estimator, ci: float) -> None:
    with pytest.raises(ValueError, match="confidence level"):
        estimator(KANHA, ci=ci)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimates_serialise_with_the_documented_keys(estimator) -> None:
    data = estimator(KANHA).to_dict()

    assert {
        "model",
        "n_hat",
        "se",
        "ci_low",
        "ci_high",
        "captured",
        "occasions",
        "p_hat",
        "reason",
        "interval_method",
    } <= data.keys()
    assert data["captured"] == 26
    assert data["occasions"] == 10
    assert data["reason"] is None
    json.dumps(data, allow_nan=False)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimates_never_fall_below_the_animals_seen(estimator) -> None:
    for data in (KANHA, RABBITS, [1, 1], [2, 0, 0, 1], [4, 1, 0, 0, 0, 0, 0, 0]):
        estimate = estimator(data)
        if estimate.ok:
            assert estimate.n_hat >= estimate.captured
            if estimate.ci_low is not None:
                assert estimate.captured <= estimate.ci_low <= estimate.n_hat
                assert estimate.n_hat <= estimate.ci_high
        assert_json_safe(estimate)


# --- density -----------------------------------------------------------------------


def test_density_scales_estimate_se_and_interval_to_100_km2() -> None:
    result = density(28.0, 2.0, 400.0, ci_low=26.0, ci_high=40.0)

    assert result.density == pytest.approx(7.0)
    assert result.se == pytest.approx(0.5)
    assert result.ci_low == pytest.approx(6.5)
    assert result.ci_high == pytest.approx(10.0)
    assert result.reason is None


def test_density_from_estimate_carries_the_interval() -> None:
    estimate = m0(KANHA)
    result = density_from_estimate(estimate, 200.0)

    assert result.density == pytest.approx(estimate.n_hat / 2)
    assert result.ci_high == pytest.approx(estimate.ci_high / 2)


def test_density_from_a_missing_estimate_keeps_its_reason() -> None:
    result = density_from_estimate(m0([30, 0, 0]), 200.0)

    assert result.density is None
    assert result.reason.startswith("no recaptures")


@pytest.mark.parametrize("area", [0, -5, None, float("inf"), float("nan")])
def test_density_needs_a_positive_area(area) -> None:
    result = density(28.0, 2.0, area)

    assert result.density is None
    assert "positive" in result.reason
    json.dumps(result.to_dict(), allow_nan=False)


def test_density_without_estimate_explains_itself() -> None:
    result = density(None, None, 100.0)

    assert result.density is None
    assert "no abundance estimate" in result.reason


def test_density_rejects_text_area() -> None:
    with pytest.raises(ValueError, match="area_km2"):
        density(28.0, 2.0, "400")


# --- Mt, Mb, Mh2 -------------------------------------------------------------------
# Published values: the test suite of wiqid (M. Meredith; tests/test-closedCap.R and
# test-closedCap2.R), which notes where program MARK gives the same figures.


def test_mt_matches_wiqid_and_mark_on_kanha_tigers():
    estimate = mt(KANHA)

    assert estimate.model == MT
    # wiqid closedCapMt: N 28.051 (26.304, 39.860); AIC 158.0698, the same as MARK.
    assert estimate.n_hat == pytest.approx(28.051, abs=5e-4)
    assert estimate.ci_low == pytest.approx(26.304, abs=2e-3)
    assert estimate.ci_high == pytest.approx(39.860, rel=1e-3)
    assert estimate.aic == pytest.approx(158.0698, abs=5e-5)
    assert [round(p, 4) for p in estimate.parameters["p"]] == [
        0.1782, 0.1782, 0.1069, 0.4634, 0.2495, 0.1426, 0.1426, 0.1426, 0.1782, 0.2852,
    ]  # fmt: skip


def test_mb_matches_wiqid_and_mark_on_kanha_tigers():
    estimate = mb(KANHA)

    assert estimate.model == MB
    # wiqid closedCapMb: N 26.94 (26.02, 67.96), p 0.2539, c 0.1916; AIC 156.4496 (= MARK).
    assert estimate.n_hat == pytest.approx(26.939, abs=5e-4)
    assert estimate.ci_low == pytest.approx(26.02, abs=5e-3)
    # wiqid notes that R versions differ in the third decimal of its Hessian-based limits.
    assert estimate.ci_high == pytest.approx(67.96, rel=2e-3)
    assert estimate.parameters["p"] == pytest.approx(0.2539, abs=5e-5)
    assert estimate.parameters["c"] == pytest.approx(0.1916, abs=5e-5)
    assert estimate.aic == pytest.approx(156.4496, abs=5e-5)


def test_mh2_matches_wiqid_and_mark_on_rabbits():
    estimate = mh2(RABBITS)

    assert estimate.model == MH2
    # wiqid closedCapMh2: N 135.48 (93.85, 274.21), pmix 0.1548, p1 0.1795, p2 0.0360,
    # AIC 369.6155 (= MARK); MARK gives N 135.47714.
    assert estimate.n_hat == pytest.approx(135.47714, abs=5e-4)
    assert estimate.parameters["pmix"] == pytest.approx(0.1548, abs=5e-5)
    assert estimate.parameters["p1"] == pytest.approx(0.1795, abs=5e-5)
    assert estimate.parameters["p2"] == pytest.approx(0.0360, abs=5e-5)
    assert estimate.aic == pytest.approx(369.6155, abs=5e-5)
    # Limits rest on a finite-difference Hessian of a flat mixture likelihood: they agree
    # with wiqid's to 2-3 significant figures (MARK's own: 95.59-256.61).
    assert estimate.ci_low == pytest.approx(93.85, rel=2e-3)
    assert estimate.ci_high == pytest.approx(274.21, rel=5e-3)


def test_mh2_matches_wiqid_on_kanha_tigers():
    estimate = mh2(KANHA)

    # wiqid: N 31.52 (26.29, 129.4), pmix 0.4920, p1 0.2644, p2 0.1061, AIC 158.6416.
    assert estimate.n_hat == pytest.approx(31.52, abs=5e-3)
    assert estimate.parameters["pmix"] == pytest.approx(0.4920, abs=5e-4)
    assert estimate.parameters["p1"] == pytest.approx(0.2644, abs=5e-4)
    assert estimate.parameters["p2"] == pytest.approx(0.1061, abs=5e-4)
    assert estimate.aic == pytest.approx(158.6416, abs=5e-4)
    assert estimate.ci_low == pytest.approx(26.29, abs=5e-3)


def test_mt_and_mb_need_histories_not_frequencies():
    for function in (mt, mb):
        estimate = function(KANHA_FREQUENCIES)
        assert estimate.n_hat is None
        assert "needs who was caught on which occasion" in estimate.reason


def test_mh2_without_recaptures_gives_a_reason():
    estimate = mh2([30] + [0] * 17)

    assert estimate.n_hat is None
    assert "no recaptures" in estimate.reason


def test_best_by_aic_picks_m0_for_kanha_tigers_and_lists_every_aic():
    chosen = estimate_model("best", KANHA)

    # AIC: M0 155.2433, Mb 156.4496, Mt 158.0698, Mh2 158.6416 (wiqid / MARK).
    assert chosen.model == M0
    aics = chosen.parameters["selection"]["aic"]
    assert aics["mb"] == pytest.approx(156.4496, abs=5e-5)
    assert min(aics, key=aics.get) == "m0"
    json.dumps(chosen.to_dict(), allow_nan=False)


def test_best_by_aic_picks_mh2_for_rabbits():
    chosen = estimate_model("best", RABBITS, frequencies=True)

    # Rabbits: M0 379.5941 against Mh2 369.6155.
    assert chosen.model == MH2
    assert chosen.parameters["selection"]["aic"]["m0"] == pytest.approx(379.5941, abs=5e-5)


def test_likelihood_models_give_json_safe_answers_on_random_histories():
    rng = np.random.default_rng(0)
    for _ in range(40):
        occasions = int(rng.integers(2, 12))
        animals = int(rng.integers(1, 30))
        histories = (rng.random((animals, occasions)) < rng.random() * 0.5).astype(int)
        for function in (mt, mb, mh2):
            estimate = function(histories)
            json.dumps(estimate.to_dict(), allow_nan=False)
            assert estimate.n_hat is None or estimate.n_hat >= estimate.captured
