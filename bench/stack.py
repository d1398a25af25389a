"""The real stack the HTTP benches run against: a fresh database, gunicorn and a Celery worker.

Every process listens on loopback only and is stopped, and the bench database
dropped, when the bench ends.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parents[1]
PG = "postgres://postgres@127.0.0.1:5432"


def fresh_stack(db_name: str, redis_url: str, prefix: str) -> tuple[Path, dict[str, str]]:
    """Recreate the bench database, empty its Redis db, point Django at both and set it up."""
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db_name])
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], check=True)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{db_name}",
        "CELERY_BROKER_URL": redis_url,
        # One cache for every gunicorn process, as in production (keys do not
        # collide with the broker's).
        "CACHE_URL": redis_url,
        "MEDIA_ROOT": str(tmp / "media"),
        "VAR_DIR": str(tmp / "var"),
        "STATIC_ROOT": str(tmp / "static"),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return tmp, env


def start_web(env: dict[str, str], log: IO[bytes], port: int, *options: str) -> subprocess.Popen:
    """Start gunicorn on 127.0.0.1:port with these extra options (workers, threads...)."""
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        [*command, *options], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def start_worker(env: dict[str, str], log: IO[bytes], concurrency: int) -> subprocess.Popen:
    """Start a Celery worker with this many processes."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"]
    options = ["--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]
    return subprocess.Popen(
        [*command, *options], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer")


def stop(processes: list[subprocess.Popen], db_name: str) -> None:
    """Stop the servers, then drop the bench database."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    from django.db import connections

    connections.close_all()
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db_name])
