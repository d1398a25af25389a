"""The catalogue of individuals and the page of one individual, with its edits."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from leopards.forms import (
    CatalogueFilterForm,
    FlankLinkForm,
    LeopardEditForm,
    MergeForm,
    SplitForm,
    UndoForm,
)
from leopards.models import CatalogueChange, Leopard
from leopards.permissions import can_review
from leopards.selectors import catalogue as selectors
from leopards.services import catalogue_edits
from leopards.services.errors import ReviewError
from leopards.views.common import refused, require_reader, require_reviewer
from traps.selectors import parks_for_user

LEOPARDS_PER_PAGE = 50
SIGHTINGS_PER_PAGE = 100


@require_GET
def leopard_list(request: HttpRequest) -> HttpResponse:
    require_reader(request)
    form = CatalogueFilterForm(request.GET or None, parks=parks_for_user(request.user))
    filters = selectors.CatalogueFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = selectors.CatalogueFilters(
            q=data["q"],
            park_id=data["park"].pk if data["park"] else None,
            sex=data["sex"],
            age_class=data["age_class"],
            status=data["status"],
            seen_since=data["seen_since"],
            provisional=data["provisional"],
        )
    page = Paginator(
        selectors.leopard_catalogue(request.user, filters), LEOPARDS_PER_PAGE
    ).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    selectors.catalogue_figures(request.user, page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "leopards/leopard_list.html",
        {
            "filters": form,
            "page": page,
            "query": query.urlencode(),
            # Dates are the parks' local days: named once in the header when the parks
            # share a time zone, else beside each date.
            "date_zone": selectors.catalogue_time_zone(request.user),
        },
    )


def _leopard_or_404(request: HttpRequest, code: str) -> Leopard:
    found = selectors.leopard_lookup(request.user, code)
    if found.leopard is None:
        raise Http404
    return found.leopard


@require_GET
def leopard_detail(request: HttpRequest, code: str) -> HttpResponse:
    require_reader(request)
    found = selectors.leopard_lookup(request.user, code)
    if found.redirect_to:
        messages.info(
            request,
            _("%(old)s was merged into %(new)s; its sightings are shown here.")
            % {"old": code, "new": found.redirect_to},
        )
        return redirect("leopards:leopard-detail", code=found.redirect_to)
    if found.leopard is None:
        raise Http404
    return _render_detail(request, found.leopard)


def _render_detail(
    request: HttpRequest, leopard: Leopard, edit_form: LeopardEditForm | None = None, status=200
) -> HttpResponse:
    page = selectors.leopard_page(request.user, leopard)
    editable = can_review(request.user)
    # Newest first, a page at a time: a long-lived resident has hundreds of sightings.
    sightings = Paginator(page.sightings[::-1], SIGHTINGS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "leopards/leopard_detail.html",
        {
            "info": page,
            "sightings": sightings,
            "leopard": leopard,
            "editable": editable,
            "edit_form": edit_form
            or LeopardEditForm(instance=leopard, initial={"version": leopard.version}),
            "stations_data": _map_cells(page.stations),
            "undoable": {CatalogueChange.Kind.MERGE, CatalogueChange.Kind.SPLIT, "flank_link"},
        },
        status=status,
    )


def _map_cells(stations: list[selectors.StationSeen]) -> list[dict]:
    # One marker per grid cell: stations in one cell would sit on top of each other.
    cells: dict[tuple[float, float], dict] = {}
    for station in stations:
        cell = cells.setdefault(
            (station.latitude, station.longitude),
            {
                "code": [],
                "park": station.park,
                "lat": station.latitude,
                "lon": station.longitude,
                "exact": station.exact,
                "precision": station.precision,
                "count": 0,
            },
        )
        cell["code"].append(station.code)
        cell["count"] += station.count
    return [{**cell, "code": ", ".join(cell["code"])} for cell in cells.values()]


@require_POST
def leopard_edit(request: HttpRequest, code: str) -> HttpResponse:
    require_reviewer(request)
    leopard = _leopard_or_404(request, code)
    form = LeopardEditForm(request.POST, instance=Leopard.objects.get(pk=leopard.pk))
    if not form.is_valid():
        return _render_detail(request, leopard, form, status=400)
    changes = {field: form.cleaned_data[field] for field in LeopardEditForm.Meta.fields}
    try:
        catalogue_edits.leopard_update(
            leopard_id=leopard.pk,
            user=request.user,
            expected_version=form.cleaned_data["version"],
            changes=changes,
            reason=form.cleaned_data["reason"],
        )
    except ReviewError as error:
        return refused(request, error, leopard.get_absolute_url())
    messages.success(request, _("Saved."))
    return redirect(leopard)


@require_POST
def leopard_merge(request: HttpRequest, code: str) -> HttpResponse:
    require_reviewer(request)
    leopard = _leopard_or_404(request, code)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the duplicate's code and why they are one individual."))
        return redirect(leopard)
    other = selectors.leopard_lookup(request.user, form.cleaned_data["other"].strip()).leopard
    if other is None:
        messages.error(request, _("No individual with that code in your parks."))
        return redirect(leopard)
    try:
        catalogue_edits.leopard_merge(
            survivor_id=leopard.pk,
            absorbed_id=other.pk,
            user=request.user,
            reason=form.cleaned_data["reason"],
            expected_versions=(form.cleaned_data["version"], None),
        )
    except ReviewError as error:
        return refused(request, error, leopard.get_absolute_url())
    messages.success(
        request,
        _("%(other)s merged into %(code)s; its code is kept as an alias.")
        % {"other": other.code, "code": leopard.code},
    )
    return redirect(leopard)


@require_POST
def leopard_split(request: HttpRequest, code: str) -> HttpResponse:
    require_reviewer(request)
    leopard = _leopard_or_404(request, code)
    mine = list(
        selectors.visible_sightings(request.user)
        .filter(leopard=leopard)
        .values_list("pk", flat=True)
    )
    form = SplitForm(request.POST, sighting_ids=mine)
    if not form.is_valid():
        messages.error(request, _("Choose the sightings to split off and say why."))
        return redirect(leopard)
    target = None
    if form.cleaned_data["target"].strip():
        target = selectors.leopard_lookup(request.user, form.cleaned_data["target"].strip()).leopard
        if target is None:
            messages.error(request, _("No individual with that code in your parks."))
            return redirect(leopard)
    try:
        change = catalogue_edits.leopard_split(
            leopard_id=leopard.pk,
            sighting_ids=form.cleaned_data["sightings"],
            target_id=target.pk if target else None,
            sex=form.cleaned_data["sex"] or "unknown",
            user=request.user,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except ReviewError as error:
        return refused(request, error, leopard.get_absolute_url())
    moved = len(form.cleaned_data["sightings"])
    messages.success(
        request,
        ngettext("%(n)d sighting moved to %(code)s.", "%(n)d sightings moved to %(code)s.", moved)
        % {"n": moved, "code": change.after["target"]},
    )
    return redirect(leopard)


@require_POST
def leopard_link_flanks(request: HttpRequest) -> HttpResponse:
    require_reviewer(request)
    form = FlankLinkForm(request.POST)
    if not form.is_valid():
        raise Http404
    visible = selectors.visible_sightings(request.user)
    left = get_object_or_404(visible.select_related("leopard"), pk=form.cleaned_data["left"])
    get_object_or_404(visible, pk=form.cleaned_data["right"])
    try:
        change = catalogue_edits.leopard_link_flanks(
            left_sighting_id=form.cleaned_data["left"],
            right_sighting_id=form.cleaned_data["right"],
            user=request.user,
            reason=form.cleaned_data["reason"],
        )
    except ReviewError as error:
        return refused(request, error, left.leopard.get_absolute_url())
    messages.success(
        request,
        _("Left and right flanks linked: %(absorbed)s is now %(survivor)s.")
        % {"absorbed": change.before["absorbed"], "survivor": change.before["survivor"]},
    )
    return redirect("leopards:leopard-detail", code=change.before["survivor"])


@require_POST
def change_undo(request: HttpRequest, pk: int) -> HttpResponse:
    require_reviewer(request)
    change = get_object_or_404(selectors.catalogue_changes_for_user(request.user), pk=pk)
    first = change.leopards.filter(merged_into__isnull=True).order_by("pk").first()
    back = first.get_absolute_url() if first else "/"
    form = UndoForm(request.POST)
    form.is_valid()
    try:
        catalogue_edits.change_undo(
            change_id=change.pk, user=request.user, reason=form.cleaned_data.get("reason", "")
        )
    except ReviewError as error:
        return refused(request, error, back)
    messages.success(request, _("Undone: %(change)s.") % {"change": change.get_kind_display()})
    return redirect(back)
