"""CSV downloads for spreadsheets carry no formula: text that starts like one is quoted."""

import csv
import io
from datetime import date

import pytest
from django.core.cache import cache
from django.urls import reverse

from census.services import census_rebuild
from exchange.camtrap_dp.export import package_write
from tests.census.helpers import cat, local, sight, station_running
from tests.exchange.helpers import build_registry, read_csv, validate_offline
from traps.models import Photo
from traps.spreadsheets import FORMULA_STARTS, csv_text, spreadsheet_cell

pytestmark = pytest.mark.django_db

PAYLOAD = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_a_text_cell_starting_like_a_formula_gets_a_quote(start):
    assert spreadsheet_cell(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"


@pytest.mark.parametrize("value", [-12.5, 3, "-12.5", "+3", "131.654321", "LEO-5F", "", None])
def test_numbers_and_plain_text_pass_unchanged(value):
    assert spreadsheet_cell(value) == value


def test_csv_text_quotes_formulas_and_keeps_negative_numbers():
    text = csv_text(["name", "longitude"], [[PAYLOAD, -71.5], ["@SUM(A1)", "-71.5"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1:] == [[f"'{PAYLOAD}", "-71.5"], ["'@SUM(A1)", "-71.5"]]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _formulas(cells: list[str]) -> list[str]:
    # What a spreadsheet would evaluate: a text cell starting like a formula.
    return [c for c in cells if spreadsheet_cell(c) != c]


@pytest.fixture
def census_with_payloads(park, time_machine):
    cache.clear()
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    _, here = station_running(park, "A1", first_year=2024, last_year=2024)
    named = cat("LEO-5F", date(2015, 1, 1))
    named.name = PAYLOAD
    named.save()
    coded = cat("+LEO-7M", date(2016, 1, 1), "male")
    sight(here, named, local(park, 2024, 9, 1, 1, 0))
    sight(here, coded, local(park, 2024, 9, 3, 1, 0))
    census_rebuild()
    return park


@pytest.mark.parametrize("table", ["periods", "stations", "individuals"])
def test_census_csvs_carry_no_formula(client, manager, census_with_payloads, table):
    client.force_login(manager)
    response = client.get(reverse("census:park-csv", args=["alpha", table]))
    assert response.status_code == 200
    cells = _cells(response.content.decode())
    assert not _formulas(cells)
    if table == "individuals":
        assert f"'{PAYLOAD}" in cells
        assert "'+LEO-7M" in cells


def test_the_landscape_csv_carries_no_formula(client, manager, census_with_payloads):
    client.force_login(manager)
    response = client.get(reverse("census:landscape-csv", args=["individuals"]))
    cells = _cells(response.content.decode())
    assert f"'{PAYLOAD}" in cells
    assert not _formulas(cells)


def test_capture_histories_csv_carries_no_formula(client, scientist, census_with_payloads):
    client.force_login(scientist)
    response = client.get(
        reverse("census:histories-csv", args=["alpha"]),
        {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "30"},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert {row[0] for row in rows[1:]} == {"LEO-5F", "'+LEO-7M"}
    # The capture counts stay numbers.
    assert {cell for row in rows[1:] for cell in row[2:]} <= {"0", "1"}
    assert not _formulas([c for row in rows for c in row])


def test_camtrap_dp_csvs_carry_no_formula_and_still_validate(park, tmp_path):
    registry = build_registry(park)
    registry.mother.name = PAYLOAD
    registry.mother.save()
    Photo.objects.filter(event=registry.blank_event).update(original_name="@SUM(1+1).JPG")

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    folder = tmp_path / "pkg"
    texts = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.csv")}
    assert {"deployments.csv", "media.csv", "observations.csv", "individuals.csv"} <= set(texts)
    for name, text in texts.items():
        assert not _formulas(_cells(text)), name
    names = {
        row["individualID"]: row["individualName"] for row in read_csv(folder / "individuals.csv")
    }
    assert names["LEO-001F"] == f"'{PAYLOAD}"
    assert "'@SUM(1+1).JPG" in {row["fileName"] for row in read_csv(folder / "media.csv")}
    assert not validate_offline(folder)
