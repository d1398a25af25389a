"""Every page a ranger uses fits a 360 px phone; the menu fits one row on a 1366 px laptop;
the review toolbar never hides the box being reviewed. In all three languages: Russian
and Chinese labels are longer or wider than English ones."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.conftest import browser_login
from tests.factories import DeploymentFactory, PhotoFactory, SightingFactory, UserFactory
from tests.leopards.reviewkit import START, known_leopard, make_event, station_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "ru", "zh-hans"]
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1366, "height": 768}


def in_language(page, language: str, viewport: dict) -> None:
    page.set_viewport_size(viewport)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.base_url}])


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def field_park(park):
    """A park as rangers see it: long names, many deployments, an individual on two flanks."""
    park.name = "Land of the Leopard National Park"
    park.save()
    for number in range(3):
        DeploymentFactory(
            station=station_in(park, code=f"LOTL-{number + 1:02d}"),
            camera_serial=f"RECONYX-HP2X-{4000 + number}",
        )
    leopard = known_leopard(park, code="LEO-101F", name="Kedr")
    SightingFactory(
        photo=PhotoFactory(
            deployment=DeploymentFactory(station=station_in(park, code="LOTL-09")),
            taken_at=START + timedelta(days=30),
        ),
        leopard=leopard,
        flank="right",
    )
    return park


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_a_ranger_uses_fits_a_360_px_phone(page, field_park, ranger, language):
    browser_login(page, ranger)
    in_language(page, language, PHONE)
    deployment = field_park.stations.first().deployments.first()
    for path in [
        "/",
        "/upload/",
        "/deployments/",
        f"/deployments/{deployment.pk}/",
        "/leopards/",
        "/leopards/LEO-101F/",
        "/census/",
    ]:
        response = page.goto(f"{page.base_url}{path}")
        assert response.status == 200, path
        assert page_width(page) <= PHONE["width"], path
    # The upload's controls are on screen, not cut off at the right edge.
    page.goto(f"{page.base_url}/upload/")
    for control in ["#deployment", "label:has(#files-input)", "#start"]:
        box = page.locator(control).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], control


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_phone_menu_folds_behind_one_button(page, park, ranger, language):
    browser_login(page, ranger)
    in_language(page, language, PHONE)
    page.goto(f"{page.base_url}/")
    upload = page.locator("nav.mainnav a[href='/upload/']")
    expect(upload).to_be_hidden()
    assert page.locator(".topbar").bounding_box()["height"] < 60
    page.locator(".nav-toggle-label").click()
    expect(upload).to_be_visible()
    expect(page.locator("nav.mainnav a[href='/census/']")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    upload.click()
    page.wait_for_url(f"{page.base_url}/upload/")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", [Role.SCIENTIST, Role.ADMIN])
def test_the_menu_fits_one_row_at_1366_px(page, park, language, role):
    user = UserFactory(username=f"wide-{role}", role=role, parks=[park], is_staff=True)
    browser_login(page, user)
    in_language(page, language, LAPTOP)
    page.goto(f"{page.base_url}/")
    brand = page.locator(".topbar .brand").bounding_box()
    links = page.locator("nav.mainnav > a, nav.mainnav > details > summary")
    assert links.count() >= 6
    for index in range(links.count()):
        box = links.nth(index).bounding_box()
        assert abs(box["y"] + box["height"] / 2 - (brand["y"] + brand["height"] / 2)) < 8
    end = page.locator(".topbar-end").bounding_box()
    assert abs(end["y"] + end["height"] / 2 - (brand["y"] + brand["height"] / 2)) < 8
    assert page.locator(".topbar").bounding_box()["height"] < 64
    assert page_width(page) <= LAPTOP["width"]
    # The pages that did not fit are one click away.
    page.locator("nav.mainnav details.navmore summary").click()
    expect(page.locator(".navmore-list a[href='/exchange/']")).to_be_visible()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_review_toolbar_leaves_the_box_controls_in_view(page, park, scientist, language):
    candidate = known_leopard(park, code="LEO-120F")
    event = make_event(park, photos=2, candidates=[candidate])
    first = event.sightings[0]
    browser_login(page, scientist)
    in_language(page, language, {"width": 1366, "height": 800})
    page.goto(f"{page.base_url}/review/events/{event.event.pk}/")
    expect(page.locator(f"#sighting-{first.pk}")).to_have_class("sighting card current")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.keyboard.press("k")
    # Moving back up scrolls the first box's head to the top: below the sticky toolbar.
    page.wait_for_function(
        """(id) => {
            const bar = document.querySelector('.review-toolbar').getBoundingClientRect();
            const box = document.querySelector('#sighting-' + id);
            const flank = box.querySelector('select[name=flank]').getBoundingClientRect();
            const age = box.querySelector('select[name=observed_age_class]');
            const ageBox = age.getBoundingClientRect();
            const below = flank.top >= bar.bottom && ageBox.top >= bar.bottom;
            return below && flank.bottom < innerHeight;
        }""",
        arg=first.pk,
        timeout=5_000,
    )
