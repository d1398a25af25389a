"""Edits of the catalogue of individuals: details, mothers, merge, split, flank links, undo."""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leopards.models import (
    CatalogueChange,
    Flank,
    Leopard,
    LeopardAlias,
    SecondOpinion,
    Sex,
    Sighting,
)
from leopards.services.audit import (
    change_record,
    check_version,
    identification_changed,
    save_with_reason,
)
from leopards.services.errors import ReviewError
from leopards.services.identification import leopard_create

EDITABLE_FIELDS = ("name", "sex", "birth_date", "birth_date_precision", "status", "notes")
# Fields that change census figures (sex and age breakdowns, known alive).
CENSUS_FIELDS = {"sex", "birth_date", "status"}
# On a merge, the surviving record takes these from the absorbed one where it has none.
FILLED_ON_MERGE = ("name", "sex", "birth_date", "birth_date_precision", "mother_id")


def _lock_leopards(*ids: int) -> dict[int, Leopard]:
    # Always lock in id order so that two merges of the same pair cannot deadlock.
    rows = Leopard.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    found = {leopard.pk: leopard for leopard in rows}
    if len(found) != len(set(ids)):
        raise Leopard.DoesNotExist
    return found


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _from_json(field: str, value: Any) -> Any:
    if field == "birth_date" and value:
        return date.fromisoformat(value)
    return value


def _confirmed_ids(leopard: Leopard) -> list[int]:
    return list(
        Sighting.objects.filter(leopard=leopard, status=Sighting.Status.CONFIRMED).values_list(
            "pk", flat=True
        )
    )


def _check_not_merged(*leopards: Leopard) -> None:
    for leopard in leopards:
        if leopard.merged_into_id:
            raise ReviewError(
                _("%(code)s was merged into another individual; edit that one instead.")
                % {"code": leopard.code}
            )


@transaction.atomic
def leopard_update(
    *,
    leopard_id: int,
    user: AbstractBaseUser,
    expected_version: int | None,
    changes: dict[str, Any],
    reason: str = "",
) -> Leopard:
    """Edit an individual's name, sex, birth estimate, status or notes, with the evidence."""
    leopard = _lock_leopards(leopard_id)[leopard_id]
    check_version(leopard, expected_version, what="individual")
    _check_not_merged(leopard)
    changed = {
        field: value
        for field, value in changes.items()
        if field in EDITABLE_FIELDS and getattr(leopard, field) != value
    }
    if not changed:
        return leopard
    if "sex" in changed and changed["sex"] not in Sex.values:
        raise ReviewError(_("Unknown sex."))
    if "status" in changed and changed["status"] not in Leopard.Status.values:
        raise ReviewError(_("Unknown status."))
    before = {field: _json(getattr(leopard, field)) for field in changed}
    for field, value in changed.items():
        setattr(leopard, field, value)
    save_with_reason(leopard, reason or "edited", fields=list(changed), user=user)
    change_record(
        kind=CatalogueChange.Kind.EDIT,
        user=user,
        reason=reason,
        leopards=[leopard],
        before=before,
        after={field: _json(value) for field, value in changed.items()},
    )
    if CENSUS_FIELDS & set(changed):
        identification_changed(_confirmed_ids(leopard))
    return leopard


@transaction.atomic
def leopard_set_mother(
    *,
    kitten_id: int,
    mother_id: int | None,
    user: AbstractBaseUser,
    expected_version: int | None,
    reason: str = "",
    photo_id: int | None = None,
) -> Leopard:
    """Link a kitten to its mother (seen together in a photo), or remove the link."""
    locked = _lock_leopards(*[x for x in (kitten_id, mother_id) if x])
    kitten = locked[kitten_id]
    check_version(kitten, expected_version, what="individual")
    mother = locked.get(mother_id) if mother_id else None
    _check_not_merged(*[x for x in (kitten, mother) if x])
    if mother is not None:
        if mother.pk == kitten.pk:
            raise ReviewError(_("An individual cannot be its own mother."))
        if mother.sex == Sex.MALE:
            raise ReviewError(_("%(code)s is recorded as a male.") % {"code": mother.code})
        ancestor, steps = mother, 0
        while ancestor is not None and steps < 50:
            if ancestor.pk == kitten.pk:
                raise ReviewError(_("That link would make the family tree a circle."))
            ancestor, steps = ancestor.mother, steps + 1
    before = {"mother": kitten.mother.code if kitten.mother_id else None}
    old_mother_id = kitten.mother_id
    kitten.mother = mother
    save_with_reason(kitten, reason or "mother linked", fields=["mother"], user=user)
    change_record(
        kind=CatalogueChange.Kind.MOTHER,
        user=user,
        reason=reason,
        leopards=[kitten, mother, old_mother_id],
        before=before,
        after={"mother": mother.code if mother else None, "photo_id": photo_id},
    )
    return kitten


def _move_sightings(ids: list[int], to: Leopard, reason: str, *, user: AbstractBaseUser) -> None:
    for sighting in Sighting.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        sighting.leopard = to
        save_with_reason(sighting, reason, fields=["leopard"], user=user)


@transaction.atomic
def leopard_merge(
    *,
    survivor_id: int,
    absorbed_id: int,
    user: AbstractBaseUser,
    reason: str,
    expected_versions: tuple[int | None, int | None] = (None, None),
    kind: str = CatalogueChange.Kind.MERGE,
    evidence: dict[str, Any] | None = None,
    reason_code: str = "",
    reason_params: dict[str, Any] | None = None,
) -> CatalogueChange:
    """Merge two records of one individual: sightings move, the old code stays as an alias."""
    if survivor_id == absorbed_id:
        raise ReviewError(_("Choose two different individuals."))
    if not reason.strip() and not reason_code:
        raise ReviewError(_("Say why the two records are one individual."))
    locked = _lock_leopards(survivor_id, absorbed_id)
    survivor, absorbed = locked[survivor_id], locked[absorbed_id]
    check_version(survivor, expected_versions[0], what="individual")
    check_version(absorbed, expected_versions[1], what="individual")
    _check_not_merged(survivor, absorbed)
    if survivor.sex != absorbed.sex and Sex.UNKNOWN not in (survivor.sex, absorbed.sex):
        raise ReviewError(
            _("%(a)s and %(b)s are recorded with different sexes; correct one first.")
            % {"a": survivor.code, "b": absorbed.code}
        )

    moved = list(
        Sighting.objects.filter(leopard=absorbed).order_by("pk").values_list("pk", flat=True)
    )
    offspring = list(absorbed.offspring.order_by("pk").values_list("pk", flat=True))
    aliases = list(absorbed.aliases.order_by("pk").values_list("pk", flat=True))
    survivor_before = {field: _json(getattr(survivor, field)) for field in FILLED_ON_MERGE}

    _move_sightings(moved, survivor, f"merged into {survivor.code}", user=user)
    for kitten in Leopard.objects.filter(pk__in=offspring):
        kitten.mother = survivor
        save_with_reason(
            kitten, f"mother merged into {survivor.code}", fields=["mother"], user=user
        )
    LeopardAlias.objects.filter(pk__in=aliases).update(leopard=survivor)
    filled = []
    for field in FILLED_ON_MERGE:
        empty = getattr(survivor, field) in ("", None) or (
            field == "sex" and survivor.sex == Sex.UNKNOWN
        )
        if empty and getattr(absorbed, field) not in ("", None):
            if field == "mother_id" and absorbed.mother_id == survivor.pk:
                continue
            setattr(survivor, field, getattr(absorbed, field))
            filled.append(field)
    if filled:
        fields = [f.removesuffix("_id") for f in filled]
        save_with_reason(survivor, f"merged with {absorbed.code}", fields=fields, user=user)
    absorbed.merged_into = survivor
    save_with_reason(absorbed, f"merged into {survivor.code}", fields=["merged_into"], user=user)

    change = change_record(
        kind=kind,
        user=user,
        reason=reason,
        reason_code=reason_code,
        reason_params=reason_params,
        leopards=[survivor, absorbed],
        sightings=moved,
        before={
            "survivor_id": survivor.pk,
            "survivor": survivor.code,
            "absorbed_id": absorbed.pk,
            "absorbed": absorbed.code,
            "sightings": moved,
            "offspring": offspring,
            "aliases": aliases,
            "survivor_fields": survivor_before,
            **(evidence or {}),
        },
        after={
            "filled": filled,
            "survivor_fields": {f: _json(getattr(survivor, f)) for f in filled},
        },
    )
    alias = LeopardAlias.objects.create(leopard=survivor, code=absorbed.code, change=change)
    change.after["alias_id"] = alias.pk
    change.save(update_fields=["after"])
    identification_changed(moved)
    return change


@transaction.atomic
def leopard_split(
    *,
    leopard_id: int,
    sighting_ids: list[int],
    user: AbstractBaseUser,
    reason: str,
    target_id: int | None = None,
    sex: str = Sex.UNKNOWN,
    expected_version: int | None = None,
) -> CatalogueChange:
    """Move chosen sightings off an individual to a new one or to another existing one."""
    if not reason.strip():
        raise ReviewError(_("Say why these sightings are another individual."))
    ids = sorted(set(sighting_ids))
    if not ids:
        raise ReviewError(_("Choose the sightings to split off."))
    locked = _lock_leopards(*[x for x in (leopard_id, target_id) if x])
    source = locked[leopard_id]
    check_version(source, expected_version, what="individual")
    target = locked.get(target_id) if target_id else None
    _check_not_merged(*[x for x in (source, target) if x])
    if target is not None and target.pk == source.pk:
        raise ReviewError(_("Choose another individual to move the sightings to."))
    owned = set(Sighting.objects.filter(pk__in=ids, leopard=source).values_list("pk", flat=True))
    if owned != set(ids):
        raise ReviewError(
            _("Some of the chosen sightings are not of %(code)s.") % {"code": source.code}
        )
    created = target is None
    if created:
        target = leopard_create(sex=sex, user=user)
    _move_sightings(ids, target, f"split from {source.code}", user=user)
    change = change_record(
        kind=CatalogueChange.Kind.SPLIT,
        user=user,
        reason=reason,
        leopards=[source, target],
        sightings=ids,
        before={"source_id": source.pk, "source": source.code, "sightings": ids},
        after={"target_id": target.pk, "target": target.code, "created": created},
    )
    save_with_reason(source, f"split into {target.code}", fields=[], user=user)
    identification_changed(ids)
    return change


def _flanks(leopard: Leopard) -> set[str]:
    return set(
        Sighting.objects.filter(leopard=leopard, status=Sighting.Status.CONFIRMED)
        .exclude(flank__in=[Flank.UNKNOWN, Flank.FRONT])
        .values_list("flank", flat=True)
    )


@transaction.atomic
def leopard_link_flanks(
    *,
    left_sighting_id: int,
    right_sighting_id: int,
    user: AbstractBaseUser,
    reason: str = "",
) -> CatalogueChange:
    """Link a left-only and a right-only record that a paired-camera photo pair shows as one."""
    pair = {
        s.pk: s
        for s in Sighting.objects.select_related("leopard", "photo__deployment").filter(
            pk__in=[left_sighting_id, right_sighting_id]
        )
    }
    left, right = pair.get(left_sighting_id), pair.get(right_sighting_id)
    if left is None or right is None:
        raise Sighting.DoesNotExist
    if left.flank != Flank.LEFT or right.flank != Flank.RIGHT:
        raise ReviewError(_("Choose one left-flank and one right-flank sighting."))
    if left.status != Sighting.Status.CONFIRMED or right.status != Sighting.Status.CONFIRMED:
        raise ReviewError(_("Both sightings must be confirmed identifications."))
    if left.leopard_id == right.leopard_id:
        raise ReviewError(
            _("Both sightings are already of %(code)s.") % {"code": left.leopard.code}
        )
    if _flanks(left.leopard) != {Flank.LEFT} or _flanks(right.leopard) != {Flank.RIGHT}:
        raise ReviewError(
            _("Only a left-only record and a right-only record can be linked; merge others.")
        )
    if left.photo.deployment.station_id != right.photo.deployment.station_id:
        raise ReviewError(_("The two photos must come from the same station."))
    window = timedelta(minutes=settings.INDEPENDENCE_INTERVAL_MINUTES)
    if (
        left.photo.taken_at is None
        or right.photo.taken_at is None
        or abs(left.photo.taken_at - right.photo.taken_at) > window
    ):
        raise ReviewError(
            ngettext(
                "The two photos must be taken at the same passage (within %(n)d minute).",
                "The two photos must be taken at the same passage (within %(n)d minutes).",
                settings.INDEPENDENCE_INTERVAL_MINUTES,
            )
            % {"n": settings.INDEPENDENCE_INTERVAL_MINUTES}
        )
    # The older record keeps its code; the younger becomes its alias.
    survivor, absorbed = sorted([left.leopard, right.leopard], key=lambda x: (x.created_at, x.pk))
    reason = reason.strip()
    return leopard_merge(
        survivor_id=survivor.pk,
        absorbed_id=absorbed.pk,
        user=user,
        reason=reason,
        reason_code="" if reason else CatalogueChange.Reason.FLANKS_SEEN_TOGETHER,
        reason_params=None if reason else {"a": str(left.photo), "b": str(right.photo)},
        kind=CatalogueChange.Kind.FLANK_LINK,
        evidence={"left_sighting": left.pk, "right_sighting": right.pk},
    )


@transaction.atomic
def change_undo(*, change_id: int, user: AbstractBaseUser, reason: str = "") -> CatalogueChange:
    """Undo a merge, flank link or split exactly, if nothing it moved has changed since."""
    change = CatalogueChange.objects.select_for_update().get(pk=change_id)
    if CatalogueChange.objects.filter(undoes=change).exists():
        raise ReviewError(_("This change was already undone."))
    if change.kind in (CatalogueChange.Kind.MERGE, CatalogueChange.Kind.FLANK_LINK):
        moved = _undo_merge(change, user)
        leopard_ids = [change.before["survivor_id"], change.before["absorbed_id"]]
    elif change.kind == CatalogueChange.Kind.SPLIT:
        moved, leopard_ids = _undo_split(change, user)
    else:
        raise ReviewError(_("Only merges, flank links and splits can be undone."))
    undo = change_record(
        kind=CatalogueChange.Kind.UNDO,
        user=user,
        reason=reason,
        leopards=[x for x in leopard_ids if Leopard.objects.filter(pk=x).exists()],
        sightings=moved,
        before={"change_id": change.pk, "kind": change.kind},
        after=change.before,
        undoes=change,
    )
    identification_changed(moved)
    return undo


def _undo_merge(change: CatalogueChange, user: AbstractBaseUser) -> list[int]:
    before, after = change.before, change.after
    locked = _lock_leopards(before["survivor_id"], before["absorbed_id"])
    survivor, absorbed = locked[before["survivor_id"]], locked[before["absorbed_id"]]
    if absorbed.merged_into_id != survivor.pk or survivor.merged_into_id:
        raise ReviewError(
            _("%(code)s was merged again since; undo the later change first.")
            % {"code": survivor.code}
        )
    moved = before["sightings"]
    still = set(
        Sighting.objects.filter(pk__in=moved, leopard=survivor).values_list("pk", flat=True)
    )
    if still != set(moved):
        raise ReviewError(
            _(
                "Some sightings moved by this merge were reassigned since; split them "
                "off instead of undoing."
            )
        )
    _move_sightings(moved, absorbed, f"merge with {survivor.code} undone", user=user)
    for kitten in Leopard.objects.filter(pk__in=before["offspring"], mother=survivor):
        kitten.mother = absorbed
        save_with_reason(kitten, "merge undone", fields=["mother"], user=user)
    LeopardAlias.objects.filter(pk__in=before["aliases"]).update(leopard=absorbed)
    LeopardAlias.objects.filter(pk=after.get("alias_id")).delete()
    restored = []
    for field in after.get("filled", []):
        # A value someone edited after the merge is theirs: keep it.
        if _json(getattr(survivor, field)) == after["survivor_fields"][field]:
            setattr(survivor, field, _from_json(field, before["survivor_fields"][field]))
            restored.append(field.removesuffix("_id"))
    save_with_reason(survivor, f"merge with {absorbed.code} undone", fields=restored, user=user)
    absorbed.merged_into = None
    save_with_reason(absorbed, "merge undone", fields=["merged_into"], user=user)
    return moved


def _undo_split(change: CatalogueChange, user: AbstractBaseUser) -> tuple[list[int], list[int]]:
    before, after = change.before, change.after
    locked = _lock_leopards(before["source_id"], after["target_id"])
    source, target = locked[before["source_id"]], locked[after["target_id"]]
    if source.merged_into_id or target.merged_into_id:
        raise ReviewError(_("One of the two records was merged since; undo that first."))
    moved = before["sightings"]
    still = set(Sighting.objects.filter(pk__in=moved, leopard=target).values_list("pk", flat=True))
    if still != set(moved):
        raise ReviewError(
            _("Some sightings moved by this split were reassigned since; move them by hand.")
        )
    _move_sightings(moved, source, f"split into {target.code} undone", user=user)
    save_with_reason(source, "split undone", fields=[], user=user)
    leopard_ids = [source.pk, target.pk]
    # A record the split created goes away again if nothing else refers to it.
    if (
        after.get("created")
        and not Sighting.objects.filter(leopard=target).exists()
        and not target.offspring.exists()
        and not target.aliases.exists()
        and not target.merged_records.exists()
        and not SecondOpinion.objects.filter(first_leopard=target).exists()
    ):
        target.delete()
        leopard_ids = [source.pk]
    return moved, leopard_ids
