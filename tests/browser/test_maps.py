"""Every map shows its parks' outlines, a scale and labelled cells; a base map comes only
from a tile server the deployment names, and never at a zoom finer than a grid cell."""

import io
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from playwright.sync_api import expect

from accounts.roles import Role
from census.services import census_rebuild
from config.map_tiles import tile_image_sources
from tests.browser.test_review import WATCH, no_csp_violations
from tests.census.helpers import cat, local, sight, station_running
from tests.conftest import browser_login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[131.5, 43.0], [131.8, 43.0], [131.8, 43.3], [131.5, 43.3], [131.5, 43.0]]],
}


@pytest.fixture
def mapped(park):
    """A park with an outline, two stations and a cat seen at both."""
    park.boundary = SQUARE
    park.save()
    _, east = station_running(park, "A1", 2023, 2024, latitude="43.123456", longitude="131.654321")
    _, west = station_running(park, "A2", 2023, 2024, latitude="43.21", longitude="131.52")
    leopard = cat("LEO-7F", date(2015, 5, 1))
    sight(east, leopard, local(park, 2024, 5, 1, 1, 0))
    sight(west, leopard, local(park, 2024, 6, 1, 1, 0))
    census_rebuild()
    return UserFactory(username="dora", role=Role.MANAGER, parks=[park])


@pytest.fixture
def tile_server():
    """A tile server on 127.0.0.1 that answers every tile with a plain PNG and notes it."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 220, 200)).save(buffer, "PNG")
    png = buffer.getvalue()
    asked: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.asked = asked
    server.url = f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png"
    yield server
    server.shutdown()


MAP_PAGES = [
    ("/census/?year=2024", "#census-map"),
    ("/census/alpha/?year=2024", "#census-map"),
    ("/leopards/LEO-7F/", "#leopard-map"),
]


def test_every_map_shows_outline_scale_north_and_labelled_cells_without_tiles(page, mapped):
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(page.base_url) else outside.append(request.url)
        ),
    )
    page.add_init_script(WATCH)
    browser_login(page, mapped)
    for path, selector in MAP_PAGES:
        response = page.goto(f"{page.base_url}{path}")
        policy = response.headers["content-security-policy"]
        assert re.search(r"img-src 'self' data: blob:(;|$)", policy), policy
        element = page.locator(selector)
        expect(element).to_have_attribute("data-outlines", "1")
        expect(element.locator("path.map-outline")).to_have_count(1)
        expect(element.locator(".leaflet-control-scale-line")).to_contain_text("km")
        expect(element.locator(".map-north")).to_be_visible()
        # Two stations in two 0.1° cells: two squares, each named for a screen reader.
        cells = element.locator("path.map-cell")
        expect(cells).to_have_count(2)
        assert cells.first.get_attribute("tabindex") == "0"
        assert cells.first.get_attribute("aria-label")
        cells.first.hover()
        expect(page.locator(".leaflet-tooltip")).to_be_visible()
        assert element.locator(".leaflet-tile").count() == 0
        no_csp_violations(page)
    assert outside == []


def test_a_tile_server_gives_a_base_map_no_finer_than_a_grid_cell(
    page, mapped, tile_server, settings
):
    settings.MAP_TILE_URL = tile_server.url
    settings.MAP_TILE_ATTRIBUTION = "Test tiles"
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            **directives,
            "img-src": [*directives["img-src"], *tile_image_sources(tile_server.url)],
        }
    }
    page.add_init_script(WATCH)
    browser_login(page, mapped)
    for path, selector in MAP_PAGES:
        tile_server.asked.clear()
        response = page.goto(f"{page.base_url}{path}")
        host = f"http://127.0.0.1:{tile_server.server_port}"
        assert host in response.headers["content-security-policy"]
        element = page.locator(selector)
        expect(element.locator(".leaflet-tile-loaded").first).to_be_visible()
        expect(element.locator(".leaflet-control-attribution")).to_contain_text("Test tiles")
        expect(element.locator("path.map-outline")).to_have_count(1)
        # Zoomed in as far as the map goes, tiles are still asked for at the cell's zoom.
        for _ in range(8):
            element.locator(".leaflet-control-zoom-in").click()
        page.wait_for_load_state("networkidle")
        zooms = {int(asked.split("/")[1]) for asked in tile_server.asked}
        assert zooms and max(zooms) <= settings.MAP_TILE_MAX_ZOOM, zooms
        no_csp_violations(page)
