"""Dates as the park saw them: the local calendar day of a moment, with the zone named."""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LocalDate:
    """A calendar day in a named time zone (a park's), shown as "2026-03-14 (Asia/Vladivostok)"."""

    day: date
    zone: str

    def __str__(self) -> str:
        return f"{self.day.isoformat()} ({self.zone})"


def local_date(moment: datetime | None, zone: str) -> LocalDate | None:
    """Return the day a moment falls on in a time zone, or None for no moment."""
    if moment is None:
        return None
    return LocalDate(moment.astimezone(ZoneInfo(zone)).date(), zone)
