"""What the registry remembers about records that came from, or go to, other systems.

The identifiers of a Camtrap DP package (deploymentID, mediaID, eventID,
observationID) are kept beside the registry's own rows, so that importing the
same package twice creates nothing twice and an export gives back the
identifiers the records arrived with.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    park = models.ForeignKey("traps.Park", on_delete=models.CASCADE, related_name="+")
    source_name = models.CharField(_("file"), max_length=255, blank=True)
    created = models.JSONField(_("created"), default=dict)
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
