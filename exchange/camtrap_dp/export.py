"""Write the registry's records as a Camtrap DP 1.0.2 package (a folder or a zip)."""

import json
import logging
import shutil
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify

from accounts import exif
from accounts.models import LocationAccessLog
from accounts.privacy import (
    EXACT_PRECISION,
    Coordinates,
    can_see_exact,
    coordinates_for,
    generalise,
    no_finer_than_stored,
)
from accounts.services import location_access_log
from exchange import selectors
from exchange.camtrap_dp import mapping
from exchange.camtrap_dp.memory import collected
from exchange.camtrap_dp.validation import PROFILE_URL, table_schema, table_schema_url
from exchange.models import ImportRun, Observation
from leopards.models import Leopard, Sex, Sighting, Species
from leopards.selectors.catalogue import leopards_for_user
from traps.models import Deployment, Event, Park, Photo
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


# How many media rows are written between two progress reports.
PROGRESS_EVERY = 1000
# How many rows are read from the database at a time.
CHUNK = 2000


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
    link = getattr(deployment, "exchange_link", None)
    # A deployment that came in a package goes back out with the fields it came with.
    received = link is not None and link.groups is not None
    row = {
        "deploymentID": deployment_id(deployment),
        "locationID": deployment.station.code,
        "locationName": link.location_name if received else deployment.station.code,
        "latitude": mapping.number(coordinates.latitude),
        "longitude": mapping.number(coordinates.longitude),
        "coordinateUncertainty": (
            mapping.exact_number(link.coordinate_uncertainty) if received else ""
        )
        if coordinates.exact
        else str(mapping.cell_uncertainty_m(coordinates.latitude, coordinates.precision)),
        "deploymentStart": mapping.timestamp(deployment.start, tz),
        # Camtrap DP needs an end: a camera still out is exported up to now.
        "deploymentEnd": mapping.timestamp(deployment.end, tz) if deployment.end else end_now,
        "cameraID": deployment.camera_serial,
        "cameraModel": deployment.camera_model,
        "deploymentGroups": link.groups if received else f"park:{deployment.station.park.code}",
        "deploymentTags": link.tags if received else malfunctions,
        # Notes can describe the place; they travel only with exact coordinates.
        "deploymentComments": deployment.notes if coordinates.exact else "",
    }
    if received:
        row.update(
            {
                "setupBy": link.setup_by,
                "cameraDelay": mapping.exact_number(link.camera_delay),
                "cameraHeight": mapping.exact_number(link.camera_height),
                "cameraDepth": mapping.exact_number(link.camera_depth),
                "cameraTilt": mapping.exact_number(link.camera_tilt),
                "cameraHeading": mapping.exact_number(link.camera_heading),
                "detectionDistance": mapping.exact_number(link.detection_distance),
                "timestampIssues": mapping.optional_boolean(link.timestamp_issues),
                "baitUse": mapping.optional_boolean(link.bait_use),
                "featureType": link.feature_type,
                # A habitat description can place a camera as well as a comment can.
                "habitat": link.habitat if coordinates.exact else "",
            }
        )
    return row


def _media_row(photo: Photo, dep_id: str, tz: Any) -> dict[str, str]:
    link = getattr(photo, "media_link", None)
    if link is not None and not link.stored:
        path, public = link.file_path, link.file_public
    else:
        path, public = _stored_media_path(photo), False
    row = {
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
    if link is not None and link.exif_data is not None:
        # A record that came in a package goes back out with what it came with.
        row.update(
            {
                "captureMethod": link.capture_method,
                "fileMediatype": link.file_mediatype or row["fileMediatype"],
                "exifData": link.exif_data,
                "favorite": mapping.optional_boolean(link.favorite),
                "mediaComments": link.comments,
            }
        )
    return row


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
    name = mapping.LEOPARD_NAME if leopard else ""
    if event.content == Event.Content.OTHER_SPECIES:
        review = getattr(event, "review", None) if hasattr(event, "review") else None
        species = review.species if review is not None else None
        name = species.scientific_name or species.name if species is not None else ""
    return {
        "observationID": links[0].identifier if links else f"{identifier}-obs",
        "deploymentID": dep_id,
        "mediaID": "",
        "eventID": identifier,
        "eventStart": mapping.timestamp(event.start, tz),
        "eventEnd": mapping.timestamp(event.end, tz),
        "observationLevel": "event",
        "observationType": mapping.EVENT_TYPE[event.content],
        "scientificName": name,
        "count": str(count) if leopard and count else "",
        "classificationMethod": "human" if event.status == Event.Status.REVIEWED else "",
        "classifiedBy": links[0].classified_by if links else "",
    }


def _kept_row(observation: Observation, dep_id: str, media: str, tz: Any) -> dict[str, str]:
    """Write an observation kept from a package with every field as it came."""
    o = observation
    individual, tags = o.individual_id, o.tags
    sighting = o.sighting
    if (
        sighting is not None
        and sighting.status == Sighting.Status.CONFIRMED
        and sighting.leopard_id is not None
        and sighting.leopard.code != individual
    ):
        # Our identification is the registry's word; the sender's id stays beside it.
        if individual:
            tags = mapping.TAG_SEPARATOR.join(
                t for t in (tags, f"sentAsIndividualID:{individual}") if t
            )
        individual = sighting.leopard.code
    return {
        "observationID": o.identifier,
        "deploymentID": dep_id,
        "mediaID": media,
        "eventID": o.event_identifier,
        "eventStart": mapping.timestamp(o.event_start, tz) if o.event_start else "",
        "eventEnd": mapping.timestamp(o.event_end, tz) if o.event_end else "",
        "observationLevel": o.level,
        "observationType": o.type,
        "cameraSetupType": o.camera_setup_type,
        "scientificName": o.scientific_name,
        "count": mapping.exact_number(o.count),
        "lifeStage": o.life_stage,
        "sex": o.sex,
        "behavior": o.behavior,
        "individualID": individual,
        "individualPositionRadius": mapping.exact_number(o.position_radius),
        "individualPositionAngle": mapping.exact_number(o.position_angle),
        "individualSpeed": mapping.exact_number(o.speed),
        "bboxX": mapping.exact_number(o.bbox_x),
        "bboxY": mapping.exact_number(o.bbox_y),
        "bboxWidth": mapping.exact_number(o.bbox_w),
        "bboxHeight": mapping.exact_number(o.bbox_h),
        "classificationMethod": o.classification_method,
        "classifiedBy": o.classified_by,
        "classificationTimestamp": mapping.timestamp(o.classification_timestamp, tz)
        if o.classification_timestamp
        else "",
        "classificationProbability": mapping.exact_number(o.classification_probability),
        "observationTags": tags,
        "observationComments": o.comments,
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
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write a Camtrap DP package of the parks' records into out_dir.

    Coordinates are generalised to the 0.1 degree grid unless exact ones are
    asked for and the user may see them (user None is the command line's
    operator). Photos without a capture time cannot be media records and are
    counted, not written. ``progress`` is told (media written, media to write) as
    the work goes on.
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
    # The taxa the observations name, and the imports the records came from.
    taxa: set[int] = set()
    names: set[str] = set()
    runs: set[int | None] = set()
    media_total = 0
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
            if progress is not None:
                media_total += photos.count()
                progress(writers["media"].count, media_total)
            # Every table is read in chunks and written as it is read: nothing is held
            # per photo, event or observation, whatever the size of the park.
            for photo in collected(photos.iterator(chunk_size=CHUNK), CHUNK):
                if progress is not None and writers["media"].count % PROGRESS_EVERY == 0:
                    progress(writers["media"].count, media_total)
                row = _media_row(photo, dep_ids[photo.deployment_id], tz)
                writers["media"].write(row)
                if include_media and photo.file and not _hidden(photo):
                    _copy_file(photo, out_dir / row["filePath"], exact=media_exact)
            kept = selectors.export_observations(deployments)
            # Records that came in a package go back out as their own rows; only what the
            # registry added (sightings, reviewed events) is written from its own tables.
            own_sightings = selectors.export_sightings(photos).exclude(
                Exists(kept.order_by().filter(sighting=OuterRef("pk")))
            )
            received_deployments = {
                d.pk
                for d in deployments
                if getattr(d, "exchange_link", None) is not None
                and d.exchange_link.groups is not None
            }
            # An event's leopard count: the most sightings on one of its photos, or the
            # individuals identified in it if more.
            per_photo: dict[int, int] = defaultdict(int)
            individuals_per_event: dict[int, set[int]] = defaultdict(set)
            event_of_photo: dict[int, int] = {}
            for photo_pk, event_pk, leopard_pk, status in own_sightings.values_list(
                "photo_id", "photo__event_id", "leopard_id", "status"
            ).iterator(chunk_size=CHUNK):
                identified = status == Sighting.Status.CONFIRMED and leopard_pk is not None
                if event_pk:
                    per_photo[photo_pk] += 1
                    event_of_photo[photo_pk] = event_pk
                    if identified:
                        individuals_per_event[event_pk].add(leopard_pk)
                if identified:
                    leopard_ids.add(leopard_pk)
            most_per_event: dict[int, int] = defaultdict(int)
            for photo_pk, n in per_photo.items():
                event_pk = event_of_photo[photo_pk]
                most_per_event[event_pk] = max(most_per_event[event_pk], n)
            events = selectors.export_events(photos).annotate(
                has_kept=Exists(kept.order_by().filter(event=OuterRef("pk")))
            )
            for event in collected(events.iterator(chunk_size=CHUNK), CHUNK):
                if event.has_kept or (
                    event.deployment_id in received_deployments
                    and event.status != Event.Status.REVIEWED
                ):
                    continue
                count = max(most_per_event[event.pk], len(individuals_per_event[event.pk]))
                row = _event_row(event, park, dep_ids[event.deployment_id], count, tz)
                writers["observations"].write(row)
                names.add(row["scientificName"])
            kept_rows = kept.filter(
                Q(photo__in=photos.order_by().values("pk")) | Q(photo__isnull=True)
            ).select_related("photo__media_link")
            if start or end:
                # A record of an event alone goes with its event, inside the period.
                kept_rows = kept_rows.filter(
                    Q(photo__isnull=False) | Q(event__in=events.order_by().values("pk"))
                )
            for observation in collected(kept_rows.iterator(chunk_size=CHUNK), CHUNK):
                media = media_id(observation.photo) if observation.photo_id else ""
                row = _kept_row(observation, dep_ids[observation.deployment_id], media, tz)
                writers["observations"].write(row)
                if observation.taxon_id:
                    taxa.add(observation.taxon_id)
                elif observation.scientific_name:
                    names.add(observation.scientific_name)
                sighting = observation.sighting
                if (
                    sighting
                    and sighting.status == Sighting.Status.CONFIRMED
                    and sighting.leopard_id
                ):
                    leopard_ids.add(sighting.leopard_id)
                runs.add(observation.import_run_id)
            for deployment in deployments:
                link = getattr(deployment, "exchange_link", None)
                runs.add(link.import_run_id if link else None)
            for sighting in collected(
                own_sightings.select_related(
                    "photo__media_link", "photo__event__exchange_link"
                ).iterator(chunk_size=CHUNK),
                CHUNK,
            ):
                photo = sighting.photo
                photo_row = {
                    "deploymentID": dep_ids[photo.deployment_id],
                    "mediaID": media_id(photo),
                    "timestamp": mapping.timestamp(photo.taken_at, tz),
                }
                row = _sighting_row(sighting, park, photo_row, photo, tz)
                writers["observations"].write(row)
                names.add(row["scientificName"])
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
    descriptor["taxonomic"] = _taxonomic(taxa, names)
    source = _single_source(runs)
    if source is not None:
        _descriptor_as_received(descriptor, source, out_dir)
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


def _taxon_entry(taxon: Species) -> dict[str, Any]:
    entry: dict[str, Any] = {"scientificName": taxon.scientific_name or taxon.name}
    if taxon.taxon_id:
        entry["taxonID"] = taxon.taxon_id
    if taxon.taxon_id_source:
        entry["taxonIDReference"] = taxon.taxon_id_source
    if taxon.rank:
        entry["taxonRank"] = taxon.rank
    entry.update(taxon.classification)
    if taxon.vernacular_names:
        entry["vernacularNames"] = dict(taxon.vernacular_names)
    return entry


def _taxonomic(taxa: set[int], names: set[str]) -> list[dict[str, Any]]:
    """Return the taxonomic list of the taxa the written observations name."""
    entries = {}
    for taxon in Species.objects.filter(pk__in=taxa):
        entry = _taxon_entry(taxon)
        entries[entry["scientificName"].lower()] = entry
    wanted = {n for n in names if n and n.lower() not in entries}
    for taxon in Species.objects.filter(scientific_name__in=wanted).order_by("pk"):
        entries.setdefault(taxon.scientific_name.lower(), _taxon_entry(taxon))
    for name in wanted:
        if name.lower() not in entries:
            entries[name.lower()] = (
                dict(mapping.TAXON) if name == mapping.LEOPARD_NAME else {"scientificName": name}
            )
    if not entries:
        # The profile wants at least one taxon: the registry's subject.
        return [dict(mapping.TAXON)]
    return [entries[key] for key in sorted(entries)]


def _single_source(runs: set[int | None]) -> ImportRun | None:
    """Return the import every exported record came from, if there is exactly one."""
    if len(runs) != 1 or None in runs:
        return None
    return ImportRun.objects.filter(pk=next(iter(runs))).first()


# Written from the records themselves, whatever the package that brought them said.
OWN_KEYS = {"resources", "profile", "created", "spatial", "temporal", "coordinatePrecision"}


def _descriptor_as_received(descriptor: dict[str, Any], run: ImportRun, out_dir: Path) -> None:
    """Give back the metadata of the one package the exported records came from."""
    metadata = run.metadata or {}
    for key, value in metadata.items():
        if key not in OWN_KEYS and key != "taxonomic":
            descriptor[key] = value
    if "taxonomic" in metadata:
        # The package's own taxon list, with any taxon the registry added since.
        received = list(metadata["taxonomic"])
        known = {str(t.get("scientificName", "")).lower() for t in received}
        received += [t for t in descriptor["taxonomic"] if t["scientificName"].lower() not in known]
        descriptor["taxonomic"] = received
    for resource in metadata.get("resources", []):
        name, rows = resource.get("name"), resource.get("rows")
        if not name or not isinstance(resource.get("path"), str) or rows is None:
            continue
        if name == "individuals":
            if not run.organisation:
                continue  # our own individuals: the registry writes them as they are now
            ours = next(r for r in descriptor["resources"] if r["name"] == "individuals")
            ours["name"], ours["path"] = "registry-individuals", "registry-individuals.csv"
            (out_dir / "individuals.csv").rename(out_dir / "registry-individuals.csv")
        path = Path(resource["path"]).name
        columns = [f["name"] for f in (resource.get("schema") or {}).get("fields", [])]
        if not columns and rows:
            columns = list(rows[0])
        with open(out_dir / path, "w", encoding="utf-8", newline="") as fh:
            writer = SpreadsheetDictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: v or "" for k, v in row.items()} for row in rows)
        descriptor["resources"].append(
            {k: v for k, v in resource.items() if k != "rows"} | {"path": path}
        )


def package_zip(source_dir: Path, target: Path | IO[bytes]) -> Path | IO[bytes]:
    """Pack a package folder into a zip (path or open file), datapackage.json at its root."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(source_dir).as_posix())
    return target
