"""Census pages and downloads: the dashboard, capture-recapture surveys, CSV and secr."""

import io
import zipfile
from datetime import date
from urllib.parse import urlencode

import numpy as np
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.models import LocationAccessLog
from accounts.privacy import can_see_exact
from accounts.roles import has_permission
from accounts.services import location_access_log
from census import estimate_text, exports, periods
from census.abundance import MODELS, estimate
from census.dashboard import (
    DASHBOARD_CACHE_SECONDS,
    FIGURE_FIELDS,
    Scope,
    census_scope,
    dashboard,
)
from census.estimators import density_from_estimate
from census.forms import DensityRunForm, PeriodForm, SurveyForm, default_survey
from census.models import DensityRun
from census.selectors import latest_density, latest_sighting_day, registry_capture_histories
from census.services import density_run_request
from traps.models import Park
from traps.spreadsheets import csv_text

CSV_TABLES = ("periods", "stations", "individuals")


def _scope_or_404(
    request: HttpRequest, park_code: str | None, permission: str = roles.CENSUS
) -> Scope:
    if not has_permission(request.user, permission):
        raise Http404(_("No such park."))
    scope = census_scope(request.user, park_code)
    if scope is None:
        raise Http404(_("No such park."))
    return scope


def _filters(request: HttpRequest) -> dict:
    form = PeriodForm(request.GET or None)
    if not form.is_bound:
        return {}
    if not form.is_valid():
        # A download is never of another period than the one asked for.
        raise BadRequest(" ".join(str(e) for errors in form.errors.values() for e in errors))
    return form.cleaned_data


def census_dashboard(request: HttpRequest, park_code: str | None = None) -> HttpResponse:
    scope = _scope_or_404(request, park_code)
    form = PeriodForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    context = dashboard(scope=scope, filters=filters, today=timezone.localdate())
    query = request.GET.urlencode()
    context["density"] = latest_density(scope.park) if scope.park else None
    # A year page's HTML is kept as well as its figures: rendering the tables cost
    # more than reading them. The park switcher lists the user's own parks, and the
    # form echoes the query, so both are part of the key.
    # Whether the page links to the surveys depends on the role: part of the key too.
    may_survey = has_permission(request.user, roles.CENSUS_SURVEYS)
    context.update(
        form=form,
        query=query,
        may_survey=may_survey,
        fragment_seconds=DASHBOARD_CACHE_SECONDS if context["cache_key"] else 0,
        # The latest density fit is read live; a new one renews the cached HTML.
        fragment_key=(
            context["cache_key"],
            query,
            [p.pk for p in scope.available],
            context["density"].pk if context["density"] else None,
            may_survey,
        ),
    )
    return render(request, "census/dashboard.html", context)


def _csv_response(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def census_csv(request: HttpRequest, table: str, park_code: str | None = None) -> HttpResponse:
    if table not in CSV_TABLES:
        raise Http404(_("No such table."))
    scope = _scope_or_404(request, park_code)
    data = dashboard(scope=scope, filters=_filters(request), today=timezone.localdate())
    # The title is in the user's language; the file name stays ASCII.
    if data["kind"] == periods.YEAR:
        span = str(data["year"])
    else:
        span = f"{data['start']:%Y-%m-%d}_to_{data['end']:%Y-%m-%d}"
    prefix = f"census-{scope.code or 'landscape'}-{span}"
    if table == "periods":
        columns = ["period", "start", "end", "reference_date", *FIGURE_FIELDS, "maximum", "rai"]
        rows = (
            [row["label"], row["start"], row["end"], row["reference_date"]]
            + [row[name] for name in FIGURE_FIELDS]
            + [row["maximum"], row["rai"]]
            for row in data["table"]
        )
        return _csv_response(csv_text(columns, rows), f"{prefix}-periods.csv")
    if table == "stations":
        # Census downloads are aggregates: grid cells for everyone, never stations.
        columns = [
            "latitude",
            "longitude",
            "coordinate_precision",
            "coordinates",
            "stations",
            "trap_nights",
            "independent_detections",
            "individuals",
        ]
        rows = (
            [
                p["lat"],
                p["lon"],
                p["precision"],
                f"{p['precision']:g} degree cell centre",
                p["stations"],
                p["trap_nights"],
                p["detections"],
                p["individuals"],
            ]
            for p in data["map"]["points"]
        )
        return _csv_response(csv_text(columns, rows), f"{prefix}-stations.csv")
    columns = [
        "code",
        "name",
        "sex",
        "birth_date",
        "age_class",
        "flanks",
        "first_seen",
        "last_seen",
        "sightings",
        "stations",
        "parks",
        "time_zone",
    ]
    # Rows stored before the dates were local carry UTC timestamps and no zone.
    rows = ([row.get(c, "UTC") for c in columns] for row in data["individuals"])
    return _csv_response(csv_text(columns, rows), f"{prefix}-individuals.csv")


def _survey_form(request: HttpRequest, park: Park) -> SurveyForm:
    if {"start", "end"} & set(request.GET):
        return SurveyForm(request.GET)
    # The page opens on the latest weeks with data, already estimated, so its
    # downloads carry dates from the first load.
    # Both days are the park's: today where the park is, and its latest sighting's day.
    default = default_survey(timezone.localdate(timezone=park.tzinfo), latest_sighting_day(park))
    return SurveyForm({name: str(value) for name, value in default.items()})


def census_survey(request: HttpRequest, park_code: str) -> HttpResponse:
    scope = _scope_or_404(request, park_code, roles.CENSUS_SURVEYS)
    park = scope.park
    form = _survey_form(request, park)
    context: dict = {
        "scope": scope,
        "park": park,
        "form": form,
        "may_see_exact": can_see_exact(request.user, park),
        "density_runs": _density_runs(park),
    }
    if form.is_valid():
        histories = registry_capture_histories(
            park=park,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            occasion_days=form.cleaned_data["occasion_days"],
        )
        matrix = np.array(histories.matrix, dtype=int).reshape(
            len(histories.codes), len(histories.occasions)
        )
        results = []
        for name in MODELS:
            result = estimate(name, matrix)
            results.append(
                {
                    "name": name,
                    "label": estimate_text.model_label(name),
                    "estimate": result,
                    "density": density_from_estimate(result, float(park.area_km2)),
                    "reason": estimate_text.estimate_reason(result),
                    "interval_method": estimate_text.interval_method(result),
                    "note": estimate_text.estimate_note(result),
                }
            )
        context.update(
            histories=histories,
            rows=list(zip(histories.codes, histories.matrix, strict=True)),
            results=results,
            density_form=DensityRunForm(
                initial={"start": form.cleaned_data["start"], "end": form.cleaned_data["end"]}
            ),
            query=urlencode({name: form.data[name] for name in ("start", "end", "occasion_days")}),
        )
    return render(request, "census/survey.html", context)


def _density_runs(park: Park) -> list[DensityRun]:
    runs = list(DensityRun.objects.filter(park=park).order_by("-created_at", "-pk")[:5])
    for run in runs:
        run.reason_text = estimate_text.density_reason(
            run.result.get("reason_code"), run.result.get("reason_params") or {}, run.reason
        )
    return runs


@require_POST
def census_density_start(request: HttpRequest, park_code: str) -> HttpResponse:
    scope = _scope_or_404(request, park_code, roles.CENSUS_SURVEYS)
    form = DensityRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        survey = SurveyForm({**request.POST.dict(), "occasion_days": "7"})
        back = reverse("census:survey", args=[scope.park.code])
        if survey.is_valid():
            # Back to the same survey, not to the page's default one.
            back += "?" + urlencode({k: survey.data[k] for k in ("start", "end", "occasion_days")})
        return redirect(back + "#density")
    data = form.cleaned_data
    density_run_request(
        park=scope.park,
        start=data["start"],
        end=data["end"],
        # Daily occasions: usage is then the nights each camera worked, 0 or 1.
        occasion_days=1,
        detectfn=data["detectfn"],
        buffer_m=data["buffer_km"] * 1000,
        user=request.user,
    )
    query = urlencode({"start": data["start"], "end": data["end"], "occasion_days": 7})
    return redirect(reverse("census:survey", args=[scope.park.code]) + f"?{query}#density")


def census_density_status(request: HttpRequest, park_code: str, run_id: int) -> JsonResponse:
    scope = _scope_or_404(request, park_code, roles.CENSUS_SURVEYS)
    run = DensityRun.objects.filter(park=scope.park, pk=run_id).first()
    if run is None:
        raise Http404(_("No such density fit."))
    return JsonResponse(
        {
            "status": run.status,
            "status_label": run.get_status_display(),
            "progress": run.progress,
            "finished": run.finished,
        }
    )


def census_density_csv(request: HttpRequest, park_code: str, run_id: int) -> HttpResponse:
    scope = _scope_or_404(request, park_code, roles.CENSUS_SURVEYS)
    run = DensityRun.objects.filter(
        park=scope.park, pk=run_id, status=DensityRun.Status.DONE
    ).first()
    if run is None:
        raise Http404(_("No such density fit."))
    result = run.result
    rows = [
        [
            name,
            value.get("estimate"),
            value.get("se"),
            value.get("lcl"),
            value.get("ucl"),
            value.get("link"),
        ]
        for name, value in (result.get("parameters") or {}).items()
        if value
    ]
    if result.get("D_per_100km2") is not None:
        rows.append(
            [
                "D per 100 km2",
                result["D_per_100km2"],
                result["se_per_100km2"],
                result["lcl_per_100km2"],
                result["ucl_per_100km2"],
                "log",
            ]
        )
    if result.get("N"):
        n = result["N"]
        rows.append(["N in the park", n["estimate"], n["se"], n["lcl"], n["ucl"], "log"])
    for key in (
        "loglik", "aic", "aicc", "esa_ha", "n_animals", "n_detections", "n_occasions",
        "n_detectors", "mask_points", "mask_spacing", "buffer", "buffer_bias", "detectfn",
        "reason",
    ):  # fmt: skip
        rows.append([key, result.get(key), None, None, None, None])
    name = f"density-{scope.park.code}-{run.start:%Y%m%d}-{run.end:%Y%m%d}.csv"
    columns = ["parameter", "estimate", "se", "lcl", "ucl", "link"]
    return _csv_response(csv_text(columns, rows), name)


def census_histories_csv(request: HttpRequest, park_code: str) -> HttpResponse:
    scope = _scope_or_404(request, park_code, roles.CENSUS_SURVEYS)
    form = SurveyForm(request.GET)
    if not form.is_valid():
        raise Http404(_("Give the survey's first and last day and the days per occasion."))
    histories = registry_capture_histories(park=scope.park, **form.cleaned_data)
    columns = ["individual", "sex"] + [
        f"{a.isoformat()}/{b.isoformat()}" for a, b in histories.occasions
    ]
    rows = (
        [code, sex, *row]
        for code, sex, row in zip(histories.codes, histories.sexes, histories.matrix, strict=True)
    )
    name = f"capture-histories-{scope.park.code}-{form.cleaned_data['start']:%Y%m%d}.csv"
    return _csv_response(csv_text(columns, rows), name)


def census_secr(request: HttpRequest, park_code: str) -> HttpResponse:
    scope = _scope_or_404(request, park_code, roles.CENSUS_SURVEYS)
    form = SurveyForm(request.GET)
    if not form.is_valid():
        raise Http404(_("Give the survey's first and last day and the days per occasion."))
    # An export carries exact traps only when asked for explicitly (`exact=1`) by
    # someone who may have them; the default is the 0.1 degree cells, as everywhere.
    exact = request.GET.get("exact") == "1" and can_see_exact(request.user, scope.park)
    export = exports.secr_export(park=scope.park, exact=exact, **form.cleaned_data)
    if exact:
        location_access_log(
            user=request.user,
            parks=scope.park,
            what=LocationAccessLog.What.EXPORT,
            request=request,
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("captures.txt", export.captures)
        archive.writestr("traps.txt", export.traps)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    start: date = form.cleaned_data["start"]
    response["Content-Disposition"] = (
        f'attachment; filename="secr-{scope.park.code}-{start:%Y%m%d}.zip"'
    )
    return response
