"""Data exchange pages: download a Camtrap DP package, import packages and detector results."""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.privacy import can_see_exact
from exchange import jobs, park_proposal, selectors, services
from exchange.camtrap_dp.validation import PackageInvalid
from exchange.forms import (
    ExportForm,
    MegaDetectorImportForm,
    NewParkForm,
    PackageImportForm,
    ParkChoiceForm,
    PartnerAliasForm,
)
from exchange.megadetector import megadetector_import, results_parse
from exchange.models import ExchangeJob, ImportRun
from traps.services.catalogue import park_create

MAX_RESULTS_BYTES = 200 * 1024 * 1024


def _require_exchange(request: HttpRequest) -> None:
    if not selectors.can_use_exchange(request.user):
        raise Http404


def _require_import(request: HttpRequest) -> None:
    if not selectors.parks_for_import(request.user).exists():
        raise Http404


def _check_park_choice(request: HttpRequest, allowed) -> None:
    # A park the user does not belong to does not exist for them.
    code = request.POST.get("park") or request.GET.get("park")
    if code and not allowed.filter(code=code).exists():
        raise Http404


def _partner_context(request: HttpRequest) -> dict:
    parks = selectors.parks_for_export(request.user)
    return {
        "partner_ids": selectors.partner_ids_waiting(parks),
        "aliases": selectors.partner_aliases(parks)[:200],
        "taxa": selectors.taxa(),
    }


@require_POST
def partner_alias_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    _require_import(request)
    alias = get_object_or_404(
        selectors.partner_aliases(selectors.parks_for_import(request.user)), pk=pk
    )
    n = services.partner_alias_withdraw(alias=alias, user=request.user)
    messages.success(
        request,
        ngettext(
            "%(org)s's %(partner)s is no longer our %(ours)s; %(n)d sighting is back in the "
            "review.",
            "%(org)s's %(partner)s is no longer our %(ours)s; %(n)d sightings are back in the "
            "review.",
            n,
        )
        % {"org": alias.organisation, "partner": alias.partner_id, "ours": alias.leopard, "n": n},
    )
    return redirect(f"{reverse('exchange:index')}#partners")


def index(request: HttpRequest) -> HttpResponse:
    _require_exchange(request)
    parks = selectors.parks_for_export(request.user)
    form = ExportForm(user=request.user)
    return render(
        request,
        "exchange/index.html",
        {
            "form": form,
            "may_see_exact": any(can_see_exact(request.user, p) for p in parks),
            "may_import": selectors.parks_for_import(request.user).exists(),
            "runs": ImportRun.objects.filter(park__in=parks)
            .select_related("park", "imported_by")
            .order_by("-imported_at")[:10],
            # A running import tells its progress through the cache, as on its own page.
            "jobs": [
                jobs.job_progress(job)
                for job in ExchangeJob.objects.filter(requested_by=request.user)
                .select_related("park")
                .order_by("-created_at")[:5]
            ],
            **_partner_context(request),
        },
    )


@require_POST
def partner_alias_confirm(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    # Only a partner id seen in one of the user's parks exists for them.
    wanted = (request.POST.get("organisation", ""), request.POST.get("partner_id", ""))
    if not selectors.partner_ids_waiting(selectors.parks_for_import(request.user), only=wanted):
        raise Http404
    form = PartnerAliasForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            alias = services.partner_alias_confirm(
                organisation=data["organisation"],
                partner_id=data["partner_id"],
                leopard=data["leopard"],
                user=request.user,
            )
        except services.PartnerAliasConflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(org)s's %(partner)s is our %(ours)s.")
                % {"org": alias.organisation, "partner": alias.partner_id, "ours": alias.leopard},
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(f"{reverse('exchange:index')}#partners")


@require_POST
def export(request: HttpRequest) -> HttpResponse:
    _require_exchange(request)
    _check_park_choice(request, selectors.parks_for_export(request.user))
    form = ExportForm(request.POST, user=request.user)
    if not form.is_valid():
        parks = selectors.parks_for_export(request.user)
        return render(
            request,
            "exchange/index.html",
            {
                "form": form,
                "may_see_exact": any(can_see_exact(request.user, p) for p in parks),
                "may_import": selectors.parks_for_import(request.user).exists(),
                "runs": [],
            },
            status=400,
        )
    job = jobs.export_job_queue(
        user=request.user,
        park=form.cleaned_data["park"],
        start=form.cleaned_data["start"],
        end=form.cleaned_data["end"],
        exact_coordinates=form.cleaned_data["exact_coordinates"],
    )
    return redirect(job)


def _job_for(request: HttpRequest, key: str) -> ExchangeJob:
    # A job is its requester's: anyone else gets a 404.
    return jobs.job_progress(
        get_object_or_404(
            ExchangeJob.objects.select_related("park", "import_run"),
            key=key,
            requested_by=request.user,
        )
    )


def _proposal_context(request: HttpRequest, job: ExchangeJob, **forms) -> dict:
    """Say which park a waiting import likely belongs to, among those the user may write."""
    proposal = job.parameters.get("proposal") or {}
    allowed = selectors.parks_for_import(request.user)
    park = allowed.filter(code=proposal.get("park") or "").first()
    new_park = proposal.get("new_park") or {}
    may_create = park_proposal.may_create_parks(request.user)
    return {
        "proposed_park": park,
        "reasons": [park_proposal.reason_text(r) for r in proposal.get("reasons", [])]
        if park
        else [],
        "matched": proposal.get("matched", 0),
        "deployments": proposal.get("deployments", 0),
        "may_create": may_create,
        "choice_form": forms.get("choice_form")
        or ParkChoiceForm(user=request.user, initial={"park": park}),
        "new_park_form": forms.get("new_park_form")
        or (NewParkForm(initial=new_park, prefix="new") if may_create else None),
        "new_park_name": new_park.get("name", ""),
    }


def job(request: HttpRequest, key: str) -> HttpResponse:
    _require_exchange(request)
    job = _job_for(request, key)
    context = {"job": job}
    if job.status == ExchangeJob.Status.WAITING:
        context.update(_proposal_context(request, job))
    return render(request, "exchange/job.html", context)


@require_POST
def job_park(request: HttpRequest, key: str) -> HttpResponse:
    """Confirm the park of an import that waits for one, or add a park for it."""
    _require_import(request)
    job = _job_for(request, key)
    if job.kind != ExchangeJob.Kind.IMPORT or job.status != ExchangeJob.Status.WAITING:
        return redirect(job)
    forms: dict = {}
    if "create" in request.POST:
        if not park_proposal.may_create_parks(request.user):
            raise Http404
        form = NewParkForm(request.POST, prefix="new")
        forms["new_park_form"] = form
        if form.is_valid():
            park = park_create(data=form.cleaned_data)
            jobs.import_job_park_set(job=job, park=park)
            return redirect(job)
    else:
        _check_park_choice(request, selectors.parks_for_import(request.user))
        form = ParkChoiceForm(request.POST, user=request.user)
        forms["choice_form"] = form
        if form.is_valid():
            jobs.import_job_park_set(job=job, park=form.cleaned_data["park"])
            return redirect(job)
    context = {"job": job, **_proposal_context(request, job, **forms)}
    return render(request, "exchange/job.html", context, status=400)


def job_status(request: HttpRequest, key: str) -> JsonResponse:
    _require_exchange(request)
    job = _job_for(request, key)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": str(job.get_status_display()),
            "done": job.done,
            "total": job.total,
            "percent": job.percent,
            "finished": job.finished,
        }
    )


def job_download(request: HttpRequest, key: str) -> HttpResponse:
    _require_exchange(request)
    job = _job_for(request, key)
    if job.kind != ExchangeJob.Kind.EXPORT or job.status != ExchangeJob.Status.DONE:
        raise Http404
    name = f"camtrap-dp-{job.park.code}-{timezone.localdate(job.finished_at):%Y%m%d}.zip"
    return FileResponse(
        job.file.open("rb"), as_attachment=True, filename=name, content_type="application/zip"
    )


@require_http_methods(["GET", "POST"])
def import_package(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    context: dict = {}
    if request.method == "POST":
        _check_park_choice(request, selectors.parks_for_import(request.user))
        form = PackageImportForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            upload, park, proposal = form.cleaned_data["package"], form.cleaned_data["park"], None
            try:
                if park is None:
                    head = park_proposal.package_head(upload)
                    upload.seek(0)
                    proposal = park_proposal.park_propose(user=request.user, head=head).as_json()
            except PackageInvalid as exc:
                context["problems"] = exc.problems
            else:
                job = jobs.import_job_queue(
                    user=request.user,
                    park=park,
                    upload=upload,
                    organisation=form.cleaned_data["organisation"],
                    proposal=proposal,
                )
                return redirect(job)
    else:
        form = PackageImportForm(user=request.user)
    context["form"] = form
    context["organisations"] = selectors.organisations()
    status = 400 if context.get("problems") or form.errors else 200
    return render(request, "exchange/import_package.html", context, status=status)


@require_http_methods(["GET", "POST"])
def import_megadetector(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    context: dict = {}
    if request.method == "POST":
        deployment_id = request.POST.get("deployment")
        if deployment_id:
            get_object_or_404(
                selectors.deployments_for_import(request.user),
                pk=deployment_id if deployment_id.isdigit() else 0,
            )
        form = MegaDetectorImportForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            upload = form.cleaned_data["results"]
            try:
                if upload.size > MAX_RESULTS_BYTES:
                    raise PackageInvalid([])
                data = results_parse(upload.read())
                context["summary"] = megadetector_import(
                    data=data,
                    deployment=form.cleaned_data["deployment"],
                    threshold=form.cleaned_data["threshold"],
                    user=request.user,
                    source_name=upload.name,
                )
            except PackageInvalid as exc:
                context["problems"] = exc.problems or [_("The file is too large.")]
    else:
        form = MegaDetectorImportForm(user=request.user)
    context["form"] = form
    status = 400 if context.get("problems") or form.errors else 200
    return render(request, "exchange/import_megadetector.html", context, status=status)


@require_http_methods(["GET", "POST"])
def likely_blanks(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    events = selectors.likely_blank_events(request.user)
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("event") if i.isdigit()]
        changed = services.events_mark_blank(events=events.filter(pk__in=ids), user=request.user)
        messages.success(
            request,
            ngettext("%(n)d event recorded as blank.", "%(n)d events recorded as blank.", changed)
            % {"n": changed},
        )
        return redirect("exchange:likely-blanks")
    return render(request, "exchange/likely_blanks.html", {"events": events[:500]})
