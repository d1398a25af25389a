"""Celery entry points for photo ingest. Each body is one service call."""

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError, OperationalError

from traps import services
from traps.models import Photo


class PhotoTask(Task):
    """A photo task that records why a photo failed once retrying stops."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        photo_id = args[0] if args else kwargs.get("photo_id")
        if photo_id is not None:
            # A database's words (its SQL, its values) are for the log, not for the ranger.
            detail = "" if isinstance(exc, DatabaseError) else str(exc)
            services.photo_mark_failed(
                photo_id=photo_id, code=Photo.ErrorCode.GAVE_UP, detail=detail
            )


@shared_task(
    base=PhotoTask,
    # Storage and database hiccups are retried; bytes that do not decode are not
    # (the service marks the photo failed with a reason instead).
    autoretry_for=(OSError, OperationalError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def photo_process(photo_id: int, force: bool = False) -> str | None:
    """Process one stored photo (EXIF, time, thumbnail, event) and those waiting behind it."""
    photo = services.photo_process(
        photo_id=photo_id, force=force, with_waiting=settings.PHOTO_PROCESS_WITH_WAITING
    )
    return photo.status if photo is not None else None


@shared_task
def photos_requeue_stuck() -> int:
    """Queue again the photos that have waited too long in a processing state."""
    return services.photos_requeue_stuck()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def events_rebuild(deployment_id: int) -> int | None:
    """Regroup one deployment's photos into events."""
    from traps.models import Deployment

    if not Deployment.objects.filter(pk=deployment_id).exists():
        return None
    return services.events_rebuild(deployment_id=deployment_id)
