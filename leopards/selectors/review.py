"""Reads of the review: the queue of events and one event with everything its page shows."""

from dataclasses import dataclass
from datetime import date

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from leopards.models import EventReview, MatchCandidate, Sighting, Species
from traps.models import Event, Park, Photo
from traps.selectors import parks_for_user

OPEN_STATUSES = [Event.Status.PENDING, Event.Status.IN_REVIEW]


@dataclass(frozen=True)
class QueueFilters:
    park_id: int | None = None
    station_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    # None: waiting and in review; "flagged": sent back by a second opinion.
    status: str | None = None


def events_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Event]:
    """Return the events in the user's parks."""
    return Event.objects.filter(deployment__station__park__in=parks_for_user(user))


def _filtered(user: AbstractBaseUser | AnonymousUser, filters: QueueFilters) -> QuerySet[Event]:
    events = events_for_user(user)
    if filters.park_id:
        events = events.filter(deployment__station__park_id=filters.park_id)
    if filters.station_id:
        events = events.filter(deployment__station_id=filters.station_id)
    if filters.date_from:
        events = events.filter(start__date__gte=filters.date_from)
    if filters.date_to:
        events = events.filter(start__date__lte=filters.date_to)
    return events


def review_queue(
    user: AbstractBaseUser | AnonymousUser, filters: QueueFilters = QueueFilters()
) -> QuerySet[Event]:
    """Return the events to review, oldest first, with photo and open-sighting counts."""
    events = _filtered(user, filters)
    if filters.status == "flagged":
        events = events.filter(Q(review__flag_code__gt="") | Q(review__flag__gt=""))
    elif filters.status in Event.Status.values:
        events = events.filter(status=filters.status)
    else:
        events = events.filter(status__in=OPEN_STATUSES)
    photos = Photo.objects.filter(event=OuterRef("pk")).order_by().values("event")
    sightings = (
        Sighting.objects.filter(photo__event=OuterRef("pk"))
        .exclude(status=Sighting.Status.REJECTED)
        .order_by()
        .values("photo__event")
    )
    # The queue's thumbnail never shows a photo the detector found a person in.
    first_photo = (
        Photo.objects.filter(event=OuterRef("pk"), thumbnail__gt="")
        .exclude(detector_result__shows_person=True)
        .order_by("taken_at", "pk")
    )
    return (
        events.select_related("deployment__station__park", "claimed_by", "review")
        .annotate(
            photo_count=Coalesce(
                Subquery(photos.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()
            ),
            sighting_count=Coalesce(
                Subquery(sightings.annotate(n=Count("pk")).values("n")),
                0,
                output_field=IntegerField(),
            ),
            open_count=Coalesce(
                Subquery(
                    sightings.filter(status=Sighting.Status.PROPOSED)
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
                output_field=IntegerField(),
            ),
            first_photo_id=Subquery(first_photo.values("pk")[:1]),
        )
        .order_by("start", "pk")
    )


def review_queue_counts(
    user: AbstractBaseUser | AnonymousUser, filters: QueueFilters = QueueFilters()
) -> dict[str, int]:
    """Count the filtered events by review status, and those a second opinion sent back."""
    flagged = EventReview.objects.filter(Q(flag_code__gt="") | Q(flag__gt=""), event=OuterRef("pk"))
    return _filtered(user, filters).aggregate(
        pending=Count("pk", filter=Q(status=Event.Status.PENDING)),
        in_review=Count("pk", filter=Q(status=Event.Status.IN_REVIEW)),
        reviewed=Count("pk", filter=Q(status=Event.Status.REVIEWED)),
        flagged=Count("pk", filter=Q(Exists(flagged))),
    )


def next_event_id(
    user: AbstractBaseUser | AnonymousUser, *, after: Event, exclude_claimed_by_others: bool = True
) -> int | None:
    """Return the next open event after this one in queue order, skipping others' claims."""
    events = events_for_user(user).filter(status__in=OPEN_STATUSES).exclude(pk=after.pk)
    if exclude_claimed_by_others:
        events = events.filter(Q(claimed_by__isnull=True) | Q(claimed_by=user))
    later = events.filter(Q(start__gt=after.start) | Q(start=after.start, pk__gt=after.pk))
    return (
        later.order_by("start", "pk").values_list("pk", flat=True).first()
        or events.order_by("start", "pk").values_list("pk", flat=True).first()
    )


def _candidates() -> QuerySet[MatchCandidate]:
    return MatchCandidate.objects.select_related(
        "leopard__merged_into", "reference__photo"
    ).order_by("rank")


def _sightings() -> QuerySet[Sighting]:
    return (
        Sighting.objects.exclude(status=Sighting.Status.REJECTED)
        .select_related("leopard", "identified_by", "exchange_observation__import_run")
        .prefetch_related(Prefetch("candidates", queryset=_candidates()))
        .order_by("pk")
    )


def event_for_review(user: AbstractBaseUser | AnonymousUser, pk: int) -> Event:
    """Return one event of the user's parks with photos, boxes and ranked candidates loaded."""
    photos = (
        Photo.objects.select_related("detector_result")
        .prefetch_related(Prefetch("sightings", queryset=_sightings()))
        .order_by("taken_at", "pk")
    )
    return (
        events_for_user(user)
        .select_related("deployment__station__park", "claimed_by", "review__species")
        .prefetch_related(Prefetch("photos", queryset=photos))
        .get(pk=pk)
    )


def species_choices() -> QuerySet[Species]:
    """Return the species offered in the review, in list order."""
    return Species.objects.filter(active=True).order_by("position", "name")


def park_of_event(event: Event) -> Park:
    return event.deployment.station.park
