"""Dates of sightings are the park's local days, with the zone named: a photo taken at
01:30 in Vladivostok is on that day there, though it is still the day before in UTC."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from accounts.roles import Role
from census import periods
from census.selectors import individuals_by_park, individuals_by_period
from census.services import census_rebuild
from leopards.selectors.catalogue import catalogue_figures, leopard_page
from tests.census.helpers import cat, sight, station_running
from tests.factories import UserFactory
from traps.local_dates import LocalDate

pytestmark = pytest.mark.django_db

# 2024-05-01 15:30 UTC is 2024-05-02 01:30 in Vladivostok (UTC+10).
LATE_UTC = datetime(2024, 5, 1, 15, 30, tzinfo=UTC)
# 2024-06-30 17:00 UTC is 2024-07-01 01:00 in Shanghai (UTC+8).
LATE_UTC_CHINA = datetime(2024, 6, 30, 17, 0, tzinfo=UTC)


@pytest.fixture
def late_cat(park):
    assert park.time_zone == "Asia/Vladivostok"
    _, deployment = station_running(park, "A1", first_year=2024, last_year=2024)
    leopard = cat("LEO-7F", date(2015, 5, 1))
    sight(deployment, leopard, LATE_UTC)
    return leopard


def test_the_catalogue_gives_first_and_last_seen_as_the_parks_local_day(late_cat, scientist):
    catalogue_figures(scientist, [late_cat])

    assert late_cat.first_seen == LocalDate(date(2024, 5, 2), "Asia/Vladivostok")
    assert late_cat.last_seen == LocalDate(date(2024, 5, 2), "Asia/Vladivostok")


def test_an_individual_seen_in_two_zones_takes_each_date_from_its_own_park(
    park, other_park, late_cat
):
    _, there = station_running(other_park, "B1", first_year=2024, last_year=2024)
    sight(there, late_cat, LATE_UTC_CHINA)
    both = UserFactory(username="sam", role=Role.SCIENTIST, parks=[park, other_park])

    catalogue_figures(both, [late_cat])
    page = leopard_page(both, late_cat)

    first = LocalDate(date(2024, 5, 2), "Asia/Vladivostok")
    last = LocalDate(date(2024, 7, 1), "Asia/Shanghai")
    assert (late_cat.first_seen, late_cat.last_seen) == (first, last)
    assert (page.first_seen, page.last_seen) == (first, last)
    assert page.time_zone == ""  # several zones: each date names its own


def test_the_catalogue_page_names_the_zone_and_shows_the_local_day(client, late_cat, scientist):
    client.force_login(scientist)

    html = client.get(reverse("leopards:leopard-list")).content.decode()

    assert "2024-05-02" in html and "2024-05-01" not in html
    assert "(Asia/Vladivostok)" in html


def test_the_individuals_page_shows_first_seen_as_the_local_day_with_its_zone(
    client, late_cat, scientist
):
    client.force_login(scientist)

    html = client.get(late_cat.get_absolute_url()).content.decode()

    assert "2024-05-02" in html and "2024-05-01" not in html
    assert "(Asia/Vladivostok)" in html


def test_seen_since_counts_the_parks_local_day(client, late_cat, scientist):
    client.force_login(scientist)
    url = reverse("leopards:leopard-list")

    assert "LEO-7F" in client.get(url, {"seen_since": "2024-05-02"}).content.decode()
    assert "LEO-7F" not in client.get(url, {"seen_since": "2024-05-03"}).content.decode()


def test_the_api_gives_the_local_day_and_its_zone_beside_the_moment(client, late_cat, scientist):
    client.force_login(scientist)

    body = client.get(f"/api/leopards/{late_cat.code}/").json()

    assert body["first_seen"] == "2024-05-01T15:30:00Z"
    assert body["first_seen_date"] == body["last_seen_date"] == "2024-05-02"
    assert body["first_seen_time_zone"] == "Asia/Vladivostok"


def test_census_rows_give_local_days_on_this_database(park, other_park, late_cat):
    _, there = station_running(other_park, "B1", first_year=2024, last_year=2024)
    crosser = cat("LEO-9M", date(2016, 5, 1), "male")
    sight(there, crosser, LATE_UTC_CHINA)
    year = [periods.year(2024)]

    ((park_row,),) = individuals_by_park(parks=[park], periods_=year)[park.pk]
    (landscape,) = individuals_by_period(parks=[park, other_park], periods_=year)

    assert (park_row["first_seen"], park_row["time_zone"]) == ("2024-05-02", "Asia/Vladivostok")
    by_code = {row["code"]: row for row in landscape}
    assert by_code["LEO-7F"]["first_seen"] == "2024-05-02"
    assert (by_code["LEO-9M"]["last_seen"], by_code["LEO-9M"]["time_zone"]) == (
        "2024-07-01",
        "Asia/Shanghai",
    )


def test_the_census_spreadsheet_names_the_zone_of_its_dates(client, park, late_cat):
    census_rebuild()
    manager = UserFactory(username="mia", role=Role.MANAGER, parks=[park])
    client.force_login(manager)

    response = client.get(
        reverse("census:park-csv", args=[park.code, "individuals"]), {"year": "2024"}
    )

    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["first_seen"], row["time_zone"]) == ("2024-05-02", "Asia/Vladivostok")
