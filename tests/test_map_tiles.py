"""The base-map setting: checked, named in the CSP, and never finer than a grid cell."""

import json
import math

import pytest
from environ import ImproperlyConfigured

from config.map_tiles import tile_image_sources, tile_max_zoom
from tests.test_settings_modes import _run


def test_no_tile_server_adds_nothing_to_the_policy():
    assert tile_image_sources("") == []


def test_tile_hosts_become_image_sources_with_subdomains_as_a_wildcard():
    assert tile_image_sources("https://tiles.example.org/osm/{z}/{x}/{y}.png") == [
        "https://tiles.example.org"
    ]
    assert tile_image_sources("https://{s}.tile.example.org/{z}/{x}/{y}.png") == [
        "https://*.tile.example.org"
    ]
    assert tile_image_sources("http://127.0.0.1:8999/{z}/{x}/{y}.png") == ["http://127.0.0.1:8999"]


@pytest.mark.parametrize(
    "url",
    [
        "tiles.example.org/{z}/{x}/{y}.png",
        "javascript:alert(1)//{z}/{x}/{y}",
        "https://tiles.example.org/static.png",
        "https://tiles-{s}.example.org/{z}/{x}/{y}.png",
    ],
)
def test_a_tile_address_that_is_not_a_tile_template_is_refused(url):
    with pytest.raises(ImproperlyConfigured):
        tile_image_sources(url)


def test_tiles_are_never_finer_than_the_generalisation_cell():
    zoom = tile_max_zoom(0.1)
    # In web Mercator a tile spans 360 / 2**z degrees of longitude, cos(latitude) of
    # that in latitude: still more than a cell at the parks' latitude and at 70 N.
    for latitude in (43.0, 70.0):
        assert 360 / 2**zoom * math.cos(math.radians(latitude)) >= 0.1
    assert zoom == 10


PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']))"
)


def test_the_settings_add_the_tile_host_to_the_policy_only_when_set(tmp_path):
    off = _run(["-c", PROBE], tmp_path)
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout.strip().splitlines()[-1]) == ["'self'", "data:", "blob:"]
    on = _run(["-c", PROBE], tmp_path, MAP_TILE_URL="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout.strip().splitlines()[-1])[-1] == "https://*.tile.example.org"
