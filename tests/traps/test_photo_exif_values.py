"""EXIF text is stored cleaned, and a processing failure never shows a database error.

Cameras write what they like into EXIF strings: a NUL in the middle of a
model name, control characters, infinite floats. PostgreSQL refuses a NUL in
text and JSON, and Infinity in JSON; SQLite takes them. These tests run on
both (DATABASE_URL picks the database).
"""

import importlib
import io
import json

import piexif
import pytest
from django.apps import apps
from django.db import DataError, connection
from django.utils import translation
from PIL import Image

from tests.factories import DeploymentFactory, PhotoFactory
from tests.traps.ingest import ingest
from traps import images, services, tasks
from traps.models import Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park)


def _jpeg(zeroth: dict, exif: dict | None = None, seed: int = 0) -> bytes:
    image = Image.new("RGB", (64, 48), (120, 100, 60))
    image.putpixel((seed % 64, 1), (255, 255, 255))
    block = piexif.dump(
        {
            "0th": zeroth,
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 22:15:00", **(exif or {})},
        }
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, exif=block)
    return out.getvalue()


def test_a_camera_model_with_an_embedded_nul_is_stored_cleaned(deployment):
    data = _jpeg(
        {
            piexif.ImageIFD.Make: b"Re\x00con\x1byx\x7f",
            piexif.ImageIFD.Model: b"HyperFire\x002",
            piexif.ImageIFD.ImageDescription: b"ridge\x00\x01\x02 north\r\ntrail",
        },
        {piexif.ExifIFD.BodySerialNumber: b"H500\x00-0042"},
    )
    photo = ingest(deployment, None, data=data)
    assert photo.status == Photo.Status.PROCESSED
    stored = Photo.objects.get(pk=photo.pk).exif
    assert (stored["make"], stored["model"], stored["serial"]) == (
        "Reconyx",
        "HyperFire2",
        "H500-0042",
    )
    assert stored["tags"]["Model"] == "HyperFire2"
    assert stored["tags"]["ImageDescription"] == "ridge north trail"
    assert "\\u0000" not in json.dumps(stored)
    assert photo.camera_time is not None


def test_exif_text_loses_every_control_character():
    assert images.clean_text("a\x00b\x01c\x1f\x7fd\x9be\ud800f") == "abcdef"
    assert images.clean_text("line\r\nbreak\ttab") == "line break tab"
    assert images.clean_text("Лес 森林") == "Лес 森林"


def test_an_infinite_or_undefined_float_is_stored_as_null():
    assert images._json_safe(float("inf")) is None
    assert images._json_safe(float("-inf")) is None
    assert images._json_safe(float("nan")) is None
    assert images._json_safe(("a\x00", 1.5)) == ["a", 1.5]


def test_a_value_the_database_refuses_fails_the_photo_with_a_code_not_the_error(deployment):
    # Whatever else a database may refuse, the ranger reads what to do, not the database's words.
    photo = ingest(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"X"}, seed=1))

    def refusing_exif(execute, sql, params, many, context):
        # The database's own refusal, whichever statement writes the EXIF.
        if sql.startswith("UPDATE") and '"exif"' in sql:
            raise DataError('invalid input syntax for type json\nDETAIL: Token "Infinity"')
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refusing_exif):
        failed = services.photo_process(photo_id=photo.pk, force=True)
    assert failed.status == Photo.Status.FAILED
    assert failed.error_code == Photo.ErrorCode.UNSTORABLE
    assert failed.error == ""
    assert "json" not in failed.error_text and "Infinity" not in failed.error_text
    assert "Retry" in failed.error_text


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL refuses a NUL; SQLite does not"
)
def test_on_postgresql_a_nul_that_slipped_through_fails_with_a_code(deployment, monkeypatch):
    # Without the cleaning, PostgreSQL's own refusal reaches processing.
    monkeypatch.setattr(images, "clean_text", lambda text: text)
    photo = ingest(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"Hyper\x00Fire"}, seed=2))
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert photo.error_code == Photo.ErrorCode.UNSTORABLE
    assert photo.error == ""
    # The deployment's rows are still writable: the refusal did not break the transaction.
    assert Photo.objects.filter(deployment=deployment).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL refuses a NUL; SQLite does not"
)
def test_on_postgresql_a_refused_photo_in_a_batch_fails_alone(deployment, monkeypatch):
    from tests.traps.ingest import receive

    monkeypatch.setattr(images, "clean_text", lambda text: text)
    first = receive(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"X"}, seed=4))
    bad = receive(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"Hyper\x00Fire"}, seed=5))
    last = receive(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"Y"}, seed=6))
    services.photo_process(photo_id=first.pk, with_waiting=24)
    statuses = dict(Photo.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: Photo.Status.PROCESSED,
        bad.pk: Photo.Status.FAILED,
        last.pk: Photo.Status.PROCESSED,
    }
    assert Photo.objects.get(pk=bad.pk).error_code == Photo.ErrorCode.UNSTORABLE


def test_a_database_error_that_stops_the_task_is_not_shown(deployment, monkeypatch):
    photo = ingest(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"X"}, seed=3))
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.RECEIVED)

    def broken(**kwargs):
        raise DataError('value too long for type character varying(120) at "photos"')

    monkeypatch.setattr(services, "photo_process", broken)
    tasks.photo_process.apply(args=[photo.pk])
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert photo.error_code == Photo.ErrorCode.GAVE_UP
    assert photo.error == ""
    assert photo.error_text == "Processing stopped after several attempts."


def test_the_ranger_reads_the_code_in_their_language(client, ranger, deployment):
    photo = ingest(deployment, None, data=_jpeg({piexif.ImageIFD.Model: b"X"}, seed=4))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED, error_code=Photo.ErrorCode.UNSTORABLE, error=""
    )
    client.force_login(ranger)
    with translation.override("ru"):
        expected = str(Photo.objects.get(pk=photo.pk).error_text)
    assert expected and not expected.startswith("The photo")
    body = client.get(f"/api/photos/{photo.pk}/", headers={"accept-language": "ru"}).json()
    assert (body["error_code"], body["error"]) == ("unstorable", expected)
    page = client.get(f"/deployments/{deployment.pk}/", headers={"accept-language": "ru"})
    assert expected in page.content.decode()


def test_the_migration_requeues_photos_that_failed_on_a_database_error(deployment):
    migration = importlib.import_module("traps.migrations.0008_photo_error_code_unstorable")
    refused = PhotoFactory(
        deployment=deployment,
        status=Photo.Status.FAILED,
        error_code=Photo.ErrorCode.GAVE_UP,
        error="unsupported Unicode escape sequence\nLINE 1: UPDATE ...\nDETAIL:  \\u0000 cannot",
    )
    disk = PhotoFactory(
        deployment=deployment,
        status=Photo.Status.FAILED,
        error_code=Photo.ErrorCode.GAVE_UP,
        error="disk gone",
    )
    migration.requeue_database_failures(apps, None)
    refused.refresh_from_db()
    disk.refresh_from_db()
    assert (refused.status, refused.error_code, refused.error) == ("received", "", "")
    assert (disk.status, disk.error) == ("failed", "disk gone")
