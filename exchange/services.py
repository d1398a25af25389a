"""Writes of the exchange pages that are not imports: likely blanks and partner aliases."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from exchange.models import PartnerAlias
from leopards.models import CatalogueChange, Leopard, Sighting
from leopards.services.audit import change_record, identification_changed
from leopards.services.identification import leopard_resolve, sighting_identification_set
from traps.models import Event


@transaction.atomic
def events_mark_blank(*, events: QuerySet[Event], user: AbstractBaseUser) -> int:
    """Record the events as reviewed blanks; return how many changed."""
    ids = list(events.values_list("pk", flat=True))
    return Event.objects.filter(pk__in=ids).update(
        content=Event.Content.BLANK,
        status=Event.Status.REVIEWED,
        claimed_by=user,
        claimed_at=timezone.now(),
    )


class PartnerAliasConflict(Exception):
    """A partner's id would tie together individuals the registry holds apart."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def partner_sightings(*, organisation: str, partner_id: str) -> QuerySet[Sighting]:
    """Return the sightings an organisation's packages name with this individual id."""
    return Sighting.objects.filter(
        exchange_observation__import_run__organisation=organisation,
        exchange_observation__individual_id=partner_id,
    )


@transaction.atomic
def partner_alias_confirm(
    *, organisation: str, partner_id: str, leopard: Leopard, user: AbstractBaseUser
) -> PartnerAlias:
    """Record that a partner's individual is one of ours and identify its sightings as it.

    Refused, with nothing written, when the partner's id already names another of our
    individuals or one of its sightings is confirmed as another: a scientist settles
    that in the review, never a silent merge.
    """
    leopard = leopard_resolve(leopard)
    alias = (
        PartnerAlias.objects.select_for_update()
        .filter(organisation=organisation, partner_id=partner_id)
        .select_related("leopard")
        .first()
    )
    if alias is not None and alias.leopard_id != leopard.pk:
        raise PartnerAliasConflict(
            _("%(org)s's %(partner)s is already our %(ours)s.")
            % {"org": organisation, "partner": partner_id, "ours": alias.leopard.code}
        )
    sightings = list(
        partner_sightings(organisation=organisation, partner_id=partner_id)
        .select_for_update(of=("self",))
        .select_related("leopard")
        .order_by("pk")
    )
    others = sorted(
        {
            s.leopard.code
            for s in sightings
            if s.status == Sighting.Status.CONFIRMED and s.leopard_id not in (None, leopard.pk)
        }
    )
    if others:
        raise PartnerAliasConflict(
            _(
                "%(org)s's %(partner)s has sightings confirmed as %(others)s here; "
                "settle them in the review first."
            )
            % {"org": organisation, "partner": partner_id, "others": ", ".join(others)}
        )
    if alias is None:
        alias = PartnerAlias.objects.create(
            organisation=organisation,
            partner_id=partner_id,
            leopard=leopard,
            confirmed_by=user,
            confirmed_at=timezone.now(),
        )
    waiting = [
        s for s in sightings if s.leopard_id is None and s.status == Sighting.Status.PROPOSED
    ]
    for sighting in waiting:
        before = sighting_identification_set(
            sighting, leopard, Sighting.Status.CONFIRMED, user, "partner alias", announce=False
        )
        change_record(
            kind=CatalogueChange.Kind.CONFIRM,
            user=user,
            reason=f"{organisation}: {partner_id}",
            leopards=[leopard],
            sightings=[sighting],
            before=before,
            after={"leopard": leopard.code, "leopard_id": leopard.pk, "status": sighting.status},
        )
    identification_changed([s.pk for s in waiting])
    return alias


@transaction.atomic
def partner_alias_withdraw(*, alias: PartnerAlias, user: AbstractBaseUser) -> int:
    """Undo a wrong alias: its sightings go back to the review; return how many.

    Every sighting carrying the partner's id and confirmed as the aliased individual
    is unidentified again, whoever confirmed it, so that no identification made
    through the alias survives it; the review shows them with the partner's id.
    """
    alias = PartnerAlias.objects.select_for_update().select_related("leopard").get(pk=alias.pk)
    sightings = list(
        partner_sightings(organisation=alias.organisation, partner_id=alias.partner_id)
        .filter(leopard=alias.leopard, status=Sighting.Status.CONFIRMED)
        .select_for_update(of=("self",))
        .select_related("leopard")
        .order_by("pk")
    )
    for sighting in sightings:
        before = sighting_identification_set(
            sighting,
            None,
            Sighting.Status.PROPOSED,
            user,
            "partner alias withdrawn",
            announce=False,
        )
        change_record(
            kind=CatalogueChange.Kind.UNCONFIRM,
            user=user,
            reason=f"{alias.organisation}: {alias.partner_id}",
            leopards=[alias.leopard],
            sightings=[sighting],
            before=before,
            after={"leopard": None, "leopard_id": None, "status": sighting.status},
        )
    identification_changed([s.pk for s in sightings])
    alias.delete()
    return len(sightings)
