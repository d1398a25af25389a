"""With the Redis cache down, census pages and downloads are slower, never broken."""

import json
import logging
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from census.services import census_mark_stale, census_rebuild
from tests.census.helpers import cat, local, sight, station_running

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cache_settings_for(url: str, tmp_path: Path) -> dict:
    """Return the CACHES the settings module builds for this CACHE_URL."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CACHE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path))
    probe = "import json; from django.conf import settings; print(json.dumps(settings.CACHES))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def redis_down(settings, tmp_path):
    settings.CACHES = _cache_settings_for(f"redis://127.0.0.1:{_closed_port()}/1", tmp_path)


@pytest.fixture
def census(park, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    _, here = station_running(park, "A1", first_year=2024, last_year=2024)
    sight(here, cat("LEO-5F", date(2015, 1, 1)), local(park, 2024, 9, 1, 1, 0))
    census_rebuild()
    return park


@pytest.mark.parametrize(
    "path",
    [
        "/census/",
        "/census/alpha/",
        "/census/alpha/?year=2024",
        "/census/alpha/individuals.csv",
        "/census/alpha/stations.csv",
        "/census/landscape/periods.csv",
    ],
)
def test_census_pages_answer_while_the_cache_is_down(
    client, manager, census, redis_down, caplog, path
):
    client.force_login(manager)
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        response = client.get(path)
    assert response.status_code == 200
    assert "LEO-5F" in response.content.decode() or not path.endswith("individuals.csv")
    assert any("cache unavailable" in r.getMessage() for r in caplog.records)


def test_a_census_change_still_queues_its_rebuild_while_the_cache_is_down(
    park, redis_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        census_mark_stale(park_id=park.pk, year=2024)
    assert len(callbacks) == 1
