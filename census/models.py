"""Stored census results (filled by the census rebuild) and the queue of stale ones."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class CensusResult(models.Model):
    """The census figures of one park (or the whole landscape) for one calendar year.

    The dashboards read these rows instead of aggregating millions of photos on every
    page view; `census.services.census_rebuild` writes them from the per-station
    tallies (`CensusTally`, census.tallies), by the live selectors' definitions.
    The headline counts are columns (queryable, exportable), the per-station and
    per-individual tables JSON lists bounded by stations and individuals, not photos.
    """

    park = models.ForeignKey(
        "traps.Park",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="census_results",
        verbose_name=_("park"),
        help_text=_("Empty for the whole landscape, where each individual counts once."),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    reference_date = models.DateField(_("reference date"))

    individuals = models.PositiveIntegerField(_("individuals"), default=0)
    adults = models.PositiveIntegerField(_("adults"), default=0)
    subadults = models.PositiveIntegerField(_("subadults"), default=0)
    kittens = models.PositiveIntegerField(_("kittens"), default=0)
    age_unknown = models.PositiveIntegerField(_("age unknown"), default=0)
    females = models.PositiveIntegerField(_("females"), default=0)
    males = models.PositiveIntegerField(_("males"), default=0)
    sex_unknown = models.PositiveIntegerField(_("sex unknown"), default=0)
    new = models.PositiveIntegerField(_("new individuals"), default=0)
    returning = models.PositiveIntegerField(_("returning individuals"), default=0)
    left_only = models.PositiveIntegerField(_("known from the left flank only"), default=0)
    right_only = models.PositiveIntegerField(_("known from the right flank only"), default=0)
    minimum = models.PositiveIntegerField(_("minimum (flanks)"), default=0)
    known_alive = models.PositiveIntegerField(_("minimum number known alive"), default=0)
    several_parks = models.PositiveIntegerField(_("seen in more than one park"), default=0)

    trap_nights = models.PositiveIntegerField(_("trap-nights"), default=0)
    stations_active = models.PositiveIntegerField(_("stations with effort"), default=0)
    detections = models.PositiveIntegerField(_("independent detections"), default=0)

    stations = models.JSONField(_("stations"), default=list, blank=True)
    individual_rows = models.JSONField(_("individuals seen"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        ordering = ["park__name", "year"]
        verbose_name = _("census result")
        verbose_name_plural = _("census results")
        constraints = [
            # Two partial constraints because NULL never equals NULL in a UNIQUE index:
            # one row per park and year, and one landscape row per year.
            models.UniqueConstraint(
                fields=["park", "year"],
                condition=Q(park__isnull=False),
                name="census_result_unique_park_year",
            ),
            models.UniqueConstraint(
                fields=["year"],
                condition=Q(park__isnull=True),
                name="census_result_unique_landscape_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.park or _('Landscape')} {self.year}"

    @property
    def rai(self) -> float | None:
        """Return independent detections per 100 trap-nights."""
        return 100 * self.detections / self.trap_nights if self.trap_nights else None


class CensusStale(models.Model):
    """A park-year whose stored figures no longer match the sightings.

    Sighting writes mark their station's year here (`census_mark_stale`); one debounced
    task recounts the marked stations' tallies and rebuilds every marked park-year from
    the tallies in a batch, so a scientist confirming fifty sightings in a minute causes
    one rebuild, not fifty. A mark without a station recounts the whole park-year.
    """

    park = models.ForeignKey("traps.Park", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    station = models.ForeignKey(
        "traps.Station", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    marked_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stale census year")
        verbose_name_plural = _("stale census years")
        constraints = [
            # As for CensusResult: NULL never equals NULL, so one constraint per case.
            models.UniqueConstraint(
                fields=["park", "year"],
                condition=Q(station__isnull=True),
                name="census_stale_unique_park_year",
            ),
            models.UniqueConstraint(
                fields=["park", "year", "station"],
                condition=Q(station__isnull=False),
                name="census_stale_unique_station_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.park_id}/{self.year}/{self.station_id or '*'}"


class CensusTally(models.Model):
    """Confirmed sightings of one individual at one station in one local year, summed.

    The census figures of a park-year derive from these rows, which are bounded by
    stations x individuals x years however many photos lie behind them. A change to a
    sighting recounts only its station's year (`census_tally_refresh`), where the
    independence of detections (the gap to the previous record of the same individual
    at the same station) is decided; the full rebuild recounts every row from the
    sightings and is the repair for anything written past the services.
    """

    station = models.ForeignKey("traps.Station", on_delete=models.CASCADE, related_name="+")
    # The station's park, so that a park's rows need no join.
    park = models.ForeignKey("traps.Park", on_delete=models.CASCADE, related_name="+")
    # Empty for a confirmed sighting that has no sighting time: it then counts only
    # for the flanks the catalogue knows of its individual.
    leopard = models.ForeignKey(
        "leopards.Leopard", on_delete=models.CASCADE, null=True, related_name="+"
    )
    # The calendar year in the park's time zone; empty for photos without a time.
    year = models.PositiveSmallIntegerField(null=True)
    sightings = models.PositiveIntegerField(default=0)
    detections = models.PositiveIntegerField(default=0)
    left_sightings = models.PositiveIntegerField(default=0)
    right_sightings = models.PositiveIntegerField(default=0)
    # Local dates of the first and last sighting there that year.
    first_day = models.DateField(null=True)
    last_day = models.DateField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["year", "park"], name="census_tally_year_park"),
            models.Index(fields=["station", "year"], name="census_tally_station_year"),
            models.Index(fields=["leopard"], name="census_tally_leopard"),
        ]

    def __str__(self) -> str:
        return f"{self.station_id}/{self.year}/{self.leopard_id}"


class DensityRun(models.Model):
    """One spatial capture-recapture fit of a park's survey, queued from the survey page.

    The fit runs in a worker (census.tasks.density_run); the page polls `status` and
    `progress`. `result` holds every figure of census.density.fit.DensityFit.to_dict();
    the headline density and its interval are columns for the dashboard.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    class DetectionFunction(models.TextChoices):
        HALFNORMAL = "halfnormal", _("halfnormal")
        EXPONENTIAL = "exponential", _("exponential")
        HAZARD_HALFNORMAL = "hazard-halfnormal", _("hazard halfnormal")

    park = models.ForeignKey(
        "traps.Park", on_delete=models.CASCADE, related_name="density_runs", verbose_name=_("park")
    )
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    occasion_days = models.PositiveSmallIntegerField(_("days per occasion"), default=1)
    detectfn = models.CharField(
        _("detection function"),
        max_length=20,
        choices=DetectionFunction.choices,
        default=DetectionFunction.HALFNORMAL,
    )
    buffer_m = models.FloatField(_("mask buffer (m)"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    result = models.JSONField(_("result"), default=dict, blank=True)
    density_per_100km2 = models.FloatField(_("density per 100 km²"), null=True, blank=True)
    # xgettext:no-python-format
    lcl_per_100km2 = models.FloatField(_("lower 95% limit"), null=True, blank=True)
    # xgettext:no-python-format
    ucl_per_100km2 = models.FloatField(_("upper 95% limit"), null=True, blank=True)
    reason = models.TextField(_("why there is no estimate"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("density fit")
        verbose_name_plural = _("density fits")
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="density_run_progress"),
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="density_run_dates"),
        ]

    def __str__(self) -> str:
        return f"{self.park_id} {self.start} to {self.end} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
