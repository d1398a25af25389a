"""The settings modes: local first run, real services, and production."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'],"
    " 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
    " 'storage': s.STORAGES['default']['BACKEND'], 'debug': s.DEBUG}))"
)
MODE_VARIABLES = [
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "REGISTRY_MODE",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    # Set by the browser tests' fixture in this process; check --deploy refuses it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
]


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in MODE_VARIABLES}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path / "var"))
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def _probe(tmp_path: Path, **env: str) -> dict:
    result = _run(["-c", PROBE], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_configured_means_sqlite_local_files_and_tasks_in_process(tmp_path):
    probe = _probe(tmp_path)
    assert probe == {
        "engine": "django.db.backends.sqlite3",
        "eager": True,
        "storage": "django.core.files.storage.FileSystemStorage",
        "debug": False,
    }


def test_a_task_in_process_looks_for_no_broker(tmp_path):
    # Celery builds a broker connection even for an in-process task; without a
    # broker configured it must not go looking for one (kombu warns about a
    # missing hostname and falls back to localhost when it does).
    code = (
        "import django, logging; logging.basicConfig(); django.setup(); "
        "from config.celery import app; "
        "print(app.signature('celery.backend_cleanup').delay().status)"
    )
    result = _run(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "SUCCESS"
    assert "hostname" not in result.stderr.lower()
    assert "localhost" not in result.stderr


def test_service_variables_switch_to_postgresql_a_broker_and_object_storage(tmp_path):
    probe = _probe(
        tmp_path,
        DATABASE_URL="postgres://registry@db.example:5432/registry",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        AWS_STORAGE_BUCKET_NAME="leopard-photos",
    )
    assert probe["engine"] == "django.db.backends.postgresql"
    assert probe["eager"] is False
    assert probe["storage"] == "storages.backends.s3.S3Storage"


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run(["-c", PROBE], tmp_path, REGISTRY_MODE="production")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_mode_passes_the_deployment_checklist(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        REGISTRY_MODE="production",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-value-1234567890",
        ALLOWED_HOSTS="registry.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_first_run_logs_no_task_successes_nor_faiss_fallbacks_but_keeps_warnings(tmp_path):
    # Building the demo ran hundreds of tasks in process, each logging "succeeded",
    # and faiss logged a ModuleNotFoundError for each CPU build it skipped.
    code = (
        "import django, logging; django.setup(); "
        "import faiss; from config.celery import app; "
        "app.signature('celery.backend_cleanup').delay(); "
        "logging.getLogger('celery.app.trace').warning('a task failed: keep me'); "
        "logging.getLogger('faiss.loader').warning('faiss warning: keep me'); "
        "logging.getLogger('django.utils.autoreload').info('Watching for file changes')"
    )
    result = _run(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "succeeded" not in result.stderr
    assert "ModuleNotFoundError" not in result.stderr
    assert "AXES: BEGIN" not in result.stderr
    assert "Watching for file changes" not in result.stderr
    assert "a task failed: keep me" in result.stderr
    assert "faiss warning: keep me" in result.stderr


def test_the_run_banner_names_the_address_runserver_listens_on():
    def url(address: str) -> str:
        script = f"source bin/_env.sh && run_url '{address}'"
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    assert url("") == "http://127.0.0.1:8000"
    assert url("8080") == "http://127.0.0.1:8080"
    assert url("127.0.0.1:8081") == "http://127.0.0.1:8081"
    assert url("0.0.0.0:9000") == "http://127.0.0.1:9000"
    assert url("[::1]:8001") == "http://[::1]:8001"


def test_a_visibility_timeout_no_longer_than_a_task_may_run_is_refused(tmp_path):
    # Shorter, and a task still running would be delivered to a second worker.
    result = _run(
        ["-c", PROBE],
        tmp_path,
        CELERY_TASK_TIME_LIMIT="600",
        BROKER_VISIBILITY_TIMEOUT="600",
    )
    assert result.returncode != 0
    assert "BROKER_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT" in result.stderr
    assert _probe(tmp_path, CELERY_TASK_TIME_LIMIT="600", BROKER_VISIBILITY_TIMEOUT="601")
