"""A small hand-built registry, an offline Camtrap DP check and package-writing helpers."""

import csv
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from frictionless import Package
from jsonschema import Draft4Validator

from leopards.models import AgeClass, Flank, Leopard, Sex, Sighting
from tests.factories import (
    DeploymentFactory,
    LeopardFactory,
    PhotoFactory,
    SightingFactory,
    StationFactory,
)
from traps.models import Event, MalfunctionPeriod, Park, Photo

SCHEMAS = Path(__file__).resolve().parents[2] / "exchange" / "camtrap_dp_1_0_2"
CORE = ("deployments", "media", "observations")


def validate_offline(folder: Path) -> list[str]:
    """Check a package strictly against the bundled profile and table schemas, offline."""
    descriptor = json.loads((folder / "datapackage.json").read_text())
    profile = json.loads((SCHEMAS / "camtrap-dp-profile.json").read_text())
    # The two web references (GeoJSON, generic Data Package) cannot be fetched here.
    profile["allOf"] = [part for part in profile["allOf"] if "$ref" not in part]
    profile["allOf"][0]["properties"]["spatial"].pop("$ref")
    problems = [
        f"datapackage.json {list(e.absolute_path)}: {e.message}"
        for e in Draft4Validator(profile).iter_errors(descriptor)
    ]
    for resource in descriptor["resources"]:
        if resource["name"] in CORE:
            resource["schema"] = json.loads(
                (SCHEMAS / f"{resource['name']}-table-schema.json").read_text()
            )
    descriptor.pop("profile")
    report = Package(descriptor, basepath=str(folder)).validate()
    problems += [
        f"{row[0]} row {row[1]}: {row[2]}"
        for row in report.flatten(["type", "rowNumber", "message"])
    ]
    return problems


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Registry:
    park: Park
    mother: Leopard
    kitten: Leopard
    leopard_event: Event
    blank_event: Event
    pending_event: Event


def build_registry(park: Park, identified_by=None) -> Registry:
    """Two stations, two deployments (one still running), three events, three sightings."""
    st1 = StationFactory(
        park=park, code="ST-001", latitude=Decimal("43.123456"), longitude=Decimal("131.654321")
    )
    st2 = StationFactory(
        park=park, code="ST-002", latitude=Decimal("43.356789"), longitude=Decimal("131.912345")
    )
    dep1 = DeploymentFactory(
        station=st1,
        camera_serial="CAM41146",
        start=utc(2024, 1, 1),
        end=utc(2024, 6, 30),
        notes="On the ridge trail.",
    )
    dep2 = DeploymentFactory(station=st2, camera_serial="CAM41147", start=utc(2024, 3, 1), end=None)
    MalfunctionPeriod.objects.create(deployment=dep1, start=date(2024, 2, 1), end=date(2024, 2, 5))
    mother = LeopardFactory(
        code="LEO-001F", name="Kedrovaya", sex=Sex.FEMALE, birth_date=date(2015, 5, 1)
    )
    kitten = LeopardFactory(
        code="LEO-101", sex=Sex.UNKNOWN, birth_date=date(2023, 6, 1), mother=mother
    )

    t0 = utc(2024, 5, 1, 12, 0)
    leopard_event = Event.objects.create(
        deployment=dep1,
        start=t0,
        end=t0 + timedelta(minutes=1),
        status=Event.Status.REVIEWED,
        content=Event.Content.LEOPARD,
    )
    p1 = PhotoFactory(
        deployment=dep1, taken_at=t0, event=leopard_event, original_name="IMG_0001.JPG"
    )
    p2 = PhotoFactory(
        deployment=dep1,
        taken_at=t0 + timedelta(minutes=1),
        event=leopard_event,
        original_name="IMG_0002.JPG",
        exif={"make": "Panthera V4", "model": "CAM41146"},
    )
    SightingFactory(
        photo=p1,
        leopard=mother,
        flank=Flank.LEFT,
        observed_age_class=AgeClass.ADULT,
        identified_by=identified_by,
        identified_at=t0 + timedelta(days=2),
    )
    SightingFactory(
        photo=p1,
        leopard=kitten,
        flank=Flank.RIGHT,
        observed_age_class=AgeClass.KITTEN,
        bbox_x=0.6,
        bbox_y=0.5,
        bbox_w=0.2,
        bbox_h=0.25,
    )
    SightingFactory(
        photo=p2,
        leopard=kitten,
        status=Sighting.Status.PROPOSED,
        flank=Flank.RIGHT,
        bbox_x=0.123456789,
        bbox_y=0.333333333,
        bbox_w=0.2,
        bbox_h=0.1,
    )
    SightingFactory(
        photo=p2,
        leopard=None,
        status=Sighting.Status.PROPOSED,
        source=Sighting.Source.DETECTOR,
        detection_confidence=0.87,
        flank=Flank.UNKNOWN,
    )
    SightingFactory(photo=p2, leopard=None, status=Sighting.Status.REJECTED)
    t1 = utc(2024, 5, 3, 3, 30)
    blank_event = Event.objects.create(
        deployment=dep1,
        start=t1,
        end=t1,
        status=Event.Status.REVIEWED,
        content=Event.Content.BLANK,
    )
    PhotoFactory(deployment=dep1, taken_at=t1, event=blank_event, original_name="IMG_0003.JPG")
    t2 = utc(2024, 4, 2, 20, 0)
    pending_event = Event.objects.create(deployment=dep2, start=t2, end=t2)
    PhotoFactory(deployment=dep2, taken_at=t2, event=pending_event, original_name="IMG_0001.JPG")
    PhotoFactory(deployment=dep2, taken_at=None, status=Photo.Status.PROCESSED)
    return Registry(park, mother, kitten, leopard_event, blank_event, pending_event)
