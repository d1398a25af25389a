"""The census tallies: kept current by the identification services, recounted per station.

A sequence of real catalogue changes is applied one at a time, each followed by the
stale task (which recounts only the marked stations' years); the stored figures and
tallies must then be what a full rebuild from the sightings stores, and both what the
live selectors compute from the sightings.
"""

from datetime import date
from unittest import mock

import pytest
from django.core.cache import cache

from census import periods, services, tasks
from census.models import CensusResult, CensusStale, CensusTally
from census.selectors import census_counts, census_effort, individuals_by_period
from leopards.models import Flank, Sighting
from leopards.services.catalogue_edits import leopard_merge, leopard_split
from leopards.services.identification import sighting_confirm, sighting_unconfirm
from leopards.services.review import sighting_adjust, sighting_remove
from tests.census.helpers import cat, local, sight, station_running

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def registry(park, other_park):
    """Two parks in two time zones, cats crossing between them and over New Year."""
    _, a1 = station_running(park, "A1", first_year=2022, last_year=2024)
    _, a2 = station_running(park, "A2", first_year=2022, last_year=2024)
    _, b1 = station_running(other_park, "B1", first_year=2022, last_year=2024)
    crosser = cat("LEO-1M", date(2021, 5, 1), "male")
    resident = cat("LEO-2F", date(2015, 1, 1))
    kitten = cat("LEO-3U", date(2024, 4, 1), "unknown")
    one_flank = cat("LEO-4U", None, "unknown")
    sight(a1, crosser, local(park, 2022, 6, 1, 22, 0))
    sight(b1, crosser, local(other_park, 2023, 9, 1, 1, 0))
    sight(a1, crosser, local(park, 2024, 9, 5, 1, 0), Flank.RIGHT)
    # Twenty minutes either side of New Year at one station: the second is no new
    # detection, and it is in another year.
    sight(a2, resident, local(park, 2023, 12, 31, 23, 50))
    sight(a2, resident, local(park, 2024, 1, 1, 0, 10), Flank.RIGHT)
    sight(a2, resident, local(park, 2024, 1, 1, 0, 30))
    sight(b1, kitten, local(other_park, 2024, 7, 1, 3, 0), Flank.FRONT)
    sight(a1, one_flank, local(park, 2023, 3, 3, 3, 0))
    sight(a1, one_flank, local(park, 2024, 1, 1, 0, 5))
    waiting = sight(a2, resident, local(park, 2024, 5, 5, 5, 0), status=Sighting.Status.PROPOSED)
    # Confirmed, it makes the first record of 2024 at A1 no new detection.
    late = sight(a1, one_flank, local(park, 2023, 12, 31, 23, 50), status=Sighting.Status.PROPOSED)
    return {
        "park": park,
        "other_park": other_park,
        "a1": a1,
        "a2": a2,
        "b1": b1,
        "crosser": crosser,
        "resident": resident,
        "kitten": kitten,
        "one_flank": one_flank,
        "waiting": waiting,
        "late": late,
    }


def _stored() -> dict:
    rows = {}
    for row in CensusResult.objects.values():
        del row["id"], row["computed_at"]
        rows[(row.pop("park_id"), row.pop("year"))] = row
    return rows


def _tallies() -> list[tuple]:
    return sorted(
        CensusTally.objects.values_list(
            "station_id",
            "park_id",
            "leopard_id",
            "year",
            "sightings",
            "detections",
            "left_sightings",
            "right_sightings",
            "first_day",
            "last_day",
        ),
        key=repr,
    )


def _run_stale_task() -> int:
    with mock.patch.object(tasks.census_rebuild_stale, "apply_async"):
        return tasks.census_rebuild_stale()


def _assert_full_rebuild_agrees() -> None:
    incremental, tallies = _stored(), _tallies()
    services.census_rebuild()
    assert _tallies() == tallies
    assert _stored() == incremental


def _assert_live_selectors_agree(parks) -> None:
    """The stored rows say what the selectors compute from the sightings themselves."""
    stored = _stored()
    for (park_id, y), row in stored.items():
        scope = [p for p in parks if park_id in (None, p.pk)]
        period = periods.year(y)
        (counts,) = census_counts(parks=scope, periods_=[period])
        (effort,) = census_effort(parks=scope, periods_=[period])
        (table,) = individuals_by_period(parks=scope, periods_=[period])
        assert (row["individuals"], row["new"], row["known_alive"]) == (
            counts.individuals,
            counts.new,
            counts.known_alive,
        ), (park_id, y)
        assert (row["kittens"], row["left_only"], row["right_only"], row["several_parks"]) == (
            counts.kittens,
            counts.left_only,
            counts.right_only,
            counts.several_parks,
        ), (park_id, y)
        assert (row["trap_nights"], row["detections"]) == (
            effort.trap_nights,
            effort.detections,
        ), (park_id, y)
        assert row["stations"] == sorted([sid, *v] for sid, v in effort.stations.items())
        assert row["individual_rows"] == table, (park_id, y)


def test_incremental_updates_store_what_a_full_rebuild_stores(registry, scientist, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    parks = [registry["park"], registry["other_park"]]
    services.census_rebuild()
    user = scientist

    def confirm(sighting: Sighting, leopard_id: int) -> None:
        sighting_confirm(
            sighting_id=sighting.pk,
            leopard_id=leopard_id,
            user=user,
            expected_version=None,
            sample=False,
            override=True,
        )

    steps = [
        lambda: confirm(registry["waiting"], registry["resident"].pk),
        # Fifteen minutes before New Year: next year's first record is no new detection.
        lambda: confirm(registry["late"], registry["one_flank"].pk),
        lambda: sighting_unconfirm(
            sighting_id=registry["waiting"].pk, user=user, expected_version=None
        ),
        lambda: sighting_adjust(
            sighting_id=Sighting.objects.filter(leopard=registry["one_flank"])
            .order_by("pk")
            .first()
            .pk,
            user=user,
            expected_version=None,
            flank=Flank.RIGHT,
        ),
        lambda: leopard_merge(
            survivor_id=registry["one_flank"].pk,
            absorbed_id=registry["crosser"].pk,
            user=user,
            reason="same spots",
        ),
        lambda: leopard_split(
            leopard_id=registry["one_flank"].pk,
            sighting_ids=list(
                Sighting.objects.filter(
                    leopard=registry["one_flank"], photo__deployment__station=registry["b1"].station
                ).values_list("pk", flat=True)
            ),
            user=user,
            reason="another cat in the other park",
        ),
        lambda: sighting_remove(
            sighting_id=Sighting.objects.filter(leopard=registry["kitten"]).get().pk,
            user=user,
            expected_version=None,
        ),
    ]
    for step in steps:
        step()
        marks = list(CensusStale.objects.values_list("station_id", flat=True))
        # Every mark names its station: only that station's year is recounted.
        assert marks and None not in marks
        assert _run_stale_task() > 0
        _assert_full_rebuild_agrees()
    _assert_live_selectors_agree(parks)


def test_a_confirmation_recounts_only_its_station_year(registry, scientist, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    services.census_rebuild()
    untouched = {
        pk: values
        for pk, *values in CensusTally.objects.exclude(
            station=registry["a2"].station, year=2024
        ).values_list("pk", "sightings", "detections")
    }

    sighting_confirm(
        sighting_id=registry["waiting"].pk,
        leopard_id=registry["resident"].pk,
        user=scientist,
        expected_version=None,
        sample=False,
        override=True,
    )
    _run_stale_task()

    # The other stations' and years' rows are the very same rows, not recounted copies.
    assert {
        pk: values
        for pk, *values in CensusTally.objects.exclude(
            station=registry["a2"].station, year=2024
        ).values_list("pk", "sightings", "detections")
    } == untouched
    resident = CensusTally.objects.get(
        station=registry["a2"].station, year=2024, leopard=registry["resident"]
    )
    # 00:10 follows 23:50 within the interval; 00:30 follows 00:10; 5 May is new.
    assert (resident.sightings, resident.detections) == (3, 1)
    assert CensusResult.objects.get(park=registry["park"], year=2024).detections == 3


def test_a_change_written_past_the_services_is_repaired_by_a_full_rebuild(registry, time_machine):
    time_machine.move_to("2024-12-31 12:00:00+00:00")
    services.census_rebuild()
    before = CensusResult.objects.get(park=None, year=2024).individuals
    Sighting.objects.filter(pk=registry["waiting"].pk).update(status=Sighting.Status.CONFIRMED)
    sight(
        registry["b1"],
        cat("LEO-5F", date(2010, 1, 1)),
        local(registry["other_park"], 2024, 8, 8, 8),
    )

    services.census_rebuild()

    assert CensusResult.objects.get(park=None, year=2024).individuals == before + 1
    _assert_live_selectors_agree([registry["park"], registry["other_park"]])
