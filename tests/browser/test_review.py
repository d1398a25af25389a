"""A scientist works through the review queue: confirms a match, creates a new individual,
draws a box, and finds both individuals on their pages."""

import shutil
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from accounts.privacy import generalise
from leopards.models import Leopard, MatchCandidate, Sighting
from tests.conftest import browser_login
from tests.factories import jpeg_bytes
from tests.leopards.reviewkit import known_leopard, make_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def waiting_event(park):
    """An event of two photos: a known cat the matcher ranks first, and a newcomer."""
    known = known_leopard(park, code="LEO-120F", name="Vesna")
    reference = Sighting.objects.get(leopard=known)
    work = make_event(park, photos=2)
    MatchCandidate.objects.create(
        sighting=work.sightings[0],
        leopard=known,
        rank=1,
        score=31.5,
        probability=0.97,
        inliers=24,
        reference=reference,
        matches=[
            [0.15 + 0.03 * i, 0.3 + 0.02 * i, 0.2 + 0.03 * i, 0.35 + 0.02 * i] for i in range(8)
        ],
    )
    for seed, photo in enumerate([reference.photo, *work.photos]):
        default_storage.save(photo.file.name, ContentFile(jpeg_bytes(size=(800, 600), seed=seed)))
    return work


# Collects what the browser blocked under the Content-Security-Policy.
WATCH = (
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def no_csp_violations(page) -> None:
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__cspViolations") == [], page.url


def shoot(page, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def test_a_scientist_confirms_a_match_and_creates_a_new_individual(
    page, scientist, waiting_event, tmp_path
):
    first, second = waiting_event.sightings
    page.add_init_script(WATCH)
    browser_login(page, scientist)
    page.get_by_role("link", name="Review").click()
    expect(page.locator("h1")).to_have_text("Review queue")
    expect(page.locator("tr.queue-row")).to_have_count(1)
    shoot(page, "review-queue", tmp_path)

    page.locator("tr.queue-row").get_by_role("button", name="Review").click()
    expect(page.locator("article.sighting")).to_have_count(2)
    candidate = page.locator(f"#sighting-{first.pk} .candidate").first
    expect(candidate).to_contain_text("LEO-120F")
    expect(candidate).to_contain_text("97 %")
    expect(candidate).to_have_attribute("data-lines", "8")
    no_csp_violations(page)
    shoot(page, "review-event", tmp_path)

    # The first undecided box has the focus: "1" confirms its first candidate.
    expect(page.locator(f"#sighting-{first.pk}")).to_have_class("sighting card current")
    page.keyboard.press("1")
    expect(page.locator(".messages")).to_contain_text("Confirmed as LEO-120F.")
    # Then the newcomer has the focus: "n" makes it a new individual.
    expect(page.locator(f"#sighting-{second.pk}")).to_have_class("sighting card current")
    page.locator(f"#sighting-{second.pk} select[name=sex]").select_option("female")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(page.locator(".messages")).to_contain_text("New individual LEO-121F created.")

    # Draw a box around a second cat in the first photo.
    photo = page.locator(f"#photo-{waiting_event.photos[0].pk}")
    photo.get_by_role("button", name="Draw a box").click()
    frame = photo.locator(".photo-frame").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] * 0.6, frame["y"] + frame["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(frame["x"] + frame["width"] * 0.9, frame["y"] + frame["height"] * 0.6, steps=5)
    page.mouse.up()
    expect(page.locator(f"#photo-{waiting_event.photos[0].pk} .box[data-sighting]")).to_have_count(
        2
    )
    drawn = Sighting.objects.filter(photo=waiting_event.photos[0]).latest("pk")
    assert drawn.status == "proposed" and 0.55 < drawn.bbox_x < 0.65

    page.get_by_role("link", name="LEO-120F").first.click()
    expect(page.locator("h1")).to_contain_text("LEO-120F")
    expect(page.locator("table.sightings tbody tr")).to_have_count(2)
    expect(page.locator("table.changes")).to_contain_text("Identification confirmed")
    # The map aggregates sightings, so it shows one point per 0.1° cell of their stations.
    cells = {
        generalise(
            sighting.photo.deployment.station.latitude, sighting.photo.deployment.station.longitude
        )
        for sighting in Sighting.objects.filter(leopard__code="LEO-120F").select_related(
            "photo__deployment__station"
        )
    }
    expect(page.locator("#leopard-map")).to_have_attribute("data-points", str(len(cells)))
    no_csp_violations(page)
    shoot(page, "individual-confirmed", tmp_path)

    page.goto(f"{page.base_url}/leopards/")
    page.fill("#id_q", "LEO-121")
    page.get_by_role("button", name="Filter").click()
    shoot(page, "catalogue", tmp_path)
    page.get_by_role("link", name="LEO-121F").click()
    expect(page.locator("table.sightings tbody tr")).to_have_count(1)
    expect(page.locator("table.changes")).to_contain_text("New individual")
    expect(page.locator(".leopard-head")).to_contain_text("Female")
    shoot(page, "individual-new", tmp_path)
    assert Leopard.objects.get(code="LEO-121F").sightings.get().pk == second.pk


def test_key_1_on_a_flagged_candidate_asks_first_and_cancelling_confirms_nothing(
    page, scientist, waiting_event, settings, tmp_path
):
    settings.SECOND_OPINION_SAMPLE_RATE = 0.0
    first = waiting_event.sightings[0]
    Sighting.objects.filter(pk=first.pk).update(new_individual_likely=True)
    MatchCandidate.objects.filter(sighting=first).update(probability=0.07)
    browser_login(page, scientist)
    page.goto(f"{page.base_url}/review/events/{waiting_event.event.pk}/")
    expect(page.locator(f"#sighting-{first.pk}")).to_have_class("sighting card current")
    shoot(page, "review-event-flagged", tmp_path)

    asked = []

    def dismiss(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.keyboard.press("1")
    page.wait_for_load_state("networkidle")
    assert asked and "override" in asked[0]
    expect(page.locator(".messages")).to_have_count(0)
    assert Sighting.objects.get(pk=first.pk).status == "proposed"

    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("1")
    expect(page.locator(".messages")).to_contain_text("Confirmed as LEO-120F.")
    confirmed = Sighting.objects.get(pk=first.pk)
    assert (confirmed.status, confirmed.leopard.code) == ("confirmed", "LEO-120F")
    assert confirmed.second_opinions.filter(status="pending").exists()
