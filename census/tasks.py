"""Celery entry points for the census. Each body is one service call."""

from celery import shared_task
from django.db import OperationalError

from census import services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def census_rebuild_stale() -> int:
    """Rebuild the stored census figures of every park-year marked stale."""
    return services.census_rebuild_stale()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def census_rebuild(park_id: int | None = None, year: int | None = None) -> int:
    """Rebuild the stored census figures of one park or all, one year or all."""
    return services.census_rebuild(park_id=park_id, year=year)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def density_run(run_id: int) -> None:
    """Fit the density (spatial capture-recapture) of a queued survey."""
    services.density_run_execute(run_id=run_id)
