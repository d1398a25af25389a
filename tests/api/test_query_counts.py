"""List endpoints run a fixed number of queries, whatever the number of rows."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import DeploymentFactory, StationFactory
from traps.models import Event

pytestmark = pytest.mark.django_db

# Session and user, roles, count and rows; stations also read the user's parks
# (exact coordinates or not) and write one access-log row for the exact ones.
STATION_QUERIES = 7
DEPLOYMENT_QUERIES = 5
EVENT_QUERIES = 5


def _grow(park, n: int) -> None:
    for _ in range(n):
        deployment = DeploymentFactory(station=StationFactory(park=park))
        start = datetime(2024, 5, 1, tzinfo=UTC)
        Event.objects.create(deployment=deployment, start=start, end=start + timedelta(minutes=3))


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/api/stations/", STATION_QUERIES),
        ("/api/deployments/", DEPLOYMENT_QUERIES),
        ("/api/events/", EVENT_QUERIES),
    ],
)
def test_lists_run_the_same_queries_for_3_and_30_rows(
    client, ranger, park, django_assert_num_queries, url, queries
):
    client.force_login(ranger)
    _grow(park, 3)
    with django_assert_num_queries(queries):
        assert client.get(url).json()["count"] == 3
    _grow(park, 27)
    with django_assert_num_queries(queries):
        assert client.get(url).json()["count"] == 30
