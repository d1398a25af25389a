"""Group a deployment's timed photos into events by the independence interval."""

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, Subquery

from traps.models import Deployment, Event, Photo


def independence_interval() -> timedelta:
    """Return the gap that closes an event (a setting, 30 minutes by default)."""
    return timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)


def event_place(photo: Photo) -> Event:
    """Choose the event of a newly timed photo, joining the events it bridges.

    Sets photo.event and leaves saving the photo to the caller. The caller
    holds a lock of the deployment, so placements never interleave. A gap of
    exactly the interval still belongs to one event.
    """
    interval = independence_interval()
    siblings = (
        Photo.objects.filter(
            deployment_id=photo.deployment_id, taken_at__isnull=False, event__isnull=False
        )
        .exclude(pk=photo.pk)
        .select_related("event")
        .only("pk", "taken_at", "event")
    )
    before, after = _neighbours(siblings, photo.taken_at)
    joins_before = before is not None and photo.taken_at - before.taken_at <= interval
    joins_after = after is not None and after.taken_at - photo.taken_at <= interval

    if joins_before and joins_after and before.event_id != after.event_id:
        # The photo bridges two events: the earlier one absorbs the later one.
        event, absorbed = before.event, after.event
        Photo.objects.filter(event=absorbed).update(event=event)
        event.end = max(event.end, absorbed.end)
        if absorbed.status != Event.Status.PENDING:
            event.status = Event.Status.PENDING
        absorbed.delete()
    elif joins_before:
        event = before.event
    elif joins_after:
        event = after.event
    else:
        event = Event(deployment_id=photo.deployment_id, start=photo.taken_at, end=photo.taken_at)
    grown = (min(event.start, photo.taken_at), max(event.end, photo.taken_at))
    # A reviewed event that gains a photo needs another look.
    status = Event.Status.PENDING if event.status == Event.Status.REVIEWED else event.status
    if event.pk is None or (event.start, event.end, event.status) != (*grown, status):
        event.start, event.end, event.status = *grown, status
        event.save()
    photo.event = event
    return event


def events_place(photos: list[Photo]) -> None:
    """Place newly timed photos of one deployment in events, as event_place does for one.

    Sets each photo's event and leaves saving the photos to the caller, who
    holds a lock of the deployment. One query reads the already placed photos
    within an interval of the new ones; the new photos and those are chained
    in time order, and each chain keeps the earliest event it touches: the
    others are joined into it. A chain's event goes back to pending when it was
    reviewed or joins an event that was not pending, however the photos came in.
    """
    photos = sorted((p for p in photos if p.taken_at is not None), key=_time_order)
    if not photos:
        return
    interval = independence_interval()
    deployment_id = photos[0].deployment_id
    # The time ranges a placed photo must fall in to chain with a new one, merged.
    ranges: list[list[datetime]] = []
    for photo in photos:
        low, high = photo.taken_at - interval, photo.taken_at + interval
        if ranges and low <= ranges[-1][1]:
            ranges[-1][1] = high
        else:
            ranges.append([low, high])
    within = Q()
    for low, high in ranges:
        within |= Q(taken_at__range=(low, high))
    placed = list(
        Photo.objects.filter(within, deployment_id=deployment_id, event__isnull=False)
        .exclude(pk__in=[p.pk for p in photos])
        .values_list("pk", "taken_at", "event_id")
    )
    # Chains of the new and placed photos, in time order; a chain of placed photos
    # alone changes nothing.
    timeline = sorted(
        [(p.taken_at, p.pk, None, p) for p in photos]
        + [(taken_at, pk, event_id, None) for pk, taken_at, event_id in placed]
    )
    chains: list[tuple[list[Photo], set[int]]] = []
    previous = None
    for taken_at, _pk, event_id, photo in timeline:
        if previous is None or taken_at - previous > interval:
            chains.append(([], set()))
        previous = taken_at
        if photo is not None:
            chains[-1][0].append(photo)
        else:
            chains[-1][1].add(event_id)
    # Placed photos of one event may fall in two chains when the photos between
    # them lie outside the ranges read: chains that share an event are one.
    groups: list[tuple[list[Photo], set[int]]] = []
    for new, events in chains:
        if not new:
            continue
        if groups and groups[-1][1] & events:
            groups[-1][0].extend(new)
            groups[-1][1].update(events)
        else:
            groups.append((new, events))
    existing = Event.objects.in_bulk({e for _, events in groups for e in events})
    for new, events in groups:
        _join(new, sorted((existing[e] for e in events), key=lambda e: (e.start, e.pk)))


def _time_order(photo: Photo) -> tuple[datetime, int]:
    return photo.taken_at, photo.pk


def _join(new: list[Photo], events: list[Event]) -> None:
    """Put new photos (in time order) in the first of these events, joining the others into it."""
    start, end = new[0].taken_at, new[-1].taken_at
    if not events:
        event = Event.objects.create(deployment_id=new[0].deployment_id, start=start, end=end)
    else:
        event, absorbed = events[0], events[1:]
        status = event.status
        if status == Event.Status.REVIEWED or any(
            e.status != Event.Status.PENDING for e in absorbed
        ):
            status = Event.Status.PENDING
        start = min([start, event.start, *(e.start for e in absorbed)])
        end = max([end, event.end, *(e.end for e in absorbed)])
        if absorbed:
            Photo.objects.filter(event__in=absorbed).update(event=event)
            Event.objects.filter(pk__in=[e.pk for e in absorbed]).delete()
        if (event.start, event.end, event.status) != (start, end, status):
            event.start, event.end, event.status = start, end, status
            event.save()
    for photo in new:
        photo.event = event


def _neighbours(siblings: QuerySet[Photo], taken_at: datetime) -> tuple[Photo | None, Photo | None]:
    """Return the sibling photos nearest before and after a time, in one query.

    Each is the first of its own ordered query, asked as a scalar subquery (SQLite
    allows no LIMIT inside a UNION's parts), so the nearest of those on each side is
    the same photo the query alone would give.
    """
    before_pk = siblings.filter(taken_at__lte=taken_at).order_by("-taken_at", "-pk")[:1]
    after_pk = siblings.filter(taken_at__gte=taken_at).order_by("taken_at", "pk")[:1]
    found = list(
        siblings.filter(
            Q(pk=Subquery(before_pk.values("pk"))) | Q(pk=Subquery(after_pk.values("pk")))
        )
    )
    earlier = [p for p in found if p.taken_at <= taken_at]
    later = [p for p in found if p.taken_at >= taken_at]
    before = max(earlier, key=lambda p: (p.taken_at, p.pk), default=None)
    after = min(later, key=lambda p: (p.taken_at, p.pk), default=None)
    return before, after


@transaction.atomic
def events_rebuild(*, deployment_id: int) -> int:
    """Regroup all timed photos of a deployment into events; return the event count.

    Review work is kept where it can be: each new group reuses the old event that
    holds most of its photos (so its status and claims survive), and an event
    that gains photos it had not been reviewed with goes back to pending.
    """
    deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
    interval = independence_interval()
    rows = list(
        Photo.objects.filter(deployment=deployment, taken_at__isnull=False)
        .order_by("taken_at", "pk")
        .values_list("pk", "taken_at", "event_id")
    )
    old = {e.pk: e for e in Event.objects.filter(deployment=deployment)}
    groups: list[list[tuple[int, datetime, int | None]]] = []
    for row in rows:
        if groups and row[1] - groups[-1][-1][1] <= interval:
            groups[-1].append(row)
        else:
            groups.append([row])

    kept: set[int] = set()
    for group in groups:
        start, end = group[0][1], group[-1][1]
        votes = Counter(event_id for _, _, event_id in group if event_id in old)
        reuse = next((e for e, _ in votes.most_common() if e not in kept), None)
        if reuse is None:
            event = Event.objects.create(deployment=deployment, start=start, end=end)
        else:
            event = old[reuse]
            gained = any(event_id != reuse for _, _, event_id in group)
            status = Event.Status.PENDING if gained else event.status
            if (event.start, event.end, event.status) != (start, end, status):
                event.start, event.end, event.status = start, end, status
                event.save(update_fields=["start", "end", "status"])
        kept.add(event.pk)
        moved = [pk for pk, _, event_id in group if event_id != event.pk]
        if moved:
            Photo.objects.filter(pk__in=moved).update(event_id=event.pk)
    Photo.objects.filter(deployment=deployment, taken_at__isnull=True, event__isnull=False).update(
        event=None
    )
    Event.objects.filter(deployment=deployment).exclude(pk__in=kept).delete()
    return len(groups)


@transaction.atomic
def photos_delete(*, photo_ids: list[int]) -> int:
    """Delete photos and regroup the events they were in; return how many were deleted.

    A deleted photo may have been its event's only one, or the photo that
    bridged two bursts: its deployment's events are rebuilt under the
    deployment's lock, so no event is left without photos or joined by a gap.
    """
    deployment_ids = sorted(
        set(Photo.objects.filter(pk__in=photo_ids).values_list("deployment_id", flat=True))
    )
    # Locked in one order, so two deletions cannot wait for each other.
    list(Deployment.objects.select_for_update().filter(pk__in=deployment_ids).order_by("pk"))
    placed = set(
        Photo.objects.filter(pk__in=photo_ids, event__isnull=False).values_list(
            "deployment_id", flat=True
        )
    )
    _total, deleted = Photo.objects.filter(pk__in=photo_ids).delete()
    for deployment_id in sorted(placed):
        events_rebuild(deployment_id=deployment_id)
    return deleted.get(Photo._meta.label, 0)
