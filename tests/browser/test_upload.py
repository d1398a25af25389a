"""A ranger uploads a card folder in the browser, sees the counts, and uploads it again."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import DeploymentFactory, jpeg_bytes
from traps.models import Photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def card(tmp_path):
    folder = tmp_path / "DCIM"
    folder.mkdir()
    for i in range(3):
        (folder / f"IMG_{i:04d}.JPG").write_bytes(
            jpeg_bytes(taken=datetime(2024, 5, 1, 22, 15 + i), seed=300 + i)
        )
    (folder / "IMG_0003.JPG").write_text("not a photo at all, just text renamed")
    return folder


def _upload(page, card) -> None:
    page.set_input_files("#folder-input", str(card))
    # Locator assertions, not wait_for_function: the page's CSP forbids evaluating strings.
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")
    expect(page.locator("#status")).to_have_text(re.compile(r"^Done"), timeout=30_000)


def _count(page, name: str) -> str:
    return page.inner_text(f"#count-{name}")


def test_ranger_uploads_a_folder_sees_counts_and_nothing_is_sent_twice(page, ranger, park, card):
    deployment = DeploymentFactory(
        station__park=park,
        camera_serial="CAM41146",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=None,
    )
    browser_login(page, ranger)
    page.goto(f"{page.base_url}/upload/")
    page.select_option("#deployment", str(deployment.pk))

    _upload(page, card)
    assert _count(page, "total") == "4"
    assert _count(page, "stored") == "3"
    assert _count(page, "rejected") == "1"
    assert _count(page, "duplicates") == "0"
    rejected = page.inner_text("#rejected-list")
    assert "IMG_0003.JPG" in rejected
    assert "not a photo" in rejected
    page.screenshot(path=str(card.parent / "upload-done.png"), full_page=True)
    assert Photo.objects.filter(deployment=deployment).count() == 3

    # The same card again: the three stored photos are recognised by their hash
    # and not sent; only the rejected file goes up (and is refused) again.
    _upload(page, card)
    assert _count(page, "duplicates") == "3"
    assert _count(page, "sent") == "1"
    assert _count(page, "stored") == "0"
    assert _count(page, "rejected") == "1"
    assert Photo.objects.count() == 3
    assert Photo.objects.filter(status=Photo.Status.PROCESSED).count() == 3


def test_upload_page_proposes_the_deployment_from_the_cameras_serial(page, ranger, park, card):
    deployment = DeploymentFactory(
        station__park=park,
        camera_serial="CAM41146",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=None,
    )
    DeploymentFactory(station__park=park, camera_serial="CAM77777", end=None)
    browser_login(page, ranger)
    page.goto(f"{page.base_url}/upload/")
    page.set_input_files("#files-input", [str(p) for p in sorted(card.glob("IMG_000[0-2].JPG"))])
    expect(page.locator("#deployment")).not_to_have_value("")
    assert page.input_value("#deployment") == str(deployment.pk)
    assert "CAM41146" in page.inner_text("#proposal")
