"""With the database down, every request gets a 503 with Retry-After, never a 500."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError

ROOT = Path(__file__).resolve().parents[2]

# Requests of a browser with a session and of the upload page's own API calls,
# answered by a registry whose PostgreSQL does not answer.
PROBE = r"""
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings

# Production serves static files from collectstatic's manifest; none is built here.
override_settings(
    STORAGES={
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
).enable()

out = []
def ask(method, path, cookies=None, **extra):
    client = Client(raise_request_exception=False)
    if cookies:
        client.cookies.load(cookies)
    response = getattr(client, method)(path, **extra)
    out.append({
        "path": path,
        "status": response.status_code,
        "retry": response.headers.get("Retry-After"),
        "type": response.headers.get("Content-Type", ""),
        "body": response.content.decode(errors="replace")[:3000],
    })

session = {"sessionid": "a" * 32}
ask("get", "/", session)
ask("get", "/upload/", session)
ask("get", "/census/", session, HTTP_ACCEPT_LANGUAGE="ru")
ask("post", "/api/photos/lookup/", session, data={"sha256": ["0" * 64]},
    content_type="application/json")
ask("get", "/api/deployments/", session)
ask("get", "/api/deployments/", None, HTTP_AUTHORIZATION="Token abcdefgh12345678")
ask("post", "/accounts/login/", None, data={"username": "alice", "password": "x" * 12})
print(json.dumps(out))
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> dict[str, list[dict]]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://registry@127.0.0.1:{_closed_port()}/registry",
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(tmp_path_factory.mktemp("var")),
        ALLOWED_HOSTS="testserver",
        DEBUG="false",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, list[dict]] = {}
    for answer in json.loads(result.stdout.strip().splitlines()[-1]):
        found.setdefault(answer["path"], []).append(answer)
    return found


@pytest.mark.parametrize("path", ["/", "/upload/", "/census/"])
def test_pages_with_a_session_get_a_503_page(answers, path):
    (answer,) = answers[path]
    assert answer["status"] == 503
    assert answer["retry"] == "5"
    assert answer["type"].startswith("text/html")
    assert "<html" in answer["body"]


def test_the_503_page_speaks_the_readers_language(answers):
    (answer,) = answers["/census/"]
    assert 'lang="ru"' in answer["body"]
    assert "Временно недоступно" in answer["body"]
    assert "База данных реестра временно недоступна" in answer["body"]


def test_the_upload_pages_api_calls_get_a_json_503(answers):
    (answer,) = answers["/api/photos/lookup/"]
    assert answer["status"] == 503
    assert answer["retry"] == "5"
    assert json.loads(answer["body"])["code"] == "unavailable"


def test_api_calls_with_a_session_or_a_token_get_a_json_503(answers):
    for answer in answers["/api/deployments/"]:
        assert answer["status"] == 503
        assert answer["retry"] == "5"
        assert json.loads(answer["body"])["code"] == "unavailable"


def test_a_login_gets_a_503(answers):
    (answer,) = answers["/accounts/login/"]
    assert answer["status"] == 503
    assert answer["retry"] == "5"


@pytest.mark.django_db
def test_a_connection_lost_while_reading_the_user_gets_a_503(client, ranger, monkeypatch):
    client.force_login(ranger)
    client.raise_request_exception = False

    def refuse(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("django.contrib.auth.get_user", refuse)
    response = client.get("/deployments/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
