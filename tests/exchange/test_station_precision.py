"""A package's generalised coordinates are recorded on the station, not written into its notes."""

# The expected texts are Russian and Chinese, with their own letters and punctuation.
# ruff: noqa: RUF001

import importlib
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from exchange.camtrap_dp.importer import package_import
from tests.exchange.test_camtrap_dp_import import third_party_package
from tests.factories import DeploymentFactory, StationFactory
from traps.models import Station

migration = importlib.import_module("traps.migrations.0007_station_coordinate_precision_from_notes")

pytestmark = pytest.mark.django_db


def generalised_package(folder, precision):
    package = third_party_package(folder)
    descriptor = json.loads((package / "datapackage.json").read_text())
    descriptor["coordinatePrecision"] = precision
    (package / "datapackage.json").write_text(json.dumps(descriptor))
    return package


def test_a_generalised_package_sets_the_stations_precision_and_leaves_its_notes_alone(
    park, tmp_path
):
    with translation.override("ru"):
        package_import(path=generalised_package(tmp_path / "pkg", 0.1), park=park)

    station = Station.objects.get(park=park, code="loc-A")
    assert station.coordinate_precision == Decimal("0.1")
    assert station.notes == ""


def test_an_exact_package_leaves_the_precision_empty(park, tmp_path):
    package_import(path=generalised_package(tmp_path / "pkg", 0.000001), park=park)

    assert Station.objects.get(park=park, code="loc-A").coordinate_precision is None


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("ru", "Координаты станции импортированы обобщёнными до 0,1°"),
        ("zh-hans", "该站点的坐标在导入时已模糊化至 0.1°"),
    ],
)
def test_the_deployment_page_states_the_precision_in_the_readers_language(
    client, park, scientist, language, text
):
    deployment = DeploymentFactory(
        station=StationFactory(park=park, coordinate_precision=Decimal("0.1"))
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(scientist)

    page = client.get(reverse("traps:deployment-detail", args=[deployment.pk])).content.decode()

    assert text in page


def test_the_api_states_the_precision_the_coordinates_arrived_with(park, scientist):
    station = StationFactory(park=park, coordinate_precision=Decimal("0.05"))
    api = APIClient()
    api.force_authenticate(scientist)

    answer = api.get(f"/api/stations/{station.pk}/").json()

    # The scientist sees exact positions, but these were never better than 0.05°.
    assert answer["coordinate_precision"] == 0.05


def test_the_migration_moves_the_sentence_out_of_the_notes_in_any_language(park):
    written = {
        "en": "Imported with coordinates generalised to 0.1 degree.",
        "ru": "Импортировано с координатами, обобщёнными до 0.1°. Камера на тропе к ручью.",
        "zh": "导入时坐标已模糊化至 0.05 度。",
        "typed": "Moved 20 m after the flood.",
    }
    stations = {
        key: StationFactory(park=park, code=key, notes=notes) for key, notes in written.items()
    }

    migration.notes_to_field(apps, None)

    read = {
        key: Station.objects.values_list("coordinate_precision", "notes").get(pk=station.pk)
        for key, station in stations.items()
    }
    assert read == {
        "en": (Decimal("0.1"), ""),
        "ru": (Decimal("0.1"), "Камера на тропе к ручью."),
        "zh": (Decimal("0.05"), ""),
        "typed": (None, "Moved 20 m after the flood."),
    }


def test_the_migration_back_writes_the_english_sentence(park):
    station = StationFactory(park=park, coordinate_precision=Decimal("0.1"), notes="By the ford.")

    migration.field_to_notes(apps, None)

    station.refresh_from_db()
    assert (station.coordinate_precision, station.notes) == (
        None,
        "Imported with coordinates generalised to 0.1 degree. By the ford.",
    )
