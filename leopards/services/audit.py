"""The catalogue's audit trail and what must follow every identification change."""

import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from leopards.models import CatalogueChange, Leopard, Sighting
from leopards.services.errors import StaleVersion
from leopards.signals import identifications_changed


def change_record(
    *,
    kind: str,
    user: AbstractBaseUser | None,
    reason: str = "",
    reason_code: str = "",
    reason_params: dict[str, Any] | None = None,
    leopards: Iterable[Leopard | int | None] = (),
    sightings: Iterable[Sighting | int] = (),
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    undoes: CatalogueChange | None = None,
    matcher_override: bool = False,
) -> CatalogueChange:
    """Write one entry of the audit trail, linked to every individual and sighting it touched.

    A reason the registry gives itself goes in as ``reason_code`` with its parameters, never
    as text: it is rendered in each reader's language. ``reason`` is a person's own words.
    """
    change = CatalogueChange.objects.create(
        kind=kind,
        user=user if user is not None and user.is_authenticated else None,
        reason=reason.strip(),
        reason_code=reason_code,
        reason_params=reason_params or {},
        before=before or {},
        after=after or {},
        undoes=undoes,
        matcher_override=matcher_override,
    )
    leopard_ids = {x.pk if isinstance(x, Leopard) else x for x in leopards if x is not None}
    sighting_ids = {x.pk if isinstance(x, Sighting) else x for x in sightings}
    if leopard_ids:
        change.leopards.add(*leopard_ids)
    if sighting_ids:
        change.sightings.add(*sighting_ids)
    return change


def identification_changed(sighting_ids: Sequence[int]) -> None:
    """Mark the census of the sightings' park-years stale and resync the match index."""
    ids = sorted(set(sighting_ids))
    if not ids:
        return
    rows = (
        Sighting.objects.filter(pk__in=ids, photo__taken_at__isnull=False)
        .values_list(
            "photo__taken_at",
            "photo__deployment__station__park_id",
            "photo__deployment__station__park__time_zone",
        )
        .distinct()
    )
    # The census counts calendar years in the park's own time zone.
    park_years = {
        (park_id, taken_at.astimezone(zoneinfo.ZoneInfo(zone)).year)
        for taken_at, park_id, zone in rows
    }
    identifications_changed.send(sender=Sighting, park_years=park_years, sighting_ids=ids)
    from leopards.services.matching import catalogue_queue_sync

    catalogue_queue_sync(sighting_ids=ids)


def check_version(obj: Leopard | Sighting, expected: int | None, *, what: str) -> None:
    """Refuse a write made from a form older than the record (optimistic locking)."""
    if expected is None or obj.version == expected:
        return
    last = obj.history.order_by("-history_date", "-history_id").select_related("history_user")
    record = last.first()
    who = None
    when = None
    if record is not None:
        when = record.history_date
        if record.history_user is not None:
            who = record.history_user.get_full_name() or record.history_user.get_username()
    raise StaleVersion(what=what, who=who, when=when, version=obj.version)


def save_with_reason(
    obj: Leopard | Sighting,
    reason: str,
    *,
    fields: list[str],
    user: AbstractBaseUser | None,
) -> None:
    """Save changed fields, bump the version and keep who and why in the field history."""
    obj.version += 1
    obj._change_reason = (reason or "")[:100]
    # Outside a request (API scripts, tasks) the history middleware knows no user.
    if user is not None and user.is_authenticated:
        obj._history_user = user
    obj.save(update_fields=[*fields, "version"])
