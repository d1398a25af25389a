"""Exports and imports as jobs: the request queues one, a worker runs it, the page follows it."""

import shutil
import tempfile
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation

from exchange.camtrap_dp.export import package_write, package_zip
from exchange.camtrap_dp.importer import package_import
from exchange.camtrap_dp.validation import PackageInvalid
from exchange.models import ExchangeJob
from traps.models import Park

# How long a running import's progress is kept in the cache without news.
PROGRESS_SECONDS = 6 * 3600


def progress_key(job_id: int) -> str:
    return f"exchange-job-progress:{job_id}"


def job_progress(job: ExchangeJob) -> ExchangeJob:
    """Fill in a running import's progress from the cache, where its worker reports it."""
    if job.status == ExchangeJob.Status.RUNNING and not job.total:
        job.done, job.total = cache.get(progress_key(job.pk), (0, 0))
    return job


def _queue(job: ExchangeJob) -> None:
    from exchange import tasks

    task = tasks.exchange_export if job.kind == ExchangeJob.Kind.EXPORT else tasks.exchange_import
    transaction.on_commit(lambda: task.delay(job_id=job.pk))


@transaction.atomic
def export_job_queue(
    *,
    user: AbstractBaseUser,
    park: Park,
    start: date | None,
    end: date | None,
    exact_coordinates: bool,
) -> ExchangeJob:
    """Record an export of a park's package and queue it for a worker."""
    job = ExchangeJob.objects.create(
        kind=ExchangeJob.Kind.EXPORT,
        park=park,
        requested_by=user,
        parameters={
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "exact_coordinates": exact_coordinates,
            "language": translation.get_language(),
        },
    )
    _queue(job)
    return job


@transaction.atomic
def import_job_queue(
    *,
    user: AbstractBaseUser,
    park: Park | None,
    upload: UploadedFile,
    organisation: str = "",
    proposal: dict | None = None,
) -> ExchangeJob:
    """Keep an uploaded package in storage and queue its import for a worker.

    Without a park the job waits, with the proposal made from the package, until
    the user confirms one (import_job_park_set).
    """
    job = ExchangeJob(
        kind=ExchangeJob.Kind.IMPORT,
        park=park,
        status=ExchangeJob.Status.QUEUED if park else ExchangeJob.Status.WAITING,
        requested_by=user,
        parameters={
            "source_name": upload.name[:255],
            "organisation": organisation.strip()[:200],
            "language": translation.get_language(),
            **({"proposal": proposal} if proposal is not None else {}),
        },
    )
    job.file.save("package.zip", upload, save=False)
    job.save()
    if park:
        _queue(job)
    return job


@transaction.atomic
def import_job_park_set(*, job: ExchangeJob, park: Park) -> bool:
    """Give a waiting import its park and queue it; False when it no longer waits."""
    changed = ExchangeJob.objects.filter(pk=job.pk, status=ExchangeJob.Status.WAITING).update(
        park=park, status=ExchangeJob.Status.QUEUED
    )
    if changed:
        job.park, job.status = park, ExchangeJob.Status.QUEUED
        _queue(job)
    return bool(changed)


def _claim(job_id: int, kind: str) -> ExchangeJob | None:
    """Mark a queued (or interrupted) job as running; None when it is gone or finished."""
    with transaction.atomic():
        job = (
            # Only the job's row is locked; the park may be empty while it waits for one.
            ExchangeJob.objects.select_for_update(of=("self",))
            .select_related("park", "requested_by")
            .filter(pk=job_id, kind=kind)
            .first()
        )
        if job is None or job.finished or job.park_id is None:
            return None
        job.status = ExchangeJob.Status.RUNNING
        job.save(update_fields=["status"])
    return job


def job_give_up(*, job_id: int, why: str) -> None:
    """Mark a job that failed for good (the worker's retries are spent) as failed."""
    ExchangeJob.objects.filter(pk=job_id).exclude(status=ExchangeJob.Status.DONE).update(
        status=ExchangeJob.Status.FAILED, problems=[why[:500]], finished_at=timezone.now()
    )


def _finish(job: ExchangeJob, status: str, fields: list[str]) -> None:
    job.status = status
    job.finished_at = timezone.now()
    job.save(update_fields=[*fields, "status", "finished_at"])


def export_job_run(*, job_id: int) -> None:
    """Write the job's package into storage as a zip; running it again writes it again."""
    job = _claim(job_id, ExchangeJob.Kind.EXPORT)
    if job is None:
        return

    def progress(done: int, total: int) -> None:
        # Outside any transaction: the page sees each step as it is written.
        ExchangeJob.objects.filter(pk=job.pk).update(done=done, total=total)

    params = job.parameters
    work = Path(tempfile.mkdtemp(prefix="camtrap-export-"))
    try:
        with translation.override(params.get("language")):
            summary = package_write(
                out_dir=work / "package",
                parks=[job.park],
                start=date.fromisoformat(params["start"]) if params.get("start") else None,
                end=date.fromisoformat(params["end"]) if params.get("end") else None,
                exact_coordinates=bool(params.get("exact_coordinates")),
                user=job.requested_by,
                progress=progress,
            )
        package_zip(work / "package", work / "package.zip")
        with open(work / "package.zip", "rb") as fh:
            job.file.save("package.zip", File(fh), save=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    job.done = job.total = summary.media
    _finish(job, ExchangeJob.Status.DONE, ["file", "done", "total"])


def import_job_run(*, job_id: int) -> None:
    """Import the job's uploaded package; a refused package keeps its problems on the job."""
    job = _claim(job_id, ExchangeJob.Kind.IMPORT)
    if job is None:
        return
    params = job.parameters
    user = get_user_model().objects.filter(pk=job.requested_by_id).first()

    def progress(done: int, total: int) -> None:
        # The import is one transaction: a row written now would show only at its end,
        # so the progress goes through the cache the web processes share.
        cache.set(progress_key(job.pk), (done, total), timeout=PROGRESS_SECONDS)

    with tempfile.TemporaryDirectory(prefix="camtrap-import-") as tmp:
        local = Path(tmp) / "package.zip"
        # The upload may live in object storage; the importer reads a local file.
        with job.file.open("rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst)
        try:
            with translation.override(params.get("language")):
                summary = package_import(
                    path=local,
                    park=job.park,
                    user=user,
                    source_name=params.get("source_name", ""),
                    organisation=params.get("organisation", ""),
                    progress=progress,
                )
        except PackageInvalid as exc:
            with translation.override(params.get("language")):
                job.problems = [str(problem) for problem in exc.problems][:1000]
            _finish(job, ExchangeJob.Status.FAILED, ["problems"])
        else:
            job.import_run = summary.run
            job.done, job.total = cache.get(progress_key(job.pk), (0, 0))
            _finish(job, ExchangeJob.Status.DONE, ["import_run", "done", "total"])
    cache.delete(progress_key(job.pk))
    # The package is in the registry now (or refused): its upload is not kept.
    job.file.delete(save=True)
