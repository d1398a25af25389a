"""A photo goes through a real Redis broker to a real worker and PostgreSQL."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.integration.conftest import wait_for
from traps.models import Photo
from traps.services import photo_receive

pytestmark = pytest.mark.integration


def test_worker_processes_an_uploaded_photo_against_postgresql(celery_worker, park):
    deployment = DeploymentFactory(station__park=park, clock_offset=timedelta(hours=-1))
    with transaction.atomic():
        result = photo_receive(
            deployment=deployment,
            fileobj=io.BytesIO(jpeg_bytes(taken=datetime(2024, 6, 1, 23, 30))),
            original_name="IMG_0001.JPG",
        )
    photo_id = result.photo.pk

    photo = wait_for(
        lambda: Photo.objects.filter(pk=photo_id, status=Photo.Status.PROCESSED).first(),
        what="the worker to process the photo",
        worker=celery_worker,
    )
    # 23:30 in Vladivostok (UTC+10), camera one hour fast: 12:30 UTC.
    assert photo.taken_at == datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
    assert photo.thumbnail.name
    assert photo.thumbnail.storage.exists(photo.thumbnail.name)
    assert photo.event is not None
    assert "traps.tasks.photo_process[" in celery_worker.output()
