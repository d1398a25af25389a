"""Camtrap DP export: validates offline against the 1.0.2 profile, with privacy and mapping."""

import json

import pytest
from django.core.management import call_command

from exchange.camtrap_dp.export import package_write
from tests.exchange.helpers import build_registry, read_csv, validate_offline
from tests.factories import DeploymentFactory, PhotoFactory, StationFactory

pytestmark = pytest.mark.django_db


def test_export_of_a_small_registry_validates_against_the_profile_and_schemas(park, tmp_path):
    build_registry(park)

    summary = package_write(out_dir=tmp_path / "pkg", parks=[park])

    assert validate_offline(tmp_path / "pkg") == []
    assert (summary.deployments, summary.media) == (2, 4)
    assert summary.skipped_untimed_photos == 1


def test_export_command_writes_every_file_and_generalises_coordinates(park, tmp_path):
    build_registry(park)

    call_command("export_camtrap_dp", str(tmp_path / "pkg"), "--park", "alpha")

    folder = tmp_path / "pkg"
    assert {p.name for p in folder.iterdir()} == {
        "datapackage.json",
        "deployments.csv",
        "media.csv",
        "observations.csv",
        "individuals.csv",
    }
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert descriptor["coordinatePrecision"] == 0.1
    rows = {r["locationID"]: r for r in read_csv(folder / "deployments.csv")}
    assert (rows["ST-001"]["latitude"], rows["ST-001"]["longitude"]) == ("43.15", "131.65")
    assert rows["ST-001"]["coordinateUncertainty"] == "6892"
    assert rows["ST-001"]["deploymentComments"] == ""  # notes may describe the place
    assert "43.123456" not in (folder / "deployments.csv").read_text()
    assert validate_offline(folder) == []


def test_exact_coordinates_on_the_command_line_state_their_precision(park, tmp_path):
    build_registry(park)

    call_command(
        "export_camtrap_dp", str(tmp_path / "pkg"), "--park", "alpha", "--exact-coordinates"
    )

    descriptor = json.loads((tmp_path / "pkg" / "datapackage.json").read_text())
    assert descriptor["coordinatePrecision"] == 0.000001
    rows = {r["locationID"]: r for r in read_csv(tmp_path / "pkg" / "deployments.csv")}
    assert (rows["ST-001"]["latitude"], rows["ST-001"]["longitude"]) == ("43.123456", "131.654321")
    assert rows["ST-001"]["coordinateUncertainty"] == ""
    assert rows["ST-001"]["deploymentComments"] == "On the ridge trail."


def test_a_manager_asking_for_exact_coordinates_still_gets_the_grid(
    park, manager, scientist, tmp_path
):
    build_registry(park)

    package_write(out_dir=tmp_path / "m", parks=[park], user=manager, exact_coordinates=True)
    package_write(out_dir=tmp_path / "s", parks=[park], user=scientist, exact_coordinates=True)

    manager_rows = read_csv(tmp_path / "m" / "deployments.csv")
    scientist_rows = read_csv(tmp_path / "s" / "deployments.csv")
    assert {r["latitude"] for r in manager_rows} == {"43.15", "43.35"}
    assert {r["latitude"] for r in scientist_rows} == {"43.123456", "43.356789"}
    assert (
        json.loads((tmp_path / "m" / "datapackage.json").read_text())["coordinatePrecision"] == 0.1
    )


def test_sightings_become_media_observations_with_individual_life_stage_and_box(park, tmp_path):
    registry = build_registry(park)

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    observations = read_csv(tmp_path / "pkg" / "observations.csv")
    media_level = [o for o in observations if o["observationLevel"] == "media"]
    assert len(media_level) == 4  # the rejected box stays out
    kitten = next(o for o in media_level if o["individualID"] == "LEO-101")
    assert kitten["lifeStage"] == "juvenile"
    assert kitten["observationTags"] == "flank:right | status:confirmed"
    assert (kitten["bboxX"], kitten["bboxY"], kitten["bboxWidth"], kitten["bboxHeight"]) == (
        "0.6",
        "0.5",
        "0.2",
        "0.25",
    )
    mother = next(o for o in media_level if o["individualID"] == "LEO-001F")
    assert (mother["sex"], mother["lifeStage"], mother["classificationMethod"]) == (
        "female",
        "adult",
        "human",
    )
    assert mother["scientificName"] == "Panthera pardus orientalis"
    assert mother["eventID"] == f"alpha-e{registry.leopard_event.pk}"
    machine = next(o for o in media_level if o["classificationMethod"] == "machine")
    assert (machine["individualID"], machine["classificationProbability"]) == ("", "0.87")
    assert machine["classifiedBy"] == "MegaDetector"


def test_every_event_gets_one_event_observation_of_its_content(park, tmp_path):
    registry = build_registry(park)

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    events = {
        o["eventID"]: o
        for o in read_csv(tmp_path / "pkg" / "observations.csv")
        if o["observationLevel"] == "event"
    }
    leopards = events[f"alpha-e{registry.leopard_event.pk}"]
    assert (leopards["observationType"], leopards["count"], leopards["mediaID"]) == (
        "animal",
        "2",
        "",
    )
    assert events[f"alpha-e{registry.blank_event.pk}"]["observationType"] == "blank"
    assert events[f"alpha-e{registry.pending_event.pk}"]["observationType"] == "unclassified"


def test_individuals_resource_lists_seen_leopards_and_their_mothers(park, tmp_path):
    build_registry(park)

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    rows = {r["individualID"]: r for r in read_csv(tmp_path / "pkg" / "individuals.csv")}
    assert set(rows) == {"LEO-001F", "LEO-101"}
    assert rows["LEO-101"]["motherID"] == "LEO-001F"
    assert rows["LEO-001F"]["sex"] == "female"


def test_running_deployment_gets_an_end_and_malfunctions_travel_as_tags(park, tmp_path):
    build_registry(park)

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    rows = {r["locationID"]: r for r in read_csv(tmp_path / "pkg" / "deployments.csv")}
    assert rows["ST-002"]["deploymentEnd"]
    assert rows["ST-001"]["deploymentTags"] == "malfunction:2024-02-01/2024-02-05"
    assert rows["ST-001"]["deploymentStart"] == "2024-01-01T10:00:00+10:00"


def test_date_range_keeps_only_media_of_the_period(park, tmp_path):
    build_registry(park)

    call_command(
        "export_camtrap_dp",
        str(tmp_path / "pkg"),
        "--start",
        "2024-05-01",
        "--end",
        "2024-05-02",
    )

    media = read_csv(tmp_path / "pkg" / "media.csv")
    assert {m["fileName"] for m in media} == {"IMG_0001.JPG", "IMG_0002.JPG"}
    assert validate_offline(tmp_path / "pkg") == []


def test_export_leaves_out_other_parks(park, other_park, tmp_path):
    build_registry(park)
    station = StationFactory(park=other_park, code="B-1")
    PhotoFactory(deployment=DeploymentFactory(station=station))

    package_write(out_dir=tmp_path / "pkg", parks=[park])

    assert "B-1" not in (tmp_path / "pkg" / "deployments.csv").read_text()


def test_a_station_imported_generalised_keeps_its_precision_in_an_exact_export(
    park, scientist, tmp_path
):
    from decimal import Decimal

    from accounts.models import LocationAccessLog
    from traps.models import Station

    build_registry(park)
    # ST-002 came from a package whose coordinates were cell centres.
    Station.objects.filter(code="ST-002").update(coordinate_precision=Decimal("0.1"))

    package_write(out_dir=tmp_path / "pkg", parks=[park], user=scientist, exact_coordinates=True)

    descriptor = json.loads((tmp_path / "pkg" / "datapackage.json").read_text())
    assert descriptor["coordinatePrecision"] == 0.1
    rows = {r["locationID"]: r for r in read_csv(tmp_path / "pkg" / "deployments.csv")}
    assert rows["ST-001"]["coordinateUncertainty"] == ""
    assert rows["ST-002"]["coordinateUncertainty"] != ""
    assert rows["ST-001"]["latitude"] == "43.123456"
    # ST-001's exact position left the registry: that is on record, whatever the package says.
    assert LocationAccessLog.objects.filter(
        user=scientist, what=LocationAccessLog.What.EXPORT
    ).exists()
    assert validate_offline(tmp_path / "pkg") == []
