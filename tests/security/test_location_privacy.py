"""Location privacy: GPS in photos, and the record of who was shown exact coordinates."""

import io
import json
import zipfile
from datetime import date

import piexif
import pytest
from django.core.cache import cache
from PIL import Image

from accounts import exif
from accounts.models import LocationAccessLog
from accounts.roles import Role
from census.services import census_rebuild
from tests.census.helpers import cat, local, sight, station_running
from tests.factories import DeploymentFactory, UserFactory
from tests.security.images import LATITUDE, image_data, jpeg_with_gps
from tests.traps.ingest import ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def gps_photo(park):
    deployment = DeploymentFactory(station__park=park)
    return ingest(deployment, None, data=jpeg_with_gps(xmp=True))


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_manager_gets_the_photo_without_gps_and_with_the_same_pixels(client, manager, gps_photo):
    client.force_login(manager)
    response = client.get(f"/photos/{gps_photo.pk}/file")
    assert response.status_code == 200
    served = _body(response)
    tags = piexif.load(served)
    assert tags["GPS"] == {}
    assert tags["0th"][piexif.ImageIFD.Model] == b"CAM41146"  # the rest of EXIF stays
    assert b"GPSLatitude" not in served  # nor in XMP
    with gps_photo.file.open("rb") as fh:
        assert image_data(served) == image_data(fh.read())
    assert not LocationAccessLog.objects.exists()


def test_park_scientist_gets_the_original_with_gps_and_it_is_logged(client, scientist, gps_photo):
    client.force_login(scientist)
    response = client.get(f"/photos/{gps_photo.pk}/file")
    served = _body(response)
    with gps_photo.file.open("rb") as fh:
        assert served == fh.read()
    assert piexif.load(served)["GPS"][piexif.GPSIFD.GPSLatitude] == LATITUDE
    log = LocationAccessLog.objects.get()
    assert (log.username, log.park_code, log.what) == ("bob", "alpha", "photo")
    assert log.detail == f"photo {gps_photo.pk}"


def test_stripped_and_original_copies_have_different_etags(client, manager, scientist, gps_photo):
    client.force_login(manager)
    stripped = client.get(f"/photos/{gps_photo.pk}/file")["ETag"]
    client.force_login(scientist)
    original = client.get(f"/photos/{gps_photo.pk}/file")["ETag"]
    assert stripped != original
    # The manager's cached copy is never taken for the scientist's, nor the reverse.
    again = client.get(f"/photos/{gps_photo.pk}/file", headers={"If-None-Match": stripped})
    assert again.status_code == 200


def test_a_photo_without_gps_is_served_as_stored_and_not_logged(client, scientist, park):
    photo = ingest(DeploymentFactory(station__park=park), None)
    client.force_login(scientist)
    response = client.get(f"/photos/{photo.pk}/file")
    with photo.file.open("rb") as fh:
        assert _body(response) == fh.read()
    assert not LocationAccessLog.objects.exists()


def test_thumbnails_carry_no_exif(client, scientist, gps_photo):
    client.force_login(scientist)
    response = client.get(f"/photos/{gps_photo.pk}/thumbnail")
    image = Image.open(io.BytesIO(_body(response)))
    assert not image.getexif()
    assert "xmp" not in image.info


def test_outsider_gets_404_for_the_gps_photo(client, outsider, gps_photo):
    client.force_login(outsider)
    assert client.get(f"/photos/{gps_photo.pk}/file").status_code == 404


def test_png_metadata_chunks_are_dropped_and_pixels_kept():
    image = Image.new("RGB", (20, 10), (1, 2, 3))
    exif_block = Image.Exif()
    exif_block[0x010F] = "Panthera"
    out = io.BytesIO()
    image.save(out, "PNG", exif=exif_block)
    data = out.getvalue()
    assert not exif.has_location(data)  # an eXIf chunk without a GPS directory holds no place
    stripped = exif.without_location(data).data
    assert b"eXIf" not in stripped
    assert Image.open(io.BytesIO(stripped)).tobytes() == image.tobytes()


def test_unreadable_exif_is_dropped_whole():
    data = jpeg_with_gps()
    start = data.index(b"Exif\x00\x00") + 6
    broken = data[:start] + b"XX" + data[start + 2 :]  # no TIFF byte order
    assert exif.has_location(broken)
    assert b"Exif\x00\x00" not in exif.without_location(broken).data


@pytest.fixture
def census(park, time_machine):
    cache.clear()
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    _, here = station_running(
        park, "A1", first_year=2024, last_year=2024, latitude="43.123456", longitude="131.654321"
    )
    sight(here, cat("LEO-1F", date(2015, 1, 1)), local(park, 2024, 9, 1, 1, 0))
    census_rebuild()
    return park


def _map_points(response) -> list[dict]:
    html = response.content.decode()
    start = html.index('id="census-map-data"')
    return json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])["points"]


@pytest.mark.parametrize("url", ["/census/alpha/", "/census/"])
def test_census_maps_show_exact_rights_users_only_cell_centres(client, scientist, census, url):
    client.force_login(scientist)
    response = client.get(url)
    html = response.content.decode()
    (point,) = _map_points(response)
    assert (point["lat"], point["lon"], point["precision"], point["exact"]) == (
        43.15,
        131.65,
        0.1,
        False,
    )
    assert "43.123456" not in html and "131.654321" not in html
    assert "generalised to 0.1° grid cells" in html
    # Nothing exact left the registry, so there is nothing to put on record.
    assert not LocationAccessLog.objects.exists()


def test_census_station_csv_holds_cell_centres_for_exact_rights_users(client, scientist, census):
    client.force_login(scientist)
    body = client.get("/census/alpha/stations.csv").content.decode()
    assert "43.123456" not in body
    assert "43.15,131.65,0.1,0.1 degree cell centre" in body
    assert not LocationAccessLog.objects.exists()


def test_census_api_carries_no_coordinates(client, scientist, census):
    client.force_login(scientist)
    body = client.get("/api/census-results/").content.decode()
    assert "43.1" not in body and "131.6" not in body


def test_census_map_for_a_manager_is_generalised_and_not_logged(client, manager, census):
    client.force_login(manager)
    response = client.get("/census/alpha/")
    html = response.content.decode()
    start = html.index('id="census-map-data"')
    points = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert all(not p["exact"] for p in points["points"])
    assert not LocationAccessLog.objects.exists()


def _script(html: str, name: str):
    start = html.index(f'id="{name}"')
    return json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])


@pytest.mark.parametrize("who", ["scientist", "manager"])
def test_an_individuals_map_holds_only_cells_and_asks_for_no_finer_tiles(
    client, census, who, request, settings
):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    client.force_login(request.getfixturevalue(who))
    html = client.get("/leopards/LEO-1F/").content.decode()
    (cell,) = _script(html, "leopard-stations")
    assert (cell["lat"], cell["lon"], cell["precision"], cell["exact"]) == (
        43.15,
        131.65,
        0.1,
        False,
    )
    assert "43.123456" not in html and "131.654321" not in html
    # A tile at the map's finest tile zoom is larger than a cell: the tile server
    # learns no more of where the stations are than the page shows.
    tiles = _script(html, "map-tiles")
    assert tiles["url"] == settings.MAP_TILE_URL
    assert 360 / 2 ** tiles["max_native_zoom"] * 0.7 >= 0.1
    assert not LocationAccessLog.objects.exists()


def test_secr_with_exact_traps_only_on_the_explicit_flag_and_then_logged(client, scientist, census):
    client.force_login(scientist)
    survey = {"start": "2024-08-01", "end": "2024-09-30", "occasion_days": 7}
    plain = client.get("/census/alpha/survey/secr.zip", survey)
    traps = zipfile.ZipFile(io.BytesIO(plain.content)).read("traps.txt").decode()
    assert "coordinates: generalised" in traps
    assert not LocationAccessLog.objects.exists()
    exact = client.get("/census/alpha/survey/secr.zip", {**survey, "exact": "1"})
    traps = zipfile.ZipFile(io.BytesIO(exact.content)).read("traps.txt").decode()
    assert "coordinates: exact" in traps
    log = LocationAccessLog.objects.get()
    assert (log.username, log.park_code, log.what) == ("bob", "alpha", "export")


def test_camtrap_dp_export_with_exact_flag_is_logged(
    client, scientist, census, django_capture_on_commit_callbacks
):
    client.force_login(scientist)
    # The request queues the export; the worker's run is what takes the coordinates out.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/exchange/export/", {"park": "alpha", "exact_coordinates": "on"})
    assert response.status_code == 302
    log = LocationAccessLog.objects.get()
    assert (log.username, log.what) == ("bob", "export")
    assert "Camtrap DP" in log.detail


def test_camtrap_dp_export_without_exact_flag_is_not_logged(
    client, scientist, census, django_capture_on_commit_callbacks
):
    client.force_login(scientist)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/exchange/export/", {"park": "alpha"}).status_code == 302
    assert not LocationAccessLog.objects.exists()


def test_admins_read_the_access_log_and_cannot_change_it(client, registry_admin, census):
    scientist = UserFactory(username="sam", role=Role.SCIENTIST, parks=[census])
    client.force_login(scientist)
    client.get(
        "/census/alpha/survey/secr.zip",
        {"start": "2024-08-01", "end": "2024-09-30", "occasion_days": 7, "exact": "1"},
    )
    log = LocationAccessLog.objects.get()
    client.force_login(registry_admin)
    listing = client.get("/admin/accounts/locationaccesslog/")
    assert listing.status_code == 200
    assert "sam" in listing.content.decode()
    assert client.get(f"/admin/accounts/locationaccesslog/{log.pk}/delete/").status_code == 403
    client.post(f"/admin/accounts/locationaccesslog/{log.pk}/change/", {"username": "x"})
    log.refresh_from_db()
    assert log.username == "sam"
