"""A real Celery worker process on a real Redis broker, sharing the test database."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from django.db import connection

from config.celery import app as celery_app
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path, queue: str, env: dict) -> None:
        self.process = process
        self.log = log
        self.queue = queue
        self.env = env

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_worker(env: dict, queue: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def celery_worker(transactional_db, settings, tmp_path) -> Iterator[Worker]:
    """Start a worker process; tasks sent by the test go to it through Redis."""
    require(
        connection.vendor == "postgresql",
        "the worker tests need PostgreSQL: set DATABASE_URL=postgres://...",
    )
    broker = os.environ.get("CELERY_BROKER_URL", "")
    require(
        bool(broker) and _reachable(broker), "the worker tests need Redis: set CELERY_BROKER_URL"
    )
    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker,
        # Tasks the worker's own tasks send stay on this test's queue.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MATCH_INDEX_DIR": str(settings.MATCH_INDEX_DIR),
        # The worker runs the learned stages as the test's settings say (off unless the
        # test turns them on before asking for the worker).
        "MATCH_RERANK_TOP_K": str(settings.MATCH_RERANK_TOP_K),
        "MATCH_FIRST_STAGE_DISK_WEIGHT": str(settings.MATCH_FIRST_STAGE_DISK_WEIGHT),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    process = start_worker(env, queue, log)

    previous = {
        key: celery_app.conf[key]
        for key in ("task_always_eager", "broker_url", "task_default_queue")
    }
    celery_app.conf.update(task_always_eager=False, broker_url=broker, task_default_queue=queue)
    worker = Worker(process, log, queue, env)
    deadline = time.monotonic() + 60
    while "ready." not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the worker did not start:\n{worker.output()}")
        time.sleep(0.2)
    try:
        yield worker
    finally:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.process.kill()
        celery_app.conf.update(previous)


def wait_for(predicate, *, timeout: float = 60, what: str = "the condition", worker=None):
    """Poll until predicate() is truthy; fail with the worker's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    log = worker.output() if worker else ""
    pytest.fail(f"timed out waiting for {what}\n{log[-4000:]}")
