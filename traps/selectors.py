"""Reads for parks, stations, deployments and photos."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet

from traps.models import Park, Role
from traps.roles import user_roles


def parks_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Park]:
    """Return the parks whose data the user may see."""
    if not user.is_authenticated:
        return Park.objects.none()
    if Role.ADMIN in user_roles(user):
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
