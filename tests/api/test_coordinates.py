"""Station coordinates through the API: exact for the park's field staff, generalised otherwise."""

from decimal import Decimal

import pytest

from accounts.models import LocationAccessLog
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def station(park):
    return StationFactory(park=park, latitude=Decimal("43.123456"), longitude=Decimal("131.654321"))


def test_a_manager_gets_generalised_coordinates(client, manager, station):
    client.force_login(manager)
    body = client.get(f"/api/stations/{station.pk}/").json()
    assert body["latitude"] == 43.15
    assert body["longitude"] == 131.65
    assert body["coordinate_precision"] == 0.1
    listed = client.get("/api/stations/").json()["results"][0]
    assert (listed["latitude"], listed["coordinate_precision"]) == (43.15, 0.1)
    assert not LocationAccessLog.objects.exists()


def test_a_ranger_of_the_park_gets_exact_coordinates_on_record(client, ranger, station):
    client.force_login(ranger)
    body = client.get("/api/stations/").json()["results"][0]
    assert body["latitude"] == 43.123456
    assert body["longitude"] == 131.654321
    assert body["coordinate_precision"] == 0.000001
    log = LocationAccessLog.objects.get()
    assert (log.username, log.park_code, log.what) == ("alice", "alpha", "api")
