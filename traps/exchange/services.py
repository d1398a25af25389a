"""Writes of the exchange pages that are not imports: bulk review of likely blanks."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

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
