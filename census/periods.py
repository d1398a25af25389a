"""Census periods: calendar years, seasons, months or any date range.

A period is a span of whole local days [start, end] (both inclusive) in each park's own
time zone. Its reference date, the day on which age classes are judged, is the period's
last day: every animal detected in the period was born by then, so no detected cat has
a negative age, and a kitten born in May is counted as a kitten in its birth year.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

YEAR = "year"
SEASON = "season"
MONTH = "month"
RANGE = "range"
KINDS = (YEAR, SEASON, MONTH, RANGE)
KIND_LABELS = {
    YEAR: gettext_lazy("Year"),
    SEASON: gettext_lazy("Season"),
    MONTH: gettext_lazy("Month"),
    RANGE: gettext_lazy("Date range"),
}

# Meteorological seasons of the northern hemisphere: winter runs from December of the
# previous year to February and carries the year in which it ends. Whole phrases, so a
# language can put the year first or last and inflect the season around it.
_SEASONS = {
    12: gettext_lazy("%(year)s winter"),
    3: gettext_lazy("%(year)s spring"),
    6: gettext_lazy("%(year)s summer"),
    9: gettext_lazy("%(year)s autumn"),
}


@dataclass(frozen=True)
class Period:
    """A span of whole local days, both ends included."""

    kind: str
    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def reference_date(self) -> date:
        return self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """Return the period as a half-open [start, end) interval of aware datetimes."""
        return (
            datetime.combine(self.start, time.min, tzinfo=zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone),
        )

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def year(value: int) -> Period:
    """Return the calendar year as a period."""
    return Period(YEAR, date(value, 1, 1), date(value, 12, 31), str(value))


def years(first: int, last: int) -> list[Period]:
    """Return the calendar years first..last."""
    return [year(y) for y in range(first, last + 1)]


def months(start: date, end: date) -> list[Period]:
    """Return the calendar months that overlap [start, end], clipped to it."""
    periods = []
    cursor = start.replace(day=1)
    while cursor <= end:
        following = cursor + relativedelta(months=1)
        periods.append(
            Period(
                MONTH,
                max(cursor, start),
                min(following - timedelta(days=1), end),
                f"{cursor:%Y-%m}",
            )
        )
        cursor = following
    return periods


def seasons(start: date, end: date) -> list[Period]:
    """Return the meteorological seasons that overlap [start, end], clipped to it."""
    periods = []
    # Step back to the first day of the season that holds `start`.
    first_month = 12 if start.month in (12, 1, 2) else start.month - (start.month % 3)
    first_year = start.year - 1 if start.month in (1, 2) else start.year
    cursor = date(first_year, first_month, 1)
    while cursor <= end:
        following = cursor + relativedelta(months=3)
        # Winter carries the year it ends in: December 2023 to February 2024 is winter 2024.
        named_year = cursor.year + 1 if cursor.month == 12 else cursor.year
        periods.append(
            Period(
                SEASON,
                max(cursor, start),
                min(following - timedelta(days=1), end),
                _SEASONS[cursor.month] % {"year": named_year},
            )
        )
        cursor = following
    return periods


def date_range(start: date, end: date) -> Period:
    """Return one period covering [start, end]."""
    label = _("%(start)s to %(end)s") % {"start": start.isoformat(), "end": end.isoformat()}
    return Period(RANGE, start, end, label)


def split(kind: str, start: date, end: date) -> list[Period]:
    """Cut [start, end] into periods of a kind (years are clipped to the range)."""
    if kind == YEAR:
        return [
            Period(YEAR, max(p.start, start), min(p.end, end), p.label)
            for p in years(start.year, end.year)
        ]
    if kind == SEASON:
        return seasons(start, end)
    if kind == MONTH:
        return months(start, end)
    if kind == RANGE:
        return [date_range(start, end)]
    raise ValueError(f"unknown period kind {kind!r}; choose one of {', '.join(KINDS)}")


def span(periods: Iterable[Period]) -> tuple[date, date]:
    """Return the first start and the last end of some periods."""
    periods = list(periods)
    return min(p.start for p in periods), max(p.end for p in periods)


def age_cutoffs(reference: date, subadult_months: int, adult_months: int) -> tuple[date, date]:
    """Return the latest birth dates of a subadult and of an adult on the reference date.

    A cat born on or before the first date is at least a subadult, on or before the
    second at least an adult. Whole calendar months, as leopards.models.age_class_at:
    relativedelta clips 31 March minus one month to 28 February, which is the day a
    cat born on 28 February turns one month old on 31 March.
    """
    return (
        reference - relativedelta(months=subadult_months),
        reference - relativedelta(months=adult_months),
    )
