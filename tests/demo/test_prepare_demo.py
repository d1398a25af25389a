"""bin/run prepares the local registry in one process: migrate, the demo, static files."""

from django.core.management import call_command

from demo.management.commands import prepare_demo


def test_prepare_demo_migrates_then_builds_the_demo_then_collects_static(monkeypatch):
    calls = []
    monkeypatch.setattr(prepare_demo, "call_command", lambda name, **kw: calls.append(name))

    call_command("prepare_demo")

    assert calls == ["migrate", "seed_demo", "collectstatic"]


def test_bin_run_prepares_with_the_one_command():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "bin" / "run").read_text()
    assert "manage.py prepare_demo" in script
    assert "manage.py seed_demo" not in script and "manage.py migrate" not in script
