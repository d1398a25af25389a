"""Processing reads EXIF, corrects the time, makes a thumbnail and is safe to repeat."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.storage import FileSystemStorage, default_storage

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.traps.images import corrupt_jpeg, png_bytes
from tests.traps.ingest import ingest
from traps import services, tasks
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    # Alpha park is in Asia/Vladivostok (UTC+10 all year).
    return DeploymentFactory(
        station__park=park,
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 12, 31, tzinfo=UTC),
    )


def test_reads_exif_time_in_the_parks_zone_and_stores_utc(deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15, 0))
    assert photo.status == Photo.Status.PROCESSED
    assert photo.camera_time == datetime(2024, 5, 1, 12, 15, tzinfo=UTC)
    assert photo.taken_at == datetime(2024, 5, 1, 12, 15, tzinfo=UTC)
    assert photo.time_problem == ""
    assert photo.exif["make"] == "Panthera V4"
    # Panthera cameras write their serial in the Model tag.
    assert photo.exif["serial"] == "CAM41146"
    assert photo.exif["tags"]["DateTimeOriginal"] == "2024:05:01 22:15:00"


def test_applies_the_deployments_clock_offset(deployment):
    deployment.clock_offset = timedelta(hours=1)
    deployment.save()
    photo = ingest(deployment, datetime(2024, 9, 16, 17, 51, 15))
    assert photo.camera_time == datetime(2024, 9, 16, 7, 51, 15, tzinfo=UTC)
    assert photo.taken_at == datetime(2024, 9, 16, 8, 51, 15, tzinfo=UTC)


def test_reads_local_time_with_daylight_saving_in_a_zone_that_has_it(deployment):
    park = deployment.station.park
    park.time_zone = "Europe/Berlin"
    park.save()
    summer = ingest(deployment, datetime(2024, 7, 1, 12, 0))
    winter = ingest(deployment, datetime(2024, 12, 1, 12, 0))
    assert summer.taken_at == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert winter.taken_at == datetime(2024, 12, 1, 11, 0, tzinfo=UTC)


def test_makes_a_thumbnail_named_by_the_hash(deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15), data=jpeg_bytes(size=(1600, 1200)))
    assert photo.thumbnail.name == f"thumbnails/{photo.sha256[:2]}/{photo.sha256}.jpg"
    from PIL import Image

    with default_storage.open(photo.thumbnail.name) as fh:
        assert max(Image.open(fh).size) == 400


def test_keeps_a_photo_without_exif_time_out_of_events_and_says_why(deployment):
    photo = ingest(deployment, None)
    assert photo.status == Photo.Status.PROCESSED
    assert photo.taken_at is None
    assert photo.time_problem == Photo.TimeProblem.MISSING
    assert photo.event is None
    assert photo.thumbnail.name


def test_records_that_an_exif_time_came_from_exif(deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15, 0))
    assert photo.time_source == Photo.TimeSource.EXIF


@pytest.mark.parametrize(
    ("name", "camera_time"),
    [
        # camtrapR's imageRename, as in the shared snow-leopard set
        ("Station14__Camera1__2024-8-30__16-8-14(2).JPG", datetime(2024, 8, 30, 6, 8, 14)),
        ("IMG_20240501_221500.JPG", datetime(2024, 5, 1, 12, 15, 0)),
        ("2024-05-01 22-15-00.jpg", datetime(2024, 5, 1, 12, 15, 0)),
    ],
)
def test_falls_back_to_a_time_in_the_file_name_when_exif_has_none(deployment, name, camera_time):
    deployment.clock_offset = timedelta(hours=1)
    deployment.save()
    photo = ingest(deployment, None, name=name)
    assert photo.time_source == Photo.TimeSource.FILE_NAME
    assert photo.camera_time == camera_time.replace(tzinfo=UTC)
    # The file-name time is still the camera's clock: the offset applies.
    assert photo.taken_at == camera_time.replace(tzinfo=UTC) + timedelta(hours=1)
    assert photo.time_problem == ""
    assert photo.event is not None


def test_prefers_the_exif_time_to_the_file_name(deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15, 0), name="IMG_20240601_101010.JPG")
    assert photo.camera_time == datetime(2024, 5, 1, 12, 15, tzinfo=UTC)
    assert photo.time_source == Photo.TimeSource.EXIF


@pytest.mark.parametrize("name", ["IMG_0042.JPG", "2024-13-45__10-10-10.JPG", "DSCF20241.JPG"])
def test_a_file_name_without_a_real_date_gives_no_time(deployment, name):
    photo = ingest(deployment, None, name=name)
    assert photo.taken_at is None
    assert photo.time_source == ""
    assert photo.time_problem == Photo.TimeProblem.MISSING


@pytest.mark.parametrize("year", [1970, 2099])
def test_treats_an_absurd_camera_year_as_no_usable_time(deployment, year):
    photo = ingest(deployment, datetime(year, 1, 1, 0, 0, 5))
    assert photo.camera_time is not None  # kept: a clock offset can still rescue it
    assert photo.taken_at is None
    assert photo.time_problem == Photo.TimeProblem.IMPLAUSIBLE
    assert photo.event is None
    assert photo.outside_deployment is False


def test_flags_a_photo_whose_time_is_outside_the_deployment(deployment):
    inside = ingest(deployment, datetime(2024, 6, 1, 12, 0))
    before = ingest(deployment, datetime(2023, 12, 31, 9, 0))  # 23:00 UTC the day before
    after = ingest(deployment, datetime(2025, 1, 1, 12, 0))
    assert (inside.outside_deployment, before.outside_deployment, after.outside_deployment) == (
        False,
        True,
        True,
    )


def test_processes_a_png(deployment):
    photo = ingest(deployment, None, data=png_bytes(), name="frame.png")
    assert photo.status == Photo.Status.PROCESSED
    assert photo.time_problem == Photo.TimeProblem.MISSING


def test_fails_a_jpeg_with_corrupt_data_and_says_why(deployment):
    photo = ingest(deployment, None, data=corrupt_jpeg())
    assert photo.status == Photo.Status.FAILED
    assert photo.error_code == Photo.ErrorCode.UNDECODABLE
    assert "damaged" in photo.error_text
    assert photo.thumbnail.name == ""
    assert Event.objects.count() == 0


def test_second_run_changes_nothing(deployment, django_assert_num_queries):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    before = Photo.objects.values().get(pk=photo.pk)
    with django_assert_num_queries(1):
        services.photo_process(photo_id=photo.pk)
    assert Photo.objects.values().get(pk=photo.pk) == before
    assert Event.objects.count() == 1


def test_a_worker_killed_mid_task_leaves_the_photo_to_process_again(deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    # What a worker that died after claiming the photo leaves behind.
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PROCESSING)
    photo = services.photo_process(photo_id=photo.pk)
    assert photo.status == Photo.Status.PROCESSED
    assert Event.objects.count() == 1
    assert photo.attempts == 2


def test_forced_run_puts_the_photo_back_in_one_event(deployment):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    ingest(deployment, datetime(2024, 5, 1, 22, 20))
    services.photo_process(photo_id=photo.pk, force=True)
    assert Event.objects.count() == 1
    assert Event.objects.get().photos.count() == 2


def test_task_returns_quietly_for_a_photo_that_is_gone():
    assert tasks.photo_process.apply(args=[987654]).get() is None


def test_task_retries_after_a_storage_error_and_then_succeeds(deployment, monkeypatch):
    result = services.photo_receive(
        deployment=deployment,
        fileobj=io.BytesIO(jpeg_bytes(seed=42)),
        original_name="IMG_0042.JPG",
    )
    real_open = FileSystemStorage.open
    calls = {"n": 0}

    def flaky_open(self, name, mode="rb"):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("storage is not answering")
        return real_open(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "open", flaky_open)
    monkeypatch.setattr(tasks.photo_process, "retry_backoff", False)
    tasks.photo_process.apply(args=[result.photo.pk])
    photo = Photo.objects.get(pk=result.photo.pk)
    assert calls["n"] == 2
    assert photo.status == Photo.Status.PROCESSED
    assert photo.attempts == 2
    assert photo.event is not None


def test_task_marks_the_photo_failed_when_retries_run_out(deployment, monkeypatch):
    result = services.photo_receive(
        deployment=deployment, fileobj=io.BytesIO(jpeg_bytes(seed=43)), original_name="a.jpg"
    )

    def broken_open(self, name, mode="rb"):
        raise OSError("disk gone")

    monkeypatch.setattr(FileSystemStorage, "open", broken_open)
    monkeypatch.setattr(tasks.photo_process, "max_retries", 1)
    tasks.photo_process.apply(args=[result.photo.pk])
    photo = Photo.objects.get(pk=result.photo.pk)
    assert photo.status == Photo.Status.FAILED
    assert photo.error_code == Photo.ErrorCode.GAVE_UP
    assert photo.error_text == "Processing stopped after several attempts: disk gone"


def test_retry_queues_a_failed_photo_and_it_then_processes(
    deployment, django_capture_on_commit_callbacks
):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED, error_code=Photo.ErrorCode.UNDECODABLE, error="x"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.photo_retry(photo_id=photo.pk) is True
    assert len(callbacks) == 1
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PROCESSED
    assert (photo.error_code, photo.error) == ("", "")
    assert services.photo_retry(photo_id=photo.pk) is False


def test_requeues_photos_stuck_in_processing(deployment, monkeypatch):
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.PROCESSING, updated_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert services.photos_requeue_stuck() == 1
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.PROCESSED


def test_the_sweep_waits_photos_stuck_after_seconds(deployment, settings, time_machine):
    settings.PHOTOS_STUCK_AFTER_SECONDS = 120
    time_machine.move_to("2025-03-01 08:00:00+00:00")
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PROCESSING)
    time_machine.move_to("2025-03-01 08:01:59+00:00")
    assert services.photos_requeue_stuck() == 0
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.PROCESSING
    time_machine.move_to("2025-03-01 08:02:01+00:00")
    assert services.photos_requeue_stuck() == 1
    assert Photo.objects.get(pk=photo.pk).status == Photo.Status.PROCESSED


def test_photos_count_as_stuck_only_after_the_longest_task_could_run(settings):
    # A photo being processed may take up to the task time limit: it is not stuck before.
    assert settings.PHOTOS_STUCK_AFTER_SECONDS > settings.CELERY_TASK_TIME_LIMIT
    assert settings.PHOTOS_STUCK_AFTER_SECONDS <= settings.CELERY_TASK_TIME_LIMIT + 120
    assert settings.CELERY_BEAT_SCHEDULE["photos-requeue-stuck"]["schedule"] <= 60


def _synchronous_commit() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_processing_commits_lazily_and_leaves_the_connection_durable(deployment, monkeypatch):
    from django.db import connection

    from tests.conftest import require
    from traps.services import photos

    require(connection.vendor == "postgresql", "synchronous_commit is a PostgreSQL setting")
    seen = []
    real_place = photos.events_place

    def spy(placed):
        seen.append(_synchronous_commit())
        return real_place(placed)

    monkeypatch.setattr(photos, "events_place", spy)
    photo = ingest(deployment, datetime(2024, 5, 1, 22, 15))
    assert photo.status == Photo.Status.PROCESSED
    # The derived writes skip the disk flush; the upload and everything after do not.
    assert seen == ["off"]
    assert _synchronous_commit() == "on"
