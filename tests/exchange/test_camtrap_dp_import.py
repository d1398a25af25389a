"""Camtrap DP import: a third-party package, twice, a zip, a refused package, a round trip."""

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from exchange.camtrap_dp.export import package_write, package_zip
from exchange.camtrap_dp.importer import package_import
from exchange.camtrap_dp.validation import PackageInvalid
from exchange.models import DeploymentLink, EventLink, MediaLink, ObservationLink
from leopards.models import AgeClass, Leopard, Sex, Sighting
from tests.exchange.helpers import build_registry, read_csv, write_csv
from tests.factories import LeopardFactory, jpeg_bytes
from traps.models import Deployment, Event, MalfunctionPeriod, Photo, Station

pytestmark = pytest.mark.django_db

V10 = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0"
DEP = "5b6d6a3e-1c1f-4b0a-9d55-2f0e0b8c7a11"


def third_party_package(folder: Path) -> Path:
    """Write a package as another system would: 1.0 URLs, UUIDs and numbers as IDs, few columns."""
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "IMG_1001.JPG").write_bytes(jpeg_bytes(seed=7))
    descriptor = {
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "schema": f"{V10}/{name}-table-schema.json",
            }
            for name in ("deployments", "media", "observations")
        ],
        "profile": f"{V10}/camtrap-dp-profile.json",
        "created": "2024-09-01T10:00:00Z",
        "contributors": [{"title": "Primorye Wildlife Society", "role": "rightsHolder"}],
        "project": {
            "title": "Border leopard survey",
            "samplingDesign": "systematicRandom",
            "captureMethod": ["activityDetection"],
            "individualAnimals": True,
            "observationLevel": ["media", "event"],
        },
        "spatial": {"type": "Point", "coordinates": [130.9, 42.8]},
        "temporal": {"start": "2023-06-01", "end": "2023-08-31"},
        "taxonomic": [{"scientificName": "Panthera pardus"}, {"scientificName": "Sus scrofa"}],
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    write_csv(
        folder / "deployments.csv",
        [
            {
                "deploymentID": DEP,
                "locationID": "loc-A",
                "locationName": "Gully spring",
                "latitude": 42.812345,
                "longitude": 130.912345,
                "deploymentStart": "2023-06-01T08:00:00+09:00",
                "deploymentEnd": "2023-08-31T18:00:00+09:00",
                "cameraModel": "Browning BTC-8E",
            }
        ],
    )
    media = [
        ("1001", "2023-07-04T21:10:00+09:00", "media/IMG_1001.JPG"),
        ("1002", "2023-07-04T21:10:05+09:00", "https://example.org/assets/1002/file"),
        ("1003", "2023-07-10T03:00:00+09:00", "https://example.org/assets/1003/file"),
        ("1004", "2023-08-01T12:00:00+09:00", "https://example.org/assets/1004/file"),
    ]
    write_csv(
        folder / "media.csv",
        [
            {
                "mediaID": media_id,
                "deploymentID": DEP,
                "timestamp": ts,
                "filePath": path,
                "filePublic": "true",
                "fileName": f"IMG_{media_id}.JPG",
                "fileMediatype": "image/jpeg",
            }
            for media_id, ts, path in media
        ],
    )
    base = {"deploymentID": DEP, "mediaID": "", "eventID": ""}
    write_csv(
        folder / "observations.csv",
        [
            {
                **base,
                "observationID": "obs-1",
                "eventID": "seq-1",
                "eventStart": "2023-07-04T21:10:00+09:00",
                "eventEnd": "2023-07-04T21:10:05+09:00",
                "observationLevel": "event",
                "observationType": "animal",
                "scientificName": "Panthera pardus",
                "count": 1,
                "lifeStage": "adult",
                "sex": "female",
                "individualID": "AMUR-F7",
                "classificationMethod": "human",
                "classifiedBy": "Olga Petrova",
            },
            {
                **base,
                "observationID": "obs-2",
                "mediaID": "1001",
                "eventID": "seq-1",
                "eventStart": "2023-07-04T21:10:00+09:00",
                "eventEnd": "2023-07-04T21:10:00+09:00",
                "observationLevel": "media",
                "observationType": "animal",
                "scientificName": "Panthera pardus orientalis",
                "count": 1,
                "lifeStage": "juvenile",
                "sex": "male",
                "individualID": "AMUR-M2",
                "bboxX": 0.25,
                "bboxY": 0.4,
                "bboxWidth": 0.3,
                "bboxHeight": 0.2,
                "classificationMethod": "human",
                "classifiedBy": "Olga Petrova",
            },
            {
                **base,
                "observationID": "obs-3",
                "eventID": "seq-2",
                "eventStart": "2023-07-10T03:00:00+09:00",
                "eventEnd": "2023-07-10T03:00:00+09:00",
                "observationLevel": "event",
                "observationType": "blank",
            },
            {
                **base,
                "observationID": "obs-4",
                "mediaID": "1004",
                "eventStart": "2023-08-01T12:00:00+09:00",
                "eventEnd": "2023-08-01T12:00:00+09:00",
                "observationLevel": "media",
                "observationType": "animal",
                "scientificName": "Sus scrofa",
                "count": 3,
            },
        ],
    )
    return folder


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Station,
            Deployment,
            MalfunctionPeriod,
            Photo,
            Event,
            Sighting,
            Leopard,
            DeploymentLink,
            MediaLink,
            EventLink,
            ObservationLink,
        )
    }


def test_third_party_package_imports_stations_media_events_and_sightings(park, tmp_path):
    known = LeopardFactory(code="AMUR-F7", sex=Sex.UNKNOWN)
    folder = third_party_package(tmp_path / "pkg")

    summary = package_import(path=folder, park=park)

    station = Station.objects.get(park=park)
    assert (station.code, str(station.latitude)) == ("loc-A", "42.812345")
    deployment = Deployment.objects.get(station=station)
    assert deployment.exchange_link.identifier == DEP
    assert deployment.camera_model == "Browning BTC-8E"
    photos = {p.media_link.identifier: p for p in Photo.objects.select_related("media_link")}
    assert set(photos) == {"1001", "1002", "1003", "1004"}
    stored = photos["1001"]
    assert stored.media_link.stored and stored.file and stored.thumbnail
    assert stored.status == Photo.Status.PROCESSED
    assert stored.taken_at.isoformat() == "2023-07-04T12:10:00+00:00"
    remote = photos["1002"]
    assert not remote.media_link.stored and not remote.file
    assert remote.media_link.file_path == "https://example.org/assets/1002/file"
    seq1 = Event.objects.get(exchange_link__identifier="seq-1")
    assert set(seq1.photos.values_list("media_link__identifier", flat=True)) == {"1001", "1002"}
    assert (seq1.content, seq1.status) == (Event.Content.LEOPARD, Event.Status.REVIEWED)
    assert Event.objects.get(exchange_link__identifier="seq-2").content == Event.Content.BLANK
    assert photos["1004"].event.content == Event.Content.OTHER_SPECIES
    kitten = Sighting.objects.get(leopard__code="AMUR-M2")
    assert (kitten.photo, kitten.observed_age_class, kitten.bbox_w) == (
        stored,
        AgeClass.KITTEN,
        0.3,
    )
    assert kitten.leopard.sex == Sex.MALE
    assert (kitten.status, kitten.source) == (Sighting.Status.CONFIRMED, Sighting.Source.IMPORT)
    assert kitten.exchange_link.classified_by == "Olga Petrova"
    mother = Sighting.objects.get(leopard=known)
    assert mother.photo == stored and not mother.has_box
    known.refresh_from_db()
    assert known.sex == Sex.FEMALE
    assert summary.created["photos"] == 4
    # The other species is a taxon of the list now, named in the event's review.
    boar = photos["1004"].event.review.species
    assert boar.scientific_name == "Sus scrofa"
    assert not any("other species" in w for w in summary.warning_texts)


def test_importing_the_same_package_twice_creates_nothing_twice(park, tmp_path):
    folder = third_party_package(tmp_path / "pkg")
    package_import(path=folder, park=park)
    before = counts()

    summary = package_import(path=folder, park=park)

    assert counts() == before
    assert summary.created_total == 0
    assert summary.existing["photos"] == 4


def test_zip_package_imports_like_a_folder(park, tmp_path):
    folder = third_party_package(tmp_path / "pkg")
    archive = package_zip(folder, tmp_path / "package.zip")

    call_command("import_camtrap_dp", str(archive), "--park", "alpha")

    assert Photo.objects.count() == 4
    assert MediaLink.objects.get(identifier="1001").stored


def test_invalid_package_is_refused_with_every_problem_and_nothing_written(park, tmp_path):
    folder = third_party_package(tmp_path / "pkg")
    media = read_csv(folder / "media.csv")
    media[1]["timestamp"] = ""  # a required field left empty
    write_csv(folder / "media.csv", media)
    observations = read_csv(folder / "observations.csv")
    observations[2]["deploymentID"] = "no-such-deployment"  # a foreign key to nothing
    observations[1]["lifeStage"] = "kitten"  # not in the enum
    write_csv(folder / "observations.csv", observations)
    before = counts()

    with pytest.raises(PackageInvalid) as refused:
        package_import(path=folder, park=park)

    text = "\n".join(str(p) for p in refused.value.problems)
    assert "timestamp" in text
    assert "no-such-deployment" in text
    assert "kitten" in text
    assert counts() == before


def test_package_missing_a_required_column_is_refused(park, tmp_path):
    folder = third_party_package(tmp_path / "pkg")
    rows = read_csv(folder / "media.csv")
    write_csv(
        folder / "media.csv", [{k: v for k, v in r.items() if k != "filePublic"} for r in rows]
    )

    with pytest.raises(CommandError):
        call_command("import_camtrap_dp", str(folder), "--park", "alpha")

    assert Photo.objects.count() == 0


def test_package_without_its_descriptor_is_refused(park, tmp_path):
    folder = third_party_package(tmp_path / "pkg")
    (folder / "datapackage.json").unlink()

    with pytest.raises(PackageInvalid) as refused:
        package_import(path=folder, park=park)

    assert "datapackage.json" in str(refused.value.problems[0])


def test_a_failure_half_way_leaves_nothing_behind(park, tmp_path, monkeypatch):
    folder = third_party_package(tmp_path / "pkg")
    before = counts()

    def explode(self, row, photo):
        raise RuntimeError("disk full")

    monkeypatch.setattr("exchange.camtrap_dp.importer._Importer.sighting", explode)
    with pytest.raises(RuntimeError):
        package_import(path=folder, park=park)

    assert counts() == before


def _wipe_records() -> None:
    ObservationLink.objects.all().delete()
    Sighting.objects.all().delete()
    Photo.objects.all().delete()
    Event.objects.all().delete()
    Deployment.objects.all().delete()
    Station.objects.all().delete()
    Leopard.objects.update(mother=None)
    Leopard.objects.all().delete()


def _rows(folder: Path, name: str) -> list[tuple]:
    return sorted(tuple(sorted(row.items())) for row in read_csv(folder / f"{name}.csv"))


def test_round_trip_export_import_export_carries_the_same_records(park, scientist, tmp_path):
    build_registry(park, identified_by=scientist)
    first = tmp_path / "first"
    package_write(out_dir=first, parks=[park])
    _wipe_records()
    assert Photo.objects.count() == 0

    package_import(path=first, park=park)
    second = tmp_path / "second"
    package_write(out_dir=second, parks=[park])

    for name in ("deployments", "media", "observations", "individuals"):
        assert _rows(first, name) == _rows(second, name), name
    one, two = (json.loads((f / "datapackage.json").read_text()) for f in (first, second))
    for key in ("id", "created"):
        one.pop(key), two.pop(key)
    assert one == two


def test_registry_export_sent_back_to_the_same_registry_adds_nothing(park, tmp_path):
    build_registry(park)
    package_write(out_dir=tmp_path / "pkg", parks=[park], exact_coordinates=True)
    shutil.rmtree(tmp_path / "pkg" / "media", ignore_errors=True)
    before = {k: v for k, v in counts().items() if not k.endswith("Link")}

    summary = package_import(path=tmp_path / "pkg", park=park)

    assert {k: v for k, v in counts().items() if not k.endswith("Link")} == before
    assert summary.created_total == 0
