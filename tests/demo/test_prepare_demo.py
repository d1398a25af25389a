"""bin/run prepares the local registry in one process (migrate, the demo's parks and logins,
static files), serves it, and builds the rest of the demo beside the server, saying so on
every page until it is done."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from demo.landscape import DEMO_USERS, PARKS, DemoBuilder
from demo.management.commands import prepare_demo
from demo.status import demo_being_built, marker_path
from traps.models import Park, Photo, Station

ROOT = Path(__file__).resolve().parents[2]
NOTE = b"data-demo-building"


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


class FakePopen:
    """Records the background build prepare_demo would start; its pid is this process's."""

    started: list[list[str]] = []

    def __init__(self, args, **kwargs):
        # bin/run stops the build's whole process group, its drawing workers included.
        assert kwargs.get("start_new_session") is True
        FakePopen.started.append(list(args))
        self.pid = os.getpid()


@pytest.fixture
def prepare(monkeypatch, var_dir, tmp_path):
    calls = []
    monkeypatch.setattr(prepare_demo, "call_command", lambda name, **kw: calls.append(name))
    monkeypatch.setattr(prepare_demo.subprocess, "Popen", FakePopen)
    FakePopen.started = []
    pid_file = tmp_path / "demo.pid"

    def run() -> str:
        out = io.StringIO()
        call_command("prepare_demo", "--background-pid-file", str(pid_file), stdout=out)
        return out.getvalue()

    run.calls = calls
    run.pid_file = pid_file
    return run


@pytest.mark.django_db
def test_prepare_demo_writes_parks_and_logins_and_builds_the_rest_in_the_background(prepare):
    out = prepare()

    assert prepare.calls == ["migrate", "collectstatic"]
    assert set(Park.objects.values_list("code", flat=True)) == {spec.code for spec in PARKS}
    assert Station.objects.count() == sum(spec.stations for spec in PARKS)
    # The slow part is left to the background process: no photo yet.
    assert Photo.objects.count() == 0
    User = get_user_model()
    for username, _role, _parks in DEMO_USERS:
        assert User.objects.get(username=username).check_password("leopard-demo-2026")
        assert username in out
    [command] = FakePopen.started
    assert command[-2:] == ["seed_demo", "--background"]
    assert command[:3] == ["nice", "-n", "10"]
    # bin/run learns the process id to stop it with the server, and the pages say the
    # demo is being built from the first answer on.
    assert prepare.pid_file.read_text() == str(os.getpid())
    assert demo_being_built()


@pytest.mark.django_db
def test_prepare_demo_on_a_complete_demo_starts_nothing(prepare, monkeypatch):
    monkeypatch.setattr(DemoBuilder, "complete", lambda self: True)

    prepare()

    assert FakePopen.started == []
    assert prepare.pid_file.read_text() == ""
    assert not demo_being_built()


@pytest.mark.django_db
def test_prepare_demo_alone_builds_the_whole_demo_in_the_foreground(monkeypatch):
    calls = []
    monkeypatch.setattr(prepare_demo, "call_command", lambda name, **kw: calls.append(name))

    call_command("prepare_demo", stdout=io.StringIO())

    assert calls == ["migrate", "seed_demo", "collectstatic"]


def test_bin_run_prepares_then_serves_and_stops_the_background_build_with_the_server():
    script = (ROOT / "bin" / "run").read_text()
    prepare = script.index("manage.py prepare_demo --background-pid-file")
    assert prepare < script.index("manage.py runserver")
    assert "manage.py migrate" not in script and "manage.py seed_demo" not in script
    assert 'kill -- -"$demo_pid"' in script
    assert "trap stop_background EXIT" in script


@pytest.mark.django_db
def test_seed_demo_in_the_background_marks_the_build_while_it_runs(monkeypatch, var_dir):
    seen = []

    def build(self):
        seen.append(demo_being_built())
        return {"leopards": 3}

    monkeypatch.setattr(DemoBuilder, "build", build)
    out = io.StringIO()
    call_command("seed_demo", "--background", stdout=out)

    assert seen == [True]
    assert not demo_being_built()
    assert not marker_path().exists()
    assert "ready: 3 leopards" in out.getvalue()
    # The logins were printed before the server started, not again under its log.
    assert "leopard-demo-2026" not in out.getvalue()


@pytest.mark.django_db
def test_a_failed_background_build_takes_its_note_away(monkeypatch, var_dir):
    def build(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(DemoBuilder, "build", build)
    with pytest.raises(RuntimeError):
        call_command("seed_demo", "--background", stdout=io.StringIO())
    assert not demo_being_built()


def test_a_marker_left_by_a_process_that_has_gone_counts_as_nothing(var_dir):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    marker_path().write_text(gone)
    assert not demo_being_built()
    marker_path().write_text("not a process id")
    assert not demo_being_built()
    marker_path().write_text(str(os.getpid()))
    assert demo_being_built()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ru", "zh-hans"])
def test_every_page_says_the_demo_is_being_built_until_it_is(client, ranger, var_dir, language):
    client.force_login(ranger)
    client.cookies["django_language"] = language
    for name in ("home", "leopards:leopard-list", "login"):
        assert NOTE not in client.get(reverse(name)).content
    marker_path().write_text(str(os.getpid()))
    for name in ("home", "leopards:leopard-list"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert NOTE in response.content
        if language != "en":
            assert b"The demo landscape is still being built" not in response.content
    marker_path().unlink()
    assert NOTE not in client.get(reverse("home")).content


@pytest.mark.django_db
def test_a_demo_is_complete_only_once_its_last_step_is_stored(park):
    from census.models import DensityRun
    from demo.landscape import SURVEY
    from leopards.models import Sighting
    from tests.leopards.reviewkit import make_event

    builder = DemoBuilder()
    assert not builder.complete()
    make_event(park, photos=1)
    Sighting.objects.update(source=Sighting.Source.DETECTOR)  # boxes waiting for review
    assert not builder.complete()
    builder.accounts()
    start, end = SURVEY
    for demo_park in Park.objects.filter(code__in=[spec.code for spec in PARKS]):
        DensityRun.objects.create(
            park=demo_park, start=start, end=end, occasion_days=1, detectfn="halfnormal",
            buffer_m=12000,
        )  # fmt: skip
    assert builder.complete()
    DensityRun.objects.filter(park__code=PARKS[0].code).update(status=DensityRun.Status.FAILED)
    assert not builder.complete()
