"""Write the registry's records as a Camtrap DP 1.0.2 package (a folder or a zip)."""

import json
import logging
import shutil
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import slugify

from leopards.models import Leopard, Sex, Sighting
from leopards.selectors.catalogue import leopards_for_user
from traps.exchange import selectors
from traps.exchange.camtrap_dp import mapping
from traps.exchange.camtrap_dp.validation import PROFILE_URL, table_schema, table_schema_url
from traps.models import Deployment, Event, Park, Photo
from traps.privacy import (
    EXACT_PRECISION,
    Coordinates,
    can_see_exact,
    coordinates_for,
    generalise,
    no_finer_than_stored,
)
from traps.security import exif
from traps.security.models import LocationAccessLog
from traps.security.services import location_access_log
from traps.spreadsheets import SpreadsheetDictWriter

logger = logging.getLogger(__name__)

INDIVIDUALS_SCHEMA: dict[str, Any] = {
    "fields": [
        {
            "name": "individualID",
            "type": "string",
            "constraints": {"required": True, "unique": True},
        },
        {"name": "individualName", "type": "string"},
        {"name": "scientificName", "type": "string"},
        {"name": "sex", "type": "string", "constraints": {"enum": ["female", "male"]}},
        {"name": "birthDate", "type": "date"},
        {
            "name": "birthDatePrecision",
            "type": "string",
            "constraints": {"enum": [c.value for c in Leopard.BirthPrecision]},
        },
        {"name": "motherID", "type": "string"},
        {
            "name": "status",
            "type": "string",
            "constraints": {"enum": [c.value for c in Leopard.Status]},
        },
    ],
    "missingValues": [""],
    "primaryKey": "individualID",
    "foreignKeys": [
        {"fields": "motherID", "reference": {"resource": "", "fields": "individualID"}}
    ],
}


@dataclass
class ExportSummary:
    path: Path
    deployments: int = 0
    media: int = 0
    observations: int = 0
    individuals: int = 0
    coordinate_precision: float = EXACT_PRECISION
    skipped_untimed_photos: int = 0
    warnings: list[str] = field(default_factory=list)


def deployment_id(deployment: Deployment) -> str:
    link = getattr(deployment, "exchange_link", None)
    return link.identifier if link else f"{deployment.station.park.code}-d{deployment.pk}"


def media_id(photo: Photo) -> str:
    link = getattr(photo, "media_link", None)
    # A stored file's hash names it in any registry, so a package sent back here matches it.
    return link.identifier if link else photo.sha256


def event_id(event: Event, park: Park) -> str:
    link = getattr(event, "exchange_link", None)
    return link.identifier if link else f"{park.code}-e{event.pk}"


def _columns(name: str) -> list[str]:
    return [f["name"] for f in table_schema(name)["fields"]]


def _coordinates(
    park: Park, deployment: Deployment, user: AbstractBaseUser | None, exact: bool
) -> Coordinates:
    station = deployment.station
    if user is None:
        # The command line is an operator's action: exact only when asked for.
        if exact:
            return Coordinates(float(station.latitude), float(station.longitude), EXACT_PRECISION)
        return generalise(station.latitude, station.longitude)
    return coordinates_for(user, park, station.latitude, station.longitude, want_exact=exact)


def _deployment_row(
    deployment: Deployment, coordinates: Coordinates, end_now: str, tz: Any
) -> dict[str, str]:
    malfunctions = mapping.TAG_SEPARATOR.join(
        f"malfunction:{m.start.isoformat()}/{m.end.isoformat()}"
        for m in deployment.malfunctions.all()
    )
    return {
        "deploymentID": deployment_id(deployment),
        "locationID": deployment.station.code,
        "locationName": deployment.station.code,
        "latitude": mapping.number(coordinates.latitude),
        "longitude": mapping.number(coordinates.longitude),
        "coordinateUncertainty": ""
        if coordinates.exact
        else str(mapping.cell_uncertainty_m(coordinates.latitude, coordinates.precision)),
        "deploymentStart": mapping.timestamp(deployment.start, tz),
        # Camtrap DP needs an end: a camera still out is exported up to now.
        "deploymentEnd": mapping.timestamp(deployment.end, tz) if deployment.end else end_now,
        "cameraID": deployment.camera_serial,
        "cameraModel": deployment.camera_model,
        "deploymentGroups": f"park:{deployment.station.park.code}",
        "deploymentTags": malfunctions,
        # Notes can describe the place; they travel only with exact coordinates.
        "deploymentComments": deployment.notes if coordinates.exact else "",
    }


def _media_row(photo: Photo, dep_id: str, tz: Any) -> dict[str, str]:
    link = getattr(photo, "media_link", None)
    if link is not None and not link.stored:
        path, public = link.file_path, link.file_public
    else:
        path, public = _stored_media_path(photo), False
    return {
        "mediaID": media_id(photo),
        "deploymentID": dep_id,
        "captureMethod": "activityDetection",
        "timestamp": mapping.timestamp(photo.taken_at, tz),
        "filePath": path,
        "filePublic": mapping.boolean(public),
        "fileName": photo.original_name,
        "fileMediatype": getattr(photo, "media_type", "") or mapping.media_type_of(path),
        "exifData": mapping.exif_json(photo.exif),
    }


def _stored_media_path(photo: Photo) -> str:
    suffix = Path(photo.file.name).suffix or ".jpg"
    return f"media/{photo.sha256}{suffix}"


def _classified_by(sighting: Sighting) -> str:
    link = getattr(sighting, "exchange_link", None)
    if link is not None and link.classified_by:
        return link.classified_by
    if sighting.source == Sighting.Source.DETECTOR and sighting.status == Sighting.Status.PROPOSED:
        result = getattr(sighting.photo, "detector_result", None)
        return (result.detector if result else "") or "MegaDetector"
    person = sighting.identified_by
    if person is None:
        return ""
    return person.get_full_name() or person.get_username()


def _sighting_row(
    sighting: Sighting, park: Park, photo_row: dict[str, str], photo: Photo, tz: Any
) -> dict[str, str]:
    machine = (
        sighting.source == Sighting.Source.DETECTOR and sighting.status == Sighting.Status.PROPOSED
    )
    confirmed = sighting.status == Sighting.Status.CONFIRMED and sighting.leopard_id is not None
    leopard = sighting.leopard if confirmed else None
    link = getattr(sighting, "exchange_link", None)
    return {
        "observationID": link.identifier if link else f"{park.code}-s{sighting.pk}",
        "deploymentID": photo_row["deploymentID"],
        "mediaID": photo_row["mediaID"],
        "eventID": event_id(photo.event, park) if photo.event_id else "",
        "eventStart": photo_row["timestamp"],
        "eventEnd": photo_row["timestamp"],
        "observationLevel": "media",
        "observationType": "animal",
        "scientificName": mapping.LEOPARD_NAME,
        "count": "1",
        "lifeStage": mapping.LIFE_STAGE.get(sighting.observed_age_class, ""),
        "sex": leopard.sex if leopard and leopard.sex != Sex.UNKNOWN else "",
        "individualID": leopard.code if leopard else "",
        "bboxX": mapping.number(sighting.bbox_x),
        "bboxY": mapping.number(sighting.bbox_y),
        "bboxWidth": mapping.number(sighting.bbox_w),
        "bboxHeight": mapping.number(sighting.bbox_h),
        "classificationMethod": "machine" if machine else "human",
        "classifiedBy": _classified_by(sighting),
        "classificationTimestamp": mapping.timestamp(sighting.identified_at, tz)
        if sighting.identified_at
        else "",
        "classificationProbability": mapping.number(sighting.detection_confidence)
        if machine
        else "",
        "observationTags": mapping.tags_format(
            {"flank": sighting.flank, "status": sighting.status}
        ),
    }


def _event_row(event: Event, park: Park, dep_id: str, count: int | None, tz: Any) -> dict[str, str]:
    links = list(event.observation_links.all())
    identifier = event_id(event, park)
    leopard = event.content == Event.Content.LEOPARD
    return {
        "observationID": links[0].identifier if links else f"{identifier}-obs",
        "deploymentID": dep_id,
        "mediaID": "",
        "eventID": identifier,
        "eventStart": mapping.timestamp(event.start, tz),
        "eventEnd": mapping.timestamp(event.end, tz),
        "observationLevel": "event",
        "observationType": mapping.EVENT_TYPE[event.content],
        "scientificName": mapping.LEOPARD_NAME if leopard else "",
        "count": str(count) if leopard and count else "",
        "classificationMethod": "human" if event.status == Event.Status.REVIEWED else "",
        "classifiedBy": links[0].classified_by if links else "",
    }


class _Writer:
    """A CSV file with the columns of a Camtrap DP table, in the schema's order."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self.writer = SpreadsheetDictWriter(self.fh, fieldnames=columns, extrasaction="raise")
        self.writer.writeheader()
        self.count = 0

    def write(self, row: dict[str, str]) -> None:
        self.writer.writerow(row)
        self.count += 1

    def close(self) -> None:
        self.fh.close()


def package_write(
    *,
    out_dir: Path,
    parks: Iterable[Park],
    start: date | None = None,
    end: date | None = None,
    exact_coordinates: bool = False,
    user: AbstractBaseUser | None = None,
    include_media: bool = False,
) -> ExportSummary:
    """Write a Camtrap DP package of the parks' records into out_dir.

    Coordinates are generalised to the 0.1 degree grid unless exact ones are
    asked for and the user may see them (user None is the command line's
    operator). Photos without a capture time cannot be media records and are
    counted, not written.
    """
    parks = list(parks)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(path=out_dir)
    writers = {name: _Writer(out_dir / f"{name}.csv", _columns(name)) for name in mapping_tables()}
    points: list[tuple[float, float]] = []
    precisions: list[float] = []
    gave_exact = False
    starts, ends = [], []
    leopard_ids: set[int] = set()
    now = timezone.now().replace(microsecond=0)
    try:
        for park in parks:
            tz = park.tzinfo
            # Photos hold the camera's position: originals only where exact coordinates go.
            media_exact = exact_coordinates and (user is None or can_see_exact(user, park))
            deployments = selectors.export_deployments(park, start=start, end=end)
            dep_ids: dict[int, str] = {}
            for deployment in deployments:
                coordinates = _coordinates(park, deployment, user, exact_coordinates)
                # Stored coordinates went out as they are: that is what the log records.
                gave_exact = gave_exact or coordinates.exact
                coordinates = no_finer_than_stored(coordinates, deployment.station)
                row = _deployment_row(deployment, coordinates, mapping.timestamp(now, tz), tz)
                writers["deployments"].write(row)
                dep_ids[deployment.pk] = row["deploymentID"]
                points.append((coordinates.longitude, coordinates.latitude))
                precisions.append(coordinates.precision)
                starts.append(deployment.start.astimezone(tz).date())
                ends.append((deployment.end or now).astimezone(tz).date())
            if not dep_ids:
                continue
            photos = selectors.export_photos(deployments, park=park, start=start, end=end)
            summary.skipped_untimed_photos += Photo.objects.filter(
                deployment__in=deployments, taken_at__isnull=True
            ).count()
            media_rows: dict[int, dict[str, str]] = {}
            photos_by_pk: dict[int, Photo] = {}
            for photo in photos.iterator(chunk_size=2000):
                row = _media_row(photo, dep_ids[photo.deployment_id], tz)
                writers["media"].write(row)
                media_rows[photo.pk] = row
                photos_by_pk[photo.pk] = photo
                if include_media and photo.file and not _hidden(photo):
                    _copy_file(photo, out_dir / row["filePath"], exact=media_exact)
            per_photo: dict[int, int] = defaultdict(int)
            individuals_per_event: dict[int, set[int]] = defaultdict(set)
            sighting_rows = []
            for sighting in selectors.export_sightings(photos).iterator(chunk_size=2000):
                photo = photos_by_pk[sighting.photo_id]
                sighting.photo = photo
                row = _sighting_row(sighting, park, media_rows[photo.pk], photo, tz)
                sighting_rows.append(row)
                if photo.event_id:
                    per_photo[photo.pk] += 1
                    if row["individualID"]:
                        individuals_per_event[photo.event_id].add(sighting.leopard_id)
                if row["individualID"]:
                    leopard_ids.add(sighting.leopard_id)
            most_per_event: dict[int, int] = defaultdict(int)
            for photo_pk, n in per_photo.items():
                event_pk = photos_by_pk[photo_pk].event_id
                most_per_event[event_pk] = max(most_per_event[event_pk], n)
            for event in selectors.export_events(photos):
                count = max(most_per_event[event.pk], len(individuals_per_event[event.pk]))
                writers["observations"].write(
                    _event_row(event, park, dep_ids[event.deployment_id], count, tz)
                )
            for row in sighting_rows:
                writers["observations"].write(row)
    finally:
        for writer in writers.values():
            writer.close()
    summary.deployments = writers["deployments"].count
    summary.media = writers["media"].count
    summary.observations = writers["observations"].count
    summary.individuals = _write_individuals(out_dir / "individuals.csv", leopard_ids, user)
    summary.coordinate_precision = max(precisions, default=EXACT_PRECISION)
    descriptor = _descriptor(
        parks=parks,
        user=user,
        points=points,
        start=min(starts, default=None),
        end=max(ends, default=None),
        precision=summary.coordinate_precision,
        include_media=include_media,
    )
    with open(out_dir / "datapackage.json", "w", encoding="utf-8") as fh:
        json.dump(descriptor, fh, ensure_ascii=False, indent=2)
    if exact_coordinates and gave_exact:
        # Who took exact locations out of the registry is on record.
        location_access_log(
            user=user,
            parks=parks,
            what=LocationAccessLog.What.EXPORT,
            detail=f"Camtrap DP package {start or ''}..{end or ''}",
        )
    return summary


def mapping_tables() -> tuple[str, ...]:
    return ("deployments", "media", "observations")


def _hidden(photo: Photo) -> bool:
    result = getattr(photo, "detector_result", None)
    return bool(result and result.shows_person)


def _copy_file(photo: Photo, target: Path, *, exact: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if exact:
        with default_storage.open(photo.file.name, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return
    with default_storage.open(photo.file.name, "rb") as src:
        try:
            rebuilt = exif.without_location(src.read())
        except exif.NotAnImage:
            logger.warning("photo %s left out of the package: its pixels do not decode", photo.pk)
            return
    target.write_bytes(rebuilt.data)


def _individuals_closure(leopard_ids: set[int], user: AbstractBaseUser | None) -> list[Leopard]:
    """Return the leopards and, for the motherID links, their mothers' line.

    A mother seen only in parks the user does not belong to does not exist for them,
    so the line stops there (the command line's operator, user None, sees every park).
    """
    wanted = set(leopard_ids)
    frontier = set(leopard_ids)
    while frontier:
        mothers = set(
            Leopard.objects.filter(pk__in=frontier, mother__isnull=False).values_list(
                "mother_id", flat=True
            )
        )
        if user is not None and mothers:
            mothers = set(
                leopards_for_user(user).filter(pk__in=mothers).values_list("pk", flat=True)
            )
        frontier = mothers - wanted
        wanted |= frontier
    return list(Leopard.objects.filter(pk__in=wanted).select_related("mother").order_by("code"))


def _write_individuals(path: Path, leopard_ids: set[int], user: AbstractBaseUser | None) -> int:
    leopards = _individuals_closure(leopard_ids, user)
    written = {leopard.pk for leopard in leopards}
    columns = [f["name"] for f in INDIVIDUALS_SCHEMA["fields"]]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = SpreadsheetDictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for leopard in leopards:
            writer.writerow(
                {
                    "individualID": leopard.code,
                    "individualName": leopard.name,
                    "scientificName": mapping.LEOPARD_NAME,
                    "sex": "" if leopard.sex == Sex.UNKNOWN else leopard.sex,
                    "birthDate": leopard.birth_date.isoformat() if leopard.birth_date else "",
                    "birthDatePrecision": leopard.birth_date_precision
                    if leopard.birth_date
                    else "",
                    "motherID": leopard.mother.code if leopard.mother_id in written else "",
                    "status": leopard.status,
                }
            )
    return len(leopards)


def _spatial(points: list[tuple[float, float]]) -> dict[str, Any]:
    if not points:
        return {"type": "GeometryCollection", "geometries": []}
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if len(set(points)) == 1:
        return {"type": "Point", "coordinates": [xs[0], ys[0]]}
    west, south, east, north = min(xs), min(ys), max(xs), max(ys)
    if west == east or south == north:
        return {"type": "MultiPoint", "coordinates": [list(p) for p in sorted(set(points))]}
    return {
        "type": "Polygon",
        "bbox": [west, south, east, north],
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


def _descriptor(
    *,
    parks: list[Park],
    user: AbstractBaseUser | None,
    points: list[tuple[float, float]],
    start: date | None,
    end: date | None,
    precision: float,
    include_media: bool,
) -> dict[str, Any]:
    today = timezone.now().date()
    names = ", ".join(p.name for p in parks) or "Leopard registry"
    resources: list[dict[str, Any]] = [
        {
            "name": name,
            "path": f"{name}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": table_schema_url(name),
        }
        for name in mapping_tables()
    ]
    resources.append(
        {
            "name": "individuals",
            "description": "Individual Amur leopards told apart by their rosette pattern "
            "(not part of the Camtrap DP model); observations.individualID refers to it.",
            "path": "individuals.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": INDIVIDUALS_SCHEMA,
        }
    )
    contributors: list[dict[str, Any]] = [
        {"title": park.name, "role": "rightsHolder"} for park in parks
    ]
    if user is not None:
        contributors.append(
            {"title": user.get_full_name() or user.get_username(), "role": "contributor"}
        )
    generalised = precision > EXACT_PRECISION
    description = (
        "Camera-trap records of the Amur leopard exported from the leopard registry. "
        + (
            f"Station coordinates are generalised to the centre of a {precision} degree grid "
            "cell to protect the animals from poaching. "
            if generalised
            else "Station coordinates are exact: handle this package as confidential. "
        )
        + (
            "Photo files are included under media/."
            if include_media
            else "Photo files are not included; filePath names each file as the registry stores it."
        )
    )
    codes = "-".join(slugify(p.code) for p in parks) or "empty"
    return {
        "resources": resources,
        "profile": PROFILE_URL,
        "name": f"leopard-registry-{codes}-{today:%Y%m%d}"[:100],
        "id": str(uuid.uuid4()),
        "created": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "title": f"Amur leopard camera traps: {names}",
        "description": description,
        "contributors": contributors,
        "sources": [{"title": "Leopard registry", "version": "1"}],
        "project": {
            "title": f"Amur leopard camera-trap monitoring: {names}",
            "description": "Camera-trap monitoring of the Amur (Far Eastern) leopard, "
            "with individuals identified by their rosette patterns.",
            "samplingDesign": "targeted",
            "captureMethod": ["activityDetection"],
            "individualAnimals": True,
            "observationLevel": ["media", "event"],
        },
        "coordinatePrecision": precision,
        "spatial": _spatial(points),
        "temporal": {
            "start": (start or today).isoformat(),
            "end": (end or start or today).isoformat(),
        },
        "taxonomic": [mapping.TAXON],
    }


def package_zip(source_dir: Path, target: Path | IO[bytes]) -> Path | IO[bytes]:
    """Pack a package folder into a zip (path or open file), datapackage.json at its root."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source_dir).as_posix())
    return target
