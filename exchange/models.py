"""What the registry remembers about records that came from, or go to, other systems.

The identifiers of a Camtrap DP package (deploymentID, mediaID, eventID,
observationID) are kept beside the registry's own rows, so that importing the
same package twice creates nothing twice and an export gives back the
identifiers the records arrived with.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class DeploymentLink(models.Model):
    """The deploymentID a deployment carries in another system's package."""

    deployment = models.OneToOneField(
        "traps.Deployment", on_delete=models.CASCADE, related_name="exchange_link"
    )
    identifier = models.CharField(_("deploymentID"), max_length=255, db_index=True)
    import_run = models.ForeignKey(
        "ImportRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The Camtrap DP fields the registry has no column of its own for, kept as received
    # so that an export gives them back.
    location_name = models.CharField(_("locationName"), max_length=255, blank=True)
    coordinate_uncertainty = models.PositiveIntegerField(
        _("coordinate uncertainty (m)"), null=True, blank=True
    )
    setup_by = models.CharField(_("set up by"), max_length=255, blank=True)
    camera_delay = models.IntegerField(_("camera delay (s)"), null=True, blank=True)
    camera_height = models.FloatField(_("camera height (m)"), null=True, blank=True)
    camera_depth = models.FloatField(_("camera depth (m)"), null=True, blank=True)
    camera_tilt = models.IntegerField(_("camera tilt (°)"), null=True, blank=True)
    camera_heading = models.IntegerField(_("camera heading (°)"), null=True, blank=True)
    detection_distance = models.FloatField(_("detection distance (m)"), null=True, blank=True)
    timestamp_issues = models.BooleanField(_("timestamp issues"), null=True, blank=True)
    bait_use = models.BooleanField(_("bait used"), null=True, blank=True)
    feature_type = models.CharField(_("feature type"), max_length=40, blank=True)
    habitat = models.TextField(_("habitat"), blank=True)
    # None: the package did not come with the record; "" : it came empty.
    groups = models.TextField(_("deploymentGroups"), null=True, blank=True)
    tags = models.TextField(_("deploymentTags"), null=True, blank=True)

    class Meta:
        verbose_name = _("deployment identifier")
        verbose_name_plural = _("deployment identifiers")

    def __str__(self) -> str:
        return self.identifier


class MediaLink(models.Model):
    """The media record of a photo: its mediaID and where the file lives.

    A media record whose file was not in the package is still a photo in the
    registry (with its time, event and sightings); ``stored`` is False and
    ``file_path`` says where the file is (a URL or the package's own path).
    """

    photo = models.OneToOneField("traps.Photo", on_delete=models.CASCADE, related_name="media_link")
    identifier = models.CharField(_("mediaID"), max_length=255, db_index=True)
    file_path = models.CharField(_("file path or URL"), max_length=1000, blank=True)
    file_public = models.BooleanField(_("file public"), default=False)
    stored = models.BooleanField(
        _("file stored here"),
        default=True,
        help_text=_("False when the registry holds only the record, not the file."),
    )
    # As received; None where the record was not imported (the registry's own photos).
    capture_method = models.CharField(_("capture method"), max_length=40, blank=True)
    file_mediatype = models.CharField(_("media type"), max_length=255, blank=True)
    favorite = models.BooleanField(_("favourite"), null=True, blank=True)
    comments = models.TextField(_("media comments"), blank=True)
    # exifData is of type "any": the text is kept as written, object or not.
    exif_data = models.TextField(_("EXIF data as received"), null=True, blank=True)

    class Meta:
        verbose_name = _("media identifier")
        verbose_name_plural = _("media identifiers")

    def __str__(self) -> str:
        return self.identifier


class EventLink(models.Model):
    """The eventID an event carries in another system's package."""

    event = models.OneToOneField(
        "traps.Event", on_delete=models.CASCADE, related_name="exchange_link"
    )
    identifier = models.CharField(_("eventID"), max_length=255, db_index=True)

    class Meta:
        verbose_name = _("event identifier")
        verbose_name_plural = _("event identifiers")

    def __str__(self) -> str:
        return self.identifier


class ObservationLink(models.Model):
    """An imported observation: the sighting or event it became, and who classified it."""

    sighting = models.OneToOneField(
        "leopards.Sighting",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exchange_link",
    )
    event = models.ForeignKey(
        "traps.Event",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="observation_links",
    )
    identifier = models.CharField(_("observationID"), max_length=255, db_index=True)
    # A person of another organisation has no account here; their name is kept as written.
    classified_by = models.CharField(_("classified by"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("observation identifier")
        verbose_name_plural = _("observation identifiers")
        constraints = [
            models.CheckConstraint(
                condition=Q(sighting__isnull=False) | Q(event__isnull=False),
                name="observation_link_has_target",
            ),
        ]

    def __str__(self) -> str:
        return self.identifier


class Observation(models.Model):
    """One row of a package's observations table, every field kept, at media or event level.

    A leopard's media-level observation also becomes a sighting (``sighting``); the
    others (other species, blanks, people, event-level summaries) live only here.
    """

    class Level(models.TextChoices):
        MEDIA = "media", _("Media")
        EVENT = "event", _("Event")

    class Type(models.TextChoices):
        ANIMAL = "animal", _("Animal")
        HUMAN = "human", _("Human")
        VEHICLE = "vehicle", _("Vehicle")
        BLANK = "blank", _("Blank")
        UNKNOWN = "unknown", _("Unknown")
        UNCLASSIFIED = "unclassified", _("Unclassified")

    import_run = models.ForeignKey(
        "ImportRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="observations"
    )
    deployment = models.ForeignKey(
        "traps.Deployment", on_delete=models.CASCADE, related_name="exchange_observations"
    )
    photo = models.ForeignKey(
        "traps.Photo",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exchange_observations",
    )
    event = models.ForeignKey(
        "traps.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exchange_observations",
    )
    sighting = models.OneToOneField(
        "leopards.Sighting",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exchange_observation",
    )
    taxon = models.ForeignKey(
        "leopards.Species", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    identifier = models.CharField(_("observationID"), max_length=255)
    event_identifier = models.CharField(_("eventID"), max_length=255, blank=True)
    event_start = models.DateTimeField(_("event start"), null=True, blank=True)
    event_end = models.DateTimeField(_("event end"), null=True, blank=True)
    level = models.CharField(_("observation level"), max_length=10, choices=Level.choices)
    type = models.CharField(_("observation type"), max_length=20, choices=Type.choices)
    camera_setup_type = models.CharField(_("camera setup type"), max_length=20, blank=True)
    scientific_name = models.CharField(_("scientific name"), max_length=255, blank=True)
    count = models.PositiveIntegerField(_("count"), null=True, blank=True)
    life_stage = models.CharField(_("life stage"), max_length=20, blank=True)
    sex = models.CharField(_("sex"), max_length=10, blank=True)
    behavior = models.TextField(_("behaviour"), blank=True)
    # The individual as the sender names it: ours when we sent it, theirs otherwise.
    individual_id = models.CharField(_("individualID"), max_length=255, blank=True)
    position_radius = models.FloatField(_("individual position radius"), null=True, blank=True)
    position_angle = models.FloatField(_("individual position angle"), null=True, blank=True)
    speed = models.FloatField(_("individual speed"), null=True, blank=True)
    bbox_x = models.FloatField(null=True, blank=True)
    bbox_y = models.FloatField(null=True, blank=True)
    bbox_w = models.FloatField(null=True, blank=True)
    bbox_h = models.FloatField(null=True, blank=True)
    classification_method = models.CharField(_("classification method"), max_length=10, blank=True)
    # A person of another organisation has no account here; their name is kept as written.
    classified_by = models.CharField(_("classified by"), max_length=255, blank=True)
    classification_timestamp = models.DateTimeField(
        _("classification timestamp"), null=True, blank=True
    )
    classification_probability = models.FloatField(
        _("classification probability"), null=True, blank=True
    )
    tags = models.TextField(_("observation tags"), blank=True)
    comments = models.TextField(_("observation comments"), blank=True)

    class Meta:
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "identifier"], name="exchange_observation_unique_id"
            ),
            models.CheckConstraint(
                condition=Q(bbox_x__isnull=True) | Q(bbox_x__gte=0, bbox_x__lte=1),
                name="exchange_observation_bbox_x_relative",
            ),
        ]
        indexes = [
            models.Index(fields=["individual_id"], name="exchange_obs_individual_idx"),
        ]

    def __str__(self) -> str:
        return self.identifier

    @property
    def life_stage_label(self) -> str:
        """Return the life stage in the reader's language (Camtrap DP's word if unknown)."""
        return str(LIFE_STAGE_LABELS.get(self.life_stage, self.life_stage))

    @property
    def sex_label(self) -> str:
        return str(SEX_LABELS.get(self.sex, self.sex))

    @property
    def organisation(self) -> str:
        return self.import_run.organisation if self.import_run_id else ""


LIFE_STAGE_LABELS = {
    "adult": _("adult"),
    "subadult": _("subadult"),
    "juvenile": _("juvenile"),
}
SEX_LABELS = {"female": _("female"), "male": _("male")}


class PartnerAlias(models.Model):
    """Another organisation's id for one of our individuals, confirmed by a scientist.

    One partner id names one of our individuals at most: a package that would tie
    it to another one sends that sighting to review instead of merging the two.
    """

    organisation = models.CharField(_("organisation"), max_length=200)
    partner_id = models.CharField(_("partner's individual id"), max_length=255)
    leopard = models.ForeignKey(
        "leopards.Leopard",
        on_delete=models.CASCADE,
        related_name="partner_aliases",
        verbose_name=_("our individual"),
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(_("confirmed at"))

    class Meta:
        verbose_name = _("partner alias")
        verbose_name_plural = _("partner aliases")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "partner_id"], name="partner_alias_unique_partner_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.partner_id}"


class DetectorResult(models.Model):
    """What a detector (MegaDetector) found in a photo, for review and for hiding people."""

    photo = models.OneToOneField(
        "traps.Photo", on_delete=models.CASCADE, related_name="detector_result"
    )
    detector = models.CharField(_("detector"), max_length=120, blank=True)
    threshold = models.FloatField(_("confidence threshold"))
    likely_blank = models.BooleanField(
        _("likely blank"),
        default=False,
        help_text=_("Nothing was detected above the threshold."),
    )
    shows_person = models.BooleanField(
        _("shows a person"),
        default=False,
        help_text=_("A person was detected: the photo is hidden from galleries and exports."),
    )
    shows_vehicle = models.BooleanField(_("shows a vehicle"), default=False)
    max_animal_confidence = models.FloatField(_("highest animal confidence"), null=True, blank=True)
    imported_at = models.DateTimeField(_("imported at"), auto_now=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("detector result")
        verbose_name_plural = _("detector results")
        indexes = [
            models.Index(fields=["likely_blank"], name="exchange_detector_blank_idx"),
            models.Index(fields=["shows_person"], name="exchange_detector_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.detector or 'detector'} · {self.photo_id}"


class ImportRun(models.Model):
    """One import of a package or a detector file: who, when, what it created, what it warned."""

    class Kind(models.TextChoices):
        CAMTRAP_DP = "camtrap_dp", _("Camtrap DP package")
        MEGADETECTOR = "megadetector", _("MegaDetector results")

    class Created(models.TextChoices):
        STATIONS = "stations", _("Stations")
        DEPLOYMENTS = "deployments", _("Deployments")
        PHOTOS = "photos", _("Photos (media records)")
        EVENTS = "events", _("Events")
        SIGHTINGS = "sightings", _("Sightings")
        INDIVIDUALS = "individuals", _("Individuals")
        OBSERVATIONS = "observations", _("Observations")
        TAXA = "taxa", _("Taxa")
        PROPOSED_BOXES = "proposed_boxes", _("Proposed boxes")
        LIKELY_BLANK = "likely_blank", _("Likely blank")
        WITH_PEOPLE = "with_people", _("With people")

    class Warning(models.TextChoices):
        OTHER_SPECIES = "other_species", _("Observations of other species kept as “other species”")
        SEX_DIFFERS = "sex_differs", _("An individual's sex differs from the package's")
        ZERO_LENGTH_DEPLOYMENT = "zero_length_deployment", _("A deployment ends when it starts")
        MALFUNCTION_NOT_A_RANGE = (
            "malfunction_not_a_range",
            _("A malfunction period is not a date range"),
        )
        MEDIA_IN_ANOTHER_DEPLOYMENT = (
            "media_in_another_deployment",
            _("A media file is already held in another deployment"),
        )
        MEDIA_NOT_STORED = "media_not_stored", _("A media file was not stored")
        INDIVIDUAL_WITHOUT_PHOTOS = (
            "individual_without_photos",
            _("An observation names an individual in an event without photos"),
        )
        NOT_IN_DEPLOYMENT = "not_in_deployment", _("Not in this deployment")
        PARTNER_ID_CONFLICT = (
            "partner_id_conflict",
            _("A partner's individual id disagrees with our identification"),
        )
        AMBIGUOUS_NAME = "ambiguous_name", _("Several photos have this name")
        DETECTOR_FAILED = "detector_failed", _("The detector failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    park = models.ForeignKey("traps.Park", on_delete=models.CASCADE, related_name="+")
    source_name = models.CharField(_("file"), max_length=255, blank=True)
    # Empty when the package is the registry's own (its individual ids are our codes).
    organisation = models.CharField(
        _("sent by organisation"),
        max_length=200,
        blank=True,
        help_text=_("Another organisation's individual ids become aliases, not new individuals."),
    )
    # The package's descriptor without its core tables (licenses, contributors, project,
    # taxonomic...), and the rows of any other resource, written back on export.
    metadata = models.JSONField(_("package metadata"), default=dict, blank=True)
    # How many records of each kind (a Created code) the import added.
    created = models.JSONField(_("created"), default=dict)
    # What is worth a look, as {"code": a Warning code, "params": {...}} each, rendered in
    # the reader's language; a plain string is text written before the codes.
    warnings = models.JSONField(_("warnings"), default=list)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source_name} {self.imported_at:%Y-%m-%d}"

    @property
    def created_items(self) -> list[tuple[str, int]]:
        """Return what the import added as (label in the active language, count) pairs."""
        labels = dict(self.Created.choices)
        # PostgreSQL's jsonb keeps no key order: list them in the order of the choices.
        keys = [k for k in labels if k in self.created]
        keys += sorted(k for k in self.created if k not in labels)
        return [(str(labels.get(k, k)), self.created[k]) for k in keys if self.created[k]]

    @property
    def warning_texts(self) -> list[str]:
        """Return the warnings in the active language."""
        return [warning_text(warning) for warning in self.warnings]


def import_warning(code: str, **params: Any) -> dict[str, Any]:
    """Return a warning as it is stored: a code and its parameters, never text."""
    return {"code": str(code), "params": params}


# The texts of the warnings, filled with their parameters when read.
WARNING_TEXTS = {
    ImportRun.Warning.SEX_DIFFERS: _(
        "Individual %(code)s is %(ours)s here but %(theirs)s in the package; kept %(ours)s."
    ),
    ImportRun.Warning.ZERO_LENGTH_DEPLOYMENT: _(
        "Deployment %(id)s ends when it starts; it was given one second."
    ),
    ImportRun.Warning.MALFUNCTION_NOT_A_RANGE: _(
        "Deployment %(id)s: the malfunction period “%(v)s” is not a date range."
    ),
    ImportRun.Warning.MEDIA_IN_ANOTHER_DEPLOYMENT: _(
        "Media %(id)s is a file the registry already holds in another deployment."
    ),
    ImportRun.Warning.MEDIA_NOT_STORED: _(
        "Media %(id)s: the file was not stored (%(why)s); its record is kept."
    ),
    ImportRun.Warning.INDIVIDUAL_WITHOUT_PHOTOS: _(
        "Observation %(id)s names individual %(ind)s in an event without photos."
    ),
    ImportRun.Warning.PARTNER_ID_CONFLICT: _(
        "Observation %(id)s: %(org)s's individual %(partner)s is our %(ours)s, but this photo "
        "shows %(other)s; the sighting waits for review."
    ),
    ImportRun.Warning.NOT_IN_DEPLOYMENT: _("Not in this deployment: %(f)s"),
    ImportRun.Warning.AMBIGUOUS_NAME: _("Several photos have this name: %(f)s"),
    ImportRun.Warning.DETECTOR_FAILED: _("The detector failed on: %(f)s"),
}


# Why the upload checks refused a package's file (traps.images.PhotoRejected codes), as
# the reason reads inside a media_not_stored warning.
REJECTION_TEXTS = {
    "bad_name": _("its file name cannot be used"),
    "corrupt": _("the image is damaged"),
    "empty": _("the file is empty"),
    "hash_mismatch": _("the file arrived damaged"),
    "not_an_image": _("it is not a photo"),
    "too_large": _("the file is too large"),
    "too_many_pixels": _("the image has too many pixels"),
    "truncated": _("the photo is cut short"),
    "unsupported_format": _("its format is not accepted"),
}


def warning_text(warning: dict[str, Any] | str) -> str:
    """Render one stored warning in the active language; old text is returned as it is."""
    if not isinstance(warning, dict):
        return str(warning)
    code = warning.get("code", "")
    params = dict(warning.get("params") or {})
    try:
        label = ImportRun.Warning(code).label
    except ValueError:
        return str(code)
    try:
        if code == ImportRun.Warning.OTHER_SPECIES:
            return (
                ngettext(
                    "%(n)d observation of another species was kept as its event's content "
                    "“other species”; the registry does not store species names.",
                    "%(n)d observations of other species were kept as their events' content "
                    "“other species”; the registry does not store their names.",
                    params["n"],
                )
                % params
            )
        if code == ImportRun.Warning.MEDIA_NOT_STORED and params.get("rejected") in REJECTION_TEXTS:
            # The check's own message is in the importer's language; its code reads in ours.
            params["why"] = REJECTION_TEXTS[params["rejected"]]
        if code == ImportRun.Warning.SEX_DIFFERS:
            # The sexes are codes too: each reads in the reader's language.
            from leopards.models import Sex

            for key in ("ours", "theirs"):
                if params.get(key) in Sex.values:
                    params[key] = Sex(params[key]).label
        return str(WARNING_TEXTS[code]) % params
    except (KeyError, TypeError, ValueError):
        return str(label)


def job_file_name(job: "ExchangeJob", filename: str) -> str:
    # Stored names never come from the client: the job's own random key names the file.
    suffix = ".zip" if filename.lower().endswith(".zip") else ""
    return f"exchange/{job.kind}/{job.key}{suffix}"


class ExchangeJob(models.Model):
    """An export or import running in a worker: the page shows its progress, then its result."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export")
        IMPORT = "import", _("Import")

    class Status(models.TextChoices):
        # An uploaded package that named no park, until its importer confirms one.
        WAITING = "waiting", _("Waiting for the park")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    park = models.ForeignKey(
        "traps.Park", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # What was asked: dates and exactness of an export; organisation and file name of an import.
    parameters = models.JSONField(default=dict, blank=True)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    # The export's zip, or the uploaded package until its import is over.
    file = models.FileField(upload_to=job_file_name, max_length=200, blank=True)
    import_run = models.ForeignKey(
        ImportRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Why a package was refused, as the checks worded them in the requester's language.
    problems = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("exchange job")
        verbose_name_plural = _("exchange jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"

    def get_absolute_url(self) -> str:
        return reverse("exchange:job", args=[self.key])

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def percent(self) -> int | None:
        """Return how far the job is, or None while that cannot be told."""
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return None
        return min(99, self.done * 100 // self.total)
