"""Reads for data exchange: what a user may export or import into, and what goes in a package."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts.roles import has_permission
from exchange.models import ImportRun, Observation, PartnerAlias
from leopards.models import Sighting, Species
from traps.models import Deployment, Event, Park, Photo
from traps.selectors import parks_for_user


def can_use_exchange(user: AbstractBaseUser | AnonymousUser) -> bool:
    return has_permission(user, roles.EXCHANGE)


def parks_for_export(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Park]:
    """Return the parks whose packages the user may download."""
    if not can_use_exchange(user):
        return Park.objects.none()
    return parks_for_user(user).order_by("name")


def parks_for_import(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Park]:
    """Return the parks the user may import packages and detector results into."""
    if not has_permission(user, roles.IMPORTS):
        return Park.objects.none()
    return parks_for_user(user).order_by("name")


def deployments_for_import(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Deployment]:
    """Return the deployments whose photos the user may attach detector results to."""
    return (
        Deployment.objects.filter(station__park__in=parks_for_import(user))
        .select_related("station__park")
        .order_by("station__park__name", "station__code", "-start")
    )


def _bounds(start: date | None, end: date | None, tz) -> tuple[datetime | None, datetime | None]:
    low = timezone.make_aware(datetime.combine(start, time.min), tz) if start else None
    high = (
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz)
        if end
        else None
    )
    return low, high


def export_deployments(
    park: Park, *, start: date | None = None, end: date | None = None
) -> QuerySet[Deployment]:
    """Return a park's deployments that overlap the period, with what the export writes."""
    low, high = _bounds(start, end, park.tzinfo)
    deployments = Deployment.objects.filter(station__park=park)
    if high is not None:
        deployments = deployments.filter(start__lt=high)
    if low is not None:
        deployments = deployments.filter(Q(end__isnull=True) | Q(end__gte=low))
    return (
        deployments.select_related("station__park", "exchange_link")
        .prefetch_related("malfunctions")
        .order_by("station__code", "start", "pk")
    )


def export_photos(
    deployments: QuerySet[Deployment], *, park: Park, start: date | None, end: date | None
) -> QuerySet[Photo]:
    """Return the timed photos of the deployments within the period."""
    low, high = _bounds(start, end, park.tzinfo)
    photos = Photo.objects.filter(deployment__in=deployments, taken_at__isnull=False)
    if low is not None:
        photos = photos.filter(taken_at__gte=low)
    if high is not None:
        photos = photos.filter(taken_at__lt=high)
    return photos.select_related("media_link", "event__exchange_link", "detector_result").order_by(
        "deployment_id", "taken_at", "pk"
    )


def export_events(photos: QuerySet[Photo]) -> QuerySet[Event]:
    """Return the events that hold the photos."""
    return (
        Event.objects.filter(pk__in=photos.filter(event__isnull=False).values("event_id"))
        .select_related("exchange_link", "review__species")
        .prefetch_related("observation_links")
        .order_by("deployment_id", "start", "pk")
    )


def export_observations(deployments: QuerySet[Deployment]) -> QuerySet[Observation]:
    """Return the observations kept from packages for these deployments, in package order."""
    return (
        Observation.objects.filter(deployment__in=deployments)
        .select_related("taxon", "sighting__leopard", "import_run")
        .order_by("pk")
    )


def export_sightings(photos: QuerySet[Photo]) -> QuerySet[Sighting]:
    """Return the sightings of the photos that were not rejected."""
    return (
        Sighting.objects.filter(photo__in=photos)
        .exclude(status=Sighting.Status.REJECTED)
        .select_related("leopard", "identified_by", "exchange_link", "photo__detector_result")
        .order_by("photo__deployment_id", "photo__taken_at", "photo_id", "pk")
    )


def likely_blank_events(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Event]:
    """Return unreviewed events whose every photo the detector found empty."""
    not_blank = Photo.objects.filter(event=OuterRef("pk")).exclude(
        detector_result__likely_blank=True
    )
    return (
        Event.objects.filter(
            deployment__station__park__in=parks_for_import(user),
            content=Event.Content.UNKNOWN,
        )
        .exclude(status=Event.Status.REVIEWED)
        .filter(photos__detector_result__likely_blank=True)
        .filter(~Exists(not_blank))
        .annotate(photo_count=Count("photos", distinct=True))
        .select_related("deployment__station__park")
        .order_by("deployment__station__park__name", "start")
    )


def partner_ids_waiting(
    parks: QuerySet[Park], *, only: tuple[str, str] | None = None
) -> list[dict[str, Any]]:
    """Return partners' individual ids seen in the parks that no alias names yet.

    Each comes with how many sightings carry it and, where a scientist has already
    identified one of them, the individual they chose (a proposal, never applied alone).
    """
    aliased = PartnerAlias.objects.filter(
        organisation=OuterRef("import_run__organisation"), partner_id=OuterRef("individual_id")
    )
    rows = (
        Observation.objects.filter(
            deployment__station__park__in=parks,
            sighting__isnull=False,
            import_run__organisation__gt="",
        )
        .exclude(individual_id="")
        .exclude(Exists(aliased))
        .filter(Q(import_run__organisation=only[0], individual_id=only[1]) if only else Q())
        .values("import_run__organisation", "individual_id")
        .annotate(
            sightings=Count("sighting", distinct=True),
            proposal=Max(
                "sighting__leopard__code", filter=Q(sighting__status=Sighting.Status.CONFIRMED)
            ),
        )
        .order_by("import_run__organisation", "individual_id")
    )
    return [
        {
            "organisation": row["import_run__organisation"],
            "partner_id": row["individual_id"],
            "sightings": row["sightings"],
            "proposal": row["proposal"] or "",
        }
        for row in rows[:200]
    ]


def partner_aliases(parks: QuerySet[Park]) -> QuerySet[PartnerAlias]:
    """Return the confirmed aliases of individuals seen in the parks' partner packages."""
    seen = Observation.objects.filter(
        deployment__station__park__in=parks,
        import_run__organisation=OuterRef("organisation"),
        individual_id=OuterRef("partner_id"),
    )
    return (
        PartnerAlias.objects.filter(Exists(seen))
        .select_related("leopard", "confirmed_by")
        .order_by("organisation", "partner_id")
    )


def taxa() -> QuerySet[Species]:
    """Return the taxon list: the review's species and every one a package named."""
    return Species.objects.order_by("-active", "position", "scientific_name", "name")


def organisations() -> list[str]:
    """Return the organisations packages have come from, for the import form's suggestions."""
    return list(
        ImportRun.objects.exclude(organisation="")
        .values_list("organisation", flat=True)
        .distinct()
        .order_by("organisation")
    )
