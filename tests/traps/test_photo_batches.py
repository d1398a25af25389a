"""A processing task takes the photos waiting behind it and writes them in one transaction."""

import random

import pytest
from django.core.files.storage import FileSystemStorage

from tests.factories import DeploymentFactory, jpeg_bytes
from tests.traps.images import corrupt_jpeg
from tests.traps.ingest import at, event_groups, ingest, receive
from traps import services, tasks
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(park):
    return DeploymentFactory(station__park=park)


def test_a_task_processes_the_photos_waiting_behind_it_once(deployment, settings):
    settings.PHOTO_PROCESS_WITH_WAITING = 24
    other = DeploymentFactory(station__park=deployment.station.park)
    photos = [receive(deployment, at(i), name=f"p{i}") for i in range(5)]
    elsewhere = receive(other, at(0), name="elsewhere")
    assert tasks.photo_process.apply(args=[photos[0].pk]).get() == Photo.Status.PROCESSED
    assert set(Photo.objects.filter(deployment=deployment).values_list("status", "attempts")) == {
        (Photo.Status.PROCESSED, 1)
    }
    # Another deployment's photo waits for its own task.
    assert Photo.objects.get(pk=elsewhere.pk).status == Photo.Status.RECEIVED
    # The waiting photos' own tasks then find them done and change nothing.
    for photo in photos[1:]:
        assert tasks.photo_process.apply(args=[photo.pk]).get() == Photo.Status.PROCESSED
    assert set(Photo.objects.filter(deployment=deployment).values_list("attempts", flat=True)) == {
        1
    }
    assert event_groups(deployment) == [["p0", "p1", "p2", "p3", "p4"]]


def test_a_batch_writes_each_photo_its_own_values_and_the_shared_ones(deployment, settings):
    # What the photos of a batch share is written once for all; what differs
    # (size, camera, time, event) stays each photo's own.
    settings.PHOTO_PROCESS_WITH_WAITING = 24
    small = receive(deployment, at(0), name="small", serial="CAM1")
    receive(deployment, at(1), name="same", serial="CAM1")
    receive(
        deployment,
        None,
        name="other",
        data=jpeg_bytes(size=(80, 60), taken=at(240), serial="CAM2", seed=77),
    )
    tasks.photo_process.apply(args=[small.pk])
    rows = {
        p.original_name: p
        for p in Photo.objects.filter(deployment=deployment).select_related("event")
    }
    assert {name: (p.width, p.height) for name, p in rows.items()} == {
        "small": (64, 48),
        "same": (64, 48),
        "other": (80, 60),
    }
    # The test photos carry the camera's name in EXIF's Model.
    assert {name: p.exif["model"] for name, p in rows.items()} == {
        "small": "CAM1",
        "same": "CAM1",
        "other": "CAM2",
    }
    assert rows["other"].camera_time - rows["small"].camera_time == at(240) - at(0)
    assert {p.status for p in rows.values()} == {Photo.Status.PROCESSED}
    assert len({p.thumbnail.name for p in rows.values()}) == 3
    assert event_groups(deployment) == [["small", "same"], ["other"]]


def test_the_batch_size_is_a_setting(deployment, settings):
    settings.PHOTO_PROCESS_WITH_WAITING = 2
    photos = [receive(deployment, at(i)) for i in range(5)]
    tasks.photo_process.apply(args=[photos[0].pk])
    assert Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 3


def test_a_photo_that_does_not_decode_fails_alone(deployment, settings):
    settings.PHOTO_PROCESS_WITH_WAITING = 24
    first = receive(deployment, at(0), name="a")
    broken = receive(deployment, None, name="broken", data=corrupt_jpeg())
    receive(deployment, at(10), name="c")
    tasks.photo_process.apply(args=[first.pk])
    broken.refresh_from_db()
    assert broken.status == Photo.Status.FAILED
    assert broken.error_code == Photo.ErrorCode.UNDECODABLE
    assert event_groups(deployment) == [["a", "c"]]


def test_a_storage_error_keeps_what_was_decoded_and_retries_the_rest(
    deployment, settings, monkeypatch
):
    settings.PHOTO_PROCESS_WITH_WAITING = 24
    photos = [receive(deployment, at(i), name=f"p{i}") for i in range(4)]
    real_open = FileSystemStorage.open
    opened = []

    def failing_third(self, name, mode="rb"):
        if name.startswith("photos/"):
            opened.append(name)
            if len(opened) == 3:
                raise OSError("storage is not answering")
        return real_open(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "open", failing_third)
    with pytest.raises(OSError):
        services.photo_process(photo_id=photos[0].pk, with_waiting=24)
    statuses = dict(Photo.objects.values_list("original_name", "status"))
    assert statuses == {
        "p0": Photo.Status.PROCESSED,
        "p1": Photo.Status.PROCESSED,
        "p2": Photo.Status.PROCESSING,
        "p3": Photo.Status.PROCESSING,
    }
    # Their own tasks finish them (a task takes only photos still waiting, not
    # those another task holds).
    services.photo_process(photo_id=photos[2].pk, with_waiting=24)
    assert Photo.objects.get(pk=photos[3].pk).status == Photo.Status.PROCESSING
    services.photo_process(photo_id=photos[3].pk, with_waiting=24)
    assert set(Photo.objects.values_list("status", flat=True)) == {Photo.Status.PROCESSED}
    assert event_groups(deployment) == [["p0", "p1", "p2", "p3"]]


def test_a_batch_leaves_the_waiting_photos_another_batch_took_meanwhile(deployment, monkeypatch):
    from traps.services import photos as photo_services

    photos = [receive(deployment, at(i), name=f"p{i}") for i in range(5)]
    # This run read p1-p4 as waiting; another worker, which read them too, has
    # claimed p2 and p3 since.
    read = list(
        Photo.objects.select_related("deployment__station__park")
        .filter(pk__in=[photo.pk for photo in photos])
        .order_by("pk")
    )
    Photo.objects.filter(original_name__in=["p2", "p3"]).update(
        status=Photo.Status.PROCESSING, attempts=1
    )
    decoded = []
    real_decode = photo_services._decode

    def decode(photo):
        decoded.append(photo.original_name)
        return real_decode(photo)

    monkeypatch.setattr(photo_services, "_decode", decode)
    photo_services._process(read, force=False)
    assert decoded == ["p0", "p1", "p4"]
    assert sorted(Photo.objects.values_list("original_name", "status", "attempts")) == [
        ("p0", Photo.Status.PROCESSED, 1),
        ("p1", Photo.Status.PROCESSED, 1),
        ("p2", Photo.Status.PROCESSING, 1),
        ("p3", Photo.Status.PROCESSING, 1),
        ("p4", Photo.Status.PROCESSED, 1),
    ]


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_groups_as_photos_placed_one_at_a_time(deployment, seed):
    # Some photos placed before, then a batch arriving in any order, bridging,
    # extending and opening events.
    rng = random.Random(seed)
    minutes = sorted(rng.sample(range(0, 400, 7), 24))
    names = {m: f"m{m:03d}" for m in minutes}
    rng.shuffle(minutes)
    before, batch = minutes[:8], minutes[8:]
    for m in before:
        ingest(deployment, at(m), name=names[m])
    waiting = [receive(deployment, at(m), name=names[m]) for m in batch]
    services.photo_process(photo_id=waiting[0].pk, with_waiting=24)
    assert Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 24
    grouped = event_groups(deployment)
    assert services.events_rebuild(deployment_id=deployment.pk) == len(grouped)
    assert event_groups(deployment) == grouped
    # Every event spans exactly its photos.
    for event in Event.objects.filter(deployment=deployment):
        times = sorted(event.photos.values_list("taken_at", flat=True))
        assert (event.start, event.end) == (times[0], times[-1])


def test_a_batch_that_joins_a_reviewed_event_sends_it_back_to_review(deployment):
    ingest(deployment, at(0), name="a")
    ingest(deployment, at(50), name="d")
    Event.objects.update(status=Event.Status.REVIEWED)
    first = receive(deployment, at(20), name="b")
    receive(deployment, at(35), name="c")
    services.photo_process(photo_id=first.pk, with_waiting=24)
    assert event_groups(deployment) == [["a", "b", "c", "d"]]
    assert Event.objects.get().status == Event.Status.PENDING


def test_a_batch_far_from_placed_photos_leaves_their_events_alone(deployment):
    ingest(deployment, at(0), name="a")
    Event.objects.update(status=Event.Status.REVIEWED)
    first = receive(deployment, at(100), name="b")
    receive(deployment, at(110), name="c")
    receive(deployment, at(300), name="d")
    services.photo_process(photo_id=first.pk, with_waiting=24)
    assert event_groups(deployment) == [["a"], ["b", "c"], ["d"]]
    assert Event.objects.get(photos__original_name="a").status == Event.Status.REVIEWED


def test_a_photo_another_worker_finished_meanwhile_is_not_written_again(deployment):
    from traps.services import photos

    photo = ingest(deployment, at(0), name="a")
    event_id, attempts = photo.event_id, photo.attempts
    # This run read the photo while another worker's batch still held it
    # ("processing"); that worker has committed since.
    stale = Photo.objects.select_related("deployment__station__park").get(pk=photo.pk)
    stale.status = Photo.Status.PROCESSING
    photos._process([stale], force=False)
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PROCESSED
    assert photo.attempts == attempts
    assert photo.event_id == event_id
    assert Event.objects.count() == 1


def test_processing_locks_the_deployment_without_blocking_uploads_into_it(deployment):
    """A worker's lock of the deployment is a no-key one: a new photo's foreign
    key takes a key share of the same row, which FOR UPDATE would make wait (for
    hours, if the worker's host vanished with the lock held) and FOR NO KEY
    UPDATE does not; two workers still take turns."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import require

    require(connection.vendor == "postgresql", "row lock strengths are PostgreSQL's")
    photo = receive(deployment, at(0))
    with CaptureQueriesContext(connection) as queries:
        assert tasks.photo_process.apply(args=[photo.pk]).get() == Photo.Status.PROCESSED
    locks = [q["sql"] for q in queries if " FOR " in q["sql"] and "traps_deployment" in q["sql"]]
    assert locks, "processing took no lock of the deployment"
    assert all("FOR NO KEY UPDATE" in sql for sql in locks), locks
