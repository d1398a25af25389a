"""estimate_abundance and export_secr on the command line."""

import json
import re
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.census.helpers import cat, local, sight, station_running
from tests.factories import DeploymentFactory, StationFactory
from traps.models import MalfunctionPeriod

DATA = Path(__file__).parent / "data"
KEYS = {"model", "n_hat", "se", "ci_low", "ci_high", "captured", "occasions", "p_hat", "reason"}


def run(*args: str) -> str:
    out = StringIO()
    call_command("estimate_abundance", *args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> dict:
    return json.loads(run(*args, "--format", "json"))


@pytest.mark.parametrize(
    ("model", "n_hat", "se"),
    [
        # Kanha tigers (Karanth et al. 2004), as published by wiqid / program CAPTURE.
        ("m0", 28.4, 2.17),
        ("mh-jackknife", 33.3, 5.75),
        ("mh-chao", 34.3, None),
    ],
)
def test_estimate_abundance_reads_a_history_file(model, n_hat, se):
    data = run_json(str(DATA / "kanha_tigers_ch.txt"), "--model", model)

    assert set(data) >= KEYS
    assert data["model"] == model.replace("-", "_")
    assert data["captured"] == 26
    assert data["occasions"] == 10
    assert float(f"{data['n_hat']:.3g}") == n_hat
    if se is not None:
        assert float(f"{data['se']:.3g}") == se
    assert data["ci_low"] <= data["n_hat"] <= data["ci_high"]


def test_estimate_abundance_reads_frequencies(tmp_path):
    path = tmp_path / "freq.txt"
    path.write_text("# f1..f10 of the Kanha tigers\n10 6 6 2 2 0 0 0 0 0\n")

    data = run_json(str(path), "--model", "mh-jackknife", "--frequencies")

    assert data["captured"] == 26
    assert float(f"{data['n_hat']:.3g}") == 33.3


def test_estimate_abundance_reads_ids_commas_and_comments(tmp_path):
    path = tmp_path / "ch.csv"
    path.write_text("# two samples\nA,1,1\nB,1,0\nC,0,1\nD,1,1\n")

    data = run_json(str(path), "--model", "chapman")

    # Chapman: (3+1)(3+1)/(2+1) - 1
    assert data["n_hat"] == pytest.approx(16 / 3 - 1)
    assert data["occasions"] == 2


def test_no_recaptures_give_a_reason_not_a_number(tmp_path):
    path = tmp_path / "once.txt"
    path.write_text("1 0 0\n0 1 0\n0 0 1\n")

    for model in ("m0", "mh-jackknife", "mh-chao"):
        data = run_json(str(path), "--model", model)
        assert data["n_hat"] is None
        assert "no recaptures" in data["reason"]


def test_all_zero_frequencies_give_a_reason(tmp_path):
    path = tmp_path / "zeros.txt"
    path.write_text("0 0 0 0\n")

    data = run_json(str(path), "--model", "m0", "--frequencies")

    assert data["n_hat"] is None
    assert data["reason"] == "no animals captured"


def test_text_output_states_the_interval_method():
    text = run(str(DATA / "kanha_tigers_ch.txt"), "--model", "m0")
    assert "N-hat: 28.45" in text
    assert "95% CI:" in text and "Wald interval on log(N - S)" in text


def test_a_malformed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1 0 2\n")
    with pytest.raises(CommandError, match="not 0 or 1"):
        run(str(path), "--model", "m0")


@pytest.fixture
def survey(park):
    """Three cats at two stations of the park in March 2024."""
    _st1, dep1 = station_running(park, "A_1", latitude="43.100000", longitude="131.500000")
    _st2, dep2 = station_running(park, "A2", latitude="43.150000", longitude="131.550000")
    a = cat("LEO-1F", date(2015, 1, 1), "female")
    b = cat("LEO-2M", date(2015, 1, 1), "male")
    c = cat("LEO-3U", date(2015, 1, 1), "unknown")
    sight(dep1, a, local(park, 2024, 3, 1, 22, 0))
    sight(dep2, a, local(park, 2024, 3, 12, 22, 0))
    sight(dep1, b, local(park, 2024, 3, 3, 22, 0))
    sight(dep1, b, local(park, 2024, 3, 8, 2, 0))
    sight(dep2, c, local(park, 2024, 3, 14, 22, 0))
    return park


@pytest.mark.django_db
def test_estimate_abundance_builds_histories_from_the_registry(survey):
    data = run_json(
        "--model",
        "m0",
        "--park",
        "alpha",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-15",
        "--occasion-days",
        "5",
    )

    assert data["captured"] == 3
    assert data["occasions"] == 3
    assert data["park"] == "alpha"
    assert "density" in data


@pytest.mark.django_db
def test_registry_histories_without_recaptures_say_why(park):
    _st, deployment = station_running(park, "A1")
    sight(deployment, cat("LEO-1F", date(2015, 1, 1)), local(park, 2024, 3, 1, 22, 0))

    data = run_json(
        "--model",
        "mh-chao",
        "--park",
        "alpha",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-30",
        "--occasion-days",
        "10",
    )

    assert data["n_hat"] is None
    assert data["reason"]


@pytest.mark.django_db
def test_export_secr_writes_files_read_capthist_accepts(survey, tmp_path):
    park = survey
    # A third station whose camera only starts on 6 March: no effort in occasion 1.
    late = StationFactory(park=park, code="A3", latitude="43.2", longitude="131.6")
    deployment = DeploymentFactory(
        station=late, start=local(park, 2024, 3, 6, 12, 0), end=local(park, 2024, 4, 1, 0, 0)
    )
    # ...and which did not work from 11 to 15 March: no effort in occasion 3 either.
    MalfunctionPeriod.objects.create(
        deployment=deployment, start=date(2024, 3, 11), end=date(2024, 3, 15)
    )
    out = StringIO()
    call_command(
        "export_secr",
        str(tmp_path),
        "--park",
        "alpha",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-15",
        "--occasion-days",
        "5",
        "--exact",
        stdout=out,
    )

    captures = [
        line.split()
        for line in (tmp_path / "captures.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    traps = [
        line.split()
        for line in (tmp_path / "traps.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert captures == [
        ["alpha-2024", "LEO-1F", "1", "A-1", "F"],
        ["alpha-2024", "LEO-1F", "3", "A2", "F"],
        ["alpha-2024", "LEO-2M", "1", "A-1", "M"],
        ["alpha-2024", "LEO-2M", "2", "A-1", "M"],
        ["alpha-2024", "LEO-3U", "3", "A2", "NA"],
    ]
    assert sorted(row[0] for row in traps) == ["A-1", "A2", "A3"]
    assert all(len(row) == 4 for row in traps)
    assert {row[0]: row[3] for row in traps} == {"A-1": "111", "A2": "111", "A3": "010"}
    # Every detector in the capture file is in the trap file; ids hold no underscores.
    assert {row[3] for row in captures} <= {row[0] for row in traps}
    assert not any("_" in row[0] for row in traps)
    # Projected metres in UTM 52N: about 43.1 N 131.5 E.
    x, y = float(traps[0][1]), float(traps[0][2])
    assert 700_000 < x < 800_000
    assert 4_770_000 < y < 4_790_000
    assert re.search(r"3 occasions", out.getvalue())


@pytest.mark.django_db
def test_export_secr_generalises_coordinates_unless_asked(survey, tmp_path):
    call_command(
        "export_secr",
        str(tmp_path),
        "--park",
        "alpha",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-15",
        "--occasion-days",
        "5",
        stdout=StringIO(),
    )
    text = (tmp_path / "traps.txt").read_text()
    assert "generalised to the centre of a 0.1 degree grid cell" in text


@pytest.mark.parametrize(
    ("model", "n_hat", "aic"),
    [("mt", 28.1, 158.0698), ("mb", 26.9, 156.4496), ("mh2", 31.5, 158.6416)],
)
def test_estimate_abundance_fits_the_likelihood_models(model, n_hat, aic):
    data = run_json(str(DATA / "kanha_tigers_ch.txt"), "--model", model)

    assert data["model"] == model
    assert float(f"{data['n_hat']:.3g}") == n_hat
    assert data["aic"] == pytest.approx(aic, abs=5e-4)


def test_estimate_abundance_best_names_the_model_and_every_aic():
    data = run_json(str(DATA / "kanha_tigers_ch.txt"), "--model", "best")

    assert data["model"] == "m0"
    assert set(data["parameters"]["selection"]["aic"]) == {"m0", "mt", "mb", "mh2"}
    assert "chosen by lowest AIC" in run(str(DATA / "kanha_tigers_ch.txt"), "--model", "best")


def test_histories_read_as_frequencies_are_refused_with_a_reason():
    with pytest.raises(CommandError, match="looks like capture histories"):
        run(str(DATA / "kanha_tigers_ch.txt"), "--model", "m0", "--frequencies")
