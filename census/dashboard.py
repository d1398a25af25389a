"""Reads for the census pages: stored yearly figures, live periods, the station map.

Yearly figures come from `CensusResult` rows (census.services.census_rebuild), so a page
costs the same handful of queries however many photos lie behind it. Seasons, months
and free date ranges are computed live by census.selectors, which are database
aggregations with a fixed number of queries too. A year page is the same for everyone
who sees the same parks, so it is cached under those parks' census version.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.privacy import generalise
from census import estimate_text, periods
from census.models import CensusResult
from census.periods import Period
from census.selectors import (
    PeriodCounts,
    PeriodEffort,
    census_counts,
    census_effort,
    census_effort_split,
    individuals_by_period,
    yearly_adult_histories,
)
from census.survival import cjs
from leopards.models import AgeClass, Sex
from traps.models import Park, Station
from traps.selectors import parks_for_user

# At most this long a cached year page outlives what it was computed from; the key
# changes with the census version anyway, so this only bounds the live landscape of
# someone who sees some parks (its figures come from sightings, not stored rows).
DASHBOARD_CACHE_SECONDS = 600

FIGURE_FIELDS = (
    "individuals",
    "adults",
    "subadults",
    "kittens",
    "age_unknown",
    "females",
    "males",
    "sex_unknown",
    "new",
    "returning",
    "left_only",
    "right_only",
    "minimum",
    "known_alive",
    "several_parks",
    "trap_nights",
    "stations_active",
    "detections",
)


@dataclass
class Scope:
    """The parks a census page covers, and whether stored rows answer for them."""

    park: Park | None  # None: the landscape of the user's parks
    parks: list[Park]
    stored: bool
    available: list[Park]  # every park the user may see, for switching

    @property
    def code(self) -> str | None:
        return self.park.code if self.park else None


def census_scope(user: AbstractBaseUser | AnonymousUser, park_code: str | None) -> Scope | None:
    """Return the scope of a census page, or None when the user may not see the park."""
    parks = list(parks_for_user(user).order_by("name"))
    if park_code is not None:
        park = next((p for p in parks if p.code == park_code), None)
        if park is None:
            return None
        return Scope(park=park, parks=[park], stored=True, available=parks)
    # The stored landscape counts every park; someone who sees only some parks gets
    # their landscape computed live, so no figure leaks from parks they cannot see.
    everything = len(parks) == Park.objects.count()
    return Scope(park=None, parks=parks, stored=everything and bool(parks), available=parks)


def _figures(period: Period, counts: PeriodCounts, effort: PeriodEffort) -> dict[str, Any]:
    data = {name: getattr(counts, name, None) for name in FIGURE_FIELDS}
    data.update(
        trap_nights=effort.trap_nights,
        stations_active=effort.stations_active,
        detections=effort.detections,
    )
    return _finish(data, period)


def _finish(data: dict[str, Any], period: Period) -> dict[str, Any]:
    data.update(
        label=period.label,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        reference_date=period.reference_date.isoformat(),
        maximum=data["individuals"],
        rai=round(100 * data["detections"] / data["trap_nights"], 2)
        if data["trap_nights"]
        else None,
    )
    return data


def _stored_figures(row: CensusResult) -> dict[str, Any]:
    return _finish({name: getattr(row, name) for name in FIGURE_FIELDS}, periods.year(row.year))


def _live(
    parks: Sequence[Park], periods_: Sequence[Period], *, details: bool
) -> tuple[list[dict[str, Any]], list[list[Any]], list[dict[str, Any]]]:
    """Compute figures per period; with details, the last period's stations and cats."""
    counts = census_counts(parks=parks, periods_=periods_)
    efforts = census_effort(parks=parks, periods_=periods_)
    figures = [_figures(p, c, e) for p, c, e in zip(periods_, counts, efforts, strict=True)]
    stations: list[list[Any]] = []
    individuals: list[dict[str, Any]] = []
    if details and periods_:
        stations = [[sid, *values] for sid, values in efforts[-1].stations.items()]
        individuals = individuals_by_period(parks=parks, periods_=[periods_[-1]])[0]
    return figures, stations, individuals


def _live_split(
    parks: Sequence[Park], parts: Sequence[Period], whole: Period
) -> tuple[list[dict[str, Any]], dict[str, Any], list[list[Any]], list[dict[str, Any]]]:
    """Compute the figures of each part and of the whole range, its stations and cats.

    The counts and the effort of the parts and of the whole come from one call each,
    so the sightings are read once for both.
    """
    counts = census_counts(parks=parks, periods_=[*parts, whole])
    efforts, whole_effort = census_effort_split(parks=parks, parts=parts)
    figures = [_figures(p, c, e) for p, c, e in zip(parts, counts[:-1], efforts, strict=True)]
    stations = [[sid, *values] for sid, values in whole_effort.stations.items()]
    individuals = individuals_by_period(parks=parks, periods_=[whole])[0]
    return figures, _figures(whole, counts[-1], whole_effort), stations, individuals


def yearly_series(scope: Scope) -> list[dict[str, Any]]:
    """Return the figures of every year for the scope, oldest first."""
    if scope.stored:
        rows = (
            CensusResult.objects.filter(park=scope.park)
            .defer("stations", "individual_rows")
            .order_by("year")
        )
        return [_stored_figures(row) for row in rows]
    if not scope.parks:
        return []
    years = sorted(
        set(CensusResult.objects.filter(park__in=scope.parks).values_list("year", flat=True))
    )
    if not years:
        return []
    figures, _stations, _individuals = _live(
        scope.parks, periods.years(years[0], years[-1]), details=False
    )
    return figures


def _selected_stored(scope: Scope, year: int) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    row = (
        CensusResult.objects.filter(park=scope.park, year=year)
        .only("stations", "individual_rows")
        .first()
    )
    if row is None:
        return [], []
    return row.stations, row.individual_rows


def station_points(scope: Scope, stations: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Return map points: the 0.1 degree cells that hold the scope's stations.

    A census map is an aggregate view, so it is generalised for everyone, exact-rights
    members included (issue 8): detections and individuals at exact positions are what
    a poacher would want. Stations are merged per cell with their figures summed, so
    the map never hints at where inside a cell a camera stands.
    """
    figures = {int(row[0]): row[1:] for row in stations}
    cells: dict[tuple[float, float], dict[str, Any]] = {}
    for station_id, latitude, longitude in Station.objects.filter(
        park__in=[park.pk for park in scope.parks]
    ).values_list("pk", "latitude", "longitude"):
        nights, detections, _individuals = figures.get(station_id, (0, 0, 0))
        cell = generalise(latitude, longitude)
        point = cells.setdefault(
            (cell.latitude, cell.longitude),
            {
                "label": _("0.1° grid cell"),
                "lat": cell.latitude,
                "lon": cell.longitude,
                "precision": cell.precision,
                "stations": 0,
                "trap_nights": 0,
                "detections": 0,
                # Distinct individuals do not add up across stations.
                "individuals": None,
                "exact": False,
            },
        )
        point["stations"] += 1
        point["trap_nights"] += nights
        point["detections"] += detections
    return sorted(cells.values(), key=lambda p: (p["lat"], p["lon"]))


def census_version(scope: Scope) -> tuple[Any, ...]:
    """Return a fingerprint of the stored figures and the stations behind a scope's pages.

    Every census rebuild rewrites its rows (a new `computed_at`) and every station
    change leaves a history row, so the fingerprint changes whenever a year page would.
    """
    ids = [park.pk for park in scope.parks]
    if not ids:
        return ()
    # The landscape rows are rewritten with every park's, so they count for every scope.
    stored = CensusResult.objects.filter(Q(park__in=ids) | Q(park__isnull=True))
    stations = Station.history.filter(park_id__in=ids)
    # One round trip for both: this runs on every view of a census page.
    parts, params = [], []
    for i, (rows, column) in enumerate(((stored, "computed_at"), (stations, "history_date"))):
        sql, values = rows.order_by().values(column).query.sql_with_params()
        parts.append(f"SELECT {i}, COUNT(*), MAX(v.{column}) FROM ({sql}) v")
        params.extend(values)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return tuple(value for row in sorted(cursor.fetchall()) for value in row)


def _cache_key(scope: Scope, filters: dict[str, Any], today: date) -> str:
    parts = (
        get_language(),
        [park.pk for park in scope.parks],
        scope.code,
        scope.stored,
        sorted((name, str(value)) for name, value in filters.items()),
        today,
        census_version(scope),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"census:dashboard:{digest}"


def dashboard(*, scope: Scope, filters: dict[str, Any], today: date) -> dict[str, Any]:
    """Return everything the census page shows for a scope and period filters.

    Nothing in it depends on who asks beyond the scope (the map is generalised for
    all), so year pages are cached under the scope's census version: a page view then
    costs two small queries instead of reading and reshaping the stored rows.
    Seasons, months and free ranges are live and computed every time.
    """
    key = None
    if (filters.get("period") or periods.YEAR) == periods.YEAR:
        key = _cache_key(scope, filters, today)
        body = cache.get(key)
        if body is None:
            body = _dashboard_body(scope=scope, filters=filters, today=today)
            cache.set(key, body, DASHBOARD_CACHE_SECONDS)
    else:
        body = _dashboard_body(scope=scope, filters=filters, today=today)
    return {
        **body,
        # None for live periods: nothing of their page may be served from a cache.
        "cache_key": key,
        "scope": scope,
        "user_parks": scope.available,
        "map": {
            "boundaries": [p.boundary for p in scope.parks if p.boundary],
            "points": body["points"],
        },
    }


# Survival is fitted on at most this many years up to the page's year.
SURVIVAL_YEARS = 10


def park_survival(park: Park, year: int) -> dict[str, Any]:
    """Return apparent annual survival of the park's adults up to `year` (CJS phi(.)p(.))."""
    first = year - SURVIVAL_YEARS + 1
    histories = yearly_adult_histories(park=park, first_year=first, last_year=year)
    # Start at the first year with an adult seen: empty leading years add nothing.
    columns = [any(row[i] for row in histories.matrix) for i in range(len(histories.years))]
    offset = columns.index(True) if any(columns) else 0
    years = histories.years[offset:]
    matrix = [row[offset:] for row in histories.matrix]
    fit = cjs(np.array(matrix, dtype=int).reshape(len(matrix), len(years)))
    return {
        "first_year": years[0] if years else year,
        "last_year": year,
        "adults": len(histories.codes),
        "phi": fit.phi[0].to_dict() if fit.ok else None,
        "p": fit.p[0].to_dict() if fit.ok else None,
        "first_seen": list(zip(years, fit.first_seen, strict=False)) if fit.ok else [],
        "reason": estimate_text.survival_reason(fit.reason_code, fit.reason_params),
    }


def _dashboard_body(*, scope: Scope, filters: dict[str, Any], today: date) -> dict[str, Any]:
    series = yearly_series(scope)
    years = [int(row["label"]) for row in series]
    # Default: the latest year in which any individual was seen (a running camera
    # gives the new year effort long before its first confirmed sighting).
    seen_years = [int(row["label"]) for row in series if row["individuals"]] or years
    year = filters.get("year") or max(
        (y for y in seen_years if y <= today.year), default=today.year
    )
    kind = filters.get("period") or periods.YEAR
    start = filters.get("start") or date(year, 1, 1)
    end = filters.get("end") or date(year, 12, 31)
    by_year = {int(row["label"]): row for row in series}

    if kind == periods.YEAR:
        current = by_year.get(year)
        previous = by_year.get(year - 1)
        table = series
        if scope.stored:
            stations, individuals = _selected_stored(scope, year)
        else:
            _f, stations, individuals = _live(scope.parks, [periods.year(year)], details=True)
        title = str(year)
    else:
        whole = periods.date_range(start, end)
        table, current, stations, individuals = _live_split(
            scope.parks, periods.split(kind, start, end), whole
        )
        previous = None
        title = whole.label

    age_labels = {c.value: str(c.label) for c in AgeClass}
    sex_labels = {c.value: str(c.label) for c in Sex}
    flank_labels = {
        "both": _("both flanks"),
        "left": _("left flank only"),
        "right": _("right flank only"),
    }
    for row in individuals:
        row["age_label"] = age_labels.get(row["age_class"], row["age_class"])
        row["sex_label"] = sex_labels.get(row["sex"], row["sex"])
        row["flank_label"] = flank_labels[row["flanks"]]

    changes = {}
    if current and previous:
        changes = {
            name: current[name] - previous[name]
            for name in ("individuals", "adults", "subadults", "kittens")
        }
    return {
        "survival": park_survival(scope.park, year) if scope.park else None,
        "points": station_points(scope, stations),
        "series": series,
        "years": years,
        "year": year,
        "kind": kind,
        "start": start,
        "end": end,
        "title": title,
        "current": current,
        "previous": previous,
        "changes": changes,
        "table": table,
        "individuals": individuals,
        "chart": {
            "labels": [row["label"] for row in series],
            "adults": [row["adults"] for row in series],
            "subadults": [row["subadults"] for row in series],
            "kittens": [row["kittens"] for row in series],
            "age_unknown": [row["age_unknown"] for row in series],
            "trap_nights": [row["trap_nights"] for row in series],
            "rai": [row["rai"] for row in series],
            "text": {
                "adults": _("Adults"),
                "subadults": _("Subadults"),
                "kittens": _("Kittens"),
                "age_unknown": _("Age unknown"),
                "trap_nights": _("Trap-nights"),
                "rai": _("Detections per 100 trap-nights"),
                "stations": _("stations"),
                "detections": _("independent detections"),
                "individuals": _("individuals"),
            },
        },
    }
