"""Query-string filters of the API's stations, deployments, photos and events.

Dates are calendar days in UTC; a date range keeps whatever overlaps it.
"""

from datetime import UTC, date, datetime, time, timedelta

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from traps.fields import DayField
from traps.models import Deployment, Event, Photo, Station


def day_start(day: date) -> datetime:
    """Return the first instant of a UTC day."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_after(day: date) -> datetime:
    """Return the first instant after a UTC day."""
    return day_start(day + timedelta(days=1))


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, turned into UTC: PostgreSQL refuses offsets past 15:59."""

    def to_python(self, value: object) -> datetime | None:
        instant = super().to_python(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(UTC)
        except OverflowError as error:  # the offset moves it past year 9999
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class DayFilter(django_filters.DateFilter):
    """A calendar day within the registry's years: date_to=9999-12-31 is a 400, not an overflow."""

    field_class = DayField


class StationFilter(django_filters.FilterSet):
    park = django_filters.NumberFilter(field_name="park_id", help_text=_("Park id."))
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact")

    class Meta:
        model = Station
        fields = ["park", "code"]


class DeploymentFilter(django_filters.FilterSet):
    park = django_filters.NumberFilter(field_name="station__park_id", help_text=_("Park id."))
    station = django_filters.NumberFilter(field_name="station_id", help_text=_("Station id."))
    camera_serial = django_filters.CharFilter(field_name="camera_serial", lookup_expr="iexact")
    date_from = DayFilter(
        method="filter_date_from",
        help_text=_("Deployments still running on or after this day (UTC)."),
    )
    date_to = DayFilter(
        method="filter_date_to", help_text=_("Deployments started on or before this day (UTC).")
    )
    running = django_filters.BooleanFilter(
        field_name="end", lookup_expr="isnull", help_text=_("Only deployments without an end.")
    )

    class Meta:
        model = Deployment
        fields = ["park", "station", "camera_serial", "date_from", "date_to", "running"]

    def filter_date_from(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(Q(end__isnull=True) | Q(end__gte=day_start(value)))

    def filter_date_to(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(start__lt=day_after(value))


class PhotoFilter(django_filters.FilterSet):
    park = django_filters.NumberFilter(
        field_name="deployment__station__park_id", help_text=_("Park id.")
    )
    station = django_filters.NumberFilter(
        field_name="deployment__station_id", help_text=_("Station id.")
    )
    deployment = django_filters.NumberFilter(field_name="deployment_id")
    event = django_filters.NumberFilter(field_name="event_id")
    status = django_filters.ChoiceFilter(choices=Photo.Status.choices)
    sha256 = django_filters.CharFilter(field_name="sha256", lookup_expr="iexact")
    taken_after = UtcIsoDateTimeFilter(
        field_name="taken_at", lookup_expr="gte", help_text=_("Taken at or after (ISO 8601).")
    )
    taken_before = UtcIsoDateTimeFilter(
        field_name="taken_at", lookup_expr="lt", help_text=_("Taken before (ISO 8601).")
    )

    class Meta:
        model = Photo
        fields = [
            "park",
            "station",
            "deployment",
            "event",
            "status",
            "sha256",
            "taken_after",
            "taken_before",
        ]


class EventFilter(django_filters.FilterSet):
    park = django_filters.NumberFilter(
        field_name="deployment__station__park_id", help_text=_("Park id.")
    )
    station = django_filters.NumberFilter(
        field_name="deployment__station_id", help_text=_("Station id.")
    )
    deployment = django_filters.NumberFilter(field_name="deployment_id")
    status = django_filters.ChoiceFilter(choices=Event.Status.choices)
    content = django_filters.ChoiceFilter(choices=Event.Content.choices)
    date_from = DayFilter(
        method="filter_date_from", help_text=_("Events ending on or after this day (UTC).")
    )
    date_to = DayFilter(
        method="filter_date_to", help_text=_("Events starting on or before this day (UTC).")
    )

    class Meta:
        model = Event
        fields = ["park", "station", "deployment", "status", "content", "date_from", "date_to"]

    def filter_date_from(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(end__gte=day_start(value))

    def filter_date_to(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(start__lt=day_after(value))
