"""The blind check: a sample of identifications is identified again by a second scientist."""

import random
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leopards.models import CatalogueChange, EventReview, Leopard, SecondOpinion, Sighting
from leopards.services.audit import change_record
from leopards.services.errors import ReviewError
from leopards.services.identification import leopard_resolve
from leopards.services.review import event_flag


def second_opinion_sample(
    *,
    sighting: Sighting,
    user: AbstractBaseUser,
    first_answer: str,
    draw: Callable[[], float] = random.random,
    always: bool = False,
) -> SecondOpinion | None:
    """Send a share (SECOND_OPINION_SAMPLE_RATE) of new identifications to a blind check.

    ``always`` sends this one whatever the share: a confirmation against the matcher's advice.
    """
    if sighting.leopard_id is None:
        return None
    if not always and draw() >= settings.SECOND_OPINION_SAMPLE_RATE:
        return None
    # A new answer replaces a check of the old one that nobody has done yet.
    SecondOpinion.objects.filter(sighting=sighting, status=SecondOpinion.Status.PENDING).update(
        status=SecondOpinion.Status.CANCELLED
    )
    return SecondOpinion.objects.create(
        sighting=sighting,
        first_leopard_id=sighting.leopard_id,
        first_by=user,
        first_answer=first_answer,
    )


@transaction.atomic
def second_opinion_request(*, sighting_id: int, user: AbstractBaseUser) -> SecondOpinion:
    """Ask for a blind check of one confirmed identification by hand."""
    sighting = Sighting.objects.select_for_update().get(pk=sighting_id)
    if sighting.status != Sighting.Status.CONFIRMED:
        raise ReviewError(_("Only confirmed identifications can be checked."))
    existing = SecondOpinion.objects.filter(
        sighting=sighting, status=SecondOpinion.Status.PENDING
    ).first()
    if existing is not None:
        return existing
    return SecondOpinion.objects.create(
        sighting=sighting,
        first_leopard_id=sighting.leopard_id,
        first_by=sighting.identified_by,
    )


@transaction.atomic
def second_opinion_answer(
    *,
    opinion_id: int,
    user: AbstractBaseUser,
    answer: str,
    leopard_id: int | None = None,
) -> SecondOpinion:
    """Record the second, blind answer; a disagreement sends the event back to the queue."""
    opinion = (
        SecondOpinion.objects.select_for_update(of=("self",))
        .select_related("sighting__photo", "first_leopard")
        .get(pk=opinion_id)
    )
    if opinion.status != SecondOpinion.Status.PENDING:
        raise ReviewError(_("This check was already answered."))
    if opinion.first_by_id == user.pk:
        raise ReviewError(_("A second opinion must come from another scientist."))
    if answer not in SecondOpinion.Answer.values:
        raise ReviewError(_("Choose an individual, a new individual or cannot be told."))
    sighting = opinion.sighting
    second = None
    if answer == SecondOpinion.Answer.LEOPARD:
        if leopard_id is None:
            raise ReviewError(_("Choose the individual."))
        second = leopard_resolve(Leopard.objects.get(pk=leopard_id))
    if sighting.status != Sighting.Status.CONFIRMED or sighting.leopard_id is None:
        # The identification was withdrawn meanwhile: nothing left to check.
        opinion.status = SecondOpinion.Status.CANCELLED
        opinion.save(update_fields=["status"])
        return opinion
    # Compare with the sighting's individual now: a merge since then is not a disagreement.
    current = leopard_resolve(Leopard.objects.get(pk=sighting.leopard_id))
    if opinion.first_answer == SecondOpinion.Answer.NEW:
        agreed = answer == SecondOpinion.Answer.NEW
    else:
        agreed = second is not None and second.pk == current.pk
    opinion.second_by = user
    opinion.second_leopard = second
    opinion.second_answer = answer
    opinion.answered_at = timezone.now()
    opinion.status = SecondOpinion.Status.AGREED if agreed else SecondOpinion.Status.DISAGREED
    opinion.save(
        update_fields=["second_by", "second_leopard", "second_answer", "answered_at", "status"]
    )
    change_record(
        kind=CatalogueChange.Kind.SECOND_OPINION,
        user=user,
        reason_code=(
            CatalogueChange.Reason.BLIND_CHECK_AGREED
            if agreed
            else CatalogueChange.Reason.BLIND_CHECK_DISAGREED
        ),
        leopards=[current, second],
        sightings=[sighting],
        before={"leopard": current.code, "first_answer": opinion.first_answer},
        after={
            "answer": answer,
            "leopard": second.code if second else None,
            "agreed": agreed,
        },
    )
    if not agreed and sighting.photo.event_id:
        # The flag is read by every reviewer of this park: an individual known only in
        # other parks is not named in it (the flag then says only that the answers differ).
        named = second is not None and _seen_in_park_of(second, sighting)
        said = {"second": second.code} if named else {"answer": answer}
        event_flag(
            event_id=sighting.photo.event_id,
            code=EventReview.FlagCode.SECOND_OPINION_DISAGREES,
            params={"first": current.code, **said},
        )
    return opinion


def _seen_in_park_of(leopard: Leopard, sighting: Sighting) -> bool:
    park = Sighting.objects.filter(pk=sighting.pk).values("photo__deployment__station__park")
    return Sighting.objects.filter(
        leopard=leopard,
        status=Sighting.Status.CONFIRMED,
        photo__deployment__station__park__in=park,
    ).exists()
