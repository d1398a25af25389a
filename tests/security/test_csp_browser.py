"""The pages work under the Content-Security-Policy: no violation, charts and map drawn."""

from datetime import date

import pytest

from accounts.roles import Role
from census.services import census_rebuild
from tests.census.helpers import cat, local, sight, station_running
from tests.conftest import browser_login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collects what the browser blocked; init scripts run outside the page's CSP.
WATCH = (
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def landscape(park):
    _, here = station_running(park, "A1", first_year=2024, last_year=2024)
    sight(here, cat("LEO-1F", date(2015, 5, 1)), local(park, 2024, 9, 1, 1, 0))
    census_rebuild()
    return UserFactory(username="sara", role=Role.SCIENTIST, parks=[park])


def test_pages_load_without_csp_violations(page, landscape, park):
    page.add_init_script(WATCH)
    browser_login(page, landscape)
    for path in ("/", "/census/", "/census/alpha/", "/upload/", "/deployments/", "/exchange/"):
        response = page.goto(f"{page.base_url}{path}")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
    page.goto(f"{page.base_url}/census/alpha/")
    page.wait_for_selector(".leaflet-container .leaflet-interactive", state="attached")
    assert page.locator("canvas").count() >= 1
