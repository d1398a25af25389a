"""Celery entry points for exports and imports of packages. Each body is one service call."""

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from exchange import jobs

# A large park's package takes longer than the default limit; a database hiccup is
# worth another try, and a job that is run again starts over from its parameters.
JOB = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 10,
    "max_retries": 3,
    "acks_late": True,
    "time_limit": 4 * 3600,
    "soft_time_limit": 4 * 3600 - 60,
}


class JobTask(Task):
    """A job task that marks its job failed once retrying stops, so the page stops waiting."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        job_id = kwargs.get("job_id")
        if job_id is not None:
            jobs.job_give_up(job_id=job_id, why=str(exc))


@shared_task(base=JobTask, **JOB)
def exchange_export(*, job_id: int) -> None:
    """Write a queued export's package."""
    jobs.export_job_run(job_id=job_id)


@shared_task(base=JobTask, **JOB)
def exchange_import(*, job_id: int) -> None:
    """Import a queued package."""
    jobs.import_job_run(job_id=job_id)
