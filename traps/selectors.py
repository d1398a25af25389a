"""Reads for parks, stations, deployments and photos."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts.roles import has_permission
from traps.models import Deployment, Event, Park, Photo, Station


def parks_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Park]:
    """Return the parks whose data the user may see."""
    if not has_permission(user, roles.PARK_DATA):
        # A member without a role has joined a park but may see nothing of it.
        return Park.objects.none()
    if has_permission(user, roles.EVERY_PARK):
        return Park.objects.all()
    return Park.objects.filter(memberships__user=user)


def park_overview(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Park]:
    """Return the user's parks with counts of stations and deployments."""
    return (
        parks_for_user(user)
        .annotate(
            station_count=Count("stations", distinct=True),
            deployment_count=Count("stations__deployments", distinct=True),
        )
        .order_by("name")
    )


def deployments_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Deployment]:
    """Return the deployments in the user's parks, with station and park loaded."""
    return Deployment.objects.filter(station__park__in=parks_for_user(user)).select_related(
        "station__park"
    )


def deployment_list(
    user: AbstractBaseUser | AnonymousUser,
    *,
    park_id: int | None = None,
    station_id: int | None = None,
) -> QuerySet[Deployment]:
    """Return the user's deployments in list order, without their figures.

    Counting photos here would make the paginator's COUNT and the page query
    aggregate every photo of every deployment; deployment_figures counts those of
    one page only.
    """
    deployments = deployments_for_user(user)
    if park_id is not None:
        deployments = deployments.filter(station__park_id=park_id)
    if station_id is not None:
        deployments = deployments.filter(station_id=station_id)
    # A park's boundary is a polygon in JSON: decoding it again for every row of
    # a page of fifty costs more than the rest of the row.
    return deployments.defer("station__park__boundary").order_by(
        "station__park__name", "station__code", "-start", "pk"
    )


def deployment_figures(deployments: Sequence[Deployment]) -> None:
    """Set counts of photos, failures, waiting photos and events on a page of deployments."""
    ids = [d.pk for d in deployments]
    photos = {
        row.pop("deployment_id"): row
        for row in Photo.objects.filter(deployment_id__in=ids)
        .order_by()
        .values("deployment_id")
        .annotate(
            photo_count=Count("pk"),
            failed_count=Count("pk", filter=Q(status=Photo.Status.FAILED)),
            waiting_count=Count(
                "pk", filter=Q(status__in=[Photo.Status.RECEIVED, Photo.Status.PROCESSING])
            ),
        )
    }
    events = dict(
        Event.objects.filter(deployment_id__in=ids)
        .order_by()
        .values("deployment_id")
        .annotate(n=Count("pk"))
        .values_list("deployment_id", "n")
    )
    none = {"photo_count": 0, "failed_count": 0, "waiting_count": 0}
    for deployment in deployments:
        for name, value in photos.get(deployment.pk, none).items():
            setattr(deployment, name, value)
        deployment.event_count = events.get(deployment.pk, 0)


def stations_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Station]:
    """Return the stations in the user's parks."""
    return Station.objects.filter(park__in=parks_for_user(user)).select_related("park")


def upload_deployments(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Deployment]:
    """Return the deployments a ranger may upload a card to: running or recently ended."""
    recent = timezone.now() - timedelta(days=400)
    return (
        deployments_for_user(user)
        .filter(Q(end__isnull=True) | Q(end__gte=recent))
        .order_by("station__park__name", "station__code", "-start")
    )


def deployment_photo_summary(deployment: Deployment) -> dict[str, int]:
    """Count a deployment's photos by status, time problem and outside flag, in one query."""
    return Photo.objects.filter(deployment=deployment).aggregate(
        total=Count("pk"),
        processed=Count("pk", filter=Q(status=Photo.Status.PROCESSED)),
        waiting=Count("pk", filter=Q(status__in=[Photo.Status.RECEIVED, Photo.Status.PROCESSING])),
        failed=Count("pk", filter=Q(status=Photo.Status.FAILED)),
        no_time=Count("pk", filter=~Q(time_problem="")),
        outside=Count("pk", filter=Q(outside_deployment=True)),
    )


def deployment_events(deployment: Deployment) -> QuerySet[Event]:
    """Return a deployment's events in time order, each with its photos in time order."""
    return (
        Event.objects.filter(deployment=deployment)
        .order_by("start", "pk")
        .prefetch_related(Prefetch("photos", queryset=Photo.objects.order_by("taken_at", "pk")))
    )


def deployment_photos_outside_events(deployment: Deployment) -> QuerySet[Photo]:
    """Return a deployment's photos that are in no event: waiting, failed or without a time."""
    return Photo.objects.filter(deployment=deployment, event__isnull=True).order_by(
        "status", "original_name", "pk"
    )


def photos_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Photo]:
    """Return the photos in the user's parks."""
    return Photo.objects.filter(deployment__station__park__in=parks_for_user(user))


@dataclass(frozen=True)
class HashLookup:
    found: list[Photo]
    elsewhere: list[str]


def photos_lookup(user: AbstractBaseUser | AnonymousUser, hashes: list[str]) -> HashLookup:
    """Return which of these SHA-256 hashes are stored: in the user's parks, or elsewhere.

    Photos of other parks come back as bare hashes, nothing more: whoever asks
    about a SHA-256 already holds the file, so the only thing they learn is that
    the registry has it (and that it must not be stored twice).
    """
    wanted = {h.lower() for h in hashes}
    visible_parks = set(parks_for_user(user).values_list("pk", flat=True))
    found: list[Photo] = []
    elsewhere: list[str] = []
    for photo in Photo.objects.filter(sha256__in=wanted).select_related("deployment__station"):
        if photo.deployment.station.park_id in visible_parks:
            found.append(photo)
        else:
            elsewhere.append(photo.sha256)
    return HashLookup(found=found, elsewhere=sorted(elsewhere))


def deployments_proposed(
    user: AbstractBaseUser | AnonymousUser, *, serial: str, camera_time: datetime | None
) -> list[Deployment]:
    """Return the user's deployments of this camera serial that were running at this time.

    camera_time is the camera's own (naive, local) clock reading; each
    deployment reads it in its park's time zone with its clock offset. Without
    a time, every deployment of the camera comes back, newest first.
    """
    if not serial:
        return []
    candidates = deployments_for_user(user).filter(camera_serial__iexact=serial).order_by("-start")
    if camera_time is None:
        return list(candidates)
    # A day's slack on each side: a card is often read a little before the
    # deployment's recorded end, or the clock is off by hours.
    slack = timedelta(days=1)
    matches = []
    for deployment in candidates:
        local = camera_time.replace(tzinfo=deployment.station.park.tzinfo)
        taken = local + deployment.clock_offset
        if deployment.start - slack <= taken and (
            deployment.end is None or taken <= deployment.end + slack
        ):
            matches.append(deployment)
    return matches


def events_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Event]:
    """Return the events in the user's parks, with deployment, station and park loaded."""
    return Event.objects.filter(deployment__station__park__in=parks_for_user(user)).select_related(
        "deployment__station__park"
    )
