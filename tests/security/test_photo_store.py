"""check_photo_store finds missing files, orphans and wrong bytes; uploads outlive the broker."""

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from kombu.exceptions import OperationalError

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.traps.ingest import ingest
from traps import tasks
from traps.models import Photo
from traps.photo_store import photo_store_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def photos(park):
    deployment = DeploymentFactory(station__park=park)
    return [ingest(deployment, None) for _ in range(3)]


def test_a_store_that_matches_the_database_passes(photos, capsys):
    call_command("check_photo_store")
    out = capsys.readouterr().out
    assert "3 photos, 6 stored files, 3 hashes checked" in out
    assert "orphaned files: 0" in out


def test_reports_a_missing_file_a_wrong_file_and_an_old_orphan(photos):
    default_storage.delete(photos[0].file.name)
    default_storage.delete(photos[1].file.name)
    default_storage.save(photos[1].file.name, ContentFile(b"not the photo"))
    orphan = default_storage.save("photos/ab/cd/" + "ab" * 32 + ".jpg", ContentFile(b"x"))
    old = time.time() - 2 * 3600
    os.utime(default_storage.path(orphan), (old, old))
    young = default_storage.save("thumbnails/cd/" + "cd" * 32 + ".jpg", ContentFile(b"y"))

    report = photo_store_check()
    assert report.missing_files == [f"photo {photos[0].pk}: {photos[0].file.name}"]
    assert report.hash_mismatches == [f"photo {photos[1].pk}: {photos[1].file.name}"]
    assert report.orphans == [orphan]
    assert young not in report.orphans  # may be an upload under way
    assert young in photo_store_check(orphan_min_age=timedelta(0)).orphans
    with pytest.raises(CommandError):
        call_command("check_photo_store", "--skip-hashes")


def test_reports_a_processed_photo_whose_thumbnail_is_gone(photos):
    default_storage.delete(photos[2].thumbnail.name)
    assert photo_store_check(verify_hashes=False).missing_thumbnails == [
        f"photo {photos[2].pk}: {photos[2].thumbnail.name}"
    ]


def test_an_upload_is_stored_when_the_broker_is_down(
    client, ranger, park, monkeypatch, django_capture_on_commit_callbacks
):
    deployment = DeploymentFactory(station__park=park)

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.photo_process, "delay", broker_down)
    client.force_login(ranger)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/photos/",
            {"deployment": deployment.pk, "file": SimpleUploadedFile("a.jpg", jpeg_bytes())},
        )
    assert response.status_code == 201
    assert Photo.objects.get().status == Photo.Status.RECEIVED
