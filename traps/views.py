"""Pages of the traps app: overview, upload, deployments, and the photo files."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from accounts import exif
from accounts.models import LocationAccessLog
from accounts.privacy import can_see_exact
from accounts.roles import can_correct_deployments, can_upload
from accounts.services import location_access_log
from traps import selectors, services
from traps.forms import ClockOffsetForm, DeploymentFilterForm, format_offset
from traps.selectors import park_overview

DEPLOYMENTS_PER_PAGE = 50
EVENTS_PER_PAGE = 20


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"parks": park_overview(request.user)})


@login_not_required
@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Send browsers that ask for /favicon.ico on their own to the static icon."""
    return redirect(static("favicon.ico"))


@require_GET
def upload(request: HttpRequest) -> HttpResponse:
    if not can_upload(request.user):
        raise Http404
    return render(
        request,
        "traps/upload.html",
        {
            "deployments": selectors.upload_deployments(request.user),
            "max_bytes": settings.PHOTO_MAX_BYTES,
            "messages_js": _upload_messages(),
        },
    )


def _upload_messages() -> dict[str, str]:
    # The page's script fills {name}-style placeholders itself.
    return {
        "selected": _("{n} files chosen ({size})."),
        "size_kb": _("{n} KB"),
        "size_mb": _("{n} MB"),
        "size_gb": _("{n} GB"),
        "checking": _("Checking which photos the registry already has…"),
        "sending": _("Sending the photos the registry does not have yet…"),
        "retrying": _("Connection problem with {name}; trying again…"),
        "done": _("Done: {stored} stored, {duplicates} already stored, {rejected} rejected."),
        "done_failed": _(
            "Stopped: {stored} stored, {duplicates} already stored, {rejected} rejected, "
            "{failed} not sent. Select the same files again to send the rest."
        ),
        "session": _(
            "You are logged out or may not upload here. Log in again and select the same "
            "files: nothing already stored is lost or sent twice."
        ),
        "network": _(
            "Not sent: the connection failed several times. Select the files again to resume."
        ),
        "too_large": _("The file is larger than the limit of %(mb)d MB; it was not sent.")
        % {"mb": settings.PHOTO_MAX_BYTES // (1024 * 1024)},
        "elsewhere": _("Already in the registry, in another park; not stored again."),
        "other_deployment": _("Already in the registry, in another deployment."),
        "rejected_unknown": _("The registry refused this file."),
        "proposal_one": _("Proposed from camera {serial} (photo taken {time}): {label}"),
        "proposal_many": _(
            "Several deployments of camera {serial} match {time}; the newest is chosen, check it."
        ),
        "proposal_none": _("No deployment of camera {serial} covers {time}; choose one."),
        "proposal_no_serial": _("The photos carry no camera serial; choose the deployment."),
        "leave": _("Photos are still being sent. Already stored photos stay stored."),
        "unreadable": _("The file could not be read (was the card taken out?); it was not sent."),
        "will_retry": _(
            "{failed} files were not sent. They go again by themselves when the connection "
            "comes back, or now with this button."
        ),
        "problems_more": _("… and {n} more: save the list to see every file."),
        "resume": _(
            "An upload to this deployment stopped on {date} after {done} of {total} files. "
            "Choose the same card again: the photos already stored are skipped."
        ),
    }


@require_GET
def deployment_list(request: HttpRequest) -> HttpResponse:
    parks = selectors.parks_for_user(request.user)
    stations = selectors.stations_for_user(request.user)
    filters = DeploymentFilterForm(request.GET or None, parks=parks, stations=stations)
    park = station = None
    if filters.is_valid():
        park, station = filters.cleaned_data["park"], filters.cleaned_data["station"]
    deployments = selectors.deployment_list(
        request.user,
        park_id=park.pk if park else None,
        station_id=station.pk if station else None,
    )
    page = Paginator(deployments, DEPLOYMENTS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    selectors.deployment_figures(page.object_list)
    return render(
        request,
        "traps/deployment_list.html",
        {
            "filters": filters,
            # The pick lists are written out by the template: Django's select widget
            # renders a template per option, which cost more than the whole table.
            "park_choices": [(p.pk, p.local_name) for p in parks.order_by("name")],
            "station_choices": list(
                stations.order_by("park__name", "code").values_list("pk", "park__code", "code")
            ),
            "selected_park": park.pk if park else None,
            "selected_station": station.pk if station else None,
            "page": page,
            "query": _query_without_page(request),
        },
    )


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _deployment_or_404(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.deployments_for_user(request.user), pk=pk)


@require_GET
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    form = ClockOffsetForm(
        deployment=deployment,
        initial={
            "offset": format_offset(deployment.clock_offset),
            "version": deployment.version,
            "reference_photo": request.GET.get("reference") or None,
        },
    )
    return _render_detail(request, deployment, form)


def _render_detail(request: HttpRequest, deployment, form: ClockOffsetForm, status: int = 200):
    events = Paginator(selectors.deployment_events(deployment), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    reference = None
    reference_id = form["reference_photo"].value()
    if reference_id:
        reference = (
            selectors.photos_for_user(request.user)
            .filter(pk=reference_id, deployment=deployment)
            .first()
        )
    return render(
        request,
        "traps/deployment_detail.html",
        {
            "deployment": deployment,
            "park": deployment.station.park,
            "summary": selectors.deployment_photo_summary(deployment),
            "events": events,
            "unplaced": selectors.deployment_photos_outside_events(deployment)[:200],
            "form": form,
            "reference": reference,
            "offset_text": format_offset(deployment.clock_offset),
            "can_correct": can_correct_deployments(request.user),
        },
        status=status,
    )


@require_POST
def deployment_clock(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    if not can_correct_deployments(request.user):
        raise Http404
    form = ClockOffsetForm(request.POST, deployment=deployment)
    if not form.is_valid():
        return _render_detail(request, deployment, form, status=400)
    try:
        deployment = services.deployment_set_clock_offset(
            deployment_id=deployment.pk,
            clock_offset=form.cleaned_data["clock_offset"],
            expected_version=form.cleaned_data["version"],
        )
    except services.DeploymentChanged as changed:
        messages.error(
            request,
            _(
                "Someone changed this deployment meanwhile (the offset is now %(offset)s). "
                "Check it and save again."
            )
            % {"offset": format_offset(changed.deployment.clock_offset)},
        )
        return redirect(deployment)
    messages.success(
        request,
        _("Clock offset set to %(offset)s; photo times and events were recomputed.")
        % {"offset": format_offset(deployment.clock_offset)},
    )
    return redirect(deployment)


@require_POST
def photo_retry(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_object_or_404(selectors.photos_for_user(request.user), pk=pk)
    if not can_correct_deployments(request.user):
        raise Http404
    if services.photo_retry(photo_id=photo.pk):
        messages.success(request, _("“%(name)s” is queued for processing again.") % {"name": photo})
    return redirect(photo.deployment)


@require_GET
def photo_file(request: HttpRequest, pk: int, kind: str) -> HttpResponseBase:
    """Serve a photo or its thumbnail to members of its park only."""
    photo = get_object_or_404(
        selectors.photos_for_user(request.user).select_related("deployment__station__park"), pk=pk
    )
    name = photo.file.name if kind == "file" else photo.thumbnail.name
    if not name:
        raise Http404
    if kind == "file":
        # Thumbnails never carry EXIF; an original may hold the camera's GPS position.
        return _photo_original(request, photo)
    if getattr(default_storage, "querystring_auth", False):
        # Object storage: hand out a short-lived signed URL instead of piping bytes.
        return redirect(default_storage.url(name))
    # Stored names come from the content hash, so the bytes behind a URL never
    # change: browsers may keep them, but only privately (they are not public).
    etag = f'"{photo.sha256[:32]}-{kind}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponseBase = HttpResponseNotModified()
    else:
        try:
            handle = default_storage.open(name, "rb")
        except FileNotFoundError as exc:
            raise Http404 from exc
        response = FileResponse(
            handle,
            content_type=photo.media_type if kind == "file" else "image/jpeg",
            filename=photo.original_name or None,
        )
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "attachment", "inline"
        )
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


def _photo_original(request: HttpRequest, photo) -> HttpResponseBase:
    # Someone with exact-location rights in the photo's park gets the original,
    # and an original that may hold a position is put on record. Everyone else
    # gets a copy whose metadata is rebuilt from an allow-list (the image data
    # itself untouched), whatever the original holds: a list of places to
    # remove would always miss the next one.
    exact = can_see_exact(request.user, photo.deployment.station.park_id)
    etag = f'"{photo.sha256[:32]}-file{"" if exact else "-allowlist"}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponseBase = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    try:
        with default_storage.open(photo.file.name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise Http404 from exc
    name = photo.original_name or f"photo-{photo.pk}"
    if exact:
        if exif.has_location(data):
            location_access_log(
                user=request.user,
                parks=photo.deployment.station.park,
                what=LocationAccessLog.What.PHOTO,
                detail=f"photo {photo.pk}",
                request=request,
            )
        response = HttpResponse(data, content_type=photo.media_type)
    else:
        try:
            rebuilt = exif.without_location(data)
        except exif.NotAnImage as exc:
            # Not even the pixels decode: nothing is served rather than the file as is.
            raise Http404 from exc
        if rebuilt.media_type != photo.media_type:
            name = f"{name.rsplit('.', 1)[0]}.png"
        response = HttpResponse(rebuilt.data, content_type=rebuilt.media_type)
    response["Content-Disposition"] = content_disposition_header(False, name)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
