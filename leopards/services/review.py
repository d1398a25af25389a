"""Writes of the event review: claims, what an event shows, and the boxes drawn in photos."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leopards.models import AgeClass, CatalogueChange, EventReview, Flank, Sighting, Species
from leopards.services.audit import (
    change_record,
    check_version,
    identification_changed,
    save_with_reason,
)
from leopards.services.errors import EventClaimed, ReviewError, StaleVersion
from traps.models import Event, Photo


@dataclass(frozen=True)
class Box:
    """A box relative to the photo (0-1), as in Camtrap DP."""

    x: float
    y: float
    w: float
    h: float

    def clipped(self) -> "Box":
        """Return the box clipped to the photo; refuse one with no area left."""
        x = min(max(self.x, 0.0), 1.0)
        y = min(max(self.y, 0.0), 1.0)
        w = min(max(self.w, 0.0), 1.0 - x)
        h = min(max(self.h, 0.0), 1.0 - y)
        if w < 0.005 or h < 0.005:
            raise ReviewError(_("The box is too small; draw it around the animal."))
        return Box(round(x, 6), round(y, 6), round(w, 6), round(h, 6))


def claim_expired(event: Event) -> bool:
    """Tell whether an event's claim has lapsed (nobody saved anything for a while)."""
    if event.claimed_at is None:
        return True
    return event.claimed_at < timezone.now() - timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)


def _holder_name(event: Event) -> str:
    user = event.claimed_by
    return (user.get_full_name() or user.get_username()) if user else ""


def _claim_locked(event: Event, user: AbstractBaseUser, *, take_over: bool = False) -> None:
    """Claim a locked event for the user, or refuse if someone else holds a live claim."""
    if (
        event.claimed_by_id
        and event.claimed_by_id != user.pk
        and not claim_expired(event)
        and not take_over
    ):
        raise EventClaimed(who=_holder_name(event), since=event.claimed_at)
    event.claimed_by = user
    event.claimed_at = timezone.now()
    fields = ["claimed_by", "claimed_at"]
    if event.status == Event.Status.PENDING:
        event.status = Event.Status.IN_REVIEW
        fields.append("status")
    event.save(update_fields=fields)


def _lock_event(event_id: int) -> Event:
    return (
        Event.objects.select_for_update(of=("self",)).select_related("claimed_by").get(pk=event_id)
    )


@transaction.atomic
def event_claim(*, event_id: int, user: AbstractBaseUser, take_over: bool = False) -> Event:
    """Claim an event for review so that no one else reviews it at the same time."""
    event = _lock_event(event_id)
    _claim_locked(event, user, take_over=take_over)
    return event


@transaction.atomic
def event_open(*, event_id: int, user: AbstractBaseUser) -> Event:
    """Claim an event as its reviewer opens it, unless it is reviewed or a colleague holds it."""
    event = _lock_event(event_id)
    if event.status == Event.Status.REVIEWED:
        return event
    if event.claimed_by_id and event.claimed_by_id != user.pk and not claim_expired(event):
        return event
    _claim_locked(event, user)
    return event


@transaction.atomic
def event_release(
    *, event_id: int, user: AbstractBaseUser, claimed_at: datetime | None = None
) -> Event:
    """Give up one's claim on an event; it goes back to the queue unless it was finished.

    With `claimed_at` (the claim's time when the page was opened), only a claim left as
    it was is given up: a page being left must not release a claim that a save, or the
    same event opened again, has renewed since.
    """
    event = _lock_event(event_id)
    if event.claimed_by_id not in (None, user.pk):
        return event
    if claimed_at is not None and event.claimed_at != claimed_at:
        return event
    event.claimed_by = None
    event.claimed_at = None
    if event.status == Event.Status.IN_REVIEW:
        event.status = Event.Status.PENDING
    event.save(update_fields=["claimed_by", "claimed_at", "status"])
    return event


def _review_locked(event: Event) -> EventReview:
    review, _created = EventReview.objects.get_or_create(event=event)
    return (
        EventReview.objects.select_for_update(of=("self",))
        .select_related("updated_by")
        .get(pk=review.pk)
    )


def _check_event_version(review: EventReview, expected: int | None) -> None:
    if expected is None or review.version == expected:
        return
    who = None
    if review.updated_by is not None:
        who = review.updated_by.get_full_name() or review.updated_by.get_username()
    raise StaleVersion(what="event", who=who, when=review.updated_at, version=review.version)


def _touch(review: EventReview, user: AbstractBaseUser, fields: list[str]) -> None:
    review.version += 1
    review.updated_by = user
    review.updated_at = timezone.now()
    review.save(update_fields=[*fields, "version", "updated_by", "updated_at"])


@transaction.atomic
def event_classify(
    *,
    event_id: int,
    user: AbstractBaseUser,
    content: str,
    species_id: int | None = None,
    expected_version: int | None,
) -> EventReview:
    """Say what an event shows; anything but a leopard also finishes its review."""
    if content not in Event.Content.values or content == Event.Content.UNKNOWN:
        raise ReviewError(_("Choose what the photos show."))
    event = _lock_event(event_id)
    review = _review_locked(event)
    _check_event_version(review, expected_version)
    _claim_locked(event, user)
    species = None
    if content == Event.Content.OTHER_SPECIES:
        species = Species.objects.filter(pk=species_id, active=True).first()
        if species is None:
            raise ReviewError(_("Choose the species from the list."))
    sightings = Sighting.objects.filter(photo__event=event)
    if content != Event.Content.LEOPARD:
        if sightings.filter(status=Sighting.Status.CONFIRMED).exists():
            raise ReviewError(
                _(
                    "This event has confirmed leopard identifications; withdraw them "
                    "before marking it as something else."
                )
            )
        # Boxes a detector or a colleague proposed are not leopards after all.
        for sighting in sightings.filter(status=Sighting.Status.PROPOSED):
            sighting.status = Sighting.Status.REJECTED
            save_with_reason(sighting, f"event marked {content}", fields=["status"], user=user)
    event.content = content
    fields = ["content"]
    if content != Event.Content.LEOPARD:
        event.status = Event.Status.REVIEWED
        event.claimed_by = None
        event.claimed_at = None
        fields += ["status", "claimed_by", "claimed_at"]
        _unflag(review)
    event.save(update_fields=fields)
    review.species = species
    _touch(review, user, ["species", *FLAG_FIELDS])
    return review


@transaction.atomic
def event_finish(
    *, event_id: int, user: AbstractBaseUser, expected_version: int | None
) -> EventReview:
    """Mark an event reviewed once each of its sightings is decided; release the claim."""
    event = _lock_event(event_id)
    review = _review_locked(event)
    _check_event_version(review, expected_version)
    _claim_locked(event, user)
    open_count = Sighting.objects.filter(
        photo__event=event, status=Sighting.Status.PROPOSED
    ).count()
    if open_count:
        raise ReviewError(
            ngettext(
                "%(n)d sighting still needs a decision: confirm, new individual or unidentifiable.",
                "%(n)d sightings still need a decision: confirm, new individual or unidentifiable.",
                open_count,
            )
            % {"n": open_count}
        )
    if event.content == Event.Content.UNKNOWN:
        event.content = (
            Event.Content.LEOPARD
            if Sighting.objects.filter(photo__event=event)
            .exclude(status=Sighting.Status.REJECTED)
            .exists()
            else Event.Content.BLANK
        )
    event.status = Event.Status.REVIEWED
    event.claimed_by = None
    event.claimed_at = None
    event.save(update_fields=["content", "status", "claimed_by", "claimed_at"])
    _unflag(review)
    _touch(review, user, FLAG_FIELDS)
    return review


FLAG_FIELDS = ["flag", "flag_code", "flag_params"]


def _unflag(review: EventReview) -> None:
    review.flag = ""
    review.flag_code = ""
    review.flag_params = {}


def event_flag(*, event_id: int, code: str, params: dict[str, str]) -> None:
    """Send an event back to the review queue with why (a code, read in each reader's language)."""
    event = _lock_event(event_id)
    review = _review_locked(event)
    _unflag(review)
    review.flag_code = code
    review.flag_params = params
    review.version += 1
    review.save(update_fields=[*FLAG_FIELDS, "version"])
    if event.status == Event.Status.REVIEWED:
        event.status = Event.Status.PENDING
        event.save(update_fields=["status"])


def claim_for_sighting(sighting: Sighting, user: AbstractBaseUser) -> None:
    """Hold the claim on the sighting's event while working on it (refused if someone else does)."""
    event_id = sighting.photo.event_id
    if event_id is not None:
        _claim_locked(_lock_event(event_id), user)


def _queue_match(sighting_id: int) -> None:
    from leopards.services.matching import sighting_queue_match

    sighting_queue_match(sighting_id=sighting_id)


@transaction.atomic
def sighting_draw(
    *,
    photo_id: int,
    user: AbstractBaseUser,
    box: Box,
    flank: str = Flank.UNKNOWN,
    observed_age_class: str = AgeClass.UNKNOWN,
) -> Sighting:
    """Add a leopard box to a photo (several per photo for a mother with kittens)."""
    if flank not in Flank.values or observed_age_class not in AgeClass.values:
        raise ReviewError(_("Unknown flank or age class."))
    photo = Photo.objects.select_related("event").get(pk=photo_id)
    box = box.clipped()
    sighting = Sighting(
        photo=photo,
        bbox_x=box.x,
        bbox_y=box.y,
        bbox_w=box.w,
        bbox_h=box.h,
        flank=flank,
        observed_age_class=observed_age_class,
        status=Sighting.Status.PROPOSED,
        source=Sighting.Source.MANUAL,
    )
    claim_for_sighting(sighting, user)
    sighting._change_reason = "box drawn"
    sighting._history_user = user
    sighting.save()
    if photo.event_id and photo.event.content == Event.Content.UNKNOWN:
        Event.objects.filter(pk=photo.event_id).update(content=Event.Content.LEOPARD)
    _queue_match(sighting.pk)
    return sighting


def _lock_sighting(sighting_id: int) -> Sighting:
    return (
        Sighting.objects.select_for_update(of=("self",)).select_related("photo").get(pk=sighting_id)
    )


@transaction.atomic
def sighting_adjust(
    *,
    sighting_id: int,
    user: AbstractBaseUser,
    expected_version: int | None,
    box: Box | None = None,
    flank: str | None = None,
    observed_age_class: str | None = None,
) -> Sighting:
    """Move or resize a box, or set its flank or observed age class; a new box is matched again."""
    sighting = _lock_sighting(sighting_id)
    check_version(sighting, expected_version, what="sighting")
    claim_for_sighting(sighting, user)
    fields: list[str] = []
    rematch = False
    if box is not None:
        box = box.clipped()
        if (sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h) != (
            box.x,
            box.y,
            box.w,
            box.h,
        ):
            sighting.bbox_x, sighting.bbox_y, sighting.bbox_w, sighting.bbox_h = (
                box.x,
                box.y,
                box.w,
                box.h,
            )
            fields += ["bbox_x", "bbox_y", "bbox_w", "bbox_h"]
            rematch = True
    if flank is not None and flank != sighting.flank:
        if flank not in Flank.values:
            raise ReviewError(_("Unknown flank."))
        sighting.flank = flank
        fields.append("flank")
        rematch = True
    if observed_age_class is not None and observed_age_class != sighting.observed_age_class:
        if observed_age_class not in AgeClass.values:
            raise ReviewError(_("Unknown age class."))
        sighting.observed_age_class = observed_age_class
        fields.append("observed_age_class")
    if not fields:
        return sighting
    if rematch:
        sighting.feature_status = Sighting.FeatureStatus.PENDING
        fields.append("feature_status")
    save_with_reason(
        sighting, "box adjusted" if rematch else "observation recorded", fields=fields, user=user
    )
    if rematch:
        _queue_match(sighting.pk)
    if sighting.status == Sighting.Status.CONFIRMED:
        identification_changed([sighting.pk])
    return sighting


@transaction.atomic
def sighting_remove(
    *, sighting_id: int, user: AbstractBaseUser, expected_version: int | None
) -> Sighting:
    """Reject a box that shows no leopard (kept, so that the detector's mistake stays visible)."""
    sighting = _lock_sighting(sighting_id)
    check_version(sighting, expected_version, what="sighting")
    claim_for_sighting(sighting, user)
    was_confirmed = sighting.status == Sighting.Status.CONFIRMED
    before = {"leopard_id": sighting.leopard_id, "status": sighting.status}
    sighting.status = Sighting.Status.REJECTED
    sighting.leopard = None
    save_with_reason(sighting, "box removed", fields=["status", "leopard"], user=user)
    if was_confirmed:
        change_record(
            kind=CatalogueChange.Kind.UNCONFIRM,
            user=user,
            reason_code=CatalogueChange.Reason.BOX_SHOWS_NO_LEOPARD,
            leopards=[before["leopard_id"]],
            sightings=[sighting],
            before=before,
            after={"leopard_id": None, "status": sighting.status},
        )
        identification_changed([sighting.pk])
    return sighting
