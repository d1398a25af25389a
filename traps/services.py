"""Writes for deployments and photos: receive, process, group into events."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image

from traps import images
from traps.images import PhotoRejected
from traps.models import Deployment, Event, Photo, photo_upload_to

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
) -> ReceiveResult:
    """Validate a photo by content, store it under its hash and queue its processing.

    A file whose SHA-256 is already stored is not stored again: the existing
    photo comes back with created=False. Raises PhotoRejected for a bad file.
    """
    name = images.clean_file_name(original_name)
    sha256, size = images.sha256_of(fileobj)
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
        width=info.width,
        height=info.height,
        uploaded_by=uploaded_by,
    )
    stored_name = photo_upload_to(photo, name)
    # The name is the content hash, so a file already there (an earlier attempt
    # whose database write failed) holds these very bytes.
    if not default_storage.exists(stored_name):
        saved_as = default_storage.save(stored_name, File(fileobj, name=stored_name))
        if saved_as != stored_name:  # lost a race to a concurrent identical upload
            default_storage.delete(saved_as)
    photo.file.name = stored_name
    try:
        with transaction.atomic():
            photo.save()
    except IntegrityError:
        # A concurrent upload of the same bytes committed first.
        return ReceiveResult(Photo.objects.get(sha256=sha256), created=False)
    _queue_processing(photo.pk)
    return ReceiveResult(photo, created=True)


def _queue_processing(photo_id: int) -> None:
    from traps import tasks

    transaction.on_commit(lambda: tasks.photo_process.delay(photo_id))


def photo_process(*, photo_id: int, force: bool = False) -> Photo | None:
    """Read EXIF, correct the time, make the thumbnail and place the photo in an event.

    Safe to run twice and after a worker died mid-way: every step overwrites the
    same fields and the event placement happens under a lock of the deployment.
    """
    photo = Photo.objects.select_related("deployment__station__park").filter(pk=photo_id).first()
    if photo is None:
        logger.info("photo %s is gone; nothing to process", photo_id)
        return None
    if photo.status == Photo.Status.PROCESSED and not force:
        return photo
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.PROCESSING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    try:
        with photo.file.open("rb") as fh:
            image = Image.open(fh)
            exif = images.read_exif(image)
            thumbnail = images.make_thumbnail(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise  # storage hiccup or missing file: let the task retry
        Photo.objects.filter(pk=photo.pk).update(
            status=Photo.Status.FAILED,
            error=f"The image could not be decoded: {exc}",
            updated_at=timezone.now(),
        )
        photo.refresh_from_db()
        return photo

    thumb_name = f"thumbnails/{photo.sha256[:2]}/{photo.sha256}.jpg"
    if default_storage.exists(thumb_name):
        default_storage.delete(thumb_name)
    default_storage.save(thumb_name, ContentFile(thumbnail))

    deployment = photo.deployment
    park_tz = deployment.station.park.tzinfo
    # The camera clock shows local time; an ambiguous hour at a DST change takes
    # its first occurrence (fold=0), which is what zoneinfo does by default.
    camera_time = exif.camera_time.replace(tzinfo=park_tz) if exif.camera_time else None
    with transaction.atomic():
        # One writer per deployment at a time, so two workers cannot both open a
        # new event for photos that belong together.
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        photo = Photo.objects.select_for_update().get(pk=photo.pk)
        photo.exif = {
            "make": exif.make,
            "model": exif.model,
            "serial": exif.serial,
            "tags": exif.raw,
        }
        photo.thumbnail.name = thumb_name
        photo.camera_time = camera_time
        photo.taken_at = camera_time + deployment.clock_offset if camera_time else None
        photo.outside_deployment = _outside(deployment, photo.taken_at)
        photo.status = Photo.Status.PROCESSED
        photo.error = ""
        if exif.camera_time is None:
            photo.error = "The photo has no capture time in its EXIF; it is not placed in an event."
        photo.save()
        if photo.taken_at is not None:
            _event_place(photo)
    return photo


def _outside(deployment: Deployment, taken_at: datetime | None) -> bool:
    if taken_at is None:
        return False
    return taken_at < deployment.start or (deployment.end is not None and taken_at > deployment.end)


def _interval() -> timedelta:
    return timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)


def _event_place(photo: Photo) -> None:
    """Put a timed photo into the event of its neighbours, joining events it bridges."""
    interval = _interval()
    siblings = Photo.objects.filter(
        deployment_id=photo.deployment_id, taken_at__isnull=False, event__isnull=False
    ).exclude(pk=photo.pk)
    before = siblings.filter(taken_at__lte=photo.taken_at).order_by("-taken_at").first()
    after = siblings.filter(taken_at__gte=photo.taken_at).order_by("taken_at").first()
    joins_before = before is not None and photo.taken_at - before.taken_at <= interval
    joins_after = after is not None and after.taken_at - photo.taken_at <= interval

    if photo.event_id is not None and (
        (joins_before and before.event_id == photo.event_id)
        or (joins_after and after.event_id == photo.event_id)
    ):
        return  # already placed (a second run of the same task)

    if joins_before and joins_after and before.event_id != after.event_id:
        event = Event.objects.get(pk=before.event_id)
        absorbed = Event.objects.get(pk=after.event_id)
        Photo.objects.filter(event=absorbed).update(event=event)
        event.end = max(event.end, absorbed.end)
        absorbed.delete()
    elif joins_before:
        event = Event.objects.get(pk=before.event_id)
    elif joins_after:
        event = Event.objects.get(pk=after.event_id)
    else:
        event = Event.objects.create(
            deployment_id=photo.deployment_id, start=photo.taken_at, end=photo.taken_at
        )
    event.start = min(event.start, photo.taken_at)
    event.end = max(event.end, photo.taken_at)
    if event.status == Event.Status.REVIEWED:
        # A reviewed event that gains a photo needs another look.
        event.status = Event.Status.PENDING
    event.save()
    Photo.objects.filter(pk=photo.pk).update(event=event)
    photo.event = event


@transaction.atomic
def events_rebuild(*, deployment_id: int) -> int:
    """Regroup all timed photos of a deployment into events; return the event count.

    Review work is kept: an event whose photos all land in one new group keeps
    its row (and status).
    """
    deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
    interval = _interval()
    rows = list(
        Photo.objects.filter(deployment=deployment, taken_at__isnull=False)
        .order_by("taken_at", "pk")
        .values_list("pk", "taken_at", "event_id")
    )
    groups: list[list[tuple[int, datetime, int | None]]] = []
    for row in rows:
        if groups and row[1] - groups[-1][-1][1] <= interval:
            groups[-1].append(row)
        else:
            groups.append([row])
    kept: set[int] = set()
    for group in groups:
        old_events = {event_id for _, _, event_id in group if event_id is not None}
        reuse = next(iter(old_events - kept), None) if len(old_events) == 1 else None
        if reuse is not None:
            Event.objects.filter(pk=reuse).update(start=group[0][1], end=group[-1][1])
            event_id = reuse
        else:
            event_id = Event.objects.create(
                deployment=deployment, start=group[0][1], end=group[-1][1]
            ).pk
        kept.add(event_id)
        Photo.objects.filter(pk__in=[pk for pk, _, _ in group]).update(event_id=event_id)
    Photo.objects.filter(deployment=deployment, taken_at__isnull=True).update(event=None)
    Event.objects.filter(deployment=deployment).exclude(pk__in=kept).delete()
    return len(groups)


@transaction.atomic
def deployment_set_clock_offset(
    *, deployment_id: int, clock_offset: timedelta, expected_version: int | None = None
) -> Deployment:
    """Change a camera's clock offset and shift all its photos and events by the change.

    Gaps between photos do not change when every photo moves by the same amount,
    so events keep their photos and review state; only their times move.
    """
    deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
    if expected_version is not None and deployment.version != expected_version:
        raise DeploymentChanged(deployment)
    delta = clock_offset - deployment.clock_offset
    deployment.clock_offset = clock_offset
    deployment.version = F("version") + 1
    deployment.save(update_fields=["clock_offset", "version"])
    deployment.refresh_from_db()
    if delta:
        Photo.objects.filter(deployment=deployment, camera_time__isnull=False).update(
            taken_at=F("camera_time") + clock_offset
        )
        Event.objects.filter(deployment=deployment).update(
            start=F("start") + delta, end=F("end") + delta
        )
    photos_flag_outside(deployment=deployment)
    return deployment


def photos_flag_outside(*, deployment: Deployment) -> None:
    """Recompute which photos of a deployment fall outside its dates."""
    photos = Photo.objects.filter(deployment=deployment, taken_at__isnull=False)
    photos.update(outside_deployment=False)
    outside = photos.filter(taken_at__lt=deployment.start)
    if deployment.end is not None:
        outside = outside | photos.filter(taken_at__gt=deployment.end)
    outside.update(outside_deployment=True)


class DeploymentChanged(Exception):
    """Someone else saved the deployment since it was loaded."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__("The deployment was changed by someone else; reload it.")
        self.deployment = deployment


def photo_retry(*, photo_id: int) -> None:
    """Queue a failed or stuck photo for processing again."""
    Photo.objects.filter(pk=photo_id).update(status=Photo.Status.RECEIVED, error="")
    _queue_processing(photo_id)


def photos_requeue_stuck(*, older_than: timedelta = timedelta(minutes=15)) -> int:
    """Queue again the photos left received or processing (a lost message, a dead worker)."""
    from traps import tasks

    cutoff = timezone.now() - older_than
    ids = list(
        Photo.objects.filter(
            status__in=[Photo.Status.RECEIVED, Photo.Status.PROCESSING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for photo_id in ids:
        tasks.photo_process.delay(photo_id)
    return len(ids)


__all__ = [
    "DeploymentChanged",
    "PhotoRejected",
    "ReceiveResult",
    "deployment_set_clock_offset",
    "events_rebuild",
    "photo_process",
    "photo_receive",
    "photo_retry",
    "photos_requeue_stuck",
]
