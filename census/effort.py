"""Trap-nights from deployments: interval arithmetic on local dates, no database.

A trap-night belongs to the local date on whose evening it starts. A camera worked the
night of date d when it was running at the midnight that ends it (d + 1, 00:00 local):
a camera set up at noon on 1 March and taken down at noon on 3 March worked the nights
of 1 and 2 March, two trap-nights. Malfunction days (inclusive dates) remove the nights
of those dates. Two cameras at one station do not double its effort: the station is the
trap, so the nights of its deployments are united, not added.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

# Closed ranges of day ordinals: (first, last), first <= last.
DayRanges = list[tuple[int, int]]


@dataclass(frozen=True)
class DeploymentSpan:
    """What effort needs of a deployment: when it ran and when it did not work."""

    station_id: int
    start: datetime
    end: datetime | None
    zone: tzinfo
    malfunctions: Sequence[tuple[date, date]] = ()


def night_range(start: datetime, end: datetime, zone: tzinfo) -> tuple[int, int] | None:
    """Return the ordinals of the first and last night a camera ran, or None."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    # First night: the date whose following midnight comes after the start.
    first = local_start.date()
    # Last night: the date whose following midnight is at or before the end.
    last = local_end.date() - timedelta(days=1)
    if last < first:
        return None
    return first.toordinal(), last.toordinal()


def merge(ranges: Iterable[tuple[int, int]]) -> DayRanges:
    """Unite overlapping or touching day ranges."""
    merged: DayRanges = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def subtract(ranges: DayRanges, holes: DayRanges) -> DayRanges:
    """Remove the days of `holes` from merged `ranges`."""
    result: DayRanges = []
    for first, last in ranges:
        cursor = first
        for hole_first, hole_last in holes:
            if hole_last < cursor or hole_first > last:
                continue
            if hole_first > cursor:
                result.append((cursor, hole_first - 1))
            cursor = max(cursor, hole_last + 1)
            if cursor > last:
                break
        if cursor <= last:
            result.append((cursor, last))
    return result


def overlap(ranges: DayRanges, first: int, last: int) -> int:
    """Count the days of merged `ranges` that fall in [first, last]."""
    return sum(
        max(0, min(last, range_last) - max(first, range_first) + 1)
        for range_first, range_last in ranges
    )


def working_nights(span: DeploymentSpan, now: datetime) -> DayRanges:
    """Return the nights a deployment worked: its run minus its malfunction days."""
    nights = night_range(span.start, span.end or now, span.zone)
    if nights is None:
        return []
    broken = merge((a.toordinal(), b.toordinal()) for a, b in span.malfunctions)
    return subtract([nights], broken)


def station_nights(spans: Iterable[DeploymentSpan], now: datetime) -> dict[int, DayRanges]:
    """Return each station's working nights, united over its deployments."""
    per_station: dict[int, list[tuple[int, int]]] = {}
    for span in spans:
        per_station.setdefault(span.station_id, []).extend(working_nights(span, now))
    return {station: merge(ranges) for station, ranges in per_station.items()}


def nights_in(ranges: DayRanges, start: date, end: date) -> int:
    """Count the working nights of a station between two dates, both included."""
    return overlap(ranges, start.toordinal(), end.toordinal())


def nights_per_period(ranges: DayRanges, bounds: Sequence[tuple[int, int]]) -> list[int]:
    """Count a station's working nights in each of several periods (ordinal bounds).

    The same as `overlap` per period, without walking every range for each one: merged
    ranges are sorted and disjoint, so a bisection finds the ranges a period touches and
    running totals of their lengths add them up; only the two end ranges are clipped.
    A station's ten years of deployments in each of ten years cost a few bisections.
    """
    if not ranges:
        return [0] * len(bounds)
    firsts = [first for first, _last in ranges]
    lasts = [last for _first, last in ranges]
    totals = [0]
    for first, last in ranges:
        totals.append(totals[-1] + last - first + 1)
    counts = []
    for start, end in bounds:
        # Ranges [lo, hi) end on or after the start and begin on or before the end.
        lo, hi = bisect_left(lasts, start), bisect_right(firsts, end)
        if lo >= hi:
            counts.append(0)
            continue
        n = totals[hi] - totals[lo]
        n -= max(0, start - firsts[lo])
        n -= max(0, lasts[hi - 1] - end)
        counts.append(n)
    return counts
