"""Faults, for real: a worker killed mid-batch, Redis gone during uploads, PostgreSQL restarted.

These tests kill and restart processes on this machine. The servers they kill
are their own (tests/integration/services.py), but they are heavy and timing
matters, so bin/test runs them last, alone, without xdist (marker ``faults``).
"""

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Sum
from PIL import ExifTags, Image

from config.celery import app as celery_app
from tests.conftest import require
from tests.factories import DeploymentFactory, jpeg_bytes
from tests.integration.conftest import ROOT, _database_url, start_worker, wait_for
from tests.integration.services import PostgresServer, RedisServer, free_port, wait_port
from traps.models import Event, Photo
from traps.services import photo_receive, photos_requeue_stuck

pytestmark = [pytest.mark.integration, pytest.mark.faults]

GROUP = 5  # photos per burst; bursts are hours apart, so one event each


def trap_photos(n: int, size: tuple[int, int] = (2048, 1536)) -> list[bytes]:
    """Make n distinct camera-trap JPEGs in bursts of GROUP, one minute apart."""
    base = Image.effect_noise(size, 40).convert("RGB")
    start = datetime(2024, 5, 1, 1, 0)
    out = []
    for i in range(n):
        image = base.copy()
        image.putpixel((i % size[0], 0), (255, 0, 0))
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "Panthera V4"
        exif[ExifTags.Base.Model] = "CAM41146"
        taken = start + timedelta(hours=3 * (i // GROUP), minutes=i % GROUP)
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime(
            "%Y:%m:%d %H:%M:%S"
        )
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90, exif=exif)
        out.append(buffer.getvalue())
    return out


def _restart_worker(worker) -> None:
    ready_before = worker.output().count("ready.")
    worker.process = start_worker(worker.env, worker.queue, worker.log)
    wait_for(
        lambda: worker.output().count("ready.") > ready_before,
        what="the restarted worker",
        worker=worker,
    )


def _files(root: Path, folder: str) -> list[Path]:
    return [p for p in (root / folder).rglob("*") if p.is_file()]


def test_worker_killed_mid_batch_processes_every_photo_exactly_once(celery_worker, park, settings):
    n = 60
    deployment = DeploymentFactory(
        station__park=park, start=datetime(2024, 1, 1, tzinfo=park.tzinfo)
    )
    data = trap_photos(n)
    with transaction.atomic():
        for i, payload in enumerate(data):
            photo_receive(
                deployment=deployment, fileobj=io.BytesIO(payload), original_name=f"IMG_{i:04d}.JPG"
            )

    def mid_task():
        done = Photo.objects.filter(status=Photo.Status.PROCESSED).count()
        return done >= 5 and Photo.objects.filter(status=Photo.Status.PROCESSING).exists()

    wait_for(mid_task, what="the worker to be in the middle of the batch", worker=celery_worker)
    os.kill(celery_worker.process.pid, signal.SIGKILL)
    celery_worker.process.wait(timeout=10)
    interrupted = list(
        Photo.objects.filter(status=Photo.Status.PROCESSING).values_list("pk", flat=True)
    )
    processed_at_kill = Photo.objects.filter(status=Photo.Status.PROCESSED).count()
    assert processed_at_kill < n, "the batch finished before the kill; make it larger"

    _restart_worker(celery_worker)
    # The queued messages go to the new worker. The message of the task that
    # was killed stays unacknowledged in Redis until its visibility timeout;
    # the periodic sweep queues such a photo again (run here as beat would).
    wait_for(
        lambda: not Photo.objects.filter(status=Photo.Status.RECEIVED).exists(),
        what="the queue to drain",
        worker=celery_worker,
    )
    photos_requeue_stuck(older_than=timedelta(0))
    wait_for(
        lambda: Photo.objects.filter(status=Photo.Status.PROCESSED).count() == n,
        what="every photo to be processed",
        worker=celery_worker,
    )

    photos = list(Photo.objects.order_by("pk"))
    assert len({p.sha256 for p in photos}) == n
    attempts = {p.pk: p.attempts for p in photos}
    # Each photo was processed once; only one cut off by the kill ran a second time.
    assert all(attempts[pk] == 1 for pk in attempts if pk not in interrupted)
    assert all(attempts[pk] == 2 for pk in interrupted)
    media = Path(settings.MEDIA_ROOT)
    assert len(_files(media, "photos")) == n
    assert len(_files(media, "thumbnails")) == n
    events = Event.objects.filter(deployment=deployment)
    assert events.count() == n // GROUP
    assert sorted(Counter(p.event_id for p in photos).values()) == [GROUP] * (n // GROUP)
    print(
        f"killed with {processed_at_kill}/{n} processed and {len(interrupted)} mid-task; "
        f"all {n} processed once, {events.count()} events"
    )


def _use_broker(url: str) -> None:
    # Celery reads CELERY_BROKER_URL from the environment before its settings.
    os.environ["CELERY_BROKER_URL"] = url
    celery_app.conf.task_always_eager = False
    # Producers are pooled per app: forget the ones connected to another broker.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def private_redis(tmp_path):
    require(
        bool(subprocess.run(["which", "redis-server"], capture_output=True).stdout),
        "needs redis-server",
    )
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.close()


def test_uploads_survive_a_redis_outage_and_are_processed_when_it_returns(
    transactional_db, private_redis, client, ranger, park, settings, tmp_path
):
    require(connection.vendor == "postgresql", "the fault tests need PostgreSQL")
    queue = f"faults-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": private_redis.url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, queue, log)
    previous = os.environ.get("CELERY_BROKER_URL", "")
    _use_broker(private_redis.url)
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        wait_for(lambda: "ready." in log.read_text(errors="replace"), what="the worker")
        deployment = DeploymentFactory(station__park=park)
        client.force_login(ranger)

        def upload(seed: int) -> int:
            payload = jpeg_bytes(size=(320, 240), seed=seed)
            return client.post(
                "/api/photos/",
                {"deployment": deployment.pk, "file": SimpleUploadedFile("a.jpg", payload)},
            ).status_code

        assert upload(1) == 201
        wait_for(lambda: Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 1)

        private_redis.kill()
        statuses = [upload(seed) for seed in range(2, 12)]
        assert statuses == [201] * 10
        assert Photo.objects.filter(status=Photo.Status.RECEIVED).count() == 10

        private_redis.start()  # empty: every message sent before the crash is gone
        queued = photos_requeue_stuck(older_than=timedelta(0))
        assert queued == 10
        wait_for(
            lambda: Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 11,
            timeout=120,
            what="the photos stored during the outage to be processed",
        )
        assert Photo.objects.aggregate(total=Sum("attempts"))["total"] == 11
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        celery_app.conf.task_default_queue = previous_queue
        _use_broker(previous)


def _manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


SETUP = """
from datetime import datetime, UTC
from tests.factories import DeploymentFactory, ParkFactory, UserFactory
from accounts.roles import Role
from accounts.services import api_token_create
park = ParkFactory(code="faults")
user = UserFactory(username="faults-ranger", role=Role.RANGER, parks=[park])
deployment = DeploymentFactory(station__park=park, start=datetime(2024, 1, 1, tzinfo=UTC), end=None)
print(deployment.pk, api_token_create(user=user)[1])
"""


@pytest.fixture
def private_postgres():
    require(PostgresServer.available(), "the PostgreSQL restart test needs initdb and pg_ctl")
    server = PostgresServer()
    try:
        server.init()
        yield server
    finally:
        server.close()


def test_uploads_during_a_postgresql_restart_are_stored_exactly_once(
    private_postgres, private_redis, tmp_path
):
    n, clients = 40, 4
    media = tmp_path / "media"
    subprocess.run(
        [
            "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(private_postgres.port),
            "-U",
            "postgres",
            "faults",
        ],
        check=True,
    )
    env = {
        **os.environ,
        "DATABASE_URL": private_postgres.url("faults"),
        "CELERY_BROKER_URL": private_redis.url,
        "MEDIA_ROOT": str(media),
        "VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    _manage(env, "migrate", "--verbosity", "0")
    deployment_id, key = _manage(env, "shell", "-c", SETUP).split()[-2:]
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = start_worker(env, "celery", tmp_path / "worker.log")
    try:
        wait_port(port, up=True, timeout=60)
        data = trap_photos(n, size=(640, 480))
        outcomes: Counter = Counter()
        finals: list[int] = []
        lock = threading.Lock()
        sent = threading.Semaphore(0)

        def client(items: list[tuple[int, bytes]]) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {key}"
            for i, payload in items:
                for _attempt in range(200):
                    try:
                        response = session.post(
                            f"http://127.0.0.1:{port}/api/photos/",
                            data={"deployment": deployment_id},
                            files={"file": (f"IMG_{i:04d}.JPG", payload, "image/jpeg")},
                            timeout=30,
                        )
                        status = response.status_code
                    except requests.ConnectionError:
                        status = 0
                    with lock:
                        outcomes[status] += 1
                    if status in (200, 201):
                        with lock:
                            finals.append(status)
                        sent.release()
                        break
                    assert status == 0 or status >= 500, status  # nothing but retryable errors
                    time.sleep(0.2)

        shares = [list(enumerate(data))[c::clients] for c in range(clients)]
        threads = [threading.Thread(target=client, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for _ in range(n // 4):
            sent.acquire(timeout=120)
        private_postgres.stop()
        time.sleep(2)
        private_postgres.start()
        for thread in threads:
            thread.join(timeout=300)
        assert len(finals) == n
        retryable = sum(v for k, v in outcomes.items() if k not in (200, 201))
        assert retryable > 0, f"the restart produced no error at all: {outcomes}"

        with psycopg2.connect(private_postgres.url("faults")) as db, db.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT sha256) FROM traps_photo")
            assert cur.fetchone() == (n, n)
        assert len(_files(media, "photos")) == n

        # Some processing messages were cut off by the restart: the sweep picks them up.
        _manage(
            env,
            "shell",
            "-c",
            "from datetime import timedelta; from traps.services import photos_requeue_stuck; "
            "photos_requeue_stuck(older_than=timedelta(0))",
        )

        def processed() -> bool:
            with psycopg2.connect(private_postgres.url("faults")) as db, db.cursor() as cur:
                cur.execute("SELECT count(*) FROM traps_photo WHERE status = 'processed'")
                return cur.fetchone()[0] == n

        wait_for(processed, timeout=180, what="every photo to be processed")
        assert len(_files(media, "thumbnails")) == n
        print(f"{n} photos stored once; responses during the restart: {dict(outcomes)}")
    finally:
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
