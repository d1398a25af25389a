"""Photos sent through the API reach a real worker once each and land in events."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.integration.conftest import wait_for
from traps.models import Event, Photo

pytestmark = pytest.mark.integration


def test_api_uploads_are_processed_once_by_the_worker(celery_worker, client, ranger, park):
    deployment = DeploymentFactory(
        station__park=park, start=datetime(2024, 1, 1, tzinfo=UTC), end=None
    )
    client.force_login(ranger)
    minutes = [0, 5, 10, 120, 125]
    for i, minute in enumerate(minutes):
        taken = datetime(2024, 6, 1, 20, 0) + timedelta(minutes=minute)
        data = jpeg_bytes(taken=taken, seed=500 + i)
        response = client.post(
            "/api/photos/",
            {"deployment": deployment.pk, "file": SimpleUploadedFile(f"IMG_{i}.JPG", data)},
        )
        assert response.status_code == 201
    # The same card again: nothing new is stored or queued.
    again = client.post(
        "/api/photos/",
        {
            "deployment": deployment.pk,
            "file": SimpleUploadedFile(
                "again.JPG", jpeg_bytes(taken=datetime(2024, 6, 1, 20, 0, 0), seed=500)
            ),
        },
    )
    assert again.status_code == 200

    wait_for(
        lambda: Photo.objects.filter(status=Photo.Status.PROCESSED).count() == len(minutes),
        what="the worker to process every photo",
        worker=celery_worker,
    )
    assert set(Photo.objects.values_list("attempts", flat=True)) == {1}
    assert Event.objects.filter(deployment=deployment).count() == 2
