"""Fixtures for the whole suite: a park with one user per role, and isolated media."""

import os

import pytest

from config.celery import app as celery_app
from tests.factories import ParkFactory, UserFactory
from traps.models import Role

IN_CI = os.environ.get("CI") == "true"


def require(condition: bool, why: str) -> None:
    """Skip a test that needs a real service, but fail it in CI, where nothing may skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test: {why}")
    pytest.skip(why)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


@pytest.fixture(autouse=True)
def _tasks_in_process():
    # Unit tests run task bodies in process; the integration tests switch to a
    # real broker and worker themselves.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def park(db):
    return ParkFactory(code="alpha", name="Alpha Leopard Park")


@pytest.fixture
def other_park(db):
    return ParkFactory(
        code="beta", name="Beta Tiger Reserve", country="CN", time_zone="Asia/Shanghai"
    )


@pytest.fixture
def ranger(park):
    return UserFactory(username="alice", role=Role.RANGER, parks=[park])


@pytest.fixture
def scientist(park):
    return UserFactory(username="bob", role=Role.SCIENTIST, parks=[park])


@pytest.fixture
def manager(park):
    return UserFactory(username="dora", role=Role.MANAGER, parks=[park])


@pytest.fixture
def outsider(other_park):
    """A scientist of another park: sees nothing of the park fixture."""
    return UserFactory(username="charlie", role=Role.SCIENTIST, parks=[other_park])


@pytest.fixture
def registry_admin(db):
    return UserFactory(username="erin", role=Role.ADMIN, is_staff=True, is_superuser=True)
