"""Read a Camtrap DP 1.0 package into the registry, in one transaction, twice safely.

Every record is first looked up by the identifier it carries (kept in the
exchange links), then by what identifies it in the registry (a stored file's
hash, a station's code, a deployment's station, start and camera), and only
created when neither finds it. A package that does not validate is refused
before anything is written.
"""

import bisect
import csv
import hashlib
import itertools
import re
import tempfile
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from PIL import Image

from config.json_input import JsonRefused, json_load_checked
from exchange.camtrap_dp import mapping
from exchange.camtrap_dp.memory import batch_done
from exchange.camtrap_dp.scratch import Scratch
from exchange.camtrap_dp.validation import PackageInvalid, Problem, package_problems
from exchange.models import (
    DeploymentLink,
    EventLink,
    ImportRun,
    MediaLink,
    Observation,
    ObservationLink,
    PartnerAlias,
    import_warning,
    warning_text,
)
from leopards.models import AgeClass, EventReview, Flank, Leopard, Sex, Sighting, Species
from leopards.services.identification import leopard_resolve
from leopards.services.matching import sighting_queue_match
from traps import images
from traps.models import Deployment, Event, MalfunctionPeriod, Park, Photo, Station

MISSING = {"", "NA", "NaN", "nan"}


@dataclass
class ImportSummary:
    park: Park
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    existing: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Each a code and its parameters (exchange.models.import_warning).
    warnings: list[dict[str, Any]] = field(default_factory=list)
    run: ImportRun | None = None

    @property
    def created_total(self) -> int:
        return sum(self.created.values())

    @property
    def warning_texts(self) -> list[str]:
        return [warning_text(w) for w in self.warnings]


@contextmanager
def package_folder(path: Path) -> Iterator[Path]:
    """Yield the folder that holds datapackage.json, unpacking a zip into a temporary folder."""
    if path.is_dir():
        yield path
        return
    if not zipfile.is_zipfile(path):
        raise PackageInvalid(
            [Problem("", _("Send a folder or a .zip file that holds datapackage.json."))]
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as error:
        raise PackageInvalid([Problem("", _("The zip is damaged and cannot be read."))]) from error
    with tempfile.TemporaryDirectory(prefix="camtrap-dp-") as tmp, archive:
        root = Path(tmp).resolve()
        members = archive.infolist()
        _check_listing(members, root)
        _unpack(archive, members, root)
        yield _descriptor_folder(root)


def _check_listing(members: list[zipfile.ZipInfo], root: Path) -> None:
    """Refuse a zip from its central directory, before a byte of it is unpacked."""
    max_files, max_bytes = settings.IMPORT_ZIP_MAX_FILES, settings.IMPORT_ZIP_MAX_BYTES
    if len(members) > max_files:
        raise PackageInvalid(
            [Problem("", _("The zip holds more than %(n)d files.") % {"n": max_files})]
        )
    if sum(m.file_size for m in members) > max_bytes:
        raise PackageInvalid([_too_large_problem("")])
    for member in members:
        target = (root / member.filename).resolve()
        # A name like ../../etc/passwd must not write outside the folder.
        if root not in target.parents and target != root:
            raise PackageInvalid(
                [
                    Problem(
                        member.filename,
                        _("The zip holds a file name that points outside the package."),
                    )
                ]
            )
        if _packed_too_tightly(member.file_size, member.compress_size):
            raise PackageInvalid([_ratio_problem(member.filename)])


def _packed_too_tightly(unpacked: int, packed: int) -> bool:
    # Photos hardly compress and tables about tenfold; a bomb compresses a thousandfold.
    # Small files are left alone: a short CSV of repeated values packs tightly too.
    return unpacked > 1024 * 1024 and unpacked > packed * settings.IMPORT_ZIP_MAX_RATIO


def _too_large_problem(where: str) -> Problem:
    megabytes = settings.IMPORT_ZIP_MAX_BYTES // (1024 * 1024)
    return Problem(where, _("The zip unpacks to more than %(n)d MB.") % {"n": megabytes})


def _ratio_problem(where: str) -> Problem:
    return Problem(
        where,
        _(
            "The file unpacks to more than %(n)d times its size in the zip: it is packed "
            "too tightly to be a photo or a table."
        )
        % {"n": settings.IMPORT_ZIP_MAX_RATIO},
    )


def _unpack(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], root: Path) -> None:
    """Unpack every member, counting the bytes written: a listing's sizes can lie."""
    written = 0
    for member in members:
        target = root / member.filename
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with archive.open(member) as source, open(target, "wb") as out:
            while chunk := _read(source, member):
                size += len(chunk)
                written += len(chunk)
                if size > member.file_size:
                    raise PackageInvalid(
                        [Problem(member.filename, _("The file unpacks to more than the zip says."))]
                    )
                if written > settings.IMPORT_ZIP_MAX_BYTES:
                    raise PackageInvalid([_too_large_problem(member.filename)])
                if _packed_too_tightly(size, member.compress_size):
                    raise PackageInvalid([_ratio_problem(member.filename)])
                out.write(chunk)


def _read(source: IO[bytes], member: zipfile.ZipInfo) -> bytes:
    try:
        return source.read(1024 * 1024)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise PackageInvalid(
            [Problem(member.filename, _("The file is damaged in the zip and cannot be read."))]
        ) from error


def _descriptor_folder(root: Path) -> Path:
    if (root / "datapackage.json").is_file():
        return root
    found = sorted(root.glob("*/datapackage.json"))
    return found[0].parent if len(found) == 1 else root


def _iter_rows(
    base: Path, descriptor: dict[str, Any], name: str
) -> Iterator[dict[str, str | None]]:
    """Yield a table's rows one at a time, blanks and the usual missing values as None."""
    resource = next(
        (r for r in descriptor.get("resources", []) if r.get("name") == name and r.get("path")),
        None,
    )
    if resource is None or not isinstance(resource["path"], str) or "://" in resource["path"]:
        return
    with open(base / resource["path"], encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            yield {
                k: (None if v is None or v.strip() in MISSING else v.strip())
                for k, v in row.items()
            }


def _rows(base: Path, descriptor: dict[str, Any], name: str) -> list[dict[str, str | None]]:
    return list(_iter_rows(base, descriptor, name))


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _int(value: str | None) -> int | None:
    return int(float(value)) if value not in (None, "") else None


def _bool(value: str | None) -> bool | None:
    if value in (None, ""):
        return None
    return value.strip().lower() in {"true", "1", "yes"}


def _park_of(rows: list[dict[str, str | None]]) -> Park | None:
    for row in rows:
        groups = mapping.tags_parse(row.get("deploymentGroups"))
        if groups.get("park"):
            return Park.objects.filter(code=groups["park"]).first()
    return None


def package_import(
    *,
    path: Path,
    park: Park | None = None,
    user: AbstractBaseUser | None = None,
    source_name: str = "",
    organisation: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Validate a Camtrap DP package (folder or zip) and import it into a park.

    Raises PackageInvalid with every problem when it does not validate; then
    nothing is written. Importing the same package again creates nothing new.
    A package sent by another organisation keeps its individual ids as that
    organisation's: they name our individuals only through confirmed aliases.
    ``progress`` is told (media and observation rows read, rows in the package).
    """
    with package_folder(path) as base:
        problems = package_problems(base)
        if problems:
            raise PackageInvalid(problems)
        # Read and checked by package_problems already.
        descriptor = json_load_checked((base / "datapackage.json").read_bytes())
        deployments = _rows(base, descriptor, "deployments")
        park = park or _park_of(deployments)
        if park is None:
            raise PackageInvalid(
                [Problem("", _("Choose the park to import into: the package does not name one."))]
            )
        organisation = organisation.strip()[:200]
        with (
            tempfile.TemporaryDirectory(prefix="camtrap-dp-scratch-") as scratch_dir,
            transaction.atomic(),
        ):
            run = ImportRun.objects.create(
                kind=ImportRun.Kind.CAMTRAP_DP,
                park=park,
                source_name=(source_name or path.name)[:255],
                organisation=organisation,
                metadata=_metadata(base, descriptor),
                imported_by=user,
            )
            scratch = Scratch(Path(scratch_dir))
            try:
                importer = _Importer(
                    base=base,
                    descriptor=descriptor,
                    park=park,
                    user=user,
                    run=run,
                    organisation=organisation,
                    progress=progress,
                    scratch=scratch,
                )
                importer.run(
                    deployments=deployments,
                    individuals=_rows(base, descriptor, "individuals"),
                )
            finally:
                scratch.close()
            summary = importer.summary
            run.created = dict(summary.created)
            run.warnings = summary.warnings[:1000]
            run.save(update_fields=["created", "warnings"])
            summary.run = run
        return summary


# How many media or observation rows are looked up and written together: each table is
# asked once per batch, and the memory an import needs is that of one batch.
BATCH_ROWS = 1000
# How many of the package's events are found or created together.
BATCH_EVENTS = 500

# Resources other than the three Camtrap DP tables are kept (rows and all) up to this size.
MAX_KEPT_RESOURCE_ROWS = 50_000


def _metadata(base: Path, descriptor: dict[str, Any]) -> dict[str, Any]:
    """Return the descriptor without its core tables, with the rows of its other resources."""
    metadata = {key: value for key, value in descriptor.items() if key != "resources"}
    extra = []
    for resource in descriptor.get("resources", []):
        if not isinstance(resource, dict) or resource.get("name") in mapping.CORE_TABLES:
            continue
        kept = dict(resource)
        if resource.get("name") and isinstance(resource.get("path"), str):
            rows = list(
                itertools.islice(
                    _iter_rows(base, descriptor, resource["name"]), MAX_KEPT_RESOURCE_ROWS + 1
                )
            )
            if len(rows) <= MAX_KEPT_RESOURCE_ROWS:
                kept["rows"] = rows
        extra.append(kept)
    if extra:
        metadata["resources"] = extra
    return metadata


class _Importer:
    def __init__(
        self,
        *,
        base: Path,
        descriptor: dict[str, Any],
        park: Park,
        user: AbstractBaseUser | None,
        run: ImportRun | None = None,
        organisation: str = "",
        progress: Callable[[int, int], None] | None = None,
        scratch: Scratch,
    ) -> None:
        self.base = base.resolve()
        self.scratch = scratch
        self.descriptor = descriptor
        self.park = park
        self.user = user
        self.import_run = run
        self.organisation = organisation
        self.taxa: dict[str, Species] = {}
        self.aliases: dict[str, PartnerAlias | None] = {}
        self.progress = progress
        self.rows_done = 0
        self.rows_total = 0
        self.summary = ImportSummary(park=park)
        self.stations: dict[str, Station] = {}
        self.deployments: dict[str, Deployment] = {}
        self.leopards: dict[str, Leopard] = {}
        self.precision = _precision(descriptor.get("coordinatePrecision"))

    def warn(self, code: str, **params: Any) -> None:
        self.summary.warnings.append(import_warning(code, **params))

    def count(self, kind: str, created: bool) -> None:
        (self.summary.created if created else self.summary.existing)[kind] += 1

    def run(self, *, deployments: list[dict], individuals: list[dict]) -> None:
        """Import the package, the media and observations tables read a batch at a time."""
        self.rows_total = self.observations_note() + sum(1 for _ in self.rows("media"))
        self.taxonomic(self.descriptor.get("taxonomic"))
        if not self.organisation:
            # A partner's individuals are theirs: they stay in the run's metadata.
            self.individuals(individuals)
        for row in deployments:
            self.deployment(row)
        for batch in _batches(self.rows("media"), BATCH_ROWS):
            self.media_batch(batch)
            self.step(len(batch))
        self.events_from()
        self.events_for_the_rest()
        # Media-level rows first: an event-level record of the same cat then finds its
        # sighting instead of adding one without a box.
        media_level = (r for r in self.rows("observations") if r["observationLevel"] == "media")
        other = (r for r in self.rows("observations") if r["observationLevel"] != "media")
        for batch in _batches(itertools.chain(media_level, other), BATCH_ROWS):
            self.observation_batch(batch)
            self.step(len(batch))

    def rows(self, name: str) -> Iterator[dict[str, str | None]]:
        return _iter_rows(self.base, self.descriptor, name)

    def observations_note(self) -> int:
        """Note every observation's event in the scratch file; return how many rows there are."""
        total = 0
        for batch in _batches(self.rows("observations"), BATCH_ROWS):
            total += len(batch)
            self.scratch.span_add(
                (
                    row["deploymentID"],
                    row["eventID"],
                    _time(row["eventStart"]),
                    _time(row["eventEnd"]),
                    row.get("mediaID"),
                )
                for row in batch
                if row.get("eventID")
            )
        return total

    def step(self, rows: int) -> None:
        batch_done()
        self.rows_done += rows
        if self.progress is not None:
            self.progress(self.rows_done, self.rows_total)

    # Taxa --------------------------------------------------------------------------

    def taxonomic(self, entries: Any) -> None:
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("scientificName"), str):
                self.taxon(entry["scientificName"], entry)

    def taxon(self, scientific_name: str, entry: dict[str, Any] | None = None) -> Species:
        """Return the taxon record of a name, adding it (or what it lacks) from the package."""
        key = scientific_name.strip().lower()
        if key in self.taxa and entry is None:
            return self.taxa[key]
        entry = entry or {}
        taxon = self.taxa.get(key) or (
            Species.objects.filter(scientific_name__iexact=scientific_name.strip())
            .order_by("pk")
            .first()
        )
        vernacular = entry.get("vernacularNames")
        vernacular = (
            {str(k): str(v) for k, v in vernacular.items()} if isinstance(vernacular, dict) else {}
        )
        higher = {k: v for k, v in entry.items() if k not in TAXON_OWN_KEYS}
        if taxon is None:
            taxon = Species.objects.create(
                name=_taxon_name(scientific_name.strip(), vernacular),
                scientific_name=scientific_name.strip()[:160],
                rank=str(entry.get("taxonRank") or "")[:40],
                taxon_id=str(entry.get("taxonID") or "")[:255],
                taxon_id_source=str(entry.get("taxonIDReference") or "")[:255],
                vernacular_names=vernacular,
                classification=higher,
                # The leopard is the registry's subject, never an "other species".
                active=not mapping.is_leopard(scientific_name),
            )
            self.count("taxa", True)
        else:
            # What the registry already knows wins; the package fills what it lacks.
            changed = []
            for attr, value in (
                ("rank", str(entry.get("taxonRank") or "")[:40]),
                ("taxon_id", str(entry.get("taxonID") or "")[:255]),
                ("taxon_id_source", str(entry.get("taxonIDReference") or "")[:255]),
            ):
                if value and not getattr(taxon, attr):
                    setattr(taxon, attr, value)
                    changed.append(attr)
            names = {**vernacular, **taxon.vernacular_names}
            if names != taxon.vernacular_names:
                taxon.vernacular_names = names
                changed.append("vernacular_names")
            ranks = {**higher, **taxon.classification}
            if ranks != taxon.classification:
                taxon.classification = ranks
                changed.append("classification")
            if changed:
                taxon.save(update_fields=changed)
        self.taxa[key] = taxon
        return taxon

    def alias(self, partner_id: str) -> PartnerAlias | None:
        if partner_id not in self.aliases:
            self.aliases[partner_id] = (
                PartnerAlias.objects.filter(organisation=self.organisation, partner_id=partner_id)
                .select_related("leopard")
                .first()
            )
        return self.aliases[partner_id]

    # Individuals -----------------------------------------------------------------

    def leopard(self, code: str, *, sex: str | None = None) -> Leopard:
        code = code[:40]
        if code in self.leopards:
            return self.leopards[code]
        leopard = Leopard.objects.filter(code=code).first()
        created = leopard is None
        if created:
            leopard = Leopard.objects.create(code=code, sex=sex or Sex.UNKNOWN)
        elif sex and leopard.sex == Sex.UNKNOWN:
            leopard.sex = sex
            leopard.save(update_fields=["sex"])
        elif sex and leopard.sex != sex:
            self.warn(ImportRun.Warning.SEX_DIFFERS, code=code, ours=leopard.sex, theirs=sex)
        self.count("individuals", created)
        self.leopards[code] = leopard
        return leopard

    def individuals(self, rows: list[dict]) -> None:
        mothers: list[tuple[Leopard, str]] = []
        for row in rows:
            code = row.get("individualID")
            if not code:
                continue
            sex = row.get("sex") if row.get("sex") in {Sex.FEMALE, Sex.MALE} else None
            leopard = self.leopard(code, sex=sex)
            changed = []
            if row.get("individualName") and not leopard.name:
                leopard.name = row["individualName"][:120]
                changed.append("name")
            if row.get("birthDate") and leopard.birth_date is None:
                leopard.birth_date = date.fromisoformat(row["birthDate"])
                precision = row.get("birthDatePrecision")
                if precision in Leopard.BirthPrecision.values:
                    leopard.birth_date_precision = precision
                changed += ["birth_date", "birth_date_precision"]
            if row.get("status") in Leopard.Status.values and row["status"] != leopard.status:
                leopard.status = row["status"]
                changed.append("status")
            if changed:
                leopard.save(update_fields=changed)
            if row.get("motherID"):
                mothers.append((leopard, row["motherID"]))
        for leopard, mother_code in mothers:
            mother = self.leopard(mother_code)
            if leopard.mother_id is None and mother.pk != leopard.pk:
                leopard.mother = mother
                leopard.save(update_fields=["mother"])

    # Stations and deployments -----------------------------------------------------

    def station(self, row: dict) -> Station:
        latitude = Decimal(row["latitude"]).quantize(Decimal("0.000001"))
        longitude = Decimal(row["longitude"]).quantize(Decimal("0.000001"))
        code = (row.get("locationID") or row.get("locationName") or "")[:40]
        if not code:
            code = f"{latitude:.4f},{longitude:.4f}"
        if code in self.stations:
            return self.stations[code]
        station = Station.objects.filter(park=self.park, code=code).first()
        if station is None:
            station = Station.objects.create(
                park=self.park,
                code=code,
                latitude=latitude,
                longitude=longitude,
                coordinate_precision=self.precision,
            )
            self.count("stations", True)
        else:
            self.count("stations", False)
        self.stations[code] = station
        return station

    def deployment(self, row: dict) -> None:
        identifier = row["deploymentID"]
        start, end = _time(row["deploymentStart"]), _time(row["deploymentEnd"])
        station = self.station(row)
        deployment = (
            Deployment.objects.filter(
                station__park=self.park, exchange_link__identifier=identifier
            ).first()
            or Deployment.objects.filter(
                station=station, start=start, camera_serial=(row.get("cameraID") or "")[:80]
            ).first()
        )
        created = deployment is None
        if created:
            if end is not None and end <= start:
                end = start + timedelta(seconds=1)
                self.warn(ImportRun.Warning.ZERO_LENGTH_DEPLOYMENT, id=identifier)
            deployment = Deployment.objects.create(
                station=station,
                camera_serial=(row.get("cameraID") or "")[:80],
                camera_model=(row.get("cameraModel") or "")[:120],
                start=start,
                end=end,
                notes=row.get("deploymentComments") or "",
            )
            for key, value in _tag_pairs(row.get("deploymentTags")):
                if key == "malfunction" and "/" in value:
                    first, last = value.split("/", 1)
                    try:
                        MalfunctionPeriod.objects.create(
                            deployment=deployment,
                            start=date.fromisoformat(first),
                            end=date.fromisoformat(last),
                        )
                    except ValueError:
                        self.warn(ImportRun.Warning.MALFUNCTION_NOT_A_RANGE, id=identifier, v=value)
        if not hasattr(deployment, "exchange_link") or deployment.exchange_link is None:
            DeploymentLink.objects.get_or_create(
                deployment=deployment,
                defaults={
                    "identifier": identifier,
                    "import_run": self.import_run,
                    **_deployment_fields(row),
                },
            )
        self.count("deployments", created)
        self.deployments[identifier] = deployment

    # Media -----------------------------------------------------------------------

    def media_batch(self, rows: list[dict]) -> None:
        """Find or create the photos of a batch of media rows, asking each table once.

        A row's photo is, in this order: the one its mediaID is linked to in its
        deployment, the stored file of that hash in the park, the one of the same file
        name and time in the deployment; else its file is stored from the package, or,
        when the package only points to it, a photo record is made without the file.
        """
        deployment_pks = {self.deployments[r["deploymentID"]].pk for r in rows}
        ids = [r["mediaID"] for r in rows]
        by_link: dict[tuple[int, str], Photo] = {}
        for link in (
            MediaLink.objects.filter(identifier__in=ids, photo__deployment_id__in=deployment_pks)
            .select_related("photo")
            .order_by("photo__taken_at", "photo__pk")
        ):
            by_link.setdefault((link.photo.deployment_id, link.identifier), link.photo)
        # A stored file's hash names it; a file on the web has a hash made from its record.
        hashes = {i.lower() for i in ids if re.fullmatch(r"[0-9a-fA-F]{64}", i)}
        remote_hashes = {
            _remote_hash(self.deployments[r["deploymentID"]], r["mediaID"]) for r in rows
        }
        by_hash = {
            p.sha256: p
            for p in Photo.objects.filter(
                sha256__in=hashes | remote_hashes, deployment__station__park=self.park
            )
        }
        names = {r["fileName"] for r in rows if r.get("fileName")}
        by_name: dict[tuple[int, str, datetime | None], Photo] = {}
        if names:
            for photo in Photo.objects.filter(
                deployment_id__in=deployment_pks, original_name__in=names
            ).order_by("taken_at", "pk"):
                by_name.setdefault(
                    (photo.deployment_id, photo.original_name, photo.taken_at), photo
                )

        chosen: list[tuple[dict, Photo, bool]] = []  # row, photo, file stored here
        new_photos: list[Photo] = []
        for row in rows:
            identifier = row["mediaID"]
            deployment = self.deployments[row["deploymentID"]]
            taken_at = _time(row["timestamp"])
            photo = (
                by_link.get((deployment.pk, identifier))
                or by_hash.get(identifier.lower())
                or by_name.get((deployment.pk, row.get("fileName") or "\x00", taken_at))
                or by_hash.get(_remote_hash(deployment, identifier))
            )
            created, stored = False, True
            if photo is None:
                local = self.local_file(row["filePath"])
                if local is not None:
                    photo, created = self.store(local, row, deployment, taken_at)
                if photo is None:
                    photo, created, stored = self.remote(row, deployment, taken_at), True, False
                    by_hash[photo.sha256] = photo
                    new_photos.append(photo)
                # A later row of the same file and time is the same photo, as it is in
                # a later batch.
                by_name.setdefault((deployment.pk, photo.original_name, taken_at), photo)
            if photo.deployment_id != deployment.pk:
                self.warn(ImportRun.Warning.MEDIA_IN_ANOTHER_DEPLOYMENT, id=identifier)
            self.count("photos", created)
            chosen.append((row, photo, stored))
        Photo.objects.bulk_create(new_photos, batch_size=BATCH_ROWS)

        new_pks = {p.pk for p in new_photos}
        linked = set(
            MediaLink.objects.filter(
                photo_id__in=[p.pk for _r, p, _s in chosen if p.pk not in new_pks]
            ).values_list("photo_id", flat=True)
        )
        links = []
        for row, photo, stored in chosen:
            if photo.pk in linked:
                continue
            linked.add(photo.pk)
            links.append(
                MediaLink(
                    photo=photo,
                    identifier=row["mediaID"],
                    file_path=row["filePath"][:1000],
                    file_public=row.get("filePublic") in {"true", "True", "TRUE", "1"},
                    stored=stored,
                    capture_method=(row.get("captureMethod") or "")[:40],
                    file_mediatype=(row.get("fileMediatype") or "")[:255],
                    favorite=_bool(row.get("favorite")),
                    comments=row.get("mediaComments") or "",
                    exif_data=row.get("exifData") or "",
                )
            )
        MediaLink.objects.bulk_create(links, batch_size=BATCH_ROWS)
        self.scratch.media_add((row["mediaID"], photo.pk) for row, photo, _s in chosen)

    def local_file(self, file_path: str) -> Path | None:
        if "://" in file_path:
            return None  # files on the web are not fetched
        candidate = (self.base / file_path).resolve()
        if self.base not in candidate.parents or not candidate.is_file():
            return None
        return candidate

    def store(
        self, local: Path, row: dict, deployment: Deployment, taken_at: datetime
    ) -> tuple[Photo | None, bool]:
        from traps.services import photo_receive

        name = row.get("fileName") or local.name
        try:
            with open(local, "rb") as fh:
                result = photo_receive(
                    deployment=deployment, fileobj=fh, original_name=name, uploaded_by=self.user
                )
        except images.PhotoRejected as exc:
            # The check's message (in the importer's language) is kept for a code not known
            # when the warning is read.
            self.warn(
                ImportRun.Warning.MEDIA_NOT_STORED,
                id=row["mediaID"],
                why=str(exc.message),
                rejected=exc.code,
            )
            return None, False
        photo = result.photo
        if photo.deployment.station.park_id != self.park.pk:
            # The same file belongs to another park: keep this record apart from it.
            return None, False
        if result.created:
            # The package's time is the corrected one; the queued processing then
            # finds the photo done and leaves it as imported.
            with open(local, "rb") as fh:
                image = Image.open(fh)
                exif = images.read_exif(image)
                thumbnail = images.make_thumbnail(image)
            thumb_name = f"thumbnails/{photo.sha256[:2]}/{photo.sha256}.jpg"
            if not default_storage.exists(thumb_name):
                default_storage.save(thumb_name, ContentFile(thumbnail))
            photo.thumbnail.name = thumb_name
            photo.exif = _exif_of(row) or {
                "make": exif.make,
                "model": exif.model,
                "serial": exif.serial,
                "tags": exif.raw,
            }
            photo.taken_at = taken_at
            photo.camera_time = taken_at - deployment.clock_offset
            photo.time_source = Photo.TimeSource.PACKAGE
            photo.status = Photo.Status.PROCESSED
            photo.save()
        return photo, result.created

    def remote(self, row: dict, deployment: Deployment, taken_at: datetime) -> Photo:
        """Return a photo record, not yet saved, for media whose file is not in the package."""
        # Only the record travels: the photo is kept with its time, event and
        # sightings, and MediaLink says where the file itself is.
        return Photo(
            deployment=deployment,
            sha256=_remote_hash(deployment, row["mediaID"]),
            original_name=(row.get("fileName") or Path(row["filePath"]).name)[:255],
            size_bytes=0,
            taken_at=taken_at,
            camera_time=taken_at - deployment.clock_offset,
            time_source=Photo.TimeSource.PACKAGE,
            exif=_exif_of(row),
            status=Photo.Status.PROCESSED,
            uploaded_by=self.user,
        )

    # Events ----------------------------------------------------------------------

    def events_from(self) -> None:
        """Create (or find) the events the package names and put their photos in them.

        An event is the one linked to its eventID in its deployment, else the event
        one of its photos is in already, else one of the same span; its photos, and the
        deployment's photos in no event within its span, join it. Events are handled
        in runs by deployment and start, each run asking each table once.
        """
        by_pk = {d.pk: d for d in self.deployments.values()}
        self.scratch.events_gather()
        for groups in self.scratch.event_groups(BATCH_EVENTS):
            deployment_pks = {self.deployments[dep].pk for _g, dep, _e, _s, _t in groups}
            members = self.scratch.members(groups[0][0], groups[-1][0])
            by_link: dict[tuple[int, str], Event] = {}
            for link in (
                EventLink.objects.filter(
                    identifier__in={eid for _g, _d, eid, _s, _t in groups},
                    event__deployment_id__in=deployment_pks,
                )
                .select_related("event")
                .order_by("event__start", "event__pk")
            ):
                by_link.setdefault((link.event.deployment_id, link.identifier), link.event)
            member_events = dict(
                Photo.objects.filter(
                    pk__in=[pk for pks in members.values() for pk in pks]
                ).values_list("pk", "event_id")
            )
            found = {
                e.pk: e
                for e in Event.objects.filter(
                    pk__in={e for e in member_events.values() if e is not None}
                )
            }
            by_span: dict[tuple[int, datetime, datetime], Event] = {}
            for event in Event.objects.filter(
                deployment_id__in=deployment_pks, start__in={s for _g, _d, _e, s, _t in groups}
            ).order_by("start", "pk"):
                by_span.setdefault((event.deployment_id, event.start, event.end), event)

            # The event each photo is in, or joins with an earlier event of this run.
            event_of = {pk: found[e] for pk, e in member_events.items() if e is not None}
            chosen: list[tuple[int, str, Event, datetime, datetime]] = []
            new_events = []
            for group, dep, eid, start, end in groups:
                deployment = self.deployments[dep]
                event = (
                    by_link.get((deployment.pk, eid))
                    or next((event_of[pk] for pk in members.get(group, []) if pk in event_of), None)
                    or by_span.get((deployment.pk, start, end))
                )
                if event is None:
                    event = Event(deployment=deployment, start=start, end=end)
                    by_span[(deployment.pk, start, end)] = event
                    new_events.append(event)
                    self.count("events", True)
                else:
                    self.count("events", False)
                for pk in members.get(group, []):
                    event_of.setdefault(pk, event)
                chosen.append((group, eid, event, start, end))
            Event.objects.bulk_create(new_events, batch_size=BATCH_ROWS)
            self.scratch.created_add(e.pk for e in new_events)
            self.scratch.events_set((event.pk, group) for group, _e, event, _s, _t in chosen)

            linked = set(
                EventLink.objects.filter(
                    event_id__in={event.pk for _g, _e, event, _s, _t in chosen}
                ).values_list("event_id", flat=True)
            )
            links = []
            for _group, eid, event, _start, _end in chosen:
                if event.pk not in linked:
                    linked.add(event.pk)
                    links.append(EventLink(event=event, identifier=eid))
            EventLink.objects.bulk_create(links, batch_size=BATCH_ROWS)
            self.photos_into_events(chosen, members, member_events, by_pk)
            batch_done()

    def photos_into_events(
        self,
        chosen: list[tuple[int, str, Event, datetime, datetime]],
        members: dict[int, list[int]],
        member_events: dict[int, int | None],
        deployments: dict[int, Deployment],
    ) -> None:
        """Put a run of events' photos, and the loose photos within their spans, in them."""
        windows: dict[int, list[datetime]] = {}
        for _group, _eid, event, start, end in chosen:
            window = windows.setdefault(event.deployment_id, [start, end])
            window[0] = min(window[0], start, event.start)
            window[1] = max(window[1], end, event.end)
        loose_by_deployment: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        if windows:
            within = Q()
            for pk, (first, last) in windows.items():
                within |= Q(deployment_id=pk, taken_at__gte=first, taken_at__lte=last)
            for pk, deployment_pk, taken_at in Photo.objects.filter(
                within, event__isnull=True
            ).values_list("pk", "deployment_id", "taken_at"):
                loose_by_deployment[deployment_pk].append((taken_at, pk))
        for photos in loose_by_deployment.values():
            photos.sort()
        placed: dict[int, int] = {}
        for group, _eid, event, start, end in chosen:
            for pk in members.get(group, []):
                if member_events.get(pk) is None and pk not in placed:
                    placed[pk] = event.pk
            loose = loose_by_deployment.get(event.deployment_id, [])
            first, last = min(start, event.start), max(end, event.end)
            for taken_at, pk in loose[bisect.bisect_left(loose, (first, 0)) :]:
                if taken_at > last:
                    break
                placed.setdefault(pk, event.pk)
        _photo_events_set(placed.items())

    def events_for_the_rest(self) -> None:
        """Group the package's photos that no event holds by the independence interval.

        The photos are read a page at a time in time order; an event is made when its
        first photo is read and widened as later pages add to it.
        """
        interval = timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)
        for deployment in self.deployments.values():
            current: Event | None = None
            while True:
                # Each page's photos join events, so the next page starts after them.
                page = list(
                    Photo.objects.filter(
                        deployment=deployment, event__isnull=True, taken_at__isnull=False
                    )
                    .order_by("taken_at", "pk")
                    .values_list("pk", "taken_at")[:BATCH_ROWS]
                )
                if not page:
                    break
                placed: list[tuple[int, Event]] = []
                opened: list[Event] = []
                for pk, taken_at in page:
                    if current is None or taken_at - current.end > interval:
                        current = Event(deployment=deployment, start=taken_at, end=taken_at)
                        opened.append(current)
                    current.end = max(current.end, taken_at)
                    placed.append((pk, current))
                widened = [e for e in {id(e): e for _pk, e in placed}.values() if e.pk]
                Event.objects.bulk_create(opened, batch_size=BATCH_ROWS)
                Event.objects.bulk_update(widened, ["end"], batch_size=BATCH_ROWS)
                self.scratch.created_add(e.pk for e in opened)
                for _event in opened:
                    self.count("events", True)
                _photo_events_set((pk, event.pk) for pk, event in placed)
                batch_done()

    # Observations ----------------------------------------------------------------

    def observation_batch(self, rows: list[dict]) -> None:
        """Keep a batch of observation rows and apply them to events and sightings.

        Each table is asked once for the batch (photos, events, observations already
        kept, the registry's own sightings, partner aliases); the rows are kept with one
        insert, and each event's content is changed once. A leopard's observation then
        becomes, or finds, its sighting one row at a time: those are few.
        """
        photo_pks = self.scratch.photos_of(r["mediaID"] for r in rows if r.get("mediaID"))
        event_pks = self.scratch.events_of(
            (r["deploymentID"], r["eventID"]) for r in rows if r.get("eventID")
        )
        photos = {
            p.pk: p
            for p in Photo.objects.filter(pk__in=photo_pks.values()).select_related("deployment")
        }
        wanted_events = set(event_pks.values()) | {
            p.event_id for p in photos.values() if p.event_id
        }
        events = {
            e.pk: e
            for e in Event.objects.filter(pk__in=wanted_events).select_related("exchange_link")
        }
        created_events = self.scratch.created_among(events)
        self.aliases_fetch(rows)

        placed = []  # row, photo, event, taxon
        for row in rows:
            photo = photos.get(photo_pks.get(row.get("mediaID") or "", 0))
            if photo is not None:
                event = events.get(photo.event_id) if photo.event_id else None
            else:
                event = events.get(event_pks.get((row["deploymentID"], row.get("eventID") or "")))
            taxon = self.taxon(row["scientificName"]) if row.get("scientificName") else None
            placed.append((row, photo, event, taxon))

        ours = self.written_here_among(placed, created_events)
        stored = self.observations_store(placed, skip=ours)
        self.events_content(placed)
        links: list[tuple[str, Event, str]] = []
        for row, photo, event, _taxon in placed:
            identifier = row["observationID"]
            classified_by = (row.get("classifiedBy") or "")[:255]
            leopard = row["observationType"] == "animal" and mapping.is_leopard(
                row.get("scientificName")
            )
            if not leopard:
                if event is not None and row["observationLevel"] == "event":
                    links.append((identifier, event, classified_by))
                continue
            self.leopard_observation(row, photo, event, stored.get(identifier))
        self.event_links_add(links)

    def aliases_fetch(self, rows: list[dict]) -> None:
        """Look up, in one query, the aliases of the partner ids a batch names first."""
        if not self.organisation:
            return
        wanted = {r["individualID"] for r in rows if r.get("individualID")} - set(self.aliases)
        if not wanted:
            return
        for partner_id in wanted:
            self.aliases[partner_id] = None
        for alias in (
            PartnerAlias.objects.filter(organisation=self.organisation, partner_id__in=wanted)
            .select_related("leopard")
            .order_by("pk")
        ):
            if self.aliases[alias.partner_id] is None:
                self.aliases[alias.partner_id] = alias

    def written_here_among(self, placed: list[tuple], created_events: set[int]) -> set[str]:
        """Return the observationIDs of a batch that this registry wrote from its own records.

        The registry's export sent back adds nothing: its rows stand for records it holds.
        """
        code = re.escape(self.park.code)
        sighting_ids: dict[str, tuple[int, int]] = {}
        ours = set()
        for row, photo, event, _taxon in placed:
            identifier = row["observationID"]
            found = re.fullmatch(rf"{code}-s(\d+)", identifier)
            if found and photo is not None:
                sighting_ids[identifier] = (int(found[1]), photo.pk)
                continue
            if event is None or event.pk in created_events:
                continue
            link = (
                getattr(event, "exchange_link", None) if hasattr(event, "exchange_link") else None
            )
            mine = link.identifier if link else f"{self.park.code}-e{event.pk}"
            if identifier == f"{mine}-obs":
                ours.add(identifier)
        if sighting_ids:
            held = set(
                Sighting.objects.filter(
                    pk__in=[pk for pk, _photo in sighting_ids.values()]
                ).values_list("pk", "photo_id")
            )
            ours |= {i for i, pair in sighting_ids.items() if pair in held}
        return ours

    def observations_store(self, placed: list[tuple], *, skip: set[str]) -> dict[str, Observation]:
        """Keep a batch's observation rows, every field as received; return them by id."""
        kept = [p for p in placed if p[0]["observationID"] not in skip]
        deployment_pks = {self.deployments[row["deploymentID"]].pk for row, *_ in kept}
        existing = {
            (o.deployment_id, o.identifier): o
            for o in Observation.objects.filter(
                deployment_id__in=deployment_pks,
                identifier__in=[row["observationID"][:255] for row, *_ in kept],
            )
        }
        stored: dict[str, Observation] = {}
        new = []
        for row, photo, event, taxon in kept:
            deployment = self.deployments[row["deploymentID"]]
            identifier = row["observationID"][:255]
            observation = existing.get((deployment.pk, identifier))
            if observation is None:
                observation = _observation_of(row, deployment, photo, event, taxon)
                observation.import_run = self.import_run
                existing[(deployment.pk, identifier)] = observation
                new.append(observation)
                self.count("observations", True)
            else:
                self.count("observations", False)
            stored[row["observationID"]] = observation
        Observation.objects.bulk_create(new, batch_size=BATCH_ROWS)
        return stored

    def events_content(self, placed: list[tuple]) -> None:
        """Give each event of a batch the strongest content its rows say, in one update."""
        changed: dict[int, Event] = {}
        species: dict[int, Species] = {}
        for row, _photo, event, taxon in placed:
            if event is None:
                continue
            content = mapping.content_of(row["observationType"], row.get("scientificName"))
            if content == Event.Content.OTHER_SPECIES and taxon is not None:
                # The review names the species from the same taxon list.
                species.setdefault(event.pk, taxon)
            new_content = mapping.stronger(event.content, content)
            if new_content != event.content:
                event.content = new_content
                changed[event.pk] = event
            if (
                row["observationLevel"] == "event"
                and row.get("classificationMethod") == "human"
                and event.status != Event.Status.REVIEWED
            ):
                event.status = Event.Status.REVIEWED
                changed[event.pk] = event
        # Few contents and statuses: one update for each pair, not one for each event.
        by_state: dict[tuple[str, str], list[int]] = defaultdict(list)
        for event in changed.values():
            by_state[(event.content, event.status)].append(event.pk)
        for (content, status), pks in by_state.items():
            Event.objects.filter(pk__in=pks).update(content=content, status=status)
        if not species:
            return
        reviews = {r.event_id: r for r in EventReview.objects.filter(event_id__in=species)}
        unnamed = []
        for event_pk, taxon in species.items():
            review = reviews.get(event_pk)
            if review is not None and review.species_id is None:
                review.species = taxon
                unnamed.append(review)
        EventReview.objects.bulk_update(unnamed, ["species"], batch_size=BATCH_ROWS)
        EventReview.objects.bulk_create(
            [EventReview(event_id=pk, species=t) for pk, t in species.items() if pk not in reviews],
            batch_size=BATCH_ROWS,
        )

    def event_links_add(self, links: list[tuple[str, Event, str]]) -> None:
        """Link a batch's event-level observations to their events, once each."""
        if not links:
            return
        existing = set(
            ObservationLink.objects.filter(
                identifier__in={i for i, _e, _c in links},
                event_id__in={e.pk for _i, e, _c in links},
            ).values_list("identifier", "event_id")
        )
        new = []
        for identifier, event, classified_by in links:
            if (identifier, event.pk) not in existing:
                existing.add((identifier, event.pk))
                new.append(
                    ObservationLink(identifier=identifier, event=event, classified_by=classified_by)
                )
        ObservationLink.objects.bulk_create(new, batch_size=BATCH_ROWS)

    def leopard_observation(
        self, row: dict, photo: Photo | None, event: Event | None, stored: Observation | None
    ) -> None:
        """Make a leopard's observation a sighting, or find the sighting it already is."""
        identifier = row["observationID"]
        sighting = None
        if row["observationLevel"] == "media" and photo is not None:
            sighting = self.sighting(row, photo)
        elif row.get("individualID") and event is not None:
            # An event-level leopard record: the event's first photo stands in for it.
            first = event.photos.order_by("taken_at", "pk").first()
            already = Sighting.objects.filter(
                photo__event=event, exchange_observation__individual_id=row["individualID"]
            ).exists() or (
                not self.organisation
                and Sighting.objects.filter(
                    photo__event=event, leopard__code=row["individualID"][:40]
                ).exists()
            )
            if first is not None and not already:
                # Its own identifier: the event keeps the observation's.
                sighting = self.sighting({**row, "observationID": f"{identifier}-photo"}, first)
            elif first is None:
                self.warn(
                    ImportRun.Warning.INDIVIDUAL_WITHOUT_PHOTOS,
                    id=identifier,
                    ind=row["individualID"],
                )
        if (
            sighting is not None
            and stored is not None
            and stored.sighting_id is None
            and not Observation.objects.filter(sighting=sighting).exists()
        ):
            stored.sighting = sighting
            stored.save(update_fields=["sighting"])
        if row["observationLevel"] == "event" and event is not None:
            ObservationLink.objects.get_or_create(
                identifier=identifier,
                event=event,
                sighting=None,
                defaults={"classified_by": (row.get("classifiedBy") or "")[:255]},
            )

    def sighting(self, row: dict, photo: Photo) -> Sighting | None:
        identifier = row["observationID"]
        known = (
            ObservationLink.objects.filter(
                identifier=identifier, sighting__photo__deployment=photo.deployment
            )
            .select_related("sighting")
            .first()
        )
        if known is not None:
            self.count("sightings", False)
            return known.sighting
        tags = mapping.tags_parse(row.get("observationTags"))
        partner_id = row.get("individualID") if self.organisation else None
        if partner_id:
            alias = self.alias(partner_id)
            leopard = leopard_resolve(alias.leopard) if alias else None
        else:
            leopard = (
                self.leopard(row["individualID"], sex=row.get("sex"))
                if row.get("individualID")
                else None
            )
        box = [_float(row.get(k)) for k in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")]
        if None in box:
            box = [None] * 4
        same_box = [o for o in Sighting.objects.filter(photo=photo) if _same_box(box, o)]
        same = next(
            (o for o in same_box if leopard is None or o.leopard_id in (None, leopard.pk)), None
        )
        if same is None and partner_id and same_box:
            # The partner's id says one cat, our identification of this animal another:
            # never merge them silently; the sighting goes back to review.
            same = same_box[0]
            self.warn(
                ImportRun.Warning.PARTNER_ID_CONFLICT,
                id=identifier,
                org=self.organisation,
                partner=partner_id,
                ours=leopard.code,
                other=same.leopard.code if same.leopard else "—",
            )
            if same.status == Sighting.Status.CONFIRMED:
                same.status = Sighting.Status.PROPOSED
                same.save(update_fields=["status"])
        if same is not None:
            ObservationLink.objects.get_or_create(
                sighting=same,
                defaults={
                    "identifier": identifier,
                    "classified_by": (row.get("classifiedBy") or "")[:255],
                },
            )
            self.count("sightings", False)
            return same
        machine = row.get("classificationMethod") == "machine"
        status = tags.get("status")
        if status not in Sighting.Status.values or partner_id:
            status = Sighting.Status.CONFIRMED if leopard else Sighting.Status.PROPOSED
        if status == Sighting.Status.CONFIRMED and leopard is None:
            status = Sighting.Status.PROPOSED
        classified_by = (row.get("classifiedBy") or "")[:255]
        person = (
            get_user_model().objects.filter(username=classified_by).first()
            if classified_by and not machine and not self.organisation
            else None
        )
        sighting = Sighting.objects.create(
            photo=photo,
            bbox_x=box[0],
            bbox_y=box[1],
            bbox_w=box[2],
            bbox_h=box[3],
            flank=tags.get("flank") if tags.get("flank") in Flank.values else Flank.UNKNOWN,
            leopard=leopard,
            observed_age_class=mapping.AGE_CLASS.get(row.get("lifeStage") or "", AgeClass.UNKNOWN),
            status=status,
            source=Sighting.Source.DETECTOR if machine else Sighting.Source.IMPORT,
            detection_confidence=_float(row.get("classificationProbability")) if machine else None,
            identified_by=person,
            identified_at=_time(row.get("classificationTimestamp")),
        )
        ObservationLink.objects.create(
            sighting=sighting, identifier=identifier, classified_by=classified_by
        )
        if sighting.has_box and photo.file:
            # Features and candidates; a confirmed one also joins the match catalogue.
            sighting_queue_match(sighting_id=sighting.pk)
        self.count("sightings", True)
        return sighting


TAXON_OWN_KEYS = {"scientificName", "taxonID", "taxonRank", "vernacularNames", "taxonIDReference"}


def _taxon_name(scientific_name: str, vernacular: dict[str, str]) -> str:
    """Return a display name for a new taxon that no other taxon in the list has."""
    for name in (vernacular.get("eng"), scientific_name, f"{scientific_name} ({len(vernacular)})"):
        if name and not Species.objects.filter(name=name[:120]).exists():
            return name[:120]
    return f"{scientific_name[:100]} {Species.objects.count() + 1}"


def _observation_of(
    row: dict, deployment: Deployment, photo: Photo | None, event: Event | None, taxon: Any
) -> Observation:
    """Return an observation row as the registry keeps it, every field as received."""
    return Observation(
        deployment=deployment,
        identifier=row["observationID"][:255],
        photo=photo,
        event=event,
        taxon=taxon,
        event_identifier=(row.get("eventID") or "")[:255],
        event_start=_time(row.get("eventStart")),
        event_end=_time(row.get("eventEnd")),
        level=row["observationLevel"],
        type=row["observationType"],
        camera_setup_type=(row.get("cameraSetupType") or "")[:20],
        scientific_name=(row.get("scientificName") or "")[:255],
        count=_int(row.get("count")),
        life_stage=(row.get("lifeStage") or "")[:20],
        sex=(row.get("sex") or "")[:10],
        behavior=row.get("behavior") or "",
        individual_id=(row.get("individualID") or "")[:255],
        position_radius=_float(row.get("individualPositionRadius")),
        position_angle=_float(row.get("individualPositionAngle")),
        speed=_float(row.get("individualSpeed")),
        bbox_x=_float(row.get("bboxX")),
        bbox_y=_float(row.get("bboxY")),
        bbox_w=_float(row.get("bboxWidth")),
        bbox_h=_float(row.get("bboxHeight")),
        classification_method=(row.get("classificationMethod") or "")[:10],
        classified_by=(row.get("classifiedBy") or "")[:255],
        classification_timestamp=_time(row.get("classificationTimestamp")),
        classification_probability=_float(row.get("classificationProbability")),
        tags=row.get("observationTags") or "",
        comments=row.get("observationComments") or "",
    )


def _deployment_fields(row: dict) -> dict[str, Any]:
    """Return the deployment's Camtrap DP fields that the registry keeps beside it."""
    return {
        "location_name": (row.get("locationName") or "")[:255],
        "coordinate_uncertainty": _int(row.get("coordinateUncertainty")),
        "setup_by": (row.get("setupBy") or "")[:255],
        "camera_delay": _int(row.get("cameraDelay")),
        "camera_height": _float(row.get("cameraHeight")),
        "camera_depth": _float(row.get("cameraDepth")),
        "camera_tilt": _int(row.get("cameraTilt")),
        "camera_heading": _int(row.get("cameraHeading")),
        "detection_distance": _float(row.get("detectionDistance")),
        "timestamp_issues": _bool(row.get("timestampIssues")),
        "bait_use": _bool(row.get("baitUse")),
        "feature_type": (row.get("featureType") or "")[:40],
        "habitat": row.get("habitat") or "",
        "groups": row.get("deploymentGroups") or "",
        "tags": row.get("deploymentTags") or "",
    }


def _precision(value: Any) -> Decimal | None:
    """Return a package's coordinatePrecision when its coordinates are generalised (0.01° up)."""
    try:
        precision = Decimal(str(value)).quantize(Decimal("0.000001"))
    except (ArithmeticError, ValueError):
        return None
    return precision if Decimal("0.01") <= precision <= 180 else None


def _same_box(box: list[float | None], sighting: Sighting) -> bool:
    # Packages write boxes to six decimals; the registry keeps full floats.
    theirs = (sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h)
    if None in box or None in theirs:
        return None in box and None in theirs
    return all(abs(a - b) < 1e-5 for a, b in zip(box, theirs, strict=True))


def _tag_pairs(text: str | None) -> list[tuple[str, str]]:
    pairs = []
    for part in (text or "").split("|"):
        key, _, value = part.strip().partition(":")
        if key:
            pairs.append((key.strip(), value.strip()))
    return pairs


def _photo_events_set(pairs: Iterable[tuple[int, int]]) -> None:
    """Put each photo (pk) in its event (pk), a batch at a time."""
    pairs = list(pairs)
    if not pairs:
        return
    if connection.vendor != "postgresql":
        Photo.objects.bulk_update(
            [Photo(pk=pk, event_id=event) for pk, event in pairs], ["event"], batch_size=BATCH_ROWS
        )
        return
    # Django's bulk_update builds a CASE of one branch per photo, which costs more to
    # build than to run; PostgreSQL joins a list of pairs instead.
    table = connection.ops.quote_name(Photo._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), BATCH_ROWS):
            part = pairs[start : start + BATCH_ROWS]
            values = ", ".join(["(%s, %s)"] * len(part))
            cursor.execute(
                f"UPDATE {table} AS photo SET event_id = pair.event "
                f"FROM (VALUES {values}) AS pair (id, event) WHERE photo.id = pair.id",
                [n for pair in part for n in pair],
            )


def _remote_hash(deployment: Deployment, media_id: str) -> str:
    key = f"camtrap-dp remote media\n{deployment.pk}\n{media_id}"
    return hashlib.sha256(key.encode()).hexdigest()


def _exif_of(row: dict) -> dict:
    value = row.get("exifData")
    if not value:
        return {}
    try:
        parsed = json_load_checked(value)
    except JsonRefused:
        return {"text": value}
    return parsed if isinstance(parsed, dict) else {"value": parsed}
