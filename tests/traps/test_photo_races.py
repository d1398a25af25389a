"""Two workers process photos of one deployment at once, in a fixed interleaving.

Worker B has claimed and decoded its photos and is about to take the
deployment's lock when worker A, holding that lock, writes one of them; B's
lock waits for A to commit. B must then see what A wrote: in PostgreSQL a
statement's snapshot is taken when it starts, so rows read by the statement
that waited for the lock are those from before A's commit.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from tests.conftest import require
from tests.factories import DeploymentFactory
from tests.traps.ingest import at, event_groups, receive
from traps import services
from traps.models import Event, Photo
from traps.services import photos as photo_services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deployment(park, monkeypatch):
    require(connection.vendor == "postgresql", "row locks and snapshots are PostgreSQL's")
    # Committed at once here: the uploads' own tasks would run as they are
    # queued. The two workers below stand for them.
    monkeypatch.setattr(photo_services, "_send_processing", lambda photo_id: None)
    return DeploymentFactory(station__park=park)


def _waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
        return cursor.fetchone()[0] > 0


def _race(monkeypatch, worker_b: Callable[[], object], worker_a: Callable[[], object]) -> None:
    """Run B up to its lock, then A, which lets B at the lock only once B waits for it."""
    b_decoded, a_locked = threading.Event(), threading.Event()
    b_pid: list[int] = []
    failures: list[BaseException] = []
    real_store, real_place = photo_services._store_processed, photo_services.events_place

    def store(items, *, force):
        if threading.current_thread() is b_thread:
            b_decoded.set()
            assert a_locked.wait(30), "worker A never took the lock"
        return real_store(items, force=force)

    def place(photos):
        if threading.current_thread() is not b_thread:
            a_locked.set()
            for _ in range(3000):
                if _waits_for_a_lock(b_pid[0]):
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("worker B never waited for the deployment's lock")
        return real_place(photos)

    def run_b() -> None:
        try:
            connection.ensure_connection()
            b_pid.append(connection.connection.info.backend_pid)
            worker_b()
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)
            b_decoded.set()
        finally:
            connection.close()

    monkeypatch.setattr(photo_services, "_store_processed", store)
    monkeypatch.setattr(photo_services, "events_place", place)
    b_thread = threading.Thread(target=run_b)
    b_thread.start()
    try:
        assert b_decoded.wait(30), "worker B never decoded its photos"
        if not failures:
            worker_a()
    finally:
        a_locked.set()
        b_thread.join(60)
    assert not b_thread.is_alive()
    if failures:
        raise failures[0]


def _assert_one_event_per_burst(deployment, expected: list[list[str]]) -> None:
    assert event_groups(deployment) == expected
    assert not Event.objects.filter(deployment=deployment, photos__isnull=True).exists()
    assert set(Photo.objects.values_list("status", flat=True)) == {Photo.Status.PROCESSED}


def test_a_batch_that_waited_for_the_lock_leaves_the_photos_written_meanwhile(
    deployment, monkeypatch
):
    burst = [receive(deployment, at(i), name=f"p{i}") for i in range(5)]
    # B's batch takes the whole burst; A is p1's own task, which finds p1 still
    # being processed (by B) and the others claimed, and processes p1 alone.
    _race(
        monkeypatch,
        lambda: services.photo_process(photo_id=burst[0].pk, with_waiting=24),
        lambda: services.photo_process(photo_id=burst[1].pk, with_waiting=24),
    )
    _assert_one_event_per_burst(deployment, [["p0", "p1", "p2", "p3", "p4"]])
    # p1 was written by A alone: B found it processed.
    assert Photo.objects.get(pk=burst[1].pk).attempts == 2


def test_a_photo_processed_by_two_workers_at_once_stays_in_one_event(deployment, monkeypatch):
    # One photo a task: the same photo's message delivered twice (the sweep
    # queued it again while its first task still ran), on two workers.
    photo = receive(deployment, at(0), name="p0")
    _race(
        monkeypatch,
        lambda: services.photo_process(photo_id=photo.pk),
        lambda: services.photo_process(photo_id=photo.pk),
    )
    _assert_one_event_per_burst(deployment, [["p0"]])


def test_two_batches_of_one_burst_written_in_turn_make_one_event(deployment, monkeypatch):
    # Both batches read the burst as waiting. B claimed it all; A, p0's own
    # task, holds p0 alone, and writes it first.
    burst = [receive(deployment, at(i), name=f"p{i}") for i in range(5)]
    ids = [photo.pk for photo in burst]

    def batch() -> None:
        photos = list(Photo.objects.select_related("deployment__station__park").filter(pk__in=ids))
        photo_services._process(photos, force=False)

    _race(monkeypatch, batch, batch)
    _assert_one_event_per_burst(deployment, [["p0", "p1", "p2", "p3", "p4"]])
    # Decoded twice, written once: no photo moved after A placed it.
    assert set(Photo.objects.values_list("event_id", flat=True)) == {Event.objects.get().pk}


def test_a_batch_skips_a_waiting_photo_another_run_is_claiming(deployment):
    """Claiming waits for no other run's row: a run that claims its own photo
    first, then the waiting ones it can lock at once, cannot wait for a run
    that waits for it."""
    photos = [receive(deployment, at(i), name=f"p{i}") for i in range(3)]
    locked, release = threading.Event(), threading.Event()

    def claiming() -> None:
        try:
            with transaction.atomic():
                list(Photo.objects.select_for_update(no_key=True).filter(pk=photos[1].pk))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=claiming)
    thread.start()
    try:
        assert locked.wait(30)
        started = time.monotonic()
        services.photo_process(photo_id=photos[0].pk, with_waiting=24)
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join(30)
    assert sorted(Photo.objects.values_list("original_name", "status", "attempts")) == [
        ("p0", Photo.Status.PROCESSED, 1),
        ("p1", Photo.Status.RECEIVED, 0),
        ("p2", Photo.Status.PROCESSED, 1),
    ]
