"""Fixtures for the whole suite: a park with one user per role, and isolated media."""

import contextlib
import os

import pytest

from accounts.roles import Role
from config.celery import app as celery_app
from tests.factories import ParkFactory, UserFactory

IN_CI = os.environ.get("CI") == "true"
# The learned second stage and the shortlist's DISK voice run a neural network on every
# box and ranking: off in the processes that tests start (workers, servers, commands) as
# in this one (below), unless a test turns them on (test_matching_second_stage.py,
# test_matching_fusion.py, the worker tests that run them).
os.environ.setdefault("MATCH_RERANK_TOP_K", "0")
os.environ.setdefault("MATCH_FIRST_STAGE_DISK_WEIGHT", "0")


def require(condition: bool, why: str) -> None:
    """Skip a test that needs a real service, but fail it in CI, where nothing may skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test: {why}")
    pytest.skip(why)


@pytest.fixture(autouse=True)
def _default_language():
    # A request in another language leaves that language active in the thread
    # (LocaleMiddleware activates it and nothing switches back): every test
    # starts in the default language.
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


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
def _match_index_in_tmp(settings, tmp_path):
    # Snapshots of the match index go to the test's folder, and no process keeps
    # an index built from another test's database rows.
    from leopards.matching import catalogue

    settings.MATCH_INDEX_DIR = tmp_path / "match-index"
    # Both learned stages are on by default; the tests that are about them turn them on.
    settings.MATCH_RERANK_TOP_K = 0
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 0.0
    catalogue.forget()
    yield
    catalogue.forget()


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


# Browser tests: Debian's Chromium driven by Playwright (its own browser
# downloads are not used). Playwright's sync API runs an event loop in this
# thread, so Django's async-safety guard must be told the test thread is fine.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    require(os.path.exists(CHROMIUM), f"the browser tests need Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server, tmp_path):
    """A fresh browser page; its screenshots land in the test's tmp folder."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    # Closing a page runs its pagehide handlers: the review page would give its claim
    # back with a beacon that reaches the live server after the test has closed its
    # database. The test is over, so nothing a page sends on leaving is wanted now.
    from playwright.sync_api import Error as PlaywrightError

    for open_page in context.pages:
        # A page in the middle of a navigation has no document to change: leaving its
        # last one has already run that page's handlers.
        with contextlib.suppress(PlaywrightError):
            open_page.evaluate("navigator.sendBeacon = () => true")
    context.close()


def browser_login(page, user, password: str = "correct-horse-battery") -> None:
    """Log in through the real login form."""
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")  # not the language switch in the top bar
    page.wait_for_url(f"{page.base_url}/")
