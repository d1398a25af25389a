"""Receive a photo, process it (EXIF, time, thumbnail, event) and retry failures."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from traps import images
from traps.bulk import write_fields
from traps.images import PhotoRejected
from traps.models import Deployment, Photo, photo_upload_to, thumbnail_upload_to
from traps.services.events import events_place, events_rebuild

logger = logging.getLogger(__name__)


@dataclass
class ReceiveResult:
    photo: Photo
    created: bool


def photo_receive(
    *,
    deployment: Deployment,
    fileobj: IO[bytes],
    original_name: str,
    uploaded_by: AbstractBaseUser | None = None,
    expected_sha256: str = "",
) -> ReceiveResult:
    """Validate a photo by content, store it under its hash and queue its processing.

    A file whose SHA-256 is already stored is not stored again: the existing
    photo comes back with created=False, whichever deployment it belongs to (the
    caller decides what the user may learn about it). Raises PhotoRejected for a
    bad file, and for bytes that do not match the checksum the client sent.
    """
    name = images.clean_file_name(original_name)
    sha256, size = images.sha256_of(fileobj)
    if expected_sha256 and expected_sha256.lower() != sha256:
        raise PhotoRejected(
            "hash_mismatch",
            _("The file arrived damaged (its checksum does not match); send it again."),
        )
    existing = Photo.objects.filter(sha256=sha256).first()
    if existing is not None:
        return ReceiveResult(existing, created=False)
    images.check_size(size, settings.PHOTO_MAX_BYTES)
    info = images.inspect_image(fileobj, settings.PHOTO_MAX_PIXELS)

    photo = Photo(
        deployment=deployment,
        sha256=sha256,
        original_name=name,
        size_bytes=size,
        media_type=info.media_type,
        width=info.width,
        height=info.height,
        uploaded_by=uploaded_by,
    )
    stored_name = photo_upload_to(photo, name)
    content = File(fileobj, name=stored_name)
    # Copied in chunks of 1 MB, not Django's 64 KB: a 6 MB photo in 6 writes, not 100.
    content.DEFAULT_CHUNK_SIZE = images.HASH_CHUNK
    _store_once(stored_name, content)
    photo.file.name = stored_name
    try:
        with transaction.atomic():
            photo.save()
    except IntegrityError:
        # A concurrent upload of the same bytes committed first.
        return ReceiveResult(Photo.objects.get(sha256=sha256), created=False)
    _queue_processing(photo.pk)
    return ReceiveResult(photo, created=True)


def _store_once(name: str, content: File) -> None:
    # Names come from content hashes, so a file already there (an earlier attempt
    # whose database write failed, or another worker's run) holds these very
    # bytes: keep it rather than delete and rewrite it under a reader's feet.
    if default_storage.exists(name):
        return
    content.seek(0)
    saved_as = default_storage.save(name, content)
    if saved_as != name:  # lost a race to a concurrent writer of the same bytes
        default_storage.delete(saved_as)


def _queue_processing(photo_id: int) -> None:
    transaction.on_commit(lambda: _send_processing(photo_id))


def _send_processing(photo_id: int) -> None:
    from traps import tasks

    try:
        tasks.photo_process.delay(photo_id)
    except (KombuOperationalError, RedisError, OSError) as exc:
        # The photo is stored: an unreachable broker must not turn that into an
        # error for the uploader. It stays "received" and the periodic sweep
        # (photos_requeue_stuck) queues it once the broker answers again.
        logger.warning(
            "photo %s stored but not queued (%s); the sweep will queue it", photo_id, exc
        )


def corrected_time(
    camera_time: datetime | None, clock_offset: timedelta
) -> tuple[datetime | None, str]:
    """Return the true time of a camera time and the time problem, if any."""
    if camera_time is None:
        return None, Photo.TimeProblem.MISSING
    try:
        taken_at = camera_time + clock_offset
    except OverflowError:
        return None, Photo.TimeProblem.IMPLAUSIBLE
    if not images.plausible_time(taken_at):
        return None, Photo.TimeProblem.IMPLAUSIBLE
    return taken_at, Photo.TimeProblem.NONE


def upload_time_outside(*, deployment: Deployment, head: bytes, name: str) -> datetime | None:
    """Return an upload's corrected capture time if it falls outside the deployment's dates.

    Read from the upload itself, as processing will read it, so that the uploader
    hears of a wrong deployment or camera clock at once, before processing runs.
    """
    exif = images.read_exif_head(head)
    if exif is None:
        return None
    local, _source = images.camera_time_of(exif, name)
    if local is None:
        return None
    taken_at, _problem = corrected_time(
        local.replace(tzinfo=deployment.station.park.tzinfo), deployment.clock_offset
    )
    return taken_at if _outside(deployment, taken_at) else None


def photo_process(*, photo_id: int, force: bool = False, with_waiting: int = 0) -> Photo | None:
    """Read EXIF, correct the time, make the thumbnail and place the photo in an event.

    Safe to run twice and after a worker died mid-way: a processed photo is left
    alone, the thumbnail is named by the content hash, and the database writes
    happen in one transaction under a lock of the deployment. Storage errors
    propagate so that the task retries; bytes that do not decode fail the photo
    with a reason.

    with_waiting > 0 also takes up to that many photos of the same deployment
    that are still waiting (received): a card arrives as hundreds of uploads,
    each queueing its own task, and the first task to run processes the photos
    queued behind it in one pass, one transaction and one deployment lock; their
    own tasks then find them processed. A waiting photo goes to one batch; a
    task whose own photo another worker's batch holds decodes it as well, but
    only the first to hold the lock writes results.
    """
    if not force:
        # Most tasks of a card find their photo already processed by an earlier task's
        # batch: that answer costs one narrow read, without the joins processing needs.
        done = Photo.objects.only("status", "deployment_id").filter(
            pk=photo_id, status=Photo.Status.PROCESSED
        )
        if (photo := done.first()) is not None:
            return photo
    photo = _photos_to_read().filter(pk=photo_id).first()
    if photo is None:
        logger.info("photo %s is gone; nothing to process", photo_id)
        return None
    photos = [photo]
    if with_waiting > 0 and not force:
        photos += (
            _photos_to_read()
            .filter(deployment_id=photo.deployment_id, status=Photo.Status.RECEIVED)
            .exclude(pk=photo_id)
            .order_by("pk")[:with_waiting]
        )
    return _process(photos, force=force).get(photo_id)


def _photos_to_read():
    return Photo.objects.select_related("deployment__station__park")


def _process(photos: list[Photo], *, force: bool) -> dict[int, Photo]:
    """Decode each photo, then write each deployment's results in one transaction.

    A photo that does not decode fails alone, with its reason. A storage error
    stops the batch once the photos decoded so far are written, and propagates
    so that the task retries the rest.
    """
    if not photos:
        return {}
    results: dict[int, Photo] = {}
    with _commits_without_waiting_for_disk():
        photos = _claim(photos, force=force)
        decoded: dict[int, list[tuple[Photo, images.Decoded, str]]] = {}
        storage_error: OSError | None = None
        for photo in photos:
            try:
                outcome = _decode(photo)
            except OSError as exc:
                storage_error = exc
                break
            if isinstance(outcome, Photo):  # failed, with its reason
                results[photo.pk] = outcome
            else:
                decoded.setdefault(photo.deployment_id, []).append((photo, *outcome))
        for items in decoded.values():
            results.update(_store_results(items, force=force))
    if storage_error is not None:
        raise storage_error
    return results


def _claim(photos: list[Photo], *, force: bool) -> list[Photo]:
    """Mark the photos processing; return those this run is to process.

    The first is the task's own photo, taken even when it is processing: its
    worker may have died mid-way. The others were read as waiting, and another
    worker's batch may have taken some since: they are left to it, so that two
    workers that start together do not decode the same photos. Each is taken
    only if it is still received once this run holds its row, and a row that
    another run is claiming is skipped, not waited for. Only the task's own
    photo is waited for, first and while this run holds no other row, so that
    two runs cannot each wait for the other's.
    """
    own, waiting = photos[0], photos[1:]
    rows = Photo.objects.select_for_update(no_key=True)
    with transaction.atomic():
        own_rows = rows.filter(pk=own.pk)
        if not force:
            # Another worker may have finished it since it was read (it held it
            # in a batch): its result stands, and this run will find it
            # processed under the deployment's lock instead of writing it again.
            own_rows = own_rows.exclude(status=Photo.Status.PROCESSED)
        ids = list(own_rows.values_list("pk", flat=True))
        taken = set(
            Photo.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(pk__in=[photo.pk for photo in waiting], status=Photo.Status.RECEIVED)
            .values_list("pk", flat=True)
        )
        Photo.objects.filter(pk__in=[*ids, *taken]).update(
            status=Photo.Status.PROCESSING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
    return [own, *(photo for photo in waiting if photo.pk in taken)]


def _decode(photo: Photo) -> Photo | tuple[images.Decoded, str]:
    """Decode a stored photo and store its thumbnail; a photo that does not decode fails."""
    with default_storage.open(photo.file.name, "rb") as fh:
        try:
            decoded = images.decode(fh, settings.PHOTO_MAX_PIXELS)
        except images.DecodeFailed as exc:
            failed = photo_mark_failed(photo_id=photo.pk, code=exc.code, detail=exc.detail)
            return failed or photo
    thumb_name = thumbnail_upload_to(photo, "")
    _store_once(thumb_name, ContentFile(decoded.thumbnail))
    return decoded, thumb_name


def _store_results(
    items: list[tuple[Photo, images.Decoded, str]], *, force: bool
) -> dict[int, Photo]:
    """Write one deployment's processing results in one transaction; return the photos."""
    try:
        return _store_processed(items, force=force)
    except DataError:
        if len(items) > 1:
            # One photo's values spoilt the transaction: write each alone, so
            # that only that photo fails.
            stored: dict[int, Photo] = {}
            for item in items:
                stored.update(_store_results([item], force=force))
            return stored
        # A value the database refuses (EXIF text is cleaned, but cameras are
        # inventive): retrying cannot help, and the database's message names
        # columns and values, so the ranger gets a code and the log the rest.
        photo_id = items[0][0].pk
        logger.exception("photo %s: the database refused its processing results", photo_id)
        return {photo_id: photo_mark_failed(photo_id=photo_id, code=Photo.ErrorCode.UNSTORABLE)}


def _store_processed(
    items: list[tuple[Photo, images.Decoded, str]], *, force: bool
) -> dict[int, Photo]:
    times = {photo.pk: _camera_time(photo, decoded.exif) for photo, decoded, _ in items}
    deployment_id = items[0][0].deployment_id
    with transaction.atomic():
        # One writer per deployment at a time, so two workers cannot both open a
        # new event for photos that belong together, and a clock offset change
        # cannot slip in between reading the offset and placing the photo. A
        # no-key lock: uploads into the deployment (whose foreign key takes a key
        # share of the row) do not wait behind a worker, nor behind one whose
        # host vanished with the lock held; other writers of the row still do.
        deployment = (
            Deployment.objects.select_for_update(no_key=True).filter(pk=deployment_id).first()
        )
        if deployment is None:  # deleted meanwhile, with its photos
            return {}
        # Read after the lock, in a statement of its own: a statement sees the
        # database as it was when the statement began, so photos read by the one
        # that waited for the lock would not show what the run that held it
        # wrote. This run would then write another run's photos again and move
        # them out of the event that run had just opened, leaving it empty.
        locked = {
            photo.pk: photo
            for photo in Photo.objects.filter(pk__in=list(times), deployment=deployment)
        }
        stored: dict[int, Photo] = {}
        written: list[Photo] = []
        rebuild = False
        for photo_before, decoded, thumb_name in items:
            photo = locked.get(photo_before.pk)
            if photo is None:  # deleted (or moved to another deployment) meanwhile
                continue
            photo.deployment = deployment
            stored[photo.pk] = photo
            if photo.status == Photo.Status.PROCESSED and not force:
                continue
            previous_event_id = photo.event_id
            exif = decoded.exif
            photo.exif = {
                "make": exif.make,
                "model": exif.model,
                "serial": exif.serial,
                "tags": exif.raw,
            }
            photo.width, photo.height = decoded.width, decoded.height
            photo.thumbnail.name = thumb_name
            photo.camera_time, photo.time_source = times[photo.pk]
            photo.taken_at, photo.time_problem = corrected_time(
                photo.camera_time, deployment.clock_offset
            )
            photo.outside_deployment = _outside(deployment, photo.taken_at)
            photo.status = Photo.Status.PROCESSED
            photo.error_code, photo.error = "", ""
            written.append(photo)
            # Processed before (a forced run): its old event may now be split.
            rebuild = rebuild or previous_event_id is not None
        events_place([photo for photo in written if photo.event_id is None])
        now = timezone.now()
        for photo in written:
            photo.updated_at = now
        # Two statements for all: a round trip per photo costs more than its SQL.
        write_fields(written, _PROCESSED_FIELDS)
        if rebuild:
            events_rebuild(deployment_id=deployment_id)
    return stored


_PROCESSED_FIELDS = [
    "exif",
    "width",
    "height",
    "thumbnail",
    "camera_time",
    "time_source",
    "taken_at",
    "time_problem",
    "outside_deployment",
    "status",
    "error_code",
    "error",
    "event",
    "updated_at",
]


def _camera_time(photo: Photo, exif: images.ExifData) -> tuple[datetime | None, str]:
    """Return the camera's clock reading, in the park's time zone, and where it was read.

    A time from the file name is still the camera's clock, so the clock offset
    applies to it too; its source is recorded for the reviewer.
    """
    local, source = images.camera_time_of(exif, photo.original_name)
    if local is None:
        return None, source
    # The camera clock shows local time; an ambiguous hour at a DST change takes
    # its first occurrence (fold=0), which is what zoneinfo does by default.
    return local.replace(tzinfo=photo.deployment.station.park.tzinfo), source


@contextmanager
def _commits_without_waiting_for_disk() -> Iterator[None]:
    """Let commits inside return before PostgreSQL has flushed them to disk.

    Only for writes that can be recomputed: processing results and statuses.
    If the database crashes in the fraction of a second before the flush, the
    photo is found "received" or "processing" again and the periodic sweep
    queues it; PostgreSQL's log stays ordered, so nothing later survives an
    earlier loss. A stored upload itself is always committed synchronously.
    Saves a disk flush per commit: two per photo.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        # Inside a transaction being rolled back, the rollback undoes the SET.
        if not connection.needs_rollback:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")
            except DatabaseError:
                # A broken connection: drop it, the next one starts with the default.
                connection.close()


def _outside(deployment: Deployment, taken_at: datetime | None) -> bool:
    if taken_at is None:
        return False
    return taken_at < deployment.start or (deployment.end is not None and taken_at > deployment.end)


def photo_mark_failed(*, photo_id: int, code: str, detail: str = "") -> Photo | None:
    """Record that a photo could not be processed: why (a Photo.ErrorCode) and the detail."""
    Photo.objects.filter(pk=photo_id).update(
        status=Photo.Status.FAILED,
        error_code=code,
        error=detail[:2000],
        updated_at=timezone.now(),
    )
    return Photo.objects.filter(pk=photo_id).first()


def photo_retry(*, photo_id: int) -> bool:
    """Queue a failed or stuck photo for processing again; False if it needs none."""
    updated = (
        Photo.objects.filter(pk=photo_id)
        .exclude(status=Photo.Status.PROCESSED)
        .update(status=Photo.Status.RECEIVED, error_code="", error="", updated_at=timezone.now())
    )
    if updated:
        _queue_processing(photo_id)
    return bool(updated)


def photos_requeue_stuck(*, older_than: timedelta | None = None) -> int:
    """Queue again the photos left received or processing (a lost message, a dead worker)."""
    from traps import tasks

    if older_than is None:
        older_than = timedelta(seconds=settings.PHOTOS_STUCK_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    ids = list(
        Photo.objects.filter(
            status__in=[Photo.Status.RECEIVED, Photo.Status.PROCESSING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for photo_id in ids:
        tasks.photo_process.delay(photo_id)
        # So that the next sweep does not queue it again while this message
        # waits behind a long queue.
        Photo.objects.filter(pk=photo_id).update(updated_at=timezone.now())
    return len(ids)
