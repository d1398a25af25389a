"""Parks, camera-trap stations, deployments, photos and photo events."""

import zoneinfo
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


def validate_time_zone(value: str) -> None:
    """Reject a name that is not an IANA time zone."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


class Country(models.TextChoices):
    RUSSIA = "RU", _("Russia")
    CHINA = "CN", _("China")
    NORTH_KOREA = "KP", _("North Korea")


# A park's own name in each interface language other than the default (English), by
# the field that holds it: a Chinese park read in Russian has a Russian name.
PARK_NAME_FIELDS = {"ru": "name_ru", "zh-hans": "name_zh_hans"}


def park_name_field(language: str | None) -> str | None:
    """Return the Park field that holds the name in a language, None for the default name."""
    language = (language or "").lower()
    if language.startswith("zh"):
        # Traditional Chinese readers are better served by the Simplified name than by English.
        return PARK_NAME_FIELDS["zh-hans"]
    return PARK_NAME_FIELDS.get(language.split("-")[0])


class Park(models.Model):
    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_ru = models.CharField(
        _("name in Russian"), max_length=200, blank=True, help_text=_("Empty: the name above.")
    )
    name_zh_hans = models.CharField(
        _("name in Simplified Chinese"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the name above."),
    )
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    area_km2 = models.DecimalField(
        _("area (km²)"),
        max_digits=10,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    boundary = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Vladivostok", validators=[validate_time_zone]
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ParkMembership",
        related_name="parks",
        verbose_name=_("members"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("park")
        verbose_name_plural = _("parks")
        constraints = [
            models.CheckConstraint(condition=Q(area_km2__gt=0), name="park_area_positive"),
        ]

    def __str__(self) -> str:
        return self.local_name

    def name_in(self, language: str | None) -> str:
        """Return the park's name in a language, or its default name when it has none."""
        field = park_name_field(language)
        return (getattr(self, field) if field else "") or self.name

    @property
    def local_name(self) -> str:
        return self.name_in(get_language())

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class ParkMembership(models.Model):
    """A user works in a park; their role comes from their groups."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="park_memberships"
    )
    park = models.ForeignKey(Park, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("park membership")
        verbose_name_plural = _("park memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "park"], name="membership_unique_user_park"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.park}"


class Station(models.Model):
    """A trap site: one or two cameras facing a trail."""

    park = models.ForeignKey(
        Park, on_delete=models.PROTECT, related_name="stations", verbose_name=_("park")
    )
    code = models.CharField(_("code"), max_length=40)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    # Coordinates that arrived generalised (an imported package's coordinatePrecision) are no
    # better than that, whoever reads them; empty when they are exact. Not kept in the notes,
    # which people edit.
    coordinate_precision = models.DecimalField(
        _("coordinate precision"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(180)],
        help_text=_(
            "The uncertainty of the coordinates in degrees when they came generalised; "
            "empty when they are exact."
        ),
    )
    notes = models.TextField(_("notes"), blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["park__name", "code"]
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        constraints = [
            models.UniqueConstraint(fields=["park", "code"], name="station_unique_code_per_park"),
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90), name="station_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180, longitude__lte=180),
                name="station_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.park.code}/{self.code}"


class Deployment(models.Model):
    """A camera at a station for a period: the unit of effort (trap-nights)."""

    station = models.ForeignKey(
        Station, on_delete=models.PROTECT, related_name="deployments", verbose_name=_("station")
    )
    camera_serial = models.CharField(_("camera serial"), max_length=80, blank=True)
    camera_model = models.CharField(_("camera model"), max_length=120, blank=True)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"), null=True, blank=True, help_text=_("Empty while running."))
    clock_offset = models.DurationField(
        _("clock offset"),
        default=timedelta(0),
        help_text=_("Added to the camera's clock to get the true local time."),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped on every edit so two people editing at once cannot silently overwrite.
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-start"]
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=F("start")),
                name="deployment_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["camera_serial", "start"])]

    def __str__(self) -> str:
        camera = self.camera_serial or _("camera")
        return f"{self.station} · {camera} · {self.start:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("traps:deployment-detail", args=[self.pk])


class MalfunctionPeriod(models.Model):
    """Days when a deployed camera did not work; they are not effort."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="malfunctions"
    )
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("malfunction period")
        verbose_name_plural = _("malfunction periods")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=F("start")), name="malfunction_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start} to {self.end}"


PHOTO_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


def photo_upload_to(instance: "Photo", filename: str) -> str:
    """Name the stored file by its content hash, never by the client's name."""
    extension = PHOTO_EXTENSIONS.get(instance.media_type, "jpg")
    return f"photos/{instance.sha256[:2]}/{instance.sha256[2:4]}/{instance.sha256}.{extension}"


def thumbnail_upload_to(instance: "Photo", filename: str) -> str:
    return f"thumbnails/{instance.sha256[:2]}/{instance.sha256}.jpg"


class Event(models.Model):
    """Consecutive photos of one deployment closer than the independence interval."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        IN_REVIEW = "in_review", _("In review")
        REVIEWED = "reviewed", _("Reviewed")

    class Content(models.TextChoices):
        UNKNOWN = "unknown", _("Not yet classified")
        BLANK = "blank", _("Blank")
        LEOPARD = "leopard", _("Leopard")
        OTHER_SPECIES = "other_species", _("Other species")
        HUMAN = "human", _("Human")
        VEHICLE = "vehicle", _("Vehicle")

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    content = models.CharField(
        _("content"), max_length=20, choices=Content.choices, default=Content.UNKNOWN
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="claimed_events",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="event_end_after_start"),
        ]
        indexes = [
            models.Index(fields=["status", "start"]),
            models.Index(fields=["deployment", "start"]),
        ]

    def __str__(self) -> str:
        return f"{self.deployment.station} {self.start:%Y-%m-%d %H:%M}"


class Photo(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")

    class TimeProblem(models.TextChoices):
        NONE = "", _("None")
        MISSING = "missing", _("No capture time in the photo")
        IMPLAUSIBLE = "implausible", _("Impossible capture time (camera clock reset?)")

    class TimeSource(models.TextChoices):
        NONE = "", _("None")
        EXIF = "exif", _("EXIF")
        FILE_NAME = "file_name", _("File name")
        PACKAGE = "package", _("Imported data package")

    class ErrorCode(models.TextChoices):
        NONE = "", _("None")
        TOO_MANY_PIXELS = "too_many_pixels", _("The image has more pixels than the limit.")
        UNDECODABLE = "undecodable", _("The image data is damaged and cannot be decoded.")
        GAVE_UP = "gave_up", _("Processing stopped after several attempts.")
        UNSTORABLE = (
            "unstorable",
            _(
                "The photo's camera data could not be saved. Retry it; if it fails again, "
                "send the photo to an administrator."
            ),
        )

    deployment = models.ForeignKey(
        Deployment, on_delete=models.PROTECT, related_name="photos", verbose_name=_("deployment")
    )
    file = models.FileField(_("file"), upload_to=photo_upload_to, max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True, editable=False)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"))
    media_type = models.CharField(_("media type"), max_length=40, default="image/jpeg")
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    taken_at = models.DateTimeField(
        _("taken at (UTC)"),
        null=True,
        blank=True,
        help_text=_("Camera time corrected by the deployment's clock offset."),
    )
    camera_time = models.DateTimeField(
        _("camera clock time"),
        null=True,
        blank=True,
        help_text=_("EXIF time as the camera wrote it, read in the park's time zone."),
    )
    time_source = models.CharField(
        _("time source"),
        max_length=10,
        choices=TimeSource.choices,
        blank=True,
        default="",
        help_text=_(
            "Where the camera time was read: the EXIF, the file name when EXIF has none, "
            "or an imported data package."
        ),
    )
    exif = models.JSONField(_("EXIF"), default=dict, blank=True)
    # A photo without a usable time is kept, shown and counted, but not placed in
    # an event; a later clock offset can make an "implausible" time usable.
    time_problem = models.CharField(
        _("time problem"), max_length=20, choices=TimeProblem.choices, blank=True, default=""
    )
    outside_deployment = models.BooleanField(
        _("time outside deployment"),
        default=False,
        help_text=_("The corrected time falls outside the deployment's dates."),
    )
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=200, blank=True)
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="photos"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED
    )
    # Why processing failed: a code, rendered in the reader's language, and the
    # decoder's or worker's own words as detail (not translated).
    error_code = models.CharField(
        _("processing error"), max_length=20, choices=ErrorCode.choices, blank=True, default=""
    )
    error = models.TextField(_("processing error detail"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="uploaded_photos",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["taken_at", "pk"]
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        constraints = [
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="photo_sha256_hex"
            ),
        ]
        indexes = [
            models.Index(fields=["deployment", "taken_at"]),
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["deployment", "status"]),
        ]

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]

    @property
    def error_text(self) -> str:
        """Return why processing failed, in the active language, with the detail."""
        if not self.error_code:
            return self.error
        template = PHOTO_ERROR_TEXTS.get(self.error_code)
        if template and self.error:
            return template % {"why": self.error}
        return str(self.get_error_code_display())


# The texts of error codes that carry the detail; the others read as their label.
PHOTO_ERROR_TEXTS = {
    Photo.ErrorCode.UNDECODABLE: _("The image data is damaged and cannot be decoded (%(why)s)."),
    Photo.ErrorCode.GAVE_UP: _("Processing stopped after several attempts: %(why)s"),
}
