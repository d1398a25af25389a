"""A package is imported a batch of rows at a time: the same records, whatever the batch size."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange.camtrap_dp import importer
from exchange.camtrap_dp.importer import package_import
from exchange.models import MediaLink, Observation, ObservationLink
from tests.exchange.helpers import utc, write_csv
from tests.factories import ParkFactory
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db

SCHEMA = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2"
START = utc(2024, 3, 1)


def generated_package(folder: Path, media: int) -> Path:
    """Write a package of two deployments: events of two photos, and photos in no event.

    Photos are three minutes apart, with an hour's pause after the eighth of each
    deployment. Every fourth photo is named by no observation: those are grouped by
    the independence interval (30 minutes), into groups that run across batches.
    """
    folder.mkdir(parents=True)
    descriptor = {
        "profile": f"{SCHEMA}/camtrap-dp-profile.json",
        "name": "generated",
        "created": "2026-12-01T00:00:00Z",
        "contributors": [{"title": "A partner", "role": "rightsHolder"}],
        "project": {
            "title": "Generated survey",
            "samplingDesign": "targeted",
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media", "event"],
        },
        "spatial": {"type": "Point", "coordinates": [131.0, 43.0]},
        "temporal": {"start": "2024-03-01", "end": "2024-03-31"},
        "taxonomic": [{"scientificName": "Sus scrofa"}, {"scientificName": "Capreolus pygargus"}],
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "schema": f"{SCHEMA}/{name}-table-schema.json",
            }
            for name in ("deployments", "media", "observations")
        ],
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    write_csv(
        folder / "deployments.csv",
        [
            {
                "deploymentID": f"dep{d}",
                "locationID": f"LOC-{d}",
                "latitude": 43.1 + d / 100,
                "longitude": 131.1,
                "deploymentStart": START.isoformat(),
                "deploymentEnd": (START + timedelta(days=30)).isoformat(),
            }
            for d in range(2)
        ],
    )
    media_rows, observations = [], []
    for m in range(media):
        dep = f"dep{m % 2}"
        n = m // 2
        at = START + timedelta(minutes=3 * n, hours=n // 8)
        media_rows.append(
            {
                "mediaID": f"m{m}",
                "deploymentID": dep,
                "timestamp": at.isoformat(),
                "filePath": f"https://example.org/m{m}.jpg",
                "filePublic": "true",
                "fileName": f"m{m}.jpg",
                "fileMediatype": "image/jpeg",
            }
        )
        if n % 4 == 3:
            continue  # in no event: grouped by time
        event = f"ev-{dep}-{n // 4}"
        species = "Sus scrofa" if m % 3 else "Capreolus pygargus"
        observations.append(
            {
                "observationID": f"o{m}",
                "deploymentID": dep,
                "mediaID": f"m{m}",
                "eventID": event,
                "eventStart": at.isoformat(),
                "eventEnd": at.isoformat(),
                "observationLevel": "media",
                "observationType": "animal",
                "scientificName": species,
                "count": 1,
            }
        )
        if n % 4 == 2:
            observations.append(
                {
                    "observationID": f"e{m}",
                    "deploymentID": dep,
                    "mediaID": "",
                    "eventID": event,
                    "eventStart": (at - timedelta(minutes=6)).isoformat(),
                    "eventEnd": at.isoformat(),
                    "observationLevel": "event",
                    "observationType": "animal",
                    "scientificName": species,
                    "count": 1,
                    "classificationMethod": "human",
                }
            )
    write_csv(folder / "media.csv", media_rows)
    write_csv(folder / "observations.csv", observations)
    return folder


def _records(park) -> dict:
    """What an import made, by the package's identifiers (a park's own keys differ)."""
    media_of = dict(
        MediaLink.objects.filter(photo__deployment__station__park=park).values_list(
            "photo_id", "identifier"
        )
    )
    by_event: dict[int, set[str]] = {}
    for photo_pk, event_pk in Photo.objects.filter(deployment__station__park=park).values_list(
        "pk", "event_id"
    ):
        by_event.setdefault(event_pk, set()).add(media_of[photo_pk])
    events = {
        event.pk: (event.start, event.end, event.content, event.status)
        for event in Event.objects.filter(deployment__station__park=park)
    }
    return {
        "events": sorted((sorted(by_event[pk]), *events[pk]) for pk in by_event),
        "observations": sorted(
            (identifier, media, event is not None, name)
            for identifier, media, event, name in Observation.objects.filter(
                deployment__station__park=park
            ).values_list(
                "identifier", "photo__media_link__identifier", "event_id", "scientific_name"
            )
        ),
        "event links": ObservationLink.objects.filter(
            event__deployment__station__park=park
        ).count(),
    }


def test_batches_of_one_row_make_the_same_records_as_one_batch(
    park, other_park, tmp_path, monkeypatch
):
    package = generated_package(tmp_path / "pkg", 24)
    whole = package_import(path=package, park=park)
    monkeypatch.setattr(importer, "BATCH_ROWS", 1)
    monkeypatch.setattr(importer, "BATCH_EVENTS", 2)

    batched = package_import(path=package, park=other_park)

    assert _records(other_park) == _records(park)
    assert dict(batched.created) == dict(whole.created)
    # 24 photos: 18 in the package's 6 events, 6 grouped by time into 2 more per deployment
    # (two photos 12 minutes apart, one after the hour's pause).
    assert whole.created["photos"] == 24
    assert whole.created["events"] == 6 + 4
    assert sorted(len(photos) for photos, *_ in _records(park)["events"]) == [1, 1, 2, 2] + [3] * 6
    assert whole.created["observations"] == 18 + 6


def test_a_second_import_in_batches_creates_nothing(park, tmp_path, monkeypatch):
    package = generated_package(tmp_path / "pkg", 16)
    monkeypatch.setattr(importer, "BATCH_ROWS", 3)
    package_import(path=package, park=park)
    before = _records(park)

    again = package_import(path=package, park=park)

    assert again.created_total == 0
    assert _records(park) == before


def test_the_import_asks_the_database_as_often_for_twice_the_rows(park, other_park, tmp_path):
    def queries(target, media: int) -> int:
        package = generated_package(tmp_path / f"p{media}", media)
        with CaptureQueriesContext(connection) as captured:
            package_import(path=package, park=target)
        return len(captured.captured_queries)

    # The first import adds the two taxa; the two measured find them.
    package_import(path=generated_package(tmp_path / "first", 4), park=ParkFactory(code="gamma"))
    # Both fit in one batch (and in one insert of SQLite's): each table is asked once
    # per batch, not once per row.
    assert queries(park, 8) == queries(other_park, 16)


def test_progress_is_told_once_per_batch_up_to_every_row(park, tmp_path, monkeypatch):
    package = generated_package(tmp_path / "pkg", 16)  # 16 media, 16 observations
    monkeypatch.setattr(importer, "BATCH_ROWS", 5)
    told: list[tuple[int, int]] = []

    package_import(path=package, park=park, progress=lambda done, total: told.append((done, total)))

    # 4 batches of media (5, 5, 5, 1), then 4 of observations (5, 5, 5, 1).
    assert told == [(n, 32) for n in (5, 10, 15, 16, 21, 26, 31, 32)]


def test_repeated_ids_and_references_to_nothing_are_refused_by_row(park, tmp_path):
    from exchange.camtrap_dp.validation import PackageInvalid
    from tests.exchange.helpers import read_csv

    package = generated_package(tmp_path / "pkg", 8)
    media = read_csv(package / "media.csv")
    media[3]["mediaID"] = media[1]["mediaID"]  # m1 twice: rows 3 and 5
    write_csv(package / "media.csv", media)
    observations = read_csv(package / "observations.csv")
    observations[0]["mediaID"] = "m99"  # no such media
    write_csv(package / "observations.csv", observations)

    with pytest.raises(PackageInvalid) as refused:
        package_import(path=package, park=park)

    problems = [str(p) for p in refused.value.problems]
    assert "media.csv, row 5: mediaID “m1” is already on row 3; it must be unique." in problems
    assert "observations.csv, row 2: mediaID “m99” is not in the media table." in problems
    assert Photo.objects.count() == 0
