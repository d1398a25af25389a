"""A ranger uploading a card into the wrong deployment hears of it per file, at once."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import DeploymentFactory, jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("language", "heading", "done"),
    [
        ("en", "Stored, but check these photos", "Done"),
        ("zh-hans", "已保存\uff0c但请检查这些照片", "完成"),
    ],
)
def test_photos_dated_outside_the_deployment_are_named_with_what_to_do(
    page, ranger, park, tmp_path, language, heading, done
):
    deployment = DeploymentFactory(
        station__park=park, start=datetime(2026, 1, 1, tzinfo=UTC), end=None
    )
    card = tmp_path / "DCIM"
    card.mkdir()
    (card / "IMG_0001.JPG").write_bytes(jpeg_bytes(taken=datetime(2012, 6, 1, 3, 0), seed=41))
    (card / "IMG_0002.JPG").write_bytes(jpeg_bytes(taken=datetime(2026, 3, 1, 3, 0), seed=42))
    browser_login(page, ranger)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.base_url}])
    page.goto(f"{page.base_url}/upload/")
    page.select_option("#deployment", str(deployment.pk))
    page.set_input_files("#folder-input", str(card))
    expect(page.locator("#start")).to_be_enabled()
    page.click("#start")
    expect(page.locator("#status")).to_have_text(re.compile(f"^{done}"), timeout=30_000)
    panel = page.locator("#warning-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("h3")).to_have_text(heading)
    expect(panel.locator("tbody tr")).to_have_count(1)
    expect(panel.locator("tbody tr")).to_contain_text("IMG_0001.JPG")
    expect(panel.locator("tbody tr")).to_contain_text("2012-06-01")
    expect(page.locator("#count-stored")).to_have_text("2")
