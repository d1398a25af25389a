"""Writes that identify a sighting: confirm a candidate, a new individual, unidentifiable."""

import re

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leopards.models import AgeClass, CatalogueChange, Leopard, LeopardAlias, Sex, Sighting
from leopards.rules import confirm_needs_override
from leopards.services.audit import (
    change_record,
    check_version,
    identification_changed,
    save_with_reason,
)
from leopards.services.errors import OverrideRequired, ReviewError
from leopards.services.review import claim_for_sighting

CODE_PATTERN = re.compile(r"^LEO-(\d+)[FMU]?$")
SEX_LETTER = {Sex.FEMALE: "F", Sex.MALE: "M", Sex.UNKNOWN: "U"}


def leopard_resolve(leopard: Leopard) -> Leopard:
    """Follow merges to the record that holds an individual's sightings now."""
    seen = set()
    while leopard.merged_into_id is not None and leopard.pk not in seen:
        seen.add(leopard.pk)
        leopard = Leopard.objects.get(pk=leopard.merged_into_id)
    return leopard


def leopard_next_code(*, sex: str = Sex.UNKNOWN) -> str:
    """Return the next free code, LEO-<number><F|M|U>, after every code and alias in use."""
    highest = 0
    codes = list(Leopard.objects.filter(code__startswith="LEO-").values_list("code", flat=True))
    codes += LeopardAlias.objects.filter(code__startswith="LEO-").values_list("code", flat=True)
    for code in codes:
        match = CODE_PATTERN.match(code)
        if match:
            highest = max(highest, int(match.group(1)))
    return f"LEO-{highest + 1}{SEX_LETTER.get(sex, 'U')}"


def leopard_create(
    *, sex: str = Sex.UNKNOWN, name: str = "", user: AbstractBaseUser | None = None
) -> Leopard:
    """Create an individual under the next free code, retrying if another takes it first."""
    for _attempt in range(5):
        code = leopard_next_code(sex=sex)
        try:
            with transaction.atomic():
                leopard = Leopard(code=code, sex=sex, name=name.strip())
                leopard._change_reason = "new individual"
                if user is not None:
                    leopard._history_user = user
                leopard.save()
                return leopard
        except IntegrityError:
            continue
    raise ReviewError(_("Could not find a free code; try again."))


def _lock(sighting_id: int) -> Sighting:
    return (
        Sighting.objects.select_for_update(of=("self",))
        .select_related("photo", "leopard")
        .get(pk=sighting_id)
    )


def sighting_identification_set(
    sighting: Sighting,
    leopard: Leopard | None,
    status: str,
    user: AbstractBaseUser,
    reason: str,
    observed_age_class: str | None = None,
    *,
    announce: bool = True,
) -> dict:
    """Set a locked sighting's individual and status with its history; return the before state.

    ``announce=False`` leaves marking the census stale and resyncing the match index to a
    caller that changes many sightings and announces them together.
    """
    before = {
        "leopard": sighting.leopard.code if sighting.leopard_id else None,
        "leopard_id": sighting.leopard_id,
        "status": sighting.status,
    }
    was_confirmed = sighting.status == Sighting.Status.CONFIRMED
    sighting.leopard = leopard
    sighting.status = status
    sighting.identified_by = user
    sighting.identified_at = timezone.now()
    fields = ["leopard", "status", "identified_by", "identified_at"]
    if observed_age_class is not None and observed_age_class != sighting.observed_age_class:
        if observed_age_class not in AgeClass.values:
            raise ReviewError(_("Unknown age class."))
        sighting.observed_age_class = observed_age_class
        fields.append("observed_age_class")
    save_with_reason(sighting, reason or status, fields=fields, user=user)
    if announce and (was_confirmed or status == Sighting.Status.CONFIRMED):
        identification_changed([sighting.pk])
    return before


@transaction.atomic
def sighting_confirm(
    *,
    sighting_id: int,
    leopard_id: int,
    user: AbstractBaseUser,
    expected_version: int | None,
    reason: str = "",
    observed_age_class: str | None = None,
    sample: bool = True,
    override: bool = False,
) -> Sighting:
    """Identify a sighting as a known individual (a merged code counts as its survivor).

    A confirmation against the matcher's advice (rules.confirm_needs_override) is refused
    unless ``override`` says it is deliberate; then it is recorded as an override and always
    goes to a blind second opinion.
    """
    sighting = _lock(sighting_id)
    check_version(sighting, expected_version, what="sighting")
    if sighting.status == Sighting.Status.REJECTED:
        raise ReviewError(_("This box was removed; draw it again to identify it."))
    against_matcher = confirm_needs_override(
        sighting, leopard_id, list(sighting.candidates.order_by("rank"))
    )
    if against_matcher and not override:
        raise OverrideRequired(
            _(
                "The matcher does not support this match: the sighting is probably a new "
                "individual, or the probability is below %(min)s%%. Confirm again as an "
                'override (in the API, send "override": true); it will be checked blind.'
            )
            % {"min": round(settings.MATCH_CONFIRM_MIN_PROBABILITY * 100)}
        )
    claim_for_sighting(sighting, user)
    leopard = leopard_resolve(Leopard.objects.get(pk=leopard_id))
    before = sighting_identification_set(
        sighting, leopard, Sighting.Status.CONFIRMED, user, reason, observed_age_class
    )
    change_record(
        kind=CatalogueChange.Kind.CONFIRM,
        user=user,
        reason=reason,
        leopards=[leopard, before["leopard_id"]],
        sightings=[sighting],
        before=before,
        after={"leopard": leopard.code, "leopard_id": leopard.pk, "status": sighting.status},
        matcher_override=against_matcher,
    )
    if sample or against_matcher:
        from leopards.services.second_opinion import second_opinion_sample

        second_opinion_sample(
            sighting=sighting, user=user, first_answer="leopard", always=against_matcher
        )
    return sighting


@transaction.atomic
def sighting_create_individual(
    *,
    sighting_id: int,
    user: AbstractBaseUser,
    expected_version: int | None,
    sex: str = Sex.UNKNOWN,
    name: str = "",
    reason: str = "",
    observed_age_class: str | None = None,
) -> Sighting:
    """Make the sighting the first record of a new individual under the next free code."""
    sighting = _lock(sighting_id)
    check_version(sighting, expected_version, what="sighting")
    if sighting.status == Sighting.Status.REJECTED:
        raise ReviewError(_("This box was removed; draw it again to identify it."))
    if sex not in Sex.values:
        raise ReviewError(_("Unknown sex."))
    claim_for_sighting(sighting, user)
    leopard = leopard_create(sex=sex, name=name, user=user)
    before = sighting_identification_set(
        sighting, leopard, Sighting.Status.CONFIRMED, user, reason, observed_age_class
    )
    change_record(
        kind=CatalogueChange.Kind.NEW_INDIVIDUAL,
        user=user,
        reason=reason,
        leopards=[leopard, before["leopard_id"]],
        sightings=[sighting],
        before=before,
        after={"leopard": leopard.code, "leopard_id": leopard.pk, "status": sighting.status},
    )
    from leopards.services.second_opinion import second_opinion_sample

    second_opinion_sample(sighting=sighting, user=user, first_answer="new")
    return sighting


@transaction.atomic
def sighting_mark_unidentifiable(
    *,
    sighting_id: int,
    user: AbstractBaseUser,
    expected_version: int | None,
    reason: str = "",
    observed_age_class: str | None = None,
) -> Sighting:
    """Record that the photo does not show enough of the pattern to tell the individual."""
    sighting = _lock(sighting_id)
    check_version(sighting, expected_version, what="sighting")
    claim_for_sighting(sighting, user)
    before = sighting_identification_set(
        sighting, None, Sighting.Status.UNIDENTIFIABLE, user, reason, observed_age_class
    )
    change_record(
        kind=CatalogueChange.Kind.UNIDENTIFIABLE,
        user=user,
        reason=reason,
        leopards=[before["leopard_id"]],
        sightings=[sighting],
        before=before,
        after={"leopard": None, "status": sighting.status},
    )
    return sighting


@transaction.atomic
def sighting_unconfirm(
    *, sighting_id: int, user: AbstractBaseUser, expected_version: int | None, reason: str = ""
) -> Sighting:
    """Withdraw an identification: the sighting waits for a decision again."""
    sighting = _lock(sighting_id)
    check_version(sighting, expected_version, what="sighting")
    claim_for_sighting(sighting, user)
    before = sighting_identification_set(sighting, None, Sighting.Status.PROPOSED, user, reason)
    change_record(
        kind=CatalogueChange.Kind.UNCONFIRM,
        user=user,
        reason=reason,
        leopards=[before["leopard_id"]],
        sightings=[sighting],
        before=before,
        after={"leopard": None, "status": sighting.status},
    )
    return sighting
