"""Live periods (seasons, months, date ranges): the counts against a plain recount.

census.selectors.census_counts answers every period from a few grouped queries; the
reference below recounts each figure from the sightings one by one, straight from the
definitions at the top of census.selectors, so that a faster query can never change
what the dashboard shows.
"""

import dataclasses
from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.db.models import F

from census import periods
from census.dashboard import census_scope, dashboard
from census.periods import Period
from census.selectors import (
    PeriodCounts,
    census_counts,
    census_effort,
    census_effort_split,
)
from leopards.models import Flank, Sighting
from tests.census.helpers import cat, local, sight, station_running
from tests.factories import PhotoFactory, SightingFactory
from traps.models import Park, Photo
from traps.services.deployments import deployment_set_clock_offset

pytestmark = pytest.mark.django_db

# Every figure of a period's counts, each recounted by the reference below.
FIGURES = tuple(f.name for f in dataclasses.fields(PeriodCounts) if f.name != "period")


def reference_counts(parks: list[Park], period: Period) -> dict[str, int]:
    """Recount one period's figures sighting by sighting (slow, obviously right)."""
    park_ids = {park.pk for park in parks}
    records = []  # (leopard, park, local day) of every timed confirmed sighting here
    flanks: dict[int, set[str]] = {}
    for sighting in Sighting.objects.select_related(
        "leopard", "photo__deployment__station__park"
    ).filter(status=Sighting.Status.CONFIRMED):
        if sighting.leopard is None:
            continue
        # The catalogue's flanks: any confirmed sighting, any park, timed or not.
        flanks.setdefault(sighting.leopard_id, set()).add(sighting.flank)
        park = sighting.photo.deployment.station.park
        if park.pk in park_ids and sighting.photo.taken_at is not None:
            day = sighting.photo.taken_at.astimezone(park.tzinfo).date()
            records.append((sighting.leopard, park.pk, day))
    inside = [(cat_, park, day) for cat_, park, day in records if period.contains(day)]
    seen = {cat_.pk: cat_ for cat_, _park, _day in inside}
    before = {cat_.pk for cat_, _park, day in records if day < period.start}
    after = {cat_.pk for cat_, _park, day in records if day > period.end}
    ref = period.reference_date
    subadult_cut, adult_cut = periods.age_cutoffs(
        ref, settings.AGE_CLASS_SUBADULT_FROM_MONTHS, settings.AGE_CLASS_ADULT_FROM_MONTHS
    )

    def born(test) -> int:
        return sum(
            1 for c in seen.values() if c.birth_date and c.birth_date <= ref and test(c.birth_date)
        )

    n = len(seen)
    kittens = born(lambda b: b > subadult_cut)
    subadults = born(lambda b: adult_cut < b <= subadult_cut)
    adults = born(lambda b: b <= adult_cut)
    females = sum(1 for c in seen.values() if c.sex == "female")
    males = sum(1 for c in seen.values() if c.sex == "male")
    new = sum(1 for pk in seen if pk not in before)
    left = sum(1 for pk in seen if {Flank.LEFT, Flank.RIGHT} & flanks[pk] == {Flank.LEFT})
    right = sum(1 for pk in seen if {Flank.LEFT, Flank.RIGHT} & flanks[pk] == {Flank.RIGHT})
    parks_of = {pk: {p for c, p, _d in inside if c.pk == pk} for pk in seen}
    return {
        "individuals": n,
        "adults": adults,
        "subadults": subadults,
        "kittens": kittens,
        "age_unknown": n - kittens - subadults - adults,
        "females": females,
        "males": males,
        "sex_unknown": n - females - males,
        "new": new,
        "returning": n - new,
        "left_only": left,
        "right_only": right,
        "minimum": n - left - right + max(left, right),
        "known_alive": n + len((before & after) - set(seen)),
        "several_parks": sum(1 for p in parks_of.values() if len(p) > 1) if len(parks) > 1 else 0,
    }


@pytest.fixture
def landscape(park, other_park):
    """Two parks two hours apart, cats seen before, inside and after the periods."""
    assert park.time_zone != other_park.time_zone
    _, a1 = station_running(park, "A1", first_year=2021, last_year=2025)
    _, a2 = station_running(park, "A2", first_year=2021, last_year=2025)
    _, b1 = station_running(other_park, "B1", first_year=2021, last_year=2025)
    crosser = cat("LEO-1M", date(2021, 5, 1), "male")
    resident = cat("LEO-2F", date(2015, 1, 1))
    kitten = cat("LEO-3U", date(2023, 11, 1), "unknown")
    one_flank = cat("LEO-4U", None, "unknown")
    wanderer = cat("LEO-5F", date(2019, 6, 30))
    late = cat("LEO-6M", date(2022, 2, 1), "male")
    right_only = cat("LEO-7F", date(2020, 1, 1))
    # Before the periods, then in two parks, then after.
    sight(a1, crosser, local(park, 2022, 6, 1, 22, 0))
    sight(b1, crosser, local(other_park, 2023, 9, 1, 1, 0))
    sight(a1, crosser, local(park, 2023, 9, 20, 1, 0), Flank.RIGHT)
    sight(a1, crosser, local(park, 2025, 3, 5, 1, 0))
    # Either side of New Year, and of a month's end, in local time.
    sight(a2, resident, local(park, 2023, 12, 31, 23, 50))
    sight(a2, resident, local(park, 2024, 1, 1, 0, 10), Flank.RIGHT)
    sight(a2, resident, local(park, 2024, 2, 29, 23, 59))
    sight(b1, resident, local(other_park, 2024, 3, 1, 0, 1))
    sight(b1, kitten, local(other_park, 2024, 7, 1, 3, 0), Flank.FRONT)
    # Seen before and after the periods but not inside: known alive.
    sight(a1, wanderer, local(park, 2022, 3, 3, 3, 0))
    sight(b1, wanderer, local(other_park, 2025, 5, 5, 5, 0))
    # Its right flank only in a photo without a time: it counts for flanks alone.
    sight(a1, one_flank, local(park, 2023, 3, 3, 3, 0))
    sight(a1, one_flank, local(park, 2024, 1, 1, 0, 5))
    untimed = PhotoFactory(deployment=a1, taken_at=None)
    SightingFactory(photo=untimed, leopard=one_flank, flank=Flank.RIGHT, status="confirmed")
    sight(b1, right_only, local(other_park, 2024, 4, 1, 12, 0), Flank.RIGHT)
    sight(a2, right_only, local(park, 2024, 4, 30, 23, 0), Flank.RIGHT)
    # First seen inside the periods, and an unconfirmed record before that.
    sight(b1, late, local(other_park, 2022, 12, 31, 23, 0), status=Sighting.Status.PROPOSED)
    sight(b1, late, local(other_park, 2024, 5, 31, 23, 30))
    # One UTC instant, two local days: New Year's Eve in Shanghai, New Year in Vladivostok.
    instant = datetime.fromisoformat("2023-12-31T15:30:00+00:00")
    sight(a1, late, instant)
    sight(b1, resident, instant)
    return park, other_park


def _periods() -> list[list[Period]]:
    return [
        periods.split(periods.SEASON, date(2023, 1, 1), date(2024, 12, 31)),
        periods.split(periods.MONTH, date(2023, 10, 1), date(2024, 7, 31)),
        # Clipped at both ends: a range that starts and ends mid-month.
        periods.split(periods.MONTH, date(2023, 12, 15), date(2024, 3, 10)),
        periods.split(periods.YEAR, date(2022, 1, 1), date(2025, 12, 31)),
        [periods.date_range(date(2023, 12, 31), date(2024, 1, 1))],
        # Overlapping periods in one call, as the dashboard asks for parts and whole.
        [
            *periods.split(periods.SEASON, date(2023, 12, 1), date(2024, 5, 31)),
            periods.date_range(date(2023, 12, 1), date(2024, 5, 31)),
        ],
    ]


@pytest.mark.parametrize("scope", ["park", "other_park", "both"])
def test_live_counts_equal_a_recount_from_the_sightings(landscape, scope):
    park, other_park = landscape
    parks = {"park": [park], "other_park": [other_park], "both": [park, other_park]}[scope]
    for asked in _periods():
        fast = census_counts(parks=parks, periods_=asked)
        for period, counts in zip(asked, fast, strict=True):
            got = {name: getattr(counts, name) for name in FIGURES}
            assert got == reference_counts(parks, period), (scope, period)


def test_the_fixture_covers_what_it_claims(landscape):
    """The cases above are not vacuous: each kind of figure is non-zero somewhere."""
    park, other_park = landscape
    both = [park, other_park]
    totals = dict.fromkeys(FIGURES, 0)
    for asked in _periods():
        for period in asked:
            for name, value in reference_counts(both, period).items():
                totals[name] += value
    assert [name for name in FIGURES if not totals[name]] == []


@pytest.mark.parametrize("kind", [periods.SEASON, periods.MONTH])
def test_dashboard_live_periods_equal_a_recount(landscape, registry_admin, kind):
    park, other_park = landscape
    start, end = date(2023, 6, 1), date(2024, 8, 31)
    for code, parks in ((None, [park, other_park]), (park.code, [park])):
        scope = census_scope(registry_admin, code)
        data = dashboard(
            scope=scope,
            filters={"period": kind, "start": start, "end": end},
            today=date(2026, 1, 1),
        )
        asked = periods.split(kind, start, end)
        assert [row["label"] for row in data["table"]] == [p.label for p in asked]
        for row, period in zip(data["table"], asked, strict=True):
            assert {name: row[name] for name in FIGURES} == reference_counts(parks, period)
        whole = reference_counts(parks, periods.date_range(start, end))
        assert {name: data["current"][name] for name in FIGURES} == whole


def test_a_clock_correction_moves_sightings_between_periods(park):
    """The counts read each sighting's copy of its photo's time: a retimed photo moves it."""
    _, deployment = station_running(park, "C1", first_year=2024, last_year=2024)
    resident = cat("LEO-8F", date(2015, 1, 1))
    # 00:30 on the first day of spring, by a camera clock one hour fast.
    sighting = sight(deployment, resident, local(park, 2024, 3, 1, 0, 30))
    Photo.objects.filter(pk=sighting.photo_id).update(camera_time=F("taken_at"))
    winter, spring = periods.split(periods.SEASON, date(2023, 12, 1), date(2024, 5, 31))

    def seen() -> list[int]:
        counts = census_counts(parks=[park], periods_=[winter, spring])
        return [c.individuals for c in counts]

    assert seen() == [0, 1]
    deployment_set_clock_offset(deployment_id=deployment.pk, clock_offset=timedelta(hours=-1))
    assert seen() == [1, 0]
    assert seen() == [reference_counts([park], p)["individuals"] for p in (winter, spring)]


@pytest.mark.parametrize("scope", ["park", "other_park", "both"])
def test_effort_of_parts_and_whole_in_one_pass_equals_each_alone(landscape, scope):
    park, other_park = landscape
    parks = {"park": [park], "other_park": [other_park], "both": [park, other_park]}[scope]
    now = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    for kind, start, end in (
        (periods.SEASON, date(2023, 1, 1), date(2024, 12, 31)),
        (periods.MONTH, date(2023, 12, 15), date(2024, 3, 10)),
    ):
        parts = periods.split(kind, start, end)
        efforts, whole = census_effort_split(parks=parks, parts=parts, now=now)
        assert efforts == census_effort(parks=parks, periods_=parts, now=now)
        (alone,) = census_effort(parks=parks, periods_=[periods.date_range(start, end)], now=now)
        assert whole == alone
        assert whole.detections > 0


def test_effort_of_parts_refuses_periods_with_a_gap(park):
    with pytest.raises(ValueError):
        census_effort_split(parks=[park], parts=[periods.year(2023), periods.year(2025)], now=None)
