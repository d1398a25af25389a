"""Reads for the census: counts, effort, detections, individuals and capture histories.

Every count is a database aggregation whose cost does not depend on how many rows come
back to Python: one query per scope (a park, or several parks counted as one landscape)
answers every period at once with conditional aggregates. Python only touches rows that
are already bounded by individuals, stations or deployments, never photos or sightings.

Definitions (the rules the science depends on):
- Only CONFIRMED sightings with a photo time count.
- Age class: from the estimated birth date at the period's reference date, its last day
  (census.periods). No birth date, or a birth after the reference date, is "unknown".
- Flanks: an individual whose catalogue (all its confirmed sightings, any time, any park)
  holds left but no right flank may be the same animal as one holding right but no left.
  minimum = individuals - left_only - right_only + max(left_only, right_only);
  maximum = individuals. Individuals known only from front or unknown-flank photos count
  as certain: they were told apart by a person on other marks.
- New: seen in the period and never before it in the same scope; returning: seen before.
- Known alive (minimum number known alive): seen in the period, plus those not seen in it
  but seen in the scope both before and after it.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, ExtractYear, Lag, TruncDate
from django.utils import timezone

from accounts import roles
from accounts.roles import has_permission
from census import effort, periods
from census.models import CensusResult, DensityRun
from census.periods import Period
from leopards.models import AgeClass, Flank, Leopard, Sighting, age_class_at
from traps.models import Deployment, MalfunctionPeriod, Park, Station
from traps.selectors import parks_for_user

CONFIRMED = Sighting.Status.CONFIRMED
# A sighting's time and place are its photo's, read from the sighting's own copies
# (leopards.photo_copy): the census never joins the photo table, many times larger.
_PARK = "deployment__station__park_id"
_STATION = "deployment__station_id"
_TAKEN = "taken_at"


@dataclass
class PeriodCounts:
    """Distinct individuals detected in one period, broken down."""

    period: Period
    individuals: int = 0
    adults: int = 0
    subadults: int = 0
    kittens: int = 0
    age_unknown: int = 0
    females: int = 0
    males: int = 0
    sex_unknown: int = 0
    new: int = 0
    returning: int = 0
    left_only: int = 0
    right_only: int = 0
    minimum: int = 0
    known_alive: int = 0
    several_parks: int = 0

    @property
    def maximum(self) -> int:
        return self.individuals

    def add(
        self,
        *,
        birth: date | None,
        sex: str,
        cuts: tuple[date, date],
        new: bool,
        flanks: tuple[bool, bool],
        several_parks: bool,
    ) -> None:
        """Count one individual seen in the period.

        cuts are the birth dates that make a kitten and a subadult at the period's
        reference date (periods.age_cutoffs); flanks says which flanks the catalogue
        knows of it (left, right).
        """
        subadult_cut, adult_cut = cuts
        self.individuals += 1
        if birth is not None and birth <= self.period.reference_date:
            if birth > subadult_cut:
                self.kittens += 1
            elif birth > adult_cut:
                self.subadults += 1
            else:
                self.adults += 1
        if sex == "female":
            self.females += 1
        elif sex == "male":
            self.males += 1
        self.new += new
        left, right = flanks
        if left and not right:
            self.left_only += 1
        elif right and not left:
            self.right_only += 1
        self.several_parks += several_parks

    def finish(self, *, alive_unseen: int) -> "PeriodCounts":
        """Derive the figures that follow from the counted ones; return self."""
        n = self.individuals
        self.age_unknown = n - self.kittens - self.subadults - self.adults
        self.sex_unknown = n - self.females - self.males
        self.returning = n - self.new
        left, right = self.left_only, self.right_only
        self.minimum = n - left - right + max(left, right)
        self.known_alive = n + alive_unseen
        return self


@dataclass
class PeriodEffort:
    """Trap-nights and independent detections of one period."""

    period: Period
    trap_nights: int = 0
    stations_active: int = 0
    detections: int = 0
    # station id -> (trap-nights, independent detections, individuals)
    stations: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def rai(self) -> float | None:
        return 100 * self.detections / self.trap_nights if self.trap_nights else None


# ---------------------------------------------------------------------------
# Building blocks


def confirmed_sightings(park_ids: Iterable[int]) -> QuerySet[Sighting]:
    """Return the sightings that count: confirmed, with a photo time, in these parks."""
    return Sighting.objects.filter(
        status=CONFIRMED, taken_at__isnull=False, **{f"{_PARK}__in": list(park_ids)}
    )


def _zones(parks: Sequence[Park]) -> dict[str, list[int]]:
    zones: dict[str, list[int]] = defaultdict(list)
    for park in parks:
        zones[park.time_zone].append(park.pk)
    return dict(zones)


def _time_q(
    zones: dict[str, list[int]],
    bounds: Any,
    *,
    taken: str = _TAKEN,
    park: str = _PARK,
) -> Q:
    """OR over time zones of `bounds(zone)` lookups, each limited to that zone's parks.

    Local days differ between parks (Vladivostok is two hours ahead of Shanghai), so a
    landscape period is the union of each park's own local period.
    """
    combined = Q(pk__in=[])
    for name, park_ids in zones.items():
        part = bounds(ZoneInfo(name), taken)
        if len(zones) > 1:
            part &= Q(**{f"{park}__in": park_ids})
        combined |= part
    return combined


def period_q(period: Period, zones: dict[str, list[int]], **names: str) -> Q:
    """Match records taken within the period, in each park's local days."""

    def bounds(zone: ZoneInfo, taken: str) -> Q:
        start, end = period.bounds(zone)
        return Q(**{f"{taken}__gte": start, f"{taken}__lt": end})

    return _time_q(zones, bounds, **names)


def known_flanks(leopard_ids: Iterable[int]) -> dict[int, set[str]]:
    """Return the flanks (left, right) the catalogue's confirmed sightings show of each cat.

    Asked per individual, each flank an EXISTS that stops at its first sighting (the
    index on the individual's sightings): some 4,000 short probes for 2,000 cats, where
    reading every confirmed sighting of the cats took ten times as long at a million
    sightings, and an IN subquery in each row's aggregate, once PostgreSQL's set of
    every sighting of a flank outgrew its hash table, a scan per row (over a minute).
    """

    def shown(flank: str) -> Exists:
        return Exists(
            Sighting.objects.filter(leopard=OuterRef("pk"), status=CONFIRMED, flank=flank)
        )

    flanks: dict[int, set[str]] = {}
    for pk, left, right in (
        Leopard.objects.filter(pk__in=list(leopard_ids))
        .annotate(left=shown(Flank.LEFT), right=shown(Flank.RIGHT))
        .values_list("pk", "left", "right")
        .order_by()
    ):
        flanks[pk] = {flank for flank, known in ((Flank.LEFT, left), (Flank.RIGHT, right)) if known}
    return flanks


# ---------------------------------------------------------------------------
# Counts


def census_counts(*, parks: Sequence[Park], periods_: Sequence[Period]) -> list[PeriodCounts]:
    """Count distinct individuals per period for parks counted together.

    With several parks each individual counts once (the landscape total), and
    `several_parks` says how many of them were seen in more than one park.

    Four queries whose rows are bounded by individuals, not sightings: which periods
    each individual was seen in (from the sightings inside the periods' overall span
    only), the first and last sighting time of each individual in each park (whether
    it was seen before or after a period: one grouped pass, where every period used to
    add three conditional counts over every sighting), the flanks the catalogue knows
    of the individuals seen, and the individuals. Both passes read the time and place
    each sighting copies from its photo (leopards.photo_copy), so their cost grows with
    the confirmed sightings, not with the photo table (bench/README.md, "Live periods").
    """
    parks = list(parks)
    if not parks or not periods_:
        return [PeriodCounts(p) for p in periods_]
    zones = _zones(parks)
    several = len(parks) > 1
    first_day, last_day = periods.span(periods_)
    whole = periods.date_range(first_day, last_day)

    # Seen in each period: sightings inside the span, one row per individual.
    inside: dict[str, Any] = {}
    for i, period in enumerate(periods_):
        inside[f"in{i}"] = Count("pk", filter=period_q(period, zones))
        if several:
            inside[f"parks{i}"] = Count(_PARK, distinct=True, filter=period_q(period, zones))
    seen_in: dict[int, dict[str, int]] = {
        row["leopard_id"]: row
        for row in confirmed_sightings(p.pk for p in parks)
        .filter(period_q(whole, zones))
        .values("leopard_id")
        .annotate(**inside)
        .order_by()
        if row["leopard_id"] is not None
    }

    # Seen before or after a period: an individual's first and last sighting in each
    # park, compared with the period's bounds in that park's time zone (period_q's).
    zone_of = {park.pk: ZoneInfo(park.time_zone) for park in parks}
    spans: dict[int, list[tuple[datetime, datetime, ZoneInfo]]] = defaultdict(list)
    for leopard, park_id, first, last in (
        confirmed_sightings(zone_of)
        .values("leopard_id", _PARK)
        .annotate(first=Min(_TAKEN), last=Max(_TAKEN))
        .order_by()
        .values_list("leopard_id", _PARK, "first", "last")
    ):
        if leopard is not None:
            spans[leopard].append((first, last, zone_of[park_id]))

    flanks = known_flanks(seen_in)
    cats = {
        pk: (birth, sex)
        for pk, birth, sex in Leopard.objects.filter(pk__in=list(seen_in)).values_list(
            "pk", "birth_date", "sex"
        )
    }

    subadult_months = settings.AGE_CLASS_SUBADULT_FROM_MONTHS
    adult_months = settings.AGE_CLASS_ADULT_FROM_MONTHS
    results = []
    for i, period in enumerate(periods_):
        cuts = periods.age_cutoffs(period.reference_date, subadult_months, adult_months)
        bounds = {zone: period.bounds(zone) for zone in set(zone_of.values())}
        counts = PeriodCounts(period)
        alive_unseen = 0
        for leopard, where in spans.items():
            before = any(first < bounds[zone][0] for first, _last, zone in where)
            seen = seen_in.get(leopard, {}).get(f"in{i}", 0) > 0
            if not seen:
                if before and any(last >= bounds[zone][1] for _first, last, zone in where):
                    alive_unseen += 1
                continue
            birth, sex = cats[leopard]
            known = flanks.get(leopard, set())
            counts.add(
                birth=birth,
                sex=sex,
                cuts=cuts,
                new=not before,
                flanks=(Flank.LEFT in known, Flank.RIGHT in known),
                several_parks=several and seen_in[leopard][f"parks{i}"] > 1,
            )
        results.append(counts.finish(alive_unseen=alive_unseen))
    return results


# ---------------------------------------------------------------------------
# Effort and detections


def deployment_spans(
    parks: Sequence[Park], start: date | None = None, end: date | None = None
) -> list[effort.DeploymentSpan]:
    """Return the deployments of the parks (overlapping [start, end]) with malfunctions.

    Two queries whatever the size: deployments are thousands where photos are millions,
    so the interval arithmetic runs in Python (census.effort).
    """
    zones = {park.pk: park.tzinfo for park in parks}
    deployments = Deployment.objects.filter(station__park_id__in=list(zones))
    if start is not None:
        # A day of slack either side: local days differ from UTC ones.
        earliest = datetime.combine(start, time.min, tzinfo=UTC) - timedelta(days=1)
        deployments = deployments.filter(Q(end__isnull=True) | Q(end__gte=earliest))
    if end is not None:
        latest = datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=2)
        deployments = deployments.filter(start__lt=latest)
    rows = list(deployments.values_list("pk", "station_id", "station__park_id", "start", "end"))
    broken: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for deployment_id, first, last in MalfunctionPeriod.objects.filter(
        deployment_id__in=deployments.values("pk")
    ).values_list("deployment_id", "start", "end"):
        broken[deployment_id].append((first, last))
    return [
        effort.DeploymentSpan(
            station_id=station_id,
            start=first,
            end=last,
            zone=zones[park_id],
            malfunctions=tuple(broken.get(pk, ())),
        )
        for pk, station_id, park_id, first, last in rows
    ]


def independent_detections(
    *, parks: Sequence[Park], periods_: Sequence[Period], whole: bool = False
) -> dict[tuple[int, int], tuple[int, int]]:
    """Return (station id, period index) -> (independent detections, individuals).

    With `whole`, the periods must follow each other without a gap (as
    periods.split cuts them) and the index len(periods_) holds the figures of their
    whole span too, from the same records.

    A confirmed record of an individual at a station counts as a new detection when
    more than the independence interval has passed since the previous record of the
    same individual at the same station. This compares with the previous record, not
    the previous *counted* one (camtrapR's deltaTimeComparedTo = "lastRecord"): a cat
    that stays in front of a camera for two hours with a photo every ten minutes is one
    detection, not four. It is what a window function (LAG) computes in one pass in the
    database; the strict rule is sequential and would need a loop over every record.
    """
    if not parks or not periods_:
        return {}
    zones = _zones(parks)
    interval = timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)
    first_day, last_day = periods.span(periods_)
    # Records just before the first period still decide whether the first ones count.
    window_start = (
        min(Period(periods.RANGE, first_day, last_day, "").bounds(ZoneInfo(z))[0] for z in zones)
        - interval
    )
    window_end = max(
        Period(periods.RANGE, first_day, last_day, "").bounds(ZoneInfo(z))[1] for z in zones
    )
    which_period = _which_period(periods_, zones)
    previous = Window(
        Lag(_TAKEN),
        partition_by=[F("leopard_id"), F(_STATION)],
        order_by=[F(_TAKEN).asc(), F("pk").asc()],
    )
    records = (
        confirmed_sightings(p.pk for p in parks)
        .filter(**{f"{_TAKEN}__gte": window_start, f"{_TAKEN}__lt": window_end})
        .annotate(
            station=F(_STATION),
            period=which_period,
            # No previous record: an infinitely long gap.
            gap=Coalesce(
                ExpressionWrapper(F(_TAKEN) - previous, output_field=DurationField()),
                Value(timedelta(days=36_500)),
                output_field=DurationField(),
            ),
        )
        .filter(gap__gt=interval)
        .values("station", "period", "leopard_id")
        .order_by()
    )
    # Django filters on a window in a wrapping query but cannot group on top of it,
    # so the grouping wraps the compiled query; the inner SQL stays Django's, per backend.
    sql, params = records.query.sql_with_params()
    query = (
        "SELECT d.station, d.period, COUNT(*), COUNT(DISTINCT d.leopard_id) "
        "FROM d WHERE d.period >= 0 GROUP BY d.station, d.period"
    )
    if whole:
        _require_contiguous(periods_)
        # Every record of the span falls in exactly one of the periods.
        query += (
            f" UNION ALL SELECT d.station, {len(periods_)}, COUNT(*), "
            "COUNT(DISTINCT d.leopard_id) FROM d WHERE d.period >= 0 GROUP BY d.station"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"WITH d AS ({sql}) {query}", params)
        return {(station, period): (n, k) for station, period, n, k in cursor.fetchall()}


def _require_contiguous(periods_: Sequence[Period]) -> None:
    for previous, following in pairwise(periods_):
        if following.start != previous.end + timedelta(days=1):
            raise ValueError("the periods leave a gap or overlap")


def _effort_per_station(
    parks: Sequence[Park], periods_: Sequence[Period], now: datetime | None
) -> tuple[dict[int, effort.DayRanges], dict[tuple[int, int], tuple[int, int]]]:
    first_day, last_day = periods.span(periods_)
    nights = effort.station_nights(
        deployment_spans(parks, first_day, last_day), now or timezone.now()
    )
    return nights, independent_detections(parks=parks, periods_=periods_)


def _station_figures(
    periods_: Sequence[Period],
    nights: dict[int, effort.DayRanges],
    detections: dict[tuple[int, int], tuple[int, int]],
) -> list[dict[int, tuple[int, int, int]]]:
    """Return per period: station id -> (nights, detections, individuals).

    Each station's nights are counted once per period here, then only summed for its
    park and for the landscape: the counting is the costly part (thousands of stations
    times their deployments), the sums are one pass over these figures.
    """
    bounds = [(period.start.toordinal(), period.end.toordinal()) for period in periods_]
    figures: list[dict[int, tuple[int, int, int]]] = [{} for _ in periods_]
    for station_id, ranges in nights.items():
        for i, station_nights in enumerate(effort.nights_per_period(ranges, bounds)):
            if station_nights:
                figures[i][station_id] = (station_nights, 0, 0)
    for (station_id, i), (found, individuals) in detections.items():
        station_nights = figures[i].get(station_id, (0, 0, 0))[0]
        if station_nights or found:
            figures[i][station_id] = (station_nights, found, individuals)
    return figures


def _sum_effort(period: Period, stations: dict[int, tuple[int, int, int]]) -> PeriodEffort:
    """Add up one period's station figures, kept in station order."""
    result = PeriodEffort(period)
    result.stations = dict(sorted(stations.items()))
    result.trap_nights = sum(n for n, _d, _k in result.stations.values())
    result.stations_active = sum(1 for n, _d, _k in result.stations.values() if n)
    result.detections = sum(d for _n, d, _k in result.stations.values())
    return result


def census_effort(
    *, parks: Sequence[Park], periods_: Sequence[Period], now: datetime | None = None
) -> list[PeriodEffort]:
    """Return trap-nights, independent detections and per-station figures per period."""
    parks = list(parks)
    if not parks or not periods_:
        return [PeriodEffort(p) for p in periods_]
    figures = _station_figures(periods_, *_effort_per_station(parks, periods_, now))
    return [_sum_effort(period, figures[i]) for i, period in enumerate(periods_)]


def census_effort_split(
    *, parks: Sequence[Park], parts: Sequence[Period], now: datetime | None = None
) -> tuple[list[PeriodEffort], PeriodEffort]:
    """Return the effort of consecutive periods and of their whole span, in one pass.

    As census_effort for the parts and for periods.date_range over them; the records
    are read once for both.
    """
    parks = list(parks)
    first_day, last_day = periods.span(parts)
    whole = periods.date_range(first_day, last_day)
    if not parks or not parts:
        return [PeriodEffort(p) for p in parts], PeriodEffort(whole)
    nights = effort.station_nights(
        deployment_spans(parks, first_day, last_day), now or timezone.now()
    )
    detections = independent_detections(parks=parks, periods_=parts, whole=True)
    figures = _station_figures([*parts, whole], nights, detections)
    efforts = [_sum_effort(period, figures[i]) for i, period in enumerate([*parts, whole])]
    return efforts[:-1], efforts[-1]


def census_effort_by_park(
    *, parks: Sequence[Park], periods_: Sequence[Period], now: datetime | None = None
) -> dict[int | None, list[PeriodEffort]]:
    """Return each park's effort per period, and all parks together under None.

    Stations belong to one park each, so one pass over the parks' deployments and one
    detection query serve every park and their sum, and each station's figures are
    counted once and added to its park's and to the landscape's.
    """
    parks = list(parks)
    if not parks or not periods_:
        return {None: [PeriodEffort(p) for p in periods_]}
    figures = _station_figures(periods_, *_effort_per_station(parks, periods_, now))
    return effort_per_park(parks, periods_, figures)


def effort_per_park(
    parks: Sequence[Park],
    periods_: Sequence[Period],
    figures: list[dict[int, tuple[int, int, int]]],
) -> dict[int | None, list[PeriodEffort]]:
    """Add each station's figures of each period to its park's and to the landscape's."""
    park_of = dict(Station.objects.filter(park__in=parks).values_list("pk", "park_id"))
    result: dict[int | None, list[PeriodEffort]] = {park.pk: [] for park in parks}
    for i, period in enumerate(periods_):
        per_park: dict[int, dict[int, tuple[int, int, int]]] = {park.pk: {} for park in parks}
        for station_id, values in figures[i].items():
            per_park[park_of[station_id]][station_id] = values
        for park_id, stations in per_park.items():
            result[park_id].append(_sum_effort(period, stations))
    result[None] = [_sum_effort(period, figures[i]) for i, period in enumerate(periods_)]
    return result


# ---------------------------------------------------------------------------
# Individuals


def individuals_seen(*, parks: Sequence[Park], period: Period) -> list[dict[str, Any]]:
    """Return one row per individual seen in the period, with its figures there."""
    return individuals_by_period(parks=parks, periods_=[period])[0]


def _in_park_time(transform, output_field, zones: dict[str, list[int]]):
    """A sighting's time through transform (its day, its year) in its park's time zone."""
    if len(zones) == 1:
        (zone,) = zones
        return transform(_TAKEN, tzinfo=ZoneInfo(zone))
    return Case(
        *(
            When(**{f"{_PARK}__in": ids}, then=transform(_TAKEN, tzinfo=ZoneInfo(zone)))
            for zone, ids in zones.items()
        ),
        output_field=output_field,
    )


def _local_day(zones: dict[str, list[int]]) -> Case | TruncDate:
    """The day a sighting was taken on, in its park's time zone."""
    return _in_park_time(TruncDate, DateField(), zones)


def _which_period(periods_: Sequence[Period], zones: dict[str, list[int]]) -> Case:
    return Case(
        *(When(period_q(p, zones), then=Value(i)) for i, p in enumerate(periods_)),
        default=Value(-1),
        output_field=IntegerField(),
    )


def individuals_by_period(
    *, parks: Sequence[Park], periods_: Sequence[Period]
) -> list[list[dict[str, Any]]]:
    """Return, per period, one row per individual seen in it (one query for all periods)."""
    tables: list[list[dict[str, Any]]] = [[] for _ in periods_]
    for _park, index, row in _individual_rows(parks, periods_, by_park=False):
        tables[index].append(row)
    return tables


def individuals_by_park(
    *, parks: Sequence[Park], periods_: Sequence[Period]
) -> dict[int, list[list[dict[str, Any]]]]:
    """Return, per park and period, one row per individual seen there (one query)."""
    tables: dict[int, list[list[dict[str, Any]]]] = {
        park.pk: [[] for _ in periods_] for park in parks
    }
    for park_id, index, row in _individual_rows(parks, periods_, by_park=True):
        tables[park_id][index].append(row)
    return tables


def _individual_rows(
    parks: Sequence[Park], periods_: Sequence[Period], *, by_park: bool
) -> Iterable[tuple[int | None, int, dict[str, Any]]]:
    parks = list(parks)
    if not parks or not periods_:
        return
    zones = _zones(parks)
    zone_of = {park.pk: park.time_zone for park in parks}
    first_day, last_day = periods.span(periods_)
    rows = (
        confirmed_sightings(p.pk for p in parks)
        .filter(period_q(periods.date_range(first_day, last_day), zones))
        .annotate(period=_which_period(periods_, zones))
        .values(
            "period",
            *([_PARK] if by_park else []),
            "leopard_id",
            "leopard__code",
            "leopard__name",
            "leopard__sex",
            "leopard__birth_date",
        )
        .annotate(
            # Local dates, as the sightings themselves are shown: a photo taken at 23:30
            # in Vladivostok is on that day there, not on the UTC day before or after.
            first_seen=Min(_local_day(zones)),
            last_seen=Max(_local_day(zones)),
            one_park=Min(_PARK),
            sightings=Count("pk"),
            stations=Count(_STATION, distinct=True),
            parks=Count(_PARK, distinct=True),
        )
        .order_by("period", "leopard__code", *([_PARK] if by_park else []))
    )
    rows = [row for row in rows if row["period"] >= 0]
    known = known_flanks({row["leopard_id"] for row in rows})
    for row in rows:
        period = periods_[row["period"]]
        has_left = Flank.LEFT in known.get(row["leopard_id"], ())
        has_right = Flank.RIGHT in known.get(row["leopard_id"], ())
        if has_left and not has_right:
            flanks = "left"
        elif has_right and not has_left:
            flanks = "right"
        else:
            flanks = "both"
        birth = row["leopard__birth_date"]
        yield (
            row[_PARK] if by_park else None,
            row["period"],
            {
                "id": row["leopard_id"],
                "code": row["leopard__code"],
                "name": row["leopard__name"],
                "sex": row["leopard__sex"],
                "birth_date": birth.isoformat() if birth else None,
                "age_class": str(age_class_at(birth, period.reference_date)),
                "flanks": flanks,
                "first_seen": row["first_seen"].isoformat(),
                "last_seen": row["last_seen"].isoformat(),
                "time_zone": _row_zone(zone_of, row["one_park"], row["parks"]),
                "sightings": row["sightings"],
                "stations": row["stations"],
                "parks": row["parks"],
            },
        )


def _row_zone(zone_of: dict[int, str], one_park: int, park_count: int) -> str:
    """Name the time zone of an individual's first and last seen dates.

    Seen in one park, or in parks that share a zone: that zone. An individual that
    crossed between zones has each date in its own park's zone: both are named.
    """
    if park_count == 1 or len(set(zone_of.values())) == 1:
        return zone_of[one_park]
    return " / ".join(sorted(set(zone_of.values())))


# ---------------------------------------------------------------------------
# Capture histories


@dataclass
class RegistryHistories:
    """Capture histories of identified individuals built from the registry."""

    park: Park
    start: date
    end: date
    occasion_days: int
    occasions: list[tuple[date, date]]
    leopard_ids: list[int]
    codes: list[str]
    sexes: list[str]
    matrix: list[list[int]]
    # (leopard index, occasion index, station id): every detection, for secr.
    detections: list[tuple[int, int, int]]
    station_codes: dict[int, str]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("park")
        data["park"] = self.park.code
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        data["occasions"] = [[a.isoformat(), b.isoformat()] for a, b in self.occasions]
        return data


def occasions_between(start: date, end: date, occasion_days: int) -> list[tuple[date, date]]:
    """Cut [start, end] into occasions of `occasion_days` days; the last may be shorter."""
    if occasion_days < 1:
        raise ValueError("an occasion lasts at least one day")
    if end < start:
        raise ValueError("the survey ends before it starts")
    occasions = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=occasion_days - 1))
        occasions.append((cursor, last))
        cursor = last + timedelta(days=1)
    return occasions


def registry_capture_histories(
    *, park: Park, start: date, end: date, occasion_days: int
) -> RegistryHistories:
    """Build 0/1 capture histories (individual x occasion) for a park and survey."""
    occasions = occasions_between(start, end, occasion_days)
    zone = park.tzinfo
    period = periods.date_range(start, end)
    rows = (
        confirmed_sightings([park.pk])
        .filter(period_q(period, {park.time_zone: [park.pk]}))
        .annotate(day=TruncDate(_TAKEN, tzinfo=zone))
        .values("leopard_id", "leopard__code", "leopard__sex", _STATION, "day")
        .distinct()
        .order_by("leopard__code", "day")
    )
    index: dict[int, int] = {}
    codes: list[str] = []
    sexes: list[str] = []
    ids: list[int] = []
    detections: list[tuple[int, int, int]] = []
    for row in rows:
        leopard = row["leopard_id"]
        if leopard not in index:
            index[leopard] = len(ids)
            ids.append(leopard)
            codes.append(row["leopard__code"])
            sexes.append(row["leopard__sex"])
        occasion = (row["day"] - start).days // occasion_days
        detections.append((index[leopard], occasion, row[_STATION]))
    matrix = [[0] * len(occasions) for _ in ids]
    for animal, occasion, _station in detections:
        matrix[animal][occasion] = 1
    station_codes = dict(
        Station.objects.filter(park=park).values_list("pk", "code").order_by("code")
    )
    return RegistryHistories(
        park=park,
        start=start,
        end=end,
        occasion_days=occasion_days,
        occasions=occasions,
        leopard_ids=ids,
        codes=codes,
        sexes=sexes,
        matrix=matrix,
        detections=sorted(set(detections)),
        station_codes=station_codes,
    )


def latest_density(park: Park) -> DensityRun | None:
    """Return the park's latest density fit that gave an estimate, or None."""
    return (
        DensityRun.objects.filter(
            park=park, status=DensityRun.Status.DONE, density_per_100km2__isnull=False
        )
        .order_by("-finished_at", "-pk")
        .first()
    )


def latest_sighting_day(park: Park) -> date | None:
    """Return the local date of the park's latest confirmed sighting, or None."""
    latest = confirmed_sightings([park.pk]).aggregate(latest=Max(_TAKEN))["latest"]
    return latest.astimezone(park.tzinfo).date() if latest else None


def station_usage(
    *, park: Park, occasions: Sequence[tuple[date, date]], now: datetime | None = None
) -> dict[int, list[int]]:
    """Return station id -> trap-nights per occasion, from the park's deployments."""
    if not occasions:
        return {}
    nights = effort.station_nights(
        deployment_spans([park], occasions[0][0], occasions[-1][1]), now or timezone.now()
    )
    return {
        station: [effort.nights_in(ranges, first, last) for first, last in occasions]
        for station, ranges in nights.items()
    }


def survey_usage(
    histories: RegistryHistories, *, now: datetime | None = None
) -> tuple[dict[int, list[int]], int]:
    """Return station id -> trap-nights per occasion of a survey, and how many were raised.

    A photo proves the camera worked that occasion even if its deployment record says
    otherwise (a late start entered by hand, say): secr rejects detections at detectors
    with zero usage, and the photo is the better evidence, so such occasions count one
    night.
    """
    usage = station_usage(park=histories.park, occasions=histories.occasions, now=now)
    raised = 0
    for _animal, occasion, station_id in histories.detections:
        row = usage.setdefault(station_id, [0] * len(histories.occasions))
        if row[occasion] < 1:
            row[occasion] = 1
            raised += 1
    return usage, raised


@dataclass
class YearlyHistories:
    """Yearly detection histories (1 = seen that year as an adult) of a park's adults."""

    park: Park
    years: list[int]
    codes: list[str]
    matrix: list[list[int]]
    # Individuals seen in the years but never as a known adult (kittens, subadults, or
    # no birth date): left out, and counted so that a page can say so.
    excluded_unknown_age: int
    excluded_young: int


def yearly_adult_histories(*, park: Park, first_year: int, last_year: int) -> YearlyHistories:
    """Build 0/1 yearly histories of the individuals seen as adults in a park.

    A year counts for an individual when it was seen in the park that (local) year and
    was an adult on 31 December of it (age from its birth date, as the counts). One
    query; rows are bounded by individuals x years.
    """
    if last_year < first_year:
        raise ValueError("the last year comes before the first")
    years = list(range(first_year, last_year + 1))
    period = periods.date_range(date(first_year, 1, 1), date(last_year, 12, 31))
    rows = (
        confirmed_sightings([park.pk])
        .filter(period_q(period, {park.time_zone: [park.pk]}))
        .annotate(year=ExtractYear(_TAKEN, tzinfo=park.tzinfo))
        .values_list("leopard_id", "leopard__code", "leopard__birth_date", "year")
        .distinct()
        .order_by("leopard__code", "year")
    )
    adult_months = settings.AGE_CLASS_ADULT_FROM_MONTHS
    subadult_months = settings.AGE_CLASS_SUBADULT_FROM_MONTHS
    seen: dict[int, tuple[str, set[int]]] = {}
    unknown, young = set(), set()
    for leopard, code, birth, year in rows:
        _subadult_cut, adult_cut = periods.age_cutoffs(
            date(year, 12, 31), subadult_months, adult_months
        )
        if birth is None:
            unknown.add(leopard)
        elif birth <= adult_cut:
            seen.setdefault(leopard, (code, set()))[1].add(year)
        else:
            young.add(leopard)
    adults = sorted(seen.values())
    return YearlyHistories(
        park=park,
        years=years,
        codes=[code for code, _years in adults],
        matrix=[[int(y in seen_years) for y in years] for _code, seen_years in adults],
        excluded_unknown_age=len(unknown - set(seen)),
        excluded_young=len(young - set(seen)),
    )


def age_class_labels() -> dict[str, str]:
    """Return the age classes with their translated names."""
    return {choice.value: str(choice.label) for choice in AgeClass}


def census_results_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[CensusResult]:
    """Return the stored census results the user may read, with their park loaded.

    The stored landscape rows count every park, so only those who see every park
    (admins) get them; everyone else reads the rows of their own parks.
    """
    if not has_permission(user, roles.CENSUS):
        return CensusResult.objects.none()
    parks = parks_for_user(user)
    mine = Q(park__in=parks)
    if has_permission(user, roles.EVERY_PARK):
        mine |= Q(park__isnull=True)
    return CensusResult.objects.filter(mine).select_related("park")


def density_runs_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[DensityRun]:
    """Return the density fits of the parks the user may see, newest first."""
    return (
        DensityRun.objects.filter(park__in=parks_for_user(user))
        .select_related("park")
        .defer("park__boundary")
        .order_by("-created_at", "-pk")
    )
