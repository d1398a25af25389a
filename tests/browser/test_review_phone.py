"""A scientist reviews on a phone: every candidate's Confirm button is on screen, in each
language, without scrolling sideways; the laptop layout keeps the photo pairs full size."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from leopards.models import MatchCandidate, Sighting
from tests.conftest import browser_login
from tests.factories import jpeg_bytes
from tests.leopards.reviewkit import known_leopard, make_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "ru", "zh-hans"]


@pytest.fixture
def event_with_candidates(park):
    leopards = [known_leopard(park, code=f"LEO-{130 + n}F", name="Kedrovaya") for n in range(3)]
    event = make_event(park, photos=1, candidates=leopards)
    # Long boxes, as of a leopard walking past: each crop is wider than it is high.
    Sighting.objects.update(bbox_x=0.05, bbox_y=0.35, bbox_w=0.9, bbox_h=0.3)
    # Each candidate with its reference photo: the pair is two photos wide.
    for candidate in MatchCandidate.objects.filter(sighting__in=event.sightings):
        candidate.reference = Sighting.objects.get(leopard=candidate.leopard)
        candidate.save()
    for seed, sighting in enumerate(Sighting.objects.select_related("photo")):
        photo = sighting.photo
        default_storage.save(photo.file.name, ContentFile(jpeg_bytes(size=(800, 600), seed=seed)))
    return event


def open_review(page, scientist, event, language: str, width: int) -> None:
    browser_login(page, scientist)
    page.set_viewport_size({"width": width, "height": 800})
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.base_url}])
    page.goto(f"{page.base_url}/review/events/{event.event.pk}/")
    page.wait_for_load_state("load")


def confirm_boxes(page) -> list[dict]:
    buttons = page.locator(".candidate-confirm button")
    assert buttons.count() == 3
    return [buttons.nth(i).bounding_box() for i in range(buttons.count())]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_confirm_button_is_on_a_360_px_screen(
    page, scientist, event_with_candidates, language
):
    open_review(page, scientist, event_with_candidates, language, 360)

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for box in confirm_boxes(page):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    # The pair shrinks to the screen rather than being cut off at its edge.
    pair = page.locator(".candidate .pair").first.bounding_box()
    assert pair["x"] + pair["width"] <= 360
    page.locator(".candidate-confirm button").last.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollX") == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_laptop_review_keeps_full_size_pairs_and_reachable_buttons(
    page, scientist, event_with_candidates, language
):
    open_review(page, scientist, event_with_candidates, language, 1366)

    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    for box in confirm_boxes(page):
        assert box["x"] + box["width"] <= 1366, box
    assert page.locator(".candidate .pair-query").first.bounding_box()["height"] == 160
