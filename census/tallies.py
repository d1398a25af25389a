"""Census figures from the per-station tallies (`CensusTally`), and the tallies' source.

The census figures of a park-year are the same as census.selectors computes from the
sightings (same definitions, see there), but read from rows bounded by stations x
individuals x years: a park-year then costs the same however many photos lie behind
it, and a change to one sighting only needs its station's year recounted.
`tests/census/test_tallies.py` holds the two paths to the same figures.
"""

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, ExtractYear, Lag

from census import effort, periods
from census.models import CensusTally
from census.periods import Period
from census.selectors import (
    _PARK,
    _STATION,
    _TAKEN,
    CONFIRMED,
    PeriodCounts,
    PeriodEffort,
    _in_park_time,
    _local_day,
    _row_zone,
    _station_figures,
    _zones,
    deployment_spans,
    effort_per_park,
)
from leopards.models import Flank, Leopard, Sighting, age_class_at
from traps.models import Park

# ---------------------------------------------------------------------------
# The source: sightings summed per station, individual and local year


def _local_year(zones: dict[str, list[int]]) -> Case | ExtractYear:
    """The year a sighting was taken in, in its park's time zone."""
    return _in_park_time(ExtractYear, IntegerField(), zones)


# An individual's figures in a park-year or the landscape year, summed from its tallies.
_SEEN = {
    "n": Sum("sightings"),
    "stations": Count("station_id", distinct=True),
    "parks": Count("park_id", distinct=True),
    "one_park": Min("park_id"),
    "first": Min("first_day"),
    "last": Max("last_day"),
}


def _where(park_ids: Collection[int] | None, station_ids: Collection[int] | None) -> Q:
    if park_ids is None and station_ids is None:
        return Q()
    return Q(**{f"{_PARK}__in": list(park_ids or [])}) | Q(
        **{f"{_STATION}__in": list(station_ids or [])}
    )


def tally_records(
    *,
    parks: Sequence[Park],
    year: int | None,
    park_ids: Collection[int] | None = None,
    station_ids: Collection[int] | None = None,
) -> QuerySet[Sighting]:
    """Return the timed confirmed sightings to tally, one row each with its figures.

    Each row has its station, park, individual, local year and day, flank and whether
    it is a new independent detection (more than the independence interval after the
    previous record of the same individual at the same station, as
    census.selectors.independent_detections). With a year, the records of the
    interval before it come too, since they decide whether its first records count;
    the caller keeps only the year's rows.
    """
    zones = _zones(parks)
    interval = timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)
    records = Sighting.objects.filter(status=CONFIRMED, taken_at__isnull=False).filter(
        _where(park_ids, station_ids)
    )
    if year is not None:
        whole = periods.year(year)
        records = records.filter(
            **{
                f"{_TAKEN}__gte": min(whole.bounds(ZoneInfo(z))[0] for z in zones) - interval,
                f"{_TAKEN}__lt": max(whole.bounds(ZoneInfo(z))[1] for z in zones),
            }
        )
    previous = Window(
        Lag(_TAKEN),
        partition_by=[F("leopard_id"), F(_STATION)],
        order_by=[F(_TAKEN).asc(), F("pk").asc()],
    )
    return (
        records.annotate(
            station=F(_STATION),
            park=F(_PARK),
            local_year=_local_year(zones),
            local_day=_local_day(zones),
            gap=Coalesce(
                ExpressionWrapper(F(_TAKEN) - previous, output_field=DurationField()),
                Value(timedelta(days=36_500)),
                output_field=DurationField(),
            ),
        )
        .annotate(
            counted=Case(When(gap__gt=interval, then=Value(1)), default=Value(0)),
        )
        .values("station", "park", "leopard_id", "local_year", "local_day", "flank", "counted")
        .order_by()
    )


def untimed_tallies(
    *, park_ids: Collection[int] | None = None, station_ids: Collection[int] | None = None
) -> list[CensusTally]:
    """Return the tallies of confirmed sightings without a time: they count for flanks only."""
    rows = (
        Sighting.objects.filter(status=CONFIRMED, taken_at__isnull=True)
        .filter(_where(park_ids, station_ids))
        .values(_STATION, _PARK, "leopard_id")
        .annotate(
            n=Count("pk"),
            left=Count("pk", filter=Q(flank=Flank.LEFT)),
            right=Count("pk", filter=Q(flank=Flank.RIGHT)),
        )
        .order_by()
    )
    return [
        CensusTally(
            station_id=row[_STATION],
            park_id=row[_PARK],
            leopard_id=row["leopard_id"],
            year=None,
            sightings=row["n"],
            left_sightings=row["left"],
            right_sightings=row["right"],
        )
        for row in rows
    ]


# ---------------------------------------------------------------------------
# Figures from the tallies


@dataclass
class ScopeYear:
    """What a stored census row holds of one scope (a park or the landscape) and year."""

    counts: PeriodCounts
    individuals: list[dict[str, Any]]


def tally_effort_by_park(
    *, parks: Sequence[Park], years: Sequence[int], now: datetime
) -> dict[int | None, list[PeriodEffort]]:
    """Return each park's effort per year, and all parks together under None.

    Trap-nights come from the deployments as in census.selectors.census_effort_by_park,
    the independent detections per station from the tallies.
    """
    periods_ = [periods.year(y) for y in years]
    first_day, last_day = periods.span(periods_)
    nights = effort.station_nights(deployment_spans(parks, first_day, last_day), now)
    index = {y: i for i, y in enumerate(years)}
    detections: dict[tuple[int, int], tuple[int, int]] = {}
    rows = (
        CensusTally.objects.filter(year__in=list(years), detections__gt=0)
        .values("station_id", "year")
        .annotate(found=Sum("detections"), individuals=Count("leopard_id"))
        .order_by()
    )
    for row in rows:
        detections[(row["station_id"], index[row["year"]])] = (row["found"], row["individuals"])
    return effort_per_park(parks, periods_, _station_figures(periods_, nights, detections))


def tally_scope_years(
    *, parks: Sequence[Park], park_ids: Collection[int] | None, years: Sequence[int]
) -> dict[int | None, dict[int, ScopeYear]]:
    """Return the counts and individuals tables of parks and of the landscape per year.

    `park_ids` are the parks to count one by one (None: none); the landscape (key None)
    counts every park of `parks` together, each individual once. Six queries whatever
    the number of photos: the spans of each individual in each scope, its figures in
    the wanted years, the flanks the catalogue knows, and the individuals themselves.
    """
    years = list(years)
    zone_of = {park.pk: park.time_zone for park in parks}
    scopes: list[int | None] = [*(sorted(park_ids) if park_ids else []), None]
    timed = CensusTally.objects.filter(year__isnull=False, leopard__isnull=False)

    # The first and last year each individual was seen in each scope (new, known alive).
    spans: dict[int | None, dict[int, tuple[int, int]]] = {scope: {} for scope in scopes}
    if park_ids:
        for row in (
            timed.filter(park_id__in=list(park_ids))
            .values("park_id", "leopard_id")
            .annotate(first=Min("year"), last=Max("year"))
            .order_by()
        ):
            spans[row["park_id"]][row["leopard_id"]] = (row["first"], row["last"])
    for row in timed.values("leopard_id").annotate(first=Min("year"), last=Max("year")).order_by():
        spans[None][row["leopard_id"]] = (row["first"], row["last"])

    # The figures of the wanted years.
    seen: dict[tuple[int | None, int], list[dict[str, Any]]] = defaultdict(list)
    in_years = timed.filter(year__in=years)
    if park_ids:
        for row in (
            in_years.filter(park_id__in=list(park_ids))
            .values("park_id", "leopard_id", "year")
            .annotate(
                **_SEEN,
            )
            .order_by()
        ):
            seen[(row["park_id"], row["year"])].append(row)
    for row in (
        in_years.values("leopard_id", "year")
        .annotate(
            **_SEEN,
        )
        .order_by()
    ):
        seen[(None, row["year"])].append(row)

    ids = {row["leopard_id"] for rows in seen.values() for row in rows}
    flanks = {
        row["leopard_id"]: (row["left"] > 0, row["right"] > 0)
        for row in CensusTally.objects.filter(leopard_id__in=ids)
        .values("leopard_id")
        .annotate(left=Sum("left_sightings"), right=Sum("right_sightings"))
        .order_by()
    }
    # In the database's order of codes, as the live tables are sorted.
    cats = {
        row["pk"]: (rank, row)
        for rank, row in enumerate(
            Leopard.objects.filter(pk__in=ids)
            .order_by("code")
            .values("pk", "code", "name", "sex", "birth_date")
        )
    }

    result: dict[int | None, dict[int, ScopeYear]] = {scope: {} for scope in scopes}
    for scope in scopes:
        for y in years:
            rows = sorted(seen.get((scope, y), []), key=lambda r: cats[r["leopard_id"]][0])
            period = periods.year(y)
            result[scope][y] = ScopeYear(
                counts=_counts(
                    period,
                    rows,
                    spans[scope],
                    cats,
                    flanks,
                    several=scope is None and len(parks) > 1,
                ),
                individuals=[_individual_row(period, row, cats, flanks, zone_of) for row in rows],
            )
    return result


def _counts(
    period: Period,
    rows: list[dict[str, Any]],
    spans: dict[int, tuple[int, int]],
    cats: dict[int, tuple[int, dict[str, Any]]],
    flanks: dict[int, tuple[bool, bool]],
    *,
    several: bool,
) -> PeriodCounts:
    y = int(period.label)
    cuts = periods.age_cutoffs(
        period.reference_date,
        settings.AGE_CLASS_SUBADULT_FROM_MONTHS,
        settings.AGE_CLASS_ADULT_FROM_MONTHS,
    )
    counts = PeriodCounts(period)
    here = set()
    for row in rows:
        leopard = row["leopard_id"]
        here.add(leopard)
        cat = cats[leopard][1]
        counts.add(
            birth=cat["birth_date"],
            sex=cat["sex"],
            cuts=cuts,
            new=spans[leopard][0] >= y,
            flanks=flanks.get(leopard, (False, False)),
            several_parks=several and row["parks"] > 1,
        )
    unseen_alive = sum(
        1 for leopard, (first, last) in spans.items() if first < y < last and leopard not in here
    )
    return counts.finish(alive_unseen=unseen_alive)


def _individual_row(
    period: Period,
    row: dict[str, Any],
    cats: dict[int, tuple[int, dict[str, Any]]],
    flanks: dict[int, tuple[bool, bool]],
    zone_of: dict[int, str],
) -> dict[str, Any]:
    cat = cats[row["leopard_id"]][1]
    left, right = flanks.get(row["leopard_id"], (False, False))
    birth: date | None = cat["birth_date"]
    return {
        "id": row["leopard_id"],
        "code": cat["code"],
        "name": cat["name"],
        "sex": cat["sex"],
        "birth_date": birth.isoformat() if birth else None,
        "age_class": str(age_class_at(birth, period.reference_date)),
        "flanks": "left" if left and not right else "right" if right and not left else "both",
        "first_seen": row["first"].isoformat(),
        "last_seen": row["last"].isoformat(),
        "time_zone": _row_zone(zone_of, row["one_park"], row["parks"]),
        "sightings": row["n"],
        "stations": row["stations"],
        "parks": row["parks"],
    }


def tally_cells(sighting_ids: Collection[int]) -> set[tuple[int, int, int]]:
    """Return (park id, station id, local year) of every tally the sightings count in.

    A sighting in the independence interval before New Year also decides whether the
    first record of the next year at its station is a new detection: that year's tally
    is named too. Sightings without a time count in no year (a full rebuild recounts
    their flanks).
    """
    interval = timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)
    rows = Sighting.objects.filter(pk__in=list(sighting_ids), taken_at__isnull=False)
    cells = set()
    for taken, station_id, park_id, zone in rows.values_list(
        _TAKEN, _STATION, _PARK, "deployment__station__park__time_zone"
    ):
        tz = ZoneInfo(zone)
        for moment in (taken, taken + interval):
            cells.add((park_id, station_id, moment.astimezone(tz).year))
    return cells


@dataclass(frozen=True)
class TallyState:
    """What an individual's tallies say beyond their own park-years."""

    flanks: tuple[bool, bool]
    # (park id or None for the landscape) -> first and last year seen there.
    spans: dict[int | None, tuple[int, int]]
    seen: frozenset[tuple[int, int]]


def tally_states(leopard_ids: Collection[int]) -> dict[int, TallyState]:
    """Return the flanks, first and last years and park-years of some individuals."""
    rows: dict[int, list[tuple[int, int | None, int, int]]] = defaultdict(list)
    for leopard, park, year, left, right in CensusTally.objects.filter(
        leopard_id__in=list(leopard_ids)
    ).values_list("leopard_id", "park_id", "year", "left_sightings", "right_sightings"):
        rows[leopard].append((park, year, left, right))
    states = {}
    for leopard, cells in rows.items():
        spans: dict[int | None, tuple[int, int]] = {}
        for park, year, _left, _right in cells:
            if year is None:
                continue
            for scope in (park, None):
                first, last = spans.get(scope, (year, year))
                spans[scope] = (min(first, year), max(last, year))
        states[leopard] = TallyState(
            flanks=(any(c[2] for c in cells), any(c[3] for c in cells)),
            spans=spans,
            seen=frozenset((park, year) for park, year, _l, _r in cells if year is not None),
        )
    return states


def tally_state_changes(
    before: dict[int, TallyState], after: dict[int, TallyState]
) -> set[tuple[int | None, int]]:
    """Return the (park id or None, year) figures that changed states touch.

    Flanks count in every park-year the individual was seen in; a first or last year
    decides whether it is new, returning or known alive in every year in between.
    """
    empty = TallyState(flanks=(False, False), spans={}, seen=frozenset())
    touched: set[tuple[int | None, int]] = set()
    for leopard in set(before) | set(after):
        old, new = before.get(leopard, empty), after.get(leopard, empty)
        if old.flanks != new.flanks:
            touched |= old.seen | new.seen
        for scope in set(old.spans) | set(new.spans):
            if old.spans.get(scope) == new.spans.get(scope):
                continue
            years = [
                y for span in (old.spans.get(scope), new.spans.get(scope)) if span for y in span
            ]
            touched |= {(scope, y) for y in range(min(years), max(years) + 1)}
    return touched
