"""Filtering the API's lists by park, station, date range, status and more."""

from datetime import UTC, date, datetime

import pytest

from census.models import CensusResult
from tests.factories import DeploymentFactory, PhotoFactory, StationFactory
from traps.models import Event, Photo

pytestmark = pytest.mark.django_db


def _ids(client, url: str, **params) -> list[int]:
    response = client.get(url, params)
    assert response.status_code == 200, response.json()
    return sorted(row["id"] for row in response.json()["results"])


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def admin_client(client, registry_admin):
    client.force_login(registry_admin)
    return client


def test_stations_filter_by_park(admin_client, park, other_park):
    mine = StationFactory(park=park)
    theirs = StationFactory(park=other_park)
    assert _ids(admin_client, "/api/stations/", park=park.pk) == [mine.pk]
    assert _ids(admin_client, "/api/stations/", park=other_park.pk) == [theirs.pk]


def test_deployments_filter_by_park_station_and_serial(admin_client, park, other_park):
    one, two = StationFactory(park=park), StationFactory(park=park)
    a = DeploymentFactory(station=one, camera_serial="CAM-A")
    b = DeploymentFactory(station=two, camera_serial="CAM-B")
    DeploymentFactory(station__park=other_park)
    assert _ids(admin_client, "/api/deployments/", park=park.pk) == sorted([a.pk, b.pk])
    assert _ids(admin_client, "/api/deployments/", station=two.pk) == [b.pk]
    assert _ids(admin_client, "/api/deployments/", camera_serial="cam-a") == [a.pk]


def test_deployments_filter_by_overlap_with_a_date_range(admin_client, park):
    station = StationFactory(park=park)
    spring = DeploymentFactory(station=station, start=_at(2024, 3, 1), end=_at(2024, 5, 31))
    summer = DeploymentFactory(station=station, start=_at(2024, 6, 1), end=_at(2024, 8, 31))
    running = DeploymentFactory(station=station, start=_at(2024, 9, 1), end=None)
    url = "/api/deployments/"
    assert _ids(admin_client, url, date_from="2024-05-31", date_to="2024-06-01") == sorted(
        [spring.pk, summer.pk]
    )
    assert _ids(admin_client, url, date_from="2025-01-01") == [running.pk]
    assert _ids(admin_client, url, date_to="2024-02-29") == []
    assert _ids(admin_client, url, running="true") == [running.pk]


def test_a_bad_filter_value_is_400_json(admin_client):
    response = admin_client.get("/api/deployments/", {"date_from": "last spring"})
    assert response.status_code == 400
    assert "date_from" in response.json()["errors"]


def test_photos_filter_by_park_status_and_time(admin_client, park, other_park):
    deployment = DeploymentFactory(station__park=park)
    early = PhotoFactory(
        deployment=deployment, taken_at=_at(2024, 5, 1, 3), status=Photo.Status.PROCESSED
    )
    late = PhotoFactory(
        deployment=deployment, taken_at=_at(2024, 5, 2, 3), status=Photo.Status.FAILED
    )
    PhotoFactory(deployment=DeploymentFactory(station__park=other_park))
    url = "/api/photos/"
    assert _ids(admin_client, url, park=park.pk) == sorted([early.pk, late.pk])
    assert _ids(admin_client, url, station=deployment.station_id, status="failed") == [late.pk]
    assert _ids(
        admin_client,
        url,
        park=park.pk,
        taken_after="2024-05-01T00:00:00Z",
        taken_before="2024-05-02T00:00:00Z",
    ) == [early.pk]


def test_events_filter_by_station_date_status_and_content(admin_client, park):
    deployment = DeploymentFactory(station__park=park)
    leopard = Event.objects.create(
        deployment=deployment,
        start=_at(2024, 5, 1, 22),
        end=_at(2024, 5, 1, 22, 5),
        content=Event.Content.LEOPARD,
        status=Event.Status.REVIEWED,
    )
    blank = Event.objects.create(
        deployment=deployment, start=_at(2024, 5, 3, 10), end=_at(2024, 5, 3, 10, 1)
    )
    PhotoFactory(deployment=deployment, event=leopard)
    url = "/api/events/"
    assert _ids(admin_client, url, station=deployment.station_id) == sorted([leopard.pk, blank.pk])
    assert _ids(admin_client, url, content="leopard") == [leopard.pk]
    assert _ids(admin_client, url, status="pending") == [blank.pk]
    assert _ids(admin_client, url, date_from="2024-05-02", date_to="2024-05-03") == [blank.pk]
    body = admin_client.get(f"{url}{leopard.pk}/").json()
    assert (body["photo_count"], body["park"]) == (1, "alpha")


def test_census_results_filter_by_park_and_year(client, admin_client, park, other_park, manager):
    rows = {
        (p, y): CensusResult.objects.create(park=p, year=y, reference_date=date(y, 6, 30))
        for p in (park, other_park, None)
        for y in (2023, 2024)
    }
    url = "/api/census-results/"
    assert _ids(admin_client, url, park=park.pk, year=2024) == [rows[park, 2024].pk]
    assert _ids(admin_client, url, landscape="true", year_from=2024) == [rows[None, 2024].pk]
    # A manager of one park reads that park's rows, not the landscape that counts all parks.
    client.force_login(manager)
    assert _ids(client, url) == sorted([rows[park, 2023].pk, rows[park, 2024].pk])
