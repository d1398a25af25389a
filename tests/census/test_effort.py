"""Effort (trap-nights, malfunctions) and independent detections."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from census import effort, periods
from census.selectors import (
    census_effort,
    census_effort_by_park,
    deployment_spans,
    independent_detections,
)
from tests.census.helpers import cat, local, sight, station_running
from tests.factories import DeploymentFactory, StationFactory
from traps.models import MalfunctionPeriod

ZONE = ZoneInfo("Asia/Vladivostok")
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def span(start, end, malfunctions=(), station=1):
    return effort.DeploymentSpan(station, start, end, ZONE, tuple(malfunctions))


def test_noon_to_noon_over_two_midnights_is_two_trap_nights():
    nights = effort.station_nights(
        [span(datetime(2024, 3, 1, 12, tzinfo=ZONE), datetime(2024, 3, 3, 12, tzinfo=ZONE))], NOW
    )
    assert effort.nights_in(nights[1], date(2024, 1, 1), date(2024, 12, 31)) == 2


def test_malfunction_days_are_not_effort():
    nights = effort.station_nights(
        [
            span(
                datetime(2024, 3, 1, 12, tzinfo=ZONE),
                datetime(2024, 3, 11, 12, tzinfo=ZONE),
                [(date(2024, 3, 4), date(2024, 3, 5)), (date(2024, 3, 5), date(2024, 3, 6))],
            )
        ],
        NOW,
    )
    # Ten nights minus the three distinct broken days (overlapping periods count once).
    assert effort.nights_in(nights[1], date(2024, 1, 1), date(2024, 12, 31)) == 7


def test_effort_is_clipped_to_the_period():
    nights = effort.station_nights(
        [span(datetime(2023, 12, 20, 12, tzinfo=ZONE), datetime(2024, 1, 10, 12, tzinfo=ZONE))],
        NOW,
    )
    assert effort.nights_in(nights[1], date(2024, 1, 1), date(2024, 12, 31)) == 9
    assert effort.nights_in(nights[1], date(2023, 1, 1), date(2023, 12, 31)) == 12


def test_two_cameras_at_one_station_do_not_double_its_effort():
    first = span(datetime(2024, 3, 1, 12, tzinfo=ZONE), datetime(2024, 3, 11, 12, tzinfo=ZONE))
    second = span(datetime(2024, 3, 6, 12, tzinfo=ZONE), datetime(2024, 3, 16, 12, tzinfo=ZONE))
    nights = effort.station_nights([first, second], NOW)
    assert effort.nights_in(nights[1], date(2024, 1, 1), date(2024, 12, 31)) == 15


def test_a_running_camera_counts_until_now():
    nights = effort.station_nights(
        [span(datetime(2024, 3, 1, 12, tzinfo=ZONE), None)],
        datetime(2024, 3, 5, 13, tzinfo=ZONE),
    )
    assert effort.nights_in(nights[1], date(2024, 1, 1), date(2024, 12, 31)) == 4


@pytest.mark.django_db
def test_census_effort_reads_deployments_and_malfunctions(park):
    station = StationFactory(park=park, code="A1")
    deployment = DeploymentFactory(
        station=station, start=local(park, 2024, 3, 1, 12, 0), end=local(park, 2024, 3, 11, 12, 0)
    )
    MalfunctionPeriod.objects.create(
        deployment=deployment, start=date(2024, 3, 4), end=date(2024, 3, 5)
    )
    idle = StationFactory(park=park, code="A2")
    DeploymentFactory(
        station=idle, start=local(park, 2023, 3, 1, 12, 0), end=local(park, 2023, 3, 11, 12, 0)
    )

    (year,) = census_effort(parks=[park], periods_=[periods.year(2024)])

    assert year.trap_nights == 8
    assert year.stations_active == 1
    assert year.stations[station.pk][0] == 8
    assert idle.pk not in year.stations


@pytest.mark.django_db
def test_records_within_the_interval_make_one_detection(park, settings):
    settings.INDEPENDENCE_INTERVAL_MINUTES = 30
    st, deployment = station_running(park, "A1")
    leopard = cat("LEO-1F", date(2015, 1, 1))
    start = local(park, 2024, 5, 1, 22, 0)
    # 0, 10, 20 min: one visit; 55 min: more than 30 after the previous record.
    for minutes in (0, 10, 20, 55):
        sight(deployment, leopard, start + timedelta(minutes=minutes))
    # Another cat in the same minutes is its own detection.
    sight(deployment, cat("LEO-2M", date(2015, 1, 1)), start + timedelta(minutes=5))

    found = independent_detections(parks=[park], periods_=[periods.year(2024)])

    assert found[(st.pk, 0)] == (3, 2)


@pytest.mark.django_db
def test_a_record_just_before_the_period_suppresses_its_first_minutes(park):
    st, deployment = station_running(park, "A1")
    leopard = cat("LEO-1F", date(2015, 1, 1))
    sight(deployment, leopard, local(park, 2023, 12, 31, 23, 50))
    sight(deployment, leopard, local(park, 2024, 1, 1, 0, 5))
    sight(deployment, leopard, local(park, 2024, 1, 1, 3, 0))

    found = independent_detections(parks=[park], periods_=[periods.year(2024)])

    assert found[(st.pk, 0)] == (1, 1)


@pytest.mark.django_db
def test_relative_abundance_is_detections_per_100_trap_nights(park):
    st = StationFactory(park=park, code="A1")
    deployment = DeploymentFactory(
        station=st, start=local(park, 2024, 1, 1, 0, 0), end=local(park, 2024, 2, 20, 0, 0)
    )
    leopard = cat("LEO-1F", date(2015, 1, 1))
    sight(deployment, leopard, local(park, 2024, 1, 5, 1, 0))
    sight(deployment, leopard, local(park, 2024, 1, 9, 1, 0))

    (year,) = census_effort(parks=[park], periods_=[periods.year(2024)])

    assert year.trap_nights == 50
    assert year.detections == 2
    assert year.rai == pytest.approx(4.0)


def test_nights_per_period_agrees_with_counting_each_period_alone():
    rng = random.Random(17)
    for _ in range(300):
        ranges = effort.merge(
            (first, first + rng.randint(0, 40))
            for first in (rng.randint(0, 400) for _ in range(rng.randint(0, 8)))
        )
        bounds = []
        for _ in range(rng.randint(1, 6)):
            start = rng.randint(-20, 420)
            bounds.append((start, start + rng.randint(0, 120)))

        counted = effort.nights_per_period(ranges, bounds)

        assert counted == [effort.overlap(ranges, start, end) for start, end in bounds]


def _effort_station_by_station(parks, periods_, now):
    """Effort the plain way: every station's nights counted in every period on their own."""
    first_day, last_day = periods.span(periods_)
    nights = effort.station_nights(deployment_spans(parks, first_day, last_day), now)
    detections = independent_detections(parks=parks, periods_=periods_)
    result = []
    for i, period in enumerate(periods_):
        stations = {}
        for station_id in set(nights) | {s for s, p in detections if p == i}:
            station_nights = effort.nights_in(nights.get(station_id, []), period.start, period.end)
            found, individuals = detections.get((station_id, i), (0, 0))
            if station_nights or found:
                stations[station_id] = (station_nights, found, individuals)
        result.append(stations)
    return result


@pytest.mark.django_db
def test_effort_by_park_matches_counting_every_station_in_every_period(park, other_park):
    rng = random.Random(4)
    leopards = [cat(f"LEO-{n}F", date(2015, 1, 1)) for n in range(4)]
    for where in (park, other_park):
        for n in range(5):
            station = StationFactory(park=where, code=f"S{n}")
            for _ in range(rng.randint(0, 3)):
                first = local(where, 2022, 1, 1, 12, 0) + timedelta(days=rng.randint(0, 900))
                deployment = DeploymentFactory(
                    station=station,
                    start=first,
                    # Some cameras still run: their effort counts until now.
                    end=None if rng.random() < 0.2 else first + timedelta(days=rng.randint(1, 200)),
                )
                if rng.random() < 0.5:
                    broken = first.date() + timedelta(days=rng.randint(0, 30))
                    MalfunctionPeriod.objects.create(
                        deployment=deployment,
                        start=broken,
                        end=broken + timedelta(days=rng.randint(0, 10)),
                    )
                for _ in range(rng.randint(0, 3)):
                    sight(
                        deployment,
                        rng.choice(leopards),
                        first + timedelta(hours=rng.randint(1, 24 * 60)),
                    )
    periods_ = [periods.year(y) for y in (2022, 2023, 2024)] + [
        periods.Period(periods.RANGE, date(2023, 6, 15), date(2024, 2, 10), "")
    ]

    by_park = census_effort_by_park(parks=[park, other_park], periods_=periods_, now=NOW)

    landscape = _effort_station_by_station([park, other_park], periods_, NOW)
    for where in (park, other_park):
        alone = _effort_station_by_station([where], periods_, NOW)
        assert [p.stations for p in by_park[where.pk]] == alone
        assert [p.trap_nights for p in by_park[where.pk]] == [
            sum(n for n, _d, _k in stations.values()) for stations in alone
        ]
    assert [p.stations for p in by_park[None]] == landscape
    assert [p.detections for p in by_park[None]] == [
        sum(d for _n, d, _k in stations.values()) for stations in landscape
    ]
    assert [p.stations_active for p in by_park[None]] == [
        sum(1 for n, _d, _k in stations.values() if n) for stations in landscape
    ]
    assert sum(p.trap_nights for p in by_park[None]) > 0
    assert sum(p.detections for p in by_park[None]) > 0
    assert [
        p.stations for p in census_effort(parks=[park, other_park], periods_=periods_, now=NOW)
    ] == landscape
