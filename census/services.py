"""Writes for the census: rebuild the stored yearly figures and mark them stale."""

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from census.density.registry import fit_survey, registry_survey
from census.models import CensusResult, CensusStale, CensusTally, DensityRun
from census.selectors import PeriodEffort
from census.tallies import (
    ScopeYear,
    tally_cells,
    tally_effort_by_park,
    tally_records,
    tally_scope_years,
    tally_state_changes,
    tally_states,
    untimed_tallies,
)
from leopards.models import Flank
from traps.models import Deployment, Park, Station

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
    years: Sequence[int],
    figures: dict[int, ScopeYear],
    efforts: Sequence[PeriodEffort],
) -> list[CensusResult]:
    rows = []
    for y, effort_ in zip(years, efforts, strict=True):
        count = figures[y].counts
        rows.append(
            CensusResult(
                park=park,
                year=y,
                reference_date=count.period.reference_date,
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
                individual_rows=figures[y].individuals,
            )
        )
    return rows


def _replace(park: Park | None, years: Sequence[int], rows: list[CensusResult]) -> None:
    with transaction.atomic():
        # Delete and insert: NULL parks (the landscape) cannot use ON CONFLICT on a
        # partial unique index portably, and the swap is atomic either way.
        CensusResult.objects.filter(park=park, year__in=list(years)).delete()
        CensusResult.objects.bulk_create(rows)


def census_tally_refresh(
    *,
    year: int | None,
    park_ids: Collection[int] | None = None,
    station_ids: Collection[int] | None = None,
) -> set[tuple[int | None, int]]:
    """Recount the tallies of some stations (those of `park_ids` and `station_ids`; both
    None: every station) for one local year, or for every year when `year` is None.

    The tallies are counted in the database, from the sightings, by one INSERT ...
    SELECT: no sighting comes to Python. Recounting a station's year replaces every
    individual's row there, so a sighting that moved to another individual (a merge, a
    split) leaves no row behind for the one it left.

    Returns the (park id or None for the landscape, year) figures that the recount
    changed beyond the recounted park-years themselves: an individual's flanks are
    known from its whole catalogue, and whether it is new or known alive depends on
    its first and last year in the park and the landscape.
    """
    parks = list(Park.objects.order_by("pk"))
    if not parks:
        return set()
    if park_ids is not None and not park_ids and not station_ids:
        return set()
    scope = Q()
    if park_ids is not None or station_ids is not None:
        scope = Q(park_id__in=list(park_ids or [])) | Q(station_id__in=list(station_ids or []))
    stale = CensusTally.objects.filter(scope)
    if year is not None:
        stale = stale.filter(year=year)
    records = tally_records(parks=parks, year=year, park_ids=park_ids, station_ids=station_ids)
    sql, params = records.query.sql_with_params()
    table = connection.ops.quote_name(CensusTally._meta.db_table)
    keep = ""
    if year is not None:
        # The records just before the year only decided whether its first ones count.
        keep = "WHERE d.local_year = %s "
        params = (*params, year)
    with transaction.atomic():
        # Two recounts of one station (a task run twice) must not both delete and then
        # both insert: the second waits for the first and replaces its rows.
        stations = Station.objects.select_for_update()
        if park_ids is not None or station_ids is not None:
            stations = stations.filter(
                Q(park_id__in=list(park_ids or [])) | Q(pk__in=list(station_ids or []))
            )
        list(stations.order_by("pk").values_list("pk", flat=True))
        whole = park_ids is None and station_ids is None and year is None
        touched = set() if whole else set(stale.values_list("leopard_id", flat=True))
        before = {} if whole else tally_states(touched)
        stale.delete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (station_id, park_id, leopard_id, year, sightings, "
                "detections, left_sightings, right_sightings, first_day, last_day) "
                "SELECT d.station, d.park, d.leopard_id, d.local_year, COUNT(*), "
                "SUM(d.counted), SUM(CASE WHEN d.flank = %s THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN d.flank = %s THEN 1 ELSE 0 END), "
                "MIN(d.local_day), MAX(d.local_day) "
                f"FROM ({sql}) d {keep}"
                "GROUP BY d.station, d.park, d.leopard_id, d.local_year",
                (Flank.LEFT, Flank.RIGHT, *params),
            )
        if year is None:
            CensusTally.objects.bulk_create(
                untimed_tallies(park_ids=park_ids, station_ids=station_ids)
            )
        if whole:
            return set()
        touched |= set(stale.values_list("leopard_id", flat=True))
        touched.discard(None)
        after = tally_states(touched)
    return tally_state_changes(before, after)


def census_rebuild(*, park_id: int | None = None, year: int | None = None) -> int:
    """Recompute the stored census figures: one park or all, one year or all.

    The tallies of the chosen park-years are recounted from the sightings first (a
    full rebuild recounts all of them: it repairs anything written past the services),
    then the figures are derived from the tallies. The landscape rows (each individual
    once across all parks) are recomputed for the same years. Returns the number of
    rows written.
    """
    if park_id is not None and not Park.objects.filter(pk=park_id).exists():
        return 0
    census_tally_refresh(year=year, park_ids=None if park_id is None else [park_id])
    return _rebuild(park_ids=None if park_id is None else {park_id}, year=year)


def _rebuild(*, park_ids: Collection[int] | None, year: int | None) -> int:
    """Derive the given parks (None: all) and the landscape from the tallies."""
    now = timezone.now()
    all_parks = list(Park.objects.order_by("pk"))
    targets = [p for p in all_parks if park_ids is None or p.pk in park_ids]
    if not all_parks:
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
    # Without a park only the landscape's year is rebuilt (a change of its figures alone).
    wanted = sorted({y for park in targets or all_parks for y in years_by_park.get(park.pk, [])})
    if year is not None:
        wanted = [year] if year in wanted else []
    if not wanted:
        return 0

    # Every park's effort, not only the targets': the landscape needs all of it, and one
    # pass serves both; a station's figures depend on it alone.
    efforts = tally_effort_by_park(parks=all_parks, years=wanted, now=now)
    figures = tally_scope_years(
        parks=all_parks, park_ids=[park.pk for park in targets], years=wanted
    )
    written = 0
    for park in targets:
        keep = [i for i, y in enumerate(wanted) if y in years_by_park.get(park.pk, [])]
        if not keep:
            continue
        kept = [wanted[i] for i in keep]
        rows = _result_rows(park, kept, figures[park.pk], [efforts[park.pk][i] for i in keep])
        _replace(park, kept, rows)
        written += len(rows)

    rows = _result_rows(None, wanted, figures[None], efforts[None])
    _replace(None, wanted, rows)
    return written + len(rows)


def census_mark_stale_for(
    *, park_years: set[tuple[int, int]], sighting_ids: Sequence[int] | None = None, **kwargs
) -> None:
    """Mark the station-years of changed confirmed identifications (a signal receiver).

    Without the sightings (an older sender) the whole park-years are marked.
    """
    if sighting_ids is None:
        for park_id, year in sorted(park_years):
            census_mark_stale(park_id=park_id, year=year)
        return
    for park_id, station_id, year in sorted(tally_cells(sighting_ids)):
        census_mark_stale(park_id=park_id, year=year, station_id=station_id)


def census_mark_stale(*, park_id: int, year: int, station_id: int | None = None) -> None:
    """Record that a park-year's figures changed and queue one debounced rebuild.

    Sighting services call this whenever a confirmed sighting appears, changes or
    goes, with the sighting's station: only its tally is recounted. Without a station
    the whole park-year is. Marks made within REBUILD_DELAY_SECONDS of each other share
    one task run.
    """
    CensusStale.objects.update_or_create(park_id=park_id, year=year, station_id=station_id)
    # cache.add is atomic (SET NX on Redis): only the first mark in the window queues.
    if cache.add(_QUEUED_KEY, True, timeout=REBUILD_DELAY_SECONDS):
        from census import tasks

        transaction.on_commit(
            lambda: tasks.census_rebuild_stale.apply_async(countdown=REBUILD_DELAY_SECONDS)
        )


def census_rebuild_stale() -> int:
    """Recount the marked tallies and rebuild every marked park-year; safe to run twice.

    A mark made while the rebuild runs keeps its row (its time is later than the
    start), and the rebuild queues itself again for it.
    """
    started = timezone.now()
    whole: dict[int, set[int]] = defaultdict(set)
    stations: dict[int, set[int]] = defaultdict(set)
    parks: dict[int, set[int]] = defaultdict(set)
    for park_id, year, station_id in CensusStale.objects.values_list(
        "park_id", "year", "station_id"
    ):
        parks[year].add(park_id)
        if station_id is None:
            whole[year].add(park_id)
        else:
            stations[year].add(station_id)
    for year in sorted(parks):
        changed = census_tally_refresh(year=year, park_ids=whole[year], station_ids=stations[year])
        for park_id, other_year in changed:
            # That year's landscape at least, and the park's if it is one.
            parks[other_year].update({park_id} - {None})
    written = 0
    # One rebuild per year: the stale parks of a year share its landscape rows, which
    # are recomputed once rather than once per park.
    for year, park_ids in sorted(parks.items()):
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
