"""On a phone and a laptop, the review queue and the survey name the park's time zone
beside their dates without the page scrolling sideways, and the note that the demo is
still being built fits the screen, in each language."""

import os
from datetime import UTC, datetime

import pytest

from demo.status import marker_path
from tests.conftest import browser_login
from tests.leopards.reviewkit import make_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "ru", "zh-hans"]
WIDTHS = [360, 1366]
# 2024-05-01 15:30 UTC is 2024-05-02 01:30 in Vladivostok.
LATE_UTC = datetime(2024, 5, 1, 15, 30, tzinfo=UTC)


def open_page(page, user, path: str, language: str, width: int) -> None:
    browser_login(page, user)
    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.base_url}])
    page.goto(f"{page.base_url}{path}")
    page.wait_for_load_state("load")


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_review_queue_names_the_parks_zone(page, scientist, park, language, width, tmp_path):
    make_event(park, photos=1, start=LATE_UTC)
    open_page(page, scientist, "/review/", language, width)

    header = page.locator("table.review-queue thead")
    assert "(Asia/Vladivostok)" in header.inner_text()
    assert "2024-05-02 01:30" in page.locator("table.review-queue tbody").inner_text()
    no_sideways_scroll(page, width)
    page.screenshot(path=str(tmp_path / f"queue-{language}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_survey_names_the_parks_zone(page, manager, park, language, width, tmp_path):
    open_page(page, manager, f"/census/{park.code}/survey/", language, width)

    zone = page.locator("form.census-filters .zone").first
    assert zone.is_visible()
    assert "Asia/Vladivostok" in zone.inner_text()
    box = zone.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    no_sideways_scroll(page, width)
    page.screenshot(path=str(tmp_path / f"survey-{language}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_demo_note_fits_the_screen(page, ranger, settings, language, width, tmp_path):
    settings.VAR_DIR = tmp_path
    marker_path().write_text(str(os.getpid()))
    open_page(page, ranger, "/", language, width)

    note = page.locator("[data-demo-building]")
    assert note.is_visible()
    box = note.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    no_sideways_scroll(page, width)
    page.screenshot(path=str(tmp_path / f"note-{language}-{width}.png"), full_page=True)
