"""Show a park's local date with its time zone named, unless the table's header names it."""

from django import template
from django.utils.html import format_html

from traps.local_dates import LocalDate

register = template.Library()


@register.filter
def local_day(value: LocalDate | None, stated_zone: str = "") -> str:
    """Render "2026-03-14 (Asia/Vladivostok)"; the zone is left out when `stated_zone` names it."""
    if value is None:
        return "—"
    if value.zone == stated_zone:
        return value.day.isoformat()
    return format_html('{} <span class="muted zone">({})</span>', value.day.isoformat(), value.zone)
