"""A manager opens the census dashboard and reads the figures, charts and map."""

from datetime import date

import pytest

from accounts.roles import Role
from census.services import census_rebuild
from tests.census.helpers import cat, local, sight, station_running
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, user, password: str = "correct-horse-battery") -> None:
    """Log in through the login form (its own submit button, not the language switch)."""
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{page.base_url}/")


@pytest.fixture
def demo_census(park, other_park):
    """A small landscape: a family in one park, a cat that crosses into the other."""
    _, here = station_running(park, "A1", first_year=2023, last_year=2024)
    _, there = station_running(
        other_park, "B1", first_year=2023, last_year=2024, latitude="42.95", longitude="130.55"
    )
    mother = cat("LEO-1F", date(2015, 5, 1))
    kitten = cat("LEO-5F", date(2024, 4, 1))
    crosser = cat("LEO-9M", date(2016, 5, 1), "male")
    sight(here, mother, local(park, 2023, 5, 1, 1, 0))
    sight(here, mother, local(park, 2024, 9, 1, 1, 0))
    sight(here, kitten, local(park, 2024, 9, 1, 1, 0))
    sight(here, crosser, local(park, 2024, 3, 1, 1, 0))
    sight(there, crosser, local(other_park, 2024, 10, 1, 1, 0))
    census_rebuild()
    return UserFactory(username="mona", role=Role.MANAGER, parks=[park, other_park])


def test_manager_reads_landscape_and_park_figures(page, demo_census):
    log_in(page, demo_census)
    page.click("nav.mainnav >> text=Census")
    page.wait_for_url(f"{page.base_url}/census/")

    page.select_option("select[name=year]", "2024")
    page.click(".census-filters button[type=submit]")
    page.wait_for_load_state()

    def big(name: str) -> str:
        return page.locator(f'[data-figure="{name}"] dd').inner_text().strip()

    assert page.locator("h1").inner_text().startswith("Census")
    # Three cats in the landscape in 2024, the crosser counted once.
    assert (big("adults"), big("subadults"), big("kittens")) == ("2", "0", "1")
    assert big("individuals") == "3"
    assert big("several-parks") == "1"
    # The charts and the map are drawn (canvas sized, one point per 0.1 degree cell).
    assert page.locator("#census-age-chart").bounding_box()["height"] > 100
    assert page.locator("#census-map path.leaflet-interactive").count() == 2

    page.click(".census-scopes >> text=Alpha Leopard Park")
    page.wait_for_url("**/census/alpha/**")
    assert big("individuals") == "3"
    assert big("kittens") == "1"
    assert page.locator(".census-individuals tbody tr").count() == 3
    assert "LEO-5F" in page.locator(".census-individuals").inner_text()
