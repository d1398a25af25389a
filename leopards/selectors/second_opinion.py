"""Reads of the blind checks: the checks waiting for a scientist, and agreement rates."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet

from leopards.models import MatchCandidate, SecondOpinion
from traps.models import Park
from traps.selectors import parks_for_user

_PARK = "sighting__photo__deployment__station__park"


def second_opinions_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[SecondOpinion]:
    """Return the blind checks of sightings in the user's parks."""
    return SecondOpinion.objects.filter(**{f"{_PARK}__in": parks_for_user(user)})


def second_opinion_queue(user: AbstractBaseUser | AnonymousUser) -> QuerySet[SecondOpinion]:
    """Return the checks waiting for this scientist: never their own identifications."""
    return (
        second_opinions_for_user(user)
        .filter(status=SecondOpinion.Status.PENDING)
        .exclude(first_by=user)
        .select_related("sighting__photo__deployment__station__park")
        .order_by("created_at", "pk")
    )


def second_opinion_for_answer(user: AbstractBaseUser | AnonymousUser, pk: int) -> SecondOpinion:
    """Return one waiting check with the sighting and its candidates, not the first answer."""
    candidates = MatchCandidate.objects.select_related(
        "leopard__merged_into", "reference__photo"
    ).order_by("rank")
    return (
        second_opinion_queue(user)
        .prefetch_related(Prefetch("sighting__candidates", queryset=candidates))
        .get(pk=pk)
    )


@dataclass(frozen=True)
class Rate:
    user: str
    agreed: int
    checked: int

    @property
    def rate(self) -> float | None:
        return round(self.agreed / self.checked, 4) if self.checked else None


@dataclass(frozen=True)
class AgreementRates:
    overall: Rate
    first_scientists: list[Rate]
    second_scientists: list[Rate]
    waiting: int


def agreement_rates(*, parks: Iterable[Park]) -> AgreementRates:
    """Agreement of blind checks overall, per first scientist and per second scientist."""
    opinions = SecondOpinion.objects.filter(**{f"{_PARK}__in": list(parks)})
    answered = opinions.filter(
        status__in=[SecondOpinion.Status.AGREED, SecondOpinion.Status.DISAGREED]
    )
    agreed = Count("pk", filter=Q(status=SecondOpinion.Status.AGREED))

    def per(field: str) -> list[Rate]:
        rows = (
            answered.values(f"{field}__username")
            .annotate(agreed=agreed, checked=Count("pk"))
            .order_by(f"{field}__username")
        )
        return [
            Rate(row[f"{field}__username"] or "—", row["agreed"], row["checked"]) for row in rows
        ]

    total = answered.aggregate(agreed=agreed, checked=Count("pk"))
    return AgreementRates(
        overall=Rate("", total["agreed"], total["checked"]),
        first_scientists=per("first_by"),
        second_scientists=per("second_by"),
        waiting=opinions.filter(status=SecondOpinion.Status.PENDING).count(),
    )
