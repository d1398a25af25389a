"""Celery entry points for spot-pattern matching. Each body is one service call."""

from datetime import datetime

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from leopards.services import matching

# Storage and database hiccups are worth retrying; an unreadable photo is not (the
# service records it as a failed feature status with the reason instead).
RETRY = {
    "autoretry_for": (OSError, OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


class SightingMatchTask(Task):
    """A matching task that records why a sighting has no features once retrying stops."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        from leopards.models import Sighting

        sighting_id = args[0] if args else kwargs.get("sighting_id")
        if sighting_id is None:
            return
        Sighting.objects.filter(
            pk=sighting_id, feature_status=Sighting.FeatureStatus.PENDING
        ).update(
            feature_status=Sighting.FeatureStatus.FAILED,
            feature_error="",
            feature_error_code=Sighting.FeatureProblem.GAVE_UP,
            feature_error_params={"why": str(exc)[:500]},
        )


@shared_task(base=SightingMatchTask, **RETRY)
def sighting_match(
    sighting_id: int, refresh_features: bool = False, stale_before: str | None = None
) -> dict | None:
    """Extract a sighting's features (when needed) and store its ranked candidates."""
    outcome = matching.sighting_match(
        sighting_id=sighting_id,
        refresh_features=refresh_features,
        stale_before=datetime.fromisoformat(stale_before) if stale_before else None,
    )
    if outcome is None:
        return None
    return {
        "feature_status": outcome.feature_status,
        "candidates": outcome.candidates,
        "new_individual_likely": outcome.new_individual_likely,
    }


@shared_task(**RETRY)
def catalogue_sync(sighting_ids: list[int]) -> int:
    """Make the match index agree with these sightings' identifications."""
    return matching.catalogue_sync(sighting_ids=sighting_ids)


@shared_task(**RETRY)
def sightings_rerank(flanks: list[str]) -> int:
    """Queue ranking again the sightings waiting for review that search these flanks."""
    return matching.sightings_rerank(flanks=flanks)
