"""The review queue and the review page of one event, with its form actions."""

from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from leopards.forms import ClassifyForm, IdentifyForm, MotherForm, QueueFilterForm
from leopards.models import Leopard, Sighting
from leopards.rules import candidates_mark_override
from leopards.selectors import review as selectors
from leopards.selectors.catalogue import (
    candidates_disclose,
    leopards_for_user,
    visible_sightings,
)
from leopards.selectors.catalogue import leopard_lookup as lookup_leopard
from leopards.services import catalogue_edits, identification, review
from leopards.services.errors import ReviewError, required_version
from leopards.views.common import refused, require_reviewer
from traps.selectors import parks_for_user, stations_for_user

EVENTS_PER_PAGE = 50


@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    require_reviewer(request)
    form = QueueFilterForm(
        request.GET or None,
        parks=parks_for_user(request.user),
        stations=stations_for_user(request.user),
    )
    filters = selectors.QueueFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.QueueFilters(
            park_id=data["park"].pk if data["park"] else None,
            station_id=data["station"].pk if data["station"] else None,
            date_from=data["date_from"],
            date_to=data["date_to"],
            status=data["status"] or None,
        )
    page = Paginator(selectors.review_queue(request.user, filters), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "leopards/review_queue.html",
        {
            "filters": form,
            "page": page,
            "counts": selectors.review_queue_counts(request.user, filters),
            "query": query.urlencode(),
            # Times are the park's local times: named once in the header when the
            # page's events share a zone, on each row otherwise. The events are read
            # once, here, and the template iterates the same rows.
            "date_zone": _one_zone(page.object_list),
        },
    )


def _one_zone(events) -> str:
    """Return the one time zone of the events' parks, or "" when they lie in several."""
    zones = {event.deployment.station.park.time_zone for event in events}
    return zones.pop() if len(zones) == 1 else ""


def _event_or_404(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.events_for_user(request.user), pk=pk)


@require_POST
def event_claim(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    event = _event_or_404(request, pk)
    try:
        review.event_claim(
            event_id=event.pk, user=request.user, take_over=request.POST.get("take_over") == "1"
        )
    except ReviewError as error:
        return refused(request, error, reverse("leopards:review-queue"))
    return redirect("leopards:event-review", pk=event.pk)


@require_POST
def event_release(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    event = _event_or_404(request, pk)
    # Sent by the review page as it is left: release the claim only if it is still the
    # one the page opened with.
    stamp = request.POST.get("claimed_at")
    claimed_at = None
    if stamp:
        try:
            claimed_at = datetime.fromisoformat(stamp)
        except ValueError:
            claimed_at = None
        if claimed_at is None or claimed_at.tzinfo is None:
            return HttpResponseBadRequest(_("The claim time is not a date and time."))
    review.event_release(event_id=event.pk, user=request.user, claimed_at=claimed_at)
    return redirect("leopards:review-queue")


@require_POST
def event_skip(request: HttpRequest, pk: int) -> HttpResponse:
    """Leave an event for later (releasing the claim) and open the next one in the queue."""
    require_reviewer(request)
    event = _event_or_404(request, pk)
    review.event_release(event_id=event.pk, user=request.user)
    following = selectors.next_event_id(request.user, after=event)
    if following is None:
        messages.info(request, _("No other event is waiting."))
        return redirect("leopards:review-queue")
    # The next event is claimed when its page opens, not here: whoever then goes back
    # to the queue instead has not held it from colleagues.
    return redirect("leopards:event-review", pk=following)


@require_GET
# Never from the browser's cache: going back to the page opens the event, and claims it,
# again (the page gave its claim back when it was left).
@never_cache
def event_review(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    try:
        event = selectors.event_for_review(request.user, pk)
    except selectors.Event.DoesNotExist as exc:
        raise Http404 from exc
    # Opening an event claims it (unless a colleague holds it or it is reviewed); the
    # page gives the claim back if it is left untouched (review.js).
    claimed = review.event_open(event_id=event.pk, user=request.user)
    event.claimed_by, event.claimed_at = claimed.claimed_by, claimed.claimed_at
    event.status = claimed.status
    claim_active = event.claimed_by_id and not review.claim_expired(event)
    claimed_by_other = bool(claim_active and event.claimed_by_id != request.user.pk)
    photos = list(event.photos.all())
    sightings = [s for photo in photos for s in photo.sightings.all()]
    candidates_disclose(request.user, [c for s in sightings for c in s.candidates.all()])
    for sighting in sightings:
        candidates_mark_override(sighting, list(sighting.candidates.all()))
    event_review_row = getattr(event, "review", None)
    return render(
        request,
        "leopards/event_review.html",
        {
            "event": event,
            "park": event.deployment.station.park,
            "photos": photos,
            "sighting_count": len(sightings),
            "open_count": sum(1 for s in sightings if s.status == Sighting.Status.PROPOSED),
            "event_version": event_review_row.version if event_review_row else 1,
            "event_review": event_review_row,
            "claimed_by_me": bool(claim_active and event.claimed_by_id == request.user.pk),
            "claimed_by_other": claimed_by_other,
            "species": selectors.species_choices(),
            "contents": selectors.Event.Content.choices,
            "flanks": Sighting._meta.get_field("flank").choices,
            "age_classes": Sighting._meta.get_field("observed_age_class").choices,
            "sexes": Leopard._meta.get_field("sex").choices,
        },
    )


@require_POST
def event_classify(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    event = _event_or_404(request, pk)
    form = ClassifyForm(request.POST)
    here = reverse("leopards:event-review", args=[event.pk])
    if not form.is_valid():
        messages.error(request, _("Choose what the photos show."))
        return redirect(here)
    species = form.cleaned_data["species"]
    try:
        review.event_classify(
            event_id=event.pk,
            user=request.user,
            content=form.cleaned_data["content"],
            species_id=species.pk if species else None,
            expected_version=form.cleaned_data["version"],
        )
    except ReviewError as error:
        return refused(request, error, here)
    if form.cleaned_data["content"] == selectors.Event.Content.LEOPARD:
        return redirect(here)
    messages.success(request, _("Event marked and reviewed."))
    return _next_or_queue(request, event)


@require_POST
def event_finish(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    event = _event_or_404(request, pk)
    here = reverse("leopards:event-review", args=[event.pk])
    try:
        review.event_finish(
            event_id=event.pk,
            user=request.user,
            expected_version=required_version(_int(request.POST.get("version"))),
        )
    except ReviewError as error:
        return refused(request, error, here)
    messages.success(request, _("Event reviewed."))
    return _next_or_queue(request, event)


def _next_or_queue(request: HttpRequest, event) -> HttpResponse:
    following = selectors.next_event_id(request.user, after=event)
    if following is None or request.POST.get("then") == "queue":
        return redirect("leopards:review-queue")
    return redirect("leopards:event-review", pk=following)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_POST
def sighting_identify(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm a candidate, create a new individual, mark unidentifiable or record what is seen."""
    require_reviewer(request)
    sighting = get_object_or_404(visible_sightings(request.user).select_related("photo"), pk=pk)
    back = request.POST.get("next") or ""
    if back.startswith("/") and not back.startswith("//"):
        here = back
    elif sighting.photo.event_id is not None:
        here = reverse("leopards:event-review", args=[sighting.photo.event_id])
    else:
        here = reverse("leopards:review-queue")
    form = IdentifyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The form was incomplete; nothing was saved."))
        return redirect(here)
    data = form.cleaned_data
    common = {
        "sighting_id": sighting.pk,
        "user": request.user,
        "expected_version": data["version"],
    }
    age = data["observed_age_class"] or None
    try:
        match data["action"]:
            case "confirm":
                if data["candidate"]:
                    # A candidate from another park is named by the candidate's own id only.
                    leopard_id = get_object_or_404(
                        sighting.candidates.all(), pk=data["candidate"]
                    ).leopard_id
                else:
                    leopard_id = get_object_or_404(
                        leopards_for_user(request.user), pk=data["leopard"] or 0
                    ).pk
                result = identification.sighting_confirm(
                    **common,
                    leopard_id=leopard_id,
                    reason=data["reason"],
                    observed_age_class=age,
                    override=data["override"],
                )
                messages.success(
                    request,
                    _("Confirmed as %(code)s.") % {"code": result.leopard.code},
                )
            case "new":
                result = identification.sighting_create_individual(
                    **common,
                    sex=data["sex"] or "unknown",
                    name=data["name"],
                    reason=data["reason"],
                    observed_age_class=age,
                )
                messages.success(
                    request,
                    _("New individual %(code)s created.") % {"code": result.leopard.code},
                )
            case "unidentifiable":
                identification.sighting_mark_unidentifiable(
                    **common, reason=data["reason"], observed_age_class=age
                )
            case "unconfirm":
                identification.sighting_unconfirm(**common, reason=data["reason"])
            case "remove":
                review.sighting_remove(**common)
            case "observe":
                review.sighting_adjust(
                    **common, flank=data["flank"] or None, observed_age_class=age
                )
    except ReviewError as error:
        return refused(request, error, here)
    return redirect(here)


@require_POST
def mother_link(request: HttpRequest) -> HttpResponse:
    """Record that an individual is the mother of a kitten seen with her."""
    require_reviewer(request)
    form = MotherForm(request.POST)
    back = request.POST.get("next") or reverse("leopards:review-queue")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("leopards:review-queue")
    if not form.is_valid():
        messages.error(request, _("Choose the kitten and its mother."))
        return redirect(back)
    visible = leopards_for_user(request.user)
    kitten = get_object_or_404(visible, pk=form.cleaned_data["kitten"])
    mother_id = form.cleaned_data["mother"]
    code = request.POST.get("mother_code", "").strip()
    if mother_id is None and code:
        found = lookup_leopard(request.user, code).leopard
        if found is None:
            messages.error(request, _("No individual with that code in your parks."))
            return redirect(back)
        mother_id = found.pk
    if mother_id:
        get_object_or_404(visible, pk=mother_id)
    try:
        catalogue_edits.leopard_set_mother(
            kitten_id=kitten.pk,
            mother_id=mother_id,
            user=request.user,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"],
            photo_id=form.cleaned_data["photo"],
        )
    except ReviewError as error:
        return refused(request, error, back)
    messages.success(request, _("Mother of %(code)s recorded.") % {"code": kitten.code})
    return redirect(back)
