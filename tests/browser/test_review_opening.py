"""Opening an event shows its photo and claims it; leaving it untouched gives it back."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_review import WATCH, no_csp_violations, waiting_event  # noqa: F401
from tests.conftest import browser_login
from traps.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_opening_an_event_shows_its_photo_in_view(page, scientist, waiting_event):  # noqa: F811
    page.add_init_script(WATCH)
    browser_login(page, scientist)
    page.goto(f"{page.base_url}/review/events/{waiting_event.event.pk}/")
    page.wait_for_load_state("load")
    # The first undecided box is marked for the keys, without scrolling to it.
    expect(page.locator("article.sighting.current")).to_have_count(1)
    page.wait_for_timeout(400)  # a smooth scroll would have started by now
    stage = page.locator(".review-photo .photo-stage").first.bounding_box()
    toolbar = page.locator(".review-toolbar").bounding_box()
    viewport = page.viewport_size
    assert stage["y"] >= 0 and stage["y"] + stage["height"] <= viewport["height"], stage
    assert toolbar["y"] + toolbar["height"] <= stage["y"], (toolbar, stage)
    no_csp_violations(page)


def test_an_event_left_untouched_goes_back_to_the_queue(page, scientist, waiting_event):  # noqa: F811
    event = waiting_event.event
    browser_login(page, scientist)
    page.goto(f"{page.base_url}/review/")
    page.locator(f'tr[data-event="{event.pk}"] button').click()
    page.wait_for_url(f"**/review/events/{event.pk}/")
    event.refresh_from_db()
    assert (event.claimed_by, event.status) == (scientist, Event.Status.IN_REVIEW)

    page.locator(".review-head").get_by_role("link", name="Review queue").click()
    page.wait_for_url(f"{page.base_url}/review/")
    # The page gives the claim back as it goes, alongside loading the queue.
    for _ in range(50):
        event.refresh_from_db()
        if event.claimed_by is None:
            break
        page.wait_for_timeout(100)
    assert (event.claimed_by, event.status) == (None, Event.Status.PENDING)
    page.reload()
    expect(page.locator(f'tr[data-event="{event.pk}"] .status')).to_have_text("Waiting for review")

    # Back to the event from the browser's history: it is the scientist's again.
    page.go_back()
    page.wait_for_url(f"**/review/events/{event.pk}/")
    expect(page.locator("form[action$='/release/'] button")).to_be_visible()
    event.refresh_from_db()
    assert event.claimed_by == scientist
