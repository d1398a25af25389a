"""A queued Camtrap DP export is written by a real worker through Redis and PostgreSQL."""

import zipfile

import pytest

from exchange import jobs
from exchange.models import ExchangeJob
from tests.exchange.helpers import build_registry
from tests.factories import UserFactory
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_worker_writes_a_queued_export_and_the_job_offers_it(celery_worker, park):
    build_registry(park)
    user = UserFactory()

    job = jobs.export_job_queue(user=user, park=park, start=None, end=None, exact_coordinates=False)

    done = wait_for(
        lambda: ExchangeJob.objects.filter(pk=job.pk, status=ExchangeJob.Status.DONE).first(),
        what="the worker to write the package",
        worker=celery_worker,
    )
    assert done.done == done.total == 4
    with done.file.open("rb") as fh:
        assert "observations.csv" in zipfile.ZipFile(fh).namelist()
    assert "exchange.tasks.exchange_export[" in celery_worker.output()
