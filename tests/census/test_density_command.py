"""estimate_density on the command line: secr text files and a park's registry data."""

import json
from datetime import date
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from census.density.registry import registry_survey
from tests.census.helpers import cat, grid_park, local, sight, simulated_survey
from traps.models import MalfunctionPeriod

DATA = Path(__file__).parent / "data" / "secr"
CAPTDATA = [
    "--captures",
    str(DATA / "captdata_capt.txt"),
    "--traps",
    str(DATA / "captdata_traps.txt"),
]
KEYS = {
    "D_per_ha",
    "D_per_100km2",
    "se",
    "lcl",
    "ucl",
    "sigma",
    "loglik",
    "aic",
    "n_animals",
    "n_detections",
    "mask_points",
    "reason",
}


def run(*args: str) -> str:
    out = StringIO()
    call_command("estimate_density", *args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> dict:
    return json.loads(run(*args, "--format", "json"))


def test_fits_captdata_files_as_secr():
    data = run_json(*CAPTDATA, "--detector", "multi", "--detectfn", "halfnormal", "--buffer", "100")

    assert set(data) >= KEYS | {"g0"}
    assert data["reason"] is None
    # secrdemo.0: D 5.479803 /ha (SE 0.646741, 4.35162-6.90047), logLik -759.025746.
    assert data["D_per_ha"] == pytest.approx(5.479803, rel=1e-4)
    assert data["D_per_100km2"] == pytest.approx(54798.03, rel=1e-4)
    assert data["se"] == pytest.approx(0.646741, rel=1e-3)
    assert data["lcl"] == pytest.approx(4.35162, rel=1e-3)
    assert data["ucl"] == pytest.approx(6.90047, rel=1e-3)
    assert data["g0"] == pytest.approx(0.273191, rel=1e-4)
    assert data["sigma"] == pytest.approx(29.36583, rel=1e-4)
    assert data["loglik"] == pytest.approx(-759.025746, abs=5e-7)
    assert (data["n_animals"], data["n_detections"], data["mask_points"]) == (76, 235, 3936)


def test_conditional_fit_and_a_given_mask():
    data = run_json(
        *CAPTDATA, "--detector", "multi", "--mask", str(DATA / "captdata_mask.csv"), "--conditional"
    )

    assert data["mask_points"] == 3936
    assert data["mask_spacing"] == pytest.approx(7.34375)
    assert data["loglik"] == pytest.approx(-755.940344, abs=5e-7)
    # derived(secrdemo.CL): 5.4798074, SE 0.6445541.
    assert data["D_per_ha"] == pytest.approx(5.4798074, rel=1e-4)
    assert data["se"] == pytest.approx(0.6445541, rel=1e-3)
    # A given mask has no buffer to check.
    assert data["buffer_ok"] is None


def test_hazard_function_reports_lambda0():
    data = run_json(
        "--captures",
        str(DATA / "ovenbird2005_capt.txt"),
        "--traps",
        str(DATA / "ovenbird2005_traps.txt"),
        "--detectfn",
        "hazard-halfnormal",
        "--buffer",
        "200",
        "--conditional",
    )

    assert data["reason"] is None
    assert data["lambda0"] > 0
    assert "g0" not in data


def test_text_output_gives_density_per_100km2_and_the_buffer_check():
    text = run(*CAPTDATA, "--detector", "multi")

    assert "D: 54,798 per 100 km2" in text
    assert "sigma: 29.366 m" in text
    assert "buffer 100 m = 3.4 sigma" in text
    assert "using secr's default buffer width of 100 m" in text


def test_detection_at_an_unused_camera_gives_no_estimate_not_an_error(tmp_path):
    traps = tmp_path / "traps.txt"
    traps.write_text((DATA / "captdata_traps_usage.txt").read_text())
    captures = tmp_path / "capt.txt"
    captures.write_text((DATA / "captdata_capt.txt").read_text() + "1 999 2 15\n1 999 4 16\n")

    data = run_json("--captures", str(captures), "--traps", str(traps), "--detector", "multi")

    assert data["D_per_ha"] is None
    assert "did not work" in data["reason"]


def test_unreadable_input_is_a_command_error(tmp_path):
    bad = tmp_path / "traps.txt"
    bad.write_text("1 0 zero\n")

    with pytest.raises(CommandError, match="not a number"):
        run("--captures", str(DATA / "captdata_capt.txt"), "--traps", str(bad))
    with pytest.raises(CommandError, match="--captures and --traps"):
        run("--captures", str(DATA / "captdata_capt.txt"))


# --- a park's survey from the registry ------------------------------------------------------


@pytest.mark.django_db
def test_registry_survey_takes_usage_from_deployments_minus_malfunctions(park):
    deployments = grid_park(park, size=2)
    MalfunctionPeriod.objects.create(
        deployment=deployments[0], start=date(2024, 3, 2), end=date(2024, 3, 3)
    )
    leo = cat("LEO-1F", date(2015, 1, 1))
    sight(deployments[1], leo, local(park, 2024, 3, 1, 22, 0))
    sight(deployments[2], leo, local(park, 2024, 3, 4, 22, 0))

    survey = registry_survey(park=park, start=date(2024, 3, 1), end=date(2024, 3, 5))

    history = survey.history
    assert history.trap_ids == ("C00", "C01", "C10", "C11")
    assert history.usage[0].tolist() == [1, 0, 0, 1, 1]
    assert history.usage[1].tolist() == [1, 1, 1, 1, 1]
    assert history.n_animals == 1
    assert history.detections.tolist() == [[0, 0, 1], [0, 3, 2]]
    # Cameras 1500 m apart in UTM 52N (6 decimals of a degree: about 0.1 m).
    assert np.hypot(*(history.traps[2] - history.traps[0])) == pytest.approx(1500, abs=0.5)
    assert survey.area_ha == pytest.approx(280_000)


@pytest.mark.django_db
def test_estimate_density_fits_a_parks_survey_near_the_true_density(park):
    deployments = grid_park(park)
    history = simulated_survey(park, deployments, date(2024, 6, 1))

    data = run_json(
        "--park", "alpha", "--start", "2024-06-01", "--end", "2024-06-30", "--buffer", "6000"
    )

    assert data["reason"] is None, data["reason"]
    assert data["park"] == "alpha"
    assert data["n_animals"] == history.n_animals
    assert data["n_detections"] == history.n_detections
    assert data["lcl_per_100km2"] < 40 < data["ucl_per_100km2"]
    # N in the park's 2,800 km2.
    assert data["N"]["estimate"] == pytest.approx(data["D_per_100km2"] * 28)
    assert "no stored boundary" in " ".join(data["warnings"])


@pytest.mark.django_db
def test_a_park_without_cameras_gives_a_reason_not_an_error(park):
    data = run_json("--park", "alpha", "--start", "2024-06-01", "--end", "2024-06-30")

    assert data["D_per_ha"] is None
    assert data["reason"] == "no animals detected"
    assert data["mask_points"] == 0
