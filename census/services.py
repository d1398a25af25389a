"""Writes for the census: rebuild the stored yearly figures and mark them stale."""

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from census import periods
from census.density.registry import fit_survey, registry_survey
from census.models import CensusResult, CensusStale, DensityRun
from census.selectors import (
    PeriodCounts,
    PeriodEffort,
    census_counts,
    census_effort_by_park,
    individuals_by_park,
    individuals_by_period,
)
from traps.models import Deployment, Park

logger = logging.getLogger(__name__)

# Sighting changes within this many seconds of the first one share one rebuild.
REBUILD_DELAY_SECONDS = 60
_QUEUED_KEY = "census:rebuild-stale-queued"


def _years_with_effort(parks: Sequence[Park], now: datetime) -> dict[int, list[int]]:
    """Return park id -> the calendar years from its first deployment to now."""
    spans = (
        Deployment.objects.filter(station__park__in=list(parks))
        .values("station__park_id")
        .annotate(first=Min("start"), last=Max("end"))
        .order_by()
    )
    zones = {park.pk: park.tzinfo for park in parks}
    years: dict[int, list[int]] = {}
    for row in spans:
        zone = zones[row["station__park_id"]]
        first = row["first"].astimezone(zone).year
        # Running cameras (no end) make "now" the last year; so does a past end.
        last = now.astimezone(zone).year
        years[row["station__park_id"]] = list(range(first, last + 1))
    return years


def _result_rows(
    park: Park | None,
    year_periods: Sequence[periods.Period],
    counts: Sequence[PeriodCounts],
    efforts: Sequence[PeriodEffort],
    individuals: Sequence[list[dict]],
) -> list[CensusResult]:
    rows = []
    for period, count, effort_, table in zip(
        year_periods, counts, efforts, individuals, strict=True
    ):
        rows.append(
            CensusResult(
                park=park,
                year=int(period.label),
                reference_date=period.reference_date,
                individuals=count.individuals,
                adults=count.adults,
                subadults=count.subadults,
                kittens=count.kittens,
                age_unknown=count.age_unknown,
                females=count.females,
                males=count.males,
                sex_unknown=count.sex_unknown,
                new=count.new,
                returning=count.returning,
                left_only=count.left_only,
                right_only=count.right_only,
                minimum=count.minimum,
                known_alive=count.known_alive,
                several_parks=count.several_parks,
                trap_nights=effort_.trap_nights,
                stations_active=effort_.stations_active,
                detections=effort_.detections,
                stations=sorted([sid, *values] for sid, values in effort_.stations.items()),
                individual_rows=table,
            )
        )
    return rows


def _replace(park: Park | None, years: Sequence[int], rows: list[CensusResult]) -> None:
    with transaction.atomic():
        # Delete and insert: NULL parks (the landscape) cannot use ON CONFLICT on a
        # partial unique index portably, and the swap is atomic either way.
        CensusResult.objects.filter(park=park, year__in=list(years)).delete()
        CensusResult.objects.bulk_create(rows)


def census_rebuild(*, park_id: int | None = None, year: int | None = None) -> int:
    """Recompute the stored census figures: one park or all, one year or all.

    The landscape rows (each individual once across all parks) are recomputed for the
    same years. Effort, detections and the individuals tables of all the parks come
    from one pass each; only the counts need a query per park. Returns the number of
    rows written.
    """
    return _rebuild(park_ids=None if park_id is None else {park_id}, year=year)


def _rebuild(*, park_ids: Collection[int] | None, year: int | None) -> int:
    """Recompute the given parks (None: all) and the landscape, for one year or all."""
    now = timezone.now()
    all_parks = list(Park.objects.order_by("pk"))
    targets = [p for p in all_parks if park_ids is None or p.pk in park_ids]
    if not targets:
        return 0
    years_by_park = _years_with_effort(all_parks, now)
    if park_ids is None and year is None:
        # A full rebuild also drops years that no longer have any effort.
        for park in all_parks:
            CensusResult.objects.filter(park=park).exclude(
                year__in=years_by_park.get(park.pk, [])
            ).delete()
        every_year = sorted({y for ys in years_by_park.values() for y in ys})
        CensusResult.objects.filter(park=None).exclude(year__in=every_year).delete()
    wanted = sorted({y for park in targets for y in years_by_park.get(park.pk, [])})
    if year is not None:
        wanted = [year] if year in wanted else []
    if not wanted:
        return 0
    year_periods = [periods.year(y) for y in wanted]

    # Every park's effort, not only the targets': the landscape needs all of it, and one
    # pass (one detection query) serves both; a station's figures depend on it alone.
    efforts = census_effort_by_park(parks=all_parks, periods_=year_periods, now=now)
    individuals = individuals_by_park(parks=targets, periods_=year_periods)
    written = 0
    for park in targets:
        keep = [i for i, y in enumerate(wanted) if y in years_by_park.get(park.pk, [])]
        if not keep:
            continue
        kept = [year_periods[i] for i in keep]
        counts = census_counts(parks=[park], periods_=kept)
        rows = _result_rows(
            park,
            kept,
            counts,
            [efforts[park.pk][i] for i in keep],
            [individuals[park.pk][i] for i in keep],
        )
        _replace(park, [wanted[i] for i in keep], rows)
        written += len(rows)

    rows = _result_rows(
        None,
        year_periods,
        census_counts(parks=all_parks, periods_=year_periods),
        efforts[None],
        individuals_by_period(parks=all_parks, periods_=year_periods),
    )
    _replace(None, wanted, rows)
    return written + len(rows)


def census_mark_stale_for(*, park_years: set[tuple[int, int]], **kwargs) -> None:
    """Mark every (park id, year) whose confirmed identifications changed (a signal receiver)."""
    for park_id, year in sorted(park_years):
        census_mark_stale(park_id=park_id, year=year)


def census_mark_stale(*, park_id: int, year: int) -> None:
    """Record that a park-year's figures changed and queue one debounced rebuild.

    Sighting services call this whenever a confirmed sighting appears, changes or
    goes. Marks made within REBUILD_DELAY_SECONDS of each other share one task run.
    """
    CensusStale.objects.update_or_create(park_id=park_id, year=year)
    # cache.add is atomic (SET NX on Redis): only the first mark in the window queues.
    if cache.add(_QUEUED_KEY, True, timeout=REBUILD_DELAY_SECONDS):
        from census import tasks

        transaction.on_commit(
            lambda: tasks.census_rebuild_stale.apply_async(countdown=REBUILD_DELAY_SECONDS)
        )


def census_rebuild_stale() -> int:
    """Rebuild every park-year marked stale; safe to run twice or concurrently.

    A mark made while the rebuild runs keeps its row (its time is later than the
    start), and the rebuild queues itself again for it.
    """
    started = timezone.now()
    stale_parks: dict[int, set[int]] = defaultdict(set)
    for park_id, year in CensusStale.objects.values_list("park_id", "year").distinct():
        stale_parks[year].add(park_id)
    written = 0
    # One rebuild per year: the stale parks of a year share its landscape rows, which
    # are recomputed once rather than once per park.
    for year, park_ids in sorted(stale_parks.items()):
        written += _rebuild(park_ids=park_ids, year=year)
    CensusStale.objects.filter(marked_at__lte=started).delete()
    cache.delete(_QUEUED_KEY)
    if CensusStale.objects.exists():
        from census import tasks

        cache.add(_QUEUED_KEY, True, timeout=REBUILD_DELAY_SECONDS)
        tasks.census_rebuild_stale.apply_async(countdown=REBUILD_DELAY_SECONDS)
    return written


# ---------------------------------------------------------------------------
# Density fits (spatial capture-recapture) queued from the survey page


def density_run_request(
    *,
    park: Park,
    start: date,
    end: date,
    occasion_days: int,
    detectfn: str,
    buffer_m: float,
    user: Any = None,
) -> DensityRun:
    """Record a density fit of a park's survey and queue it for a worker."""
    from census import tasks

    run = DensityRun.objects.create(
        park=park,
        start=start,
        end=end,
        occasion_days=occasion_days,
        detectfn=detectfn,
        buffer_m=buffer_m,
        requested_by=user if user is not None and user.is_authenticated else None,
    )
    transaction.on_commit(lambda: tasks.density_run.delay(run.pk))
    return run


def density_run_execute(*, run_id: int) -> None:
    """Fit the density of a queued run and store every figure, or why there is none.

    Safe to run twice: a finished run is left alone, and a run whose worker died is
    fitted again from the start (the fit has no side effects until it is stored).
    """
    run = DensityRun.objects.select_related("park").filter(pk=run_id).first()
    if run is None or run.finished:
        return
    DensityRun.objects.filter(pk=run.pk).update(status=DensityRun.Status.RUNNING, progress=1)
    shown = [1]

    def progress(fraction: float) -> None:
        percent = max(1, min(99, int(100 * fraction)))
        # A write per few percent: the page polls once a second, the fit steps faster.
        if percent >= shown[0] + 5:
            shown[0] = percent
            DensityRun.objects.filter(pk=run.pk).update(progress=percent)

    try:
        survey = registry_survey(
            park=run.park, start=run.start, end=run.end, occasion_days=run.occasion_days
        )
        fit, warnings = fit_survey(
            survey, detectfn=run.detectfn, buffer=run.buffer_m, progress=progress
        )
    except OperationalError:
        raise  # the task retries with backoff
    except Exception as error:  # a page must never poll a run that died for ever
        logger.exception("density run %s failed", run.pk)
        DensityRun.objects.filter(pk=run.pk).update(
            status=DensityRun.Status.FAILED,
            progress=100,
            reason=str(error) if isinstance(error, ValueError) else type(error).__name__,
            finished_at=timezone.now(),
        )
        return
    data = fit.to_dict()
    data["warnings"] = warnings + data["warnings"]
    DensityRun.objects.filter(pk=run.pk).update(
        status=DensityRun.Status.DONE,
        progress=100,
        result=data,
        density_per_100km2=data["D_per_100km2"],
        lcl_per_100km2=data["lcl_per_100km2"],
        ucl_per_100km2=data["ucl_per_100km2"],
        reason=fit.reason or "",
        finished_at=timezone.now(),
    )
