"""The census pages and downloads: figures, permissions, privacy and query counts."""

import csv
import io
import json
import re
import zipfile
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.roles import Role
from census.services import census_rebuild
from tests.census.helpers import cat, local, sight, station_running
from tests.factories import UserFactory
from traps.models import Station

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def census(park, other_park, time_machine):
    """Two parks with cats in 2023 and 2024, and the stored figures."""
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    _, here = station_running(
        park, "A1", first_year=2023, last_year=2024, latitude="43.123456", longitude="131.654321"
    )
    _, there = station_running(other_park, "B1", first_year=2023, last_year=2024)
    kitten = cat("LEO-5F", date(2024, 4, 1))
    mother = cat("LEO-1F", date(2015, 1, 1))
    sight(here, mother, local(park, 2023, 5, 1, 1, 0))
    sight(here, mother, local(park, 2024, 9, 1, 1, 0))
    sight(here, kitten, local(park, 2024, 9, 1, 1, 0))
    sight(there, cat("LEO-9M", date(2016, 1, 1), "male"), local(other_park, 2024, 9, 1, 1, 0))
    census_rebuild()
    return park, other_park


def figure(response, name: str) -> str:
    html = response.content.decode()
    marker = f'data-figure="{name}"'
    start = html.index(marker)
    dd = html.index("<dd>", start) + 4
    return html[dd : html.index("</dd>", dd)].strip()


def map_data(response) -> dict:
    html = response.content.decode()
    start = html.index('id="census-map-data"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def test_park_page_shows_the_years_figures(client, manager, census):
    client.force_login(manager)

    response = client.get(reverse("census:park", args=["alpha"]))

    assert response.status_code == 200
    assert figure(response, "adults") == "1"
    assert figure(response, "kittens") == "1"
    assert figure(response, "individuals") == "2"
    assert b"+1 on last year" in response.content


def test_landscape_page_counts_what_the_user_may_see(client, registry_admin, census):
    client.force_login(registry_admin)

    response = client.get(reverse("census:dashboard"))

    assert figure(response, "individuals") == "3"


def test_a_member_of_some_parks_gets_a_live_landscape_of_those_only(client, manager, census):
    client.force_login(manager)

    response = client.get(reverse("census:dashboard"))

    # dora belongs to alpha only: beta's male is not counted.
    assert figure(response, "individuals") == "2"
    assert b"LEO-9M" not in response.content


def test_outsider_gets_404_for_another_parks_census_and_downloads(client, outsider, census):
    client.force_login(outsider)
    for url in (
        reverse("census:park", args=["alpha"]),
        reverse("census:park-csv", args=["alpha", "individuals"]),
        reverse("census:survey", args=["alpha"]),
        reverse("census:secr", args=["alpha"])
        + "?start=2024-01-01&end=2024-12-31&occasion_days=30",
    ):
        assert client.get(url).status_code == 404, url


def test_managers_see_generalised_station_coordinates(client, manager, census):
    client.force_login(manager)

    points = map_data(client.get(reverse("census:park", args=["alpha"])))["points"]

    assert points == [
        {
            "label": "0.1° grid cell",
            "lat": 43.15,
            "lon": 131.65,
            "precision": 0.1,
            "stations": 1,
            "trap_nights": 366,
            "detections": 2,
            "individuals": None,
            "exact": False,
        }
    ]


@pytest.mark.parametrize("who", ["scientist", "registry_admin"])
def test_exact_rights_users_see_only_grid_cells_on_the_census_map(client, request, who, census):
    # A census map is an aggregate view: generalised for everyone (issue 8).
    client.force_login(request.getfixturevalue(who))

    response = client.get(reverse("census:park", args=["alpha"]))

    (point,) = map_data(response)["points"]
    assert (point["lat"], point["lon"], point["precision"]) == (43.15, 131.65, 0.1)
    assert not point["exact"]
    assert "43.123456" not in response.content.decode()
    assert "Coordinates are generalised to 0.1° grid cells" in response.content.decode()


def test_exact_rights_users_get_grid_cells_in_the_station_csv(client, scientist, census):
    client.force_login(scientist)

    response = client.get(reverse("census:park-csv", args=["alpha", "stations"]))

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["latitude"], r["longitude"], r["coordinate_precision"]) for r in rows] == [
        ("43.15", "131.65", "0.1")
    ]
    assert rows[0]["coordinates"] == "0.1 degree cell centre"
    assert "43.123456" not in response.content.decode()


def test_the_landscape_map_is_generalised_for_an_admin(client, registry_admin, census):
    client.force_login(registry_admin)

    points = map_data(client.get(reverse("census:dashboard")))["points"]

    # Both parks' stations lie in one cell: one point, their figures summed.
    (point,) = points
    assert (point["lat"], point["lon"], point["precision"]) == (43.15, 131.65, 0.1)
    assert (point["stations"], point["detections"], point["exact"]) == (2, 3, False)


def test_season_periods_are_computed_live(client, manager, census):
    client.force_login(manager)

    response = client.get(
        reverse("census:park", args=["alpha"]),
        {"period": "season", "start": "2024-03-01", "end": "2024-11-30"},
    )

    assert response.status_code == 200
    assert b"2024 autumn" in response.content
    assert figure(response, "individuals") == "2"


def test_csv_downloads_hold_the_tables(client, manager, census):
    client.force_login(manager)

    periods_csv = client.get(reverse("census:park-csv", args=["alpha", "periods"]))
    rows = list(csv.DictReader(io.StringIO(periods_csv.content.decode())))
    assert [(r["period"], r["individuals"], r["kittens"]) for r in rows] == [
        ("2023", "1", "0"),
        ("2024", "2", "1"),
    ]
    individuals_csv = client.get(reverse("census:park-csv", args=["alpha", "individuals"]))
    assert "LEO-5F" in individuals_csv.content.decode()
    stations_csv = client.get(reverse("census:park-csv", args=["alpha", "stations"]))
    assert "0.1 degree cell centre" in stations_csv.content.decode()
    assert periods_csv["Content-Type"].startswith("text/csv")


def test_survey_page_estimates_and_explains_missing_estimates(client, scientist, census):
    client.force_login(scientist)

    response = client.get(
        reverse("census:survey", args=["alpha"]),
        {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "15"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-model="m0"' in html
    assert "no recaptures" in html


def test_secr_download_is_a_zip_with_both_files(client, scientist, census):
    client.force_login(scientist)

    response = client.get(
        reverse("census:secr", args=["alpha"]),
        {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "15"},
    )

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["captures.txt", "traps.txt"]
    # Without the explicit exact flag, an export is generalised even for the park's staff.
    assert (
        "generalised to the centre of a 0.1 degree grid cell" in archive.read("traps.txt").decode()
    )


def test_secr_download_has_exact_traps_only_when_asked_by_someone_who_may(
    client, scientist, manager, census
):
    survey = {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "15", "exact": "1"}
    client.force_login(scientist)
    response = client.get(reverse("census:secr", args=["alpha"]), survey)
    traps = zipfile.ZipFile(io.BytesIO(response.content)).read("traps.txt").decode()
    assert "coordinates: exact" in traps
    client.force_login(manager)
    response = client.get(reverse("census:secr", args=["alpha"]), survey)
    traps = zipfile.ZipFile(io.BytesIO(response.content)).read("traps.txt").decode()
    assert "coordinates: exact" not in traps


def test_histories_csv_lists_each_individual(client, scientist, census):
    client.force_login(scientist)

    response = client.get(
        reverse("census:histories-csv", args=["alpha"]),
        {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "30"},
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["individual", "sex"]
    assert {row[0] for row in rows[1:]} == {"LEO-1F", "LEO-5F"}


def test_navigation_offers_the_census_to_every_role_that_may_read_it(client, manager, ranger, park):
    # The role table gives rangers the census dashboards of their parks, as managers.
    for user in (manager, ranger):
        client.force_login(user)
        assert reverse("census:dashboard").encode() in client.get(reverse("home")).content
    client.force_login(UserFactory(username="no-role", parks=[park]))
    assert reverse("census:dashboard").encode() not in client.get(reverse("home")).content


def test_rangers_get_no_surveys_capture_histories_or_secr(client, ranger, manager, census):
    survey_url = reverse("census:survey", args=["alpha"])
    # The cached page of a manager must not hand the survey link on to a ranger.
    client.force_login(manager)
    assert survey_url in client.get(reverse("census:park", args=["alpha"])).content.decode()
    client.force_login(ranger)
    survey = {"start": "2024-08-01", "end": "2024-10-30", "occasion_days": "30"}
    page = client.get(reverse("census:park", args=["alpha"]))
    assert page.status_code == 200
    assert survey_url not in page.content.decode()
    assert client.get(reverse("census:survey", args=["alpha"])).status_code == 404
    assert client.get(reverse("census:histories-csv", args=["alpha"]), survey).status_code == 404
    secr = client.get(reverse("census:secr", args=["alpha"]), {**survey, "exact": "1"})
    assert secr.status_code == 404


def test_a_member_without_a_role_gets_nothing_of_the_census(client, park, census):
    client.force_login(UserFactory(username="no-role", parks=[park]))
    assert client.get(reverse("census:park", args=["alpha"])).status_code == 404
    assert client.get(reverse("census:park-csv", args=["alpha", "individuals"])).status_code == 404
    assert client.get("/api/census-results/").json()["results"] == []


def _grow(park, stations: int, cats: int) -> None:
    """Add stations, cats and sightings to the park, then rebuild its figures."""
    for s in range(stations):
        _st, deployment = station_running(park, f"G{s}", first_year=2023, last_year=2024)
        for c in range(cats):
            leopard = cat(f"LEO-G{s}-{c}", date(2015 + c % 8, 5, 1))
            sight(deployment, leopard, local(park, 2024, 3, 1, 1, 0) + timedelta(days=c))
    census_rebuild()


@pytest.mark.parametrize("url_name", ["census:park", "census:dashboard"])
def test_dashboard_queries_do_not_grow_with_the_data(
    client, registry_admin, census, django_assert_max_num_queries, url_name
):
    park, _other = census
    client.force_login(registry_admin)
    args = ["alpha"] if url_name == "census:park" else []
    client.get(reverse(url_name, args=args))  # warm the session and caches

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # the page as computed, not as cached
    with CaptureQueriesContext(connection) as small:
        client.get(reverse(url_name, args=args))
    _grow(park, stations=4, cats=5)
    cache.clear()
    with CaptureQueriesContext(connection) as large:
        response = client.get(reverse(url_name, args=args))

    assert response.status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    with django_assert_max_num_queries(10):
        client.get(reverse(url_name, args=args))


@pytest.mark.parametrize("url_name", ["census:park", "census:dashboard"])
def test_a_cached_year_page_costs_fewer_queries_than_computing_it(
    client, manager, census, url_name
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(manager)
    url = reverse(url_name, args=["alpha"] if url_name == "census:park" else [])
    with CaptureQueriesContext(connection) as computed:
        first = client.get(url)
    with CaptureQueriesContext(connection) as cached:
        second = client.get(url)

    assert len(cached.captured_queries) < len(computed.captured_queries)
    assert not any('census_censusresult"."stations' in q["sql"] for q in cached)
    assert figure(second, "individuals") == figure(first, "individuals") == "2"
    assert map_data(second) == map_data(first)


def test_the_cached_page_follows_a_census_rebuild(client, manager, census):
    park, _other = census
    client.force_login(manager)
    url = reverse("census:park", args=["alpha"])
    assert figure(client.get(url), "individuals") == "2"

    _grow(park, stations=1, cats=1)  # one more cat in 2024, and a rebuild

    assert figure(client.get(url), "individuals") == "3"


def test_the_cached_map_follows_a_moved_station(client, manager, census):
    client.force_login(manager)
    url = reverse("census:park", args=["alpha"])
    assert [(p["lat"], p["lon"]) for p in map_data(client.get(url))["points"]] == [(43.15, 131.65)]
    station = Station.objects.get(code="A1")
    station.latitude = "43.312345"
    station.save()  # a history row, as every change through the admin or the API

    assert [(p["lat"], p["lon"]) for p in map_data(client.get(url))["points"]] == [(43.35, 131.65)]


def test_live_periods_are_not_cached(client, manager, census):
    park, _other = census
    client.force_login(manager)
    season = {"period": "season", "start": "2024-03-01", "end": "2024-11-30"}
    url = reverse("census:park", args=["alpha"])
    assert figure(client.get(url, season), "individuals") == "2"
    here = Station.objects.get(code="A1").deployments.get()
    sight(here, cat("LEO-77M", date(2016, 1, 1), "male"), local(park, 2024, 9, 2, 1, 0))

    # No rebuild yet: the stored year lags, the live season does not.
    assert figure(client.get(url, season), "individuals") == "3"


def test_manager_of_every_park_reads_the_stored_landscape(client, park, other_park, census):
    everywhere = UserFactory(username="mona", role=Role.MANAGER, parks=[park, other_park])
    client.force_login(everywhere)

    response = client.get(reverse("census:dashboard"))

    assert figure(response, "individuals") == "3"
    assert figure(response, "several-parks") == "0"


def test_a_cached_page_lists_each_users_own_parks(client, manager, park, other_park, census):
    everywhere = UserFactory(username="mona", role=Role.MANAGER, parks=[park, other_park])
    url = reverse("census:park", args=["alpha"])
    client.force_login(everywhere)
    assert "Beta Tiger Reserve" in client.get(url).content.decode()

    client.force_login(manager)  # the same figures, but alpha is all dora may switch to
    page = client.get(url).content.decode()

    assert "Beta Tiger Reserve" not in page
    assert figure(client.get(url), "individuals") == "2"


def test_the_cached_html_follows_the_query_and_the_census(client, manager, census):
    park, _other = census
    client.force_login(manager)
    url = reverse("census:park", args=["alpha"])
    assert 'value="2023" selected' in client.get(url, {"year": 2023}).content.decode()
    assert 'value="2024" selected' in client.get(url).content.decode()

    _grow(park, stations=1, cats=1)

    assert figure(client.get(url), "individuals") == "3"
    assert 'value="2023" selected' in client.get(url, {"year": 2023}).content.decode()


def test_survey_page_opens_on_the_latest_weeks_with_working_downloads(client, scientist, census):
    client.force_login(scientist)

    response = client.get(reverse("census:survey", args=["alpha"]))

    html = response.content.decode()
    assert 'data-model="m0"' in html
    assert 'data-model="mh2"' in html
    link = re.search(r'href="([^"]*histories\.csv\?[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "start=" in link
    assert client.get(link).status_code == 200
    secr_link = re.search(r'href="([^"]*secr\.zip\?[^"]*)"', html).group(1).replace("&amp;", "&")
    assert client.get(secr_link).status_code == 200
