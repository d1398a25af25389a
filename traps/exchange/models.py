"""What the registry remembers about records that came from, or go to, other systems.

The identifiers of a Camtrap DP package (deploymentID, mediaID, eventID,
observationID) are kept beside the registry's own rows, so that importing the
same package twice creates nothing twice and an export gives back the
identifiers the records arrived with.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class DeploymentLink(models.Model):
    """The deploymentID a deployment carries in another system's package."""

    deployment = models.OneToOneField(
        "traps.Deployment", on_delete=models.CASCADE, related_name="exchange_link"
    )
    identifier = models.CharField(_("deploymentID"), max_length=255, db_index=True)

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
        AMBIGUOUS_NAME = "ambiguous_name", _("Several photos have this name")
        DETECTOR_FAILED = "detector_failed", _("The detector failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    park = models.ForeignKey("traps.Park", on_delete=models.CASCADE, related_name="+")
    source_name = models.CharField(_("file"), max_length=255, blank=True)
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
