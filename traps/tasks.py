"""Celery entry points for photo ingest. Each body is one service call."""

from celery import shared_task
from django.db import OperationalError

from traps import services


@shared_task(
    autoretry_for=(OSError, OperationalError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def photo_process(photo_id: int, force: bool = False) -> str | None:
    """Process one stored photo: EXIF, time, thumbnail, event."""
    photo = services.photo_process(photo_id=photo_id, force=force)
    return photo.status if photo is not None else None


@shared_task
def photos_requeue_stuck() -> int:
    """Queue again the photos that have waited too long in a processing state."""
    return services.photos_requeue_stuck()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=5, max_retries=5)
def events_rebuild(deployment_id: int) -> int:
    """Regroup one deployment's photos into events."""
    return services.events_rebuild(deployment_id=deployment_id)
