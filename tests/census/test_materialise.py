"""Stored census results: the rebuild, the stale marks and the debounced task."""

from datetime import date
from io import StringIO
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.management import call_command

from census import services, tasks
from census.models import CensusResult, CensusStale
from tests.census.helpers import cat, local, sight, station_running

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def landscape(park, other_park):
    _, here = station_running(park, "A1", first_year=2023, last_year=2024)
    _, there = station_running(other_park, "B1", first_year=2023, last_year=2024)
    crosser = cat("LEO-9M", date(2022, 5, 1), "male")
    sight(here, crosser, local(park, 2023, 3, 1, 1, 0))
    sight(there, crosser, local(other_park, 2024, 9, 1, 1, 0))
    sight(here, crosser, local(park, 2024, 9, 5, 1, 0))
    sight(there, cat("LEO-8F", date(2015, 1, 1)), local(other_park, 2024, 9, 2, 1, 0))
    return park, other_park


def test_rebuild_stores_park_and_landscape_years(landscape, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    park, _other_park = landscape

    written = services.census_rebuild()

    assert written == 6  # two parks and the landscape, 2023 and 2024
    alpha_2024 = CensusResult.objects.get(park=park, year=2024)
    assert (alpha_2024.individuals, alpha_2024.adults) == (1, 1)
    # Born in May 2022: a subadult on 31 December 2023, an adult a year later.
    assert CensusResult.objects.get(park=park, year=2023).subadults == 1
    landscape_2024 = CensusResult.objects.get(park=None, year=2024)
    assert landscape_2024.individuals == 2
    assert landscape_2024.several_parks == 1
    assert landscape_2024.trap_nights == 2 * 366
    assert {row["code"] for row in landscape_2024.individual_rows} == {"LEO-8F", "LEO-9M"}
    assert len(landscape_2024.stations) == 2


def test_rebuilding_twice_changes_nothing(landscape, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    services.census_rebuild()
    first = list(CensusResult.objects.order_by("park_id", "year").values_list("individuals"))

    services.census_rebuild()

    assert CensusResult.objects.count() == 6
    assert (
        list(CensusResult.objects.order_by("park_id", "year").values_list("individuals")) == first
    )


def test_one_park_year_rebuild_touches_only_it_and_the_landscape_year(landscape, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    park, _other = landscape

    written = services.census_rebuild(park_id=park.pk, year=2024)

    assert written == 2
    assert set(CensusResult.objects.values_list("park_id", "year")) == {
        (park.pk, 2024),
        (None, 2024),
    }


def test_census_rebuild_command_reports_what_it_wrote(landscape, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    out = StringIO()
    call_command("census_rebuild", stdout=out)
    assert "6 census results written" in out.getvalue()


def test_marking_stale_queues_one_rebuild_after_commit(
    landscape, django_capture_on_commit_callbacks
):
    park, other_park = landscape
    with (
        mock.patch.object(tasks.census_rebuild_stale, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        services.census_mark_stale(park_id=park.pk, year=2024)
        services.census_mark_stale(park_id=park.pk, year=2024)
        services.census_mark_stale(park_id=other_park.pk, year=2024)

    assert len(callbacks) == 1
    queued.assert_called_once_with(countdown=services.REBUILD_DELAY_SECONDS)
    assert CensusStale.objects.count() == 2


def test_nothing_is_queued_when_the_transaction_rolls_back(
    landscape, django_capture_on_commit_callbacks
):
    park, _other = landscape
    with (
        mock.patch.object(tasks.census_rebuild_stale, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        services.census_mark_stale(park_id=park.pk, year=2024)
    # Callbacks registered but never run: nothing reaches the broker before commit.
    assert len(callbacks) == 1
    queued.assert_not_called()


def test_the_stale_task_rebuilds_marked_years_and_clears_the_marks(landscape, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    park, _other = landscape
    CensusStale.objects.create(park=park, year=2024)

    with mock.patch.object(tasks.census_rebuild_stale, "apply_async") as requeued:
        written = tasks.census_rebuild_stale()

    assert written == 2
    assert CensusResult.objects.get(park=park, year=2024).individuals == 1
    assert not CensusStale.objects.exists()
    requeued.assert_not_called()


def test_the_stale_task_is_safe_when_the_park_is_gone(landscape):
    park, _other = landscape
    CensusStale.objects.create(park=park, year=2024)
    CensusStale.objects.all().delete()

    assert tasks.census_rebuild_stale() == 0


def _stored(**where):
    """Every stored figure of the matching rows by (park id, year), without ids and times."""
    rows = {}
    for row in CensusResult.objects.filter(**where).values():
        del row["id"], row["computed_at"]
        rows[(row.pop("park_id"), row.pop("year"))] = row
    return rows


def test_a_park_year_rebuild_stores_what_a_full_rebuild_stores(landscape, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    park, other_park = landscape
    # A station with no sighting and a malfunction in the other park: its effort is in
    # the landscape's year, never in the rebuilt park's.
    _, quiet = station_running(other_park, "B2", first_year=2024, last_year=2024)
    quiet.malfunctions.create(start=date(2024, 2, 1), end=date(2024, 2, 10))

    # The other park-years' tallies are current, as the services keep them; the
    # park-year's own are recounted from its sightings, here one written past them.
    services.census_rebuild()
    CensusResult.objects.all().delete()
    here = park.stations.get(code="A1").deployments.get()
    sight(here, cat("LEO-7F", date(2016, 1, 1)), local(park, 2024, 10, 1, 1, 0))

    services.census_rebuild(park_id=park.pk, year=2024)
    one_park_year = _stored()
    services.census_rebuild()
    full = _stored(year=2024, park=park)
    full.update(_stored(year=2024, park=None))

    assert set(one_park_year) == {(park.pk, 2024), (None, 2024)}
    assert one_park_year == full
    assert one_park_year[(None, 2024)]["trap_nights"] == 3 * 366 - 10
    assert one_park_year[(park.pk, 2024)]["detections"] == 2
    assert one_park_year[(park.pk, 2024)]["individuals"] == 2


def test_the_stale_task_recomputes_a_years_landscape_once_for_all_its_parks(
    landscape, time_machine
):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    park, other_park = landscape
    CensusStale.objects.create(park=park, year=2024)
    CensusStale.objects.create(park=other_park, year=2024)
    CensusStale.objects.create(park=park, year=2023)

    with (
        mock.patch.object(tasks.census_rebuild_stale, "apply_async"),
        mock.patch.object(
            services, "tally_scope_years", wraps=services.tally_scope_years
        ) as landscape_tables,
    ):
        written = tasks.census_rebuild_stale()
    stale_rebuild = _stored()
    services.census_rebuild()

    # 2024: both parks and the landscape; 2023: the park and the landscape.
    assert written == 5
    assert landscape_tables.call_count == 2  # once per year, not once per park-year
    assert set(stale_rebuild) == {
        (park.pk, 2024),
        (other_park.pk, 2024),
        (None, 2024),
        (park.pk, 2023),
        (None, 2023),
    }
    assert stale_rebuild == {key: row for key, row in _stored().items() if key in stale_rebuild}
