"""A scientist fits the density of a survey from the survey page and reads it."""

import os
from datetime import date
from pathlib import Path

import pytest

from accounts.roles import Role
from tests.census.helpers import grid_park, simulated_survey
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/density-shots"))


def log_in(page, user, password: str = "correct-horse-battery") -> None:
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{page.base_url}/")


def test_scientist_fits_density_and_sees_it_on_the_survey_and_dashboard(page, park):
    simulated_survey(park, grid_park(park), date(2024, 6, 1))
    scientist = UserFactory(username="sofia", role=Role.SCIENTIST, parks=[park])
    log_in(page, scientist)

    page.goto(
        f"{page.base_url}/census/alpha/survey/?start=2024-06-01&end=2024-06-30&occasion_days=7"
    )
    page.fill("#id_buffer_km", "6")
    # Without a broker the task runs in the request, so the page comes back finished.
    page.click("#density button[type=submit]")
    page.wait_for_url("**/survey/**")

    row = page.locator("table.census-density tbody tr").first
    assert "done" in row.inner_text()
    cells = row.locator("td")
    density = float(cells.nth(3).inner_text())
    # 40 leopards per 100 km2 were simulated.
    assert 20 < density < 70
    assert row.locator("a", has_text="every parameter (CSV)").count() == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator("#density").screenshot(path=str(SHOTS / f"survey-density-{width}.png"))

    page.goto(f"{page.base_url}/census/alpha/?year=2024")
    figure = page.locator('[data-figure="density"]').inner_text()
    assert float(figure) == pytest.approx(density, abs=0.01)
    for width in (360, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator(".census-estimates-summary").screenshot(
            path=str(SHOTS / f"dashboard-density-{width}.png")
        )
