"""Individual leopards, sightings of them in photos, and matcher candidates."""

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    UNKNOWN = "unknown", _("Unknown")


class AgeClass(models.TextChoices):
    KITTEN = "kitten", _("Kitten")
    SUBADULT = "subadult", _("Subadult")
    ADULT = "adult", _("Adult")
    UNKNOWN = "unknown", _("Unknown")


class Flank(models.TextChoices):
    LEFT = "left", _("Left")
    RIGHT = "right", _("Right")
    FRONT = "front", _("Front")
    UNKNOWN = "unknown", _("Unknown")


def age_class_at(birth_date: date | None, on: date) -> str:
    """Derive the age class on a date from an (estimated) birth date."""
    if birth_date is None:
        return AgeClass.UNKNOWN
    if on < birth_date:
        return AgeClass.UNKNOWN
    # Whole calendar months, so a cat turns one on its birthday in leap years too.
    months = (on.year - birth_date.year) * 12 + on.month - birth_date.month
    if on.day < birth_date.day:
        months -= 1
    if months < settings.AGE_CLASS_SUBADULT_FROM_MONTHS:
        return AgeClass.KITTEN
    if months < settings.AGE_CLASS_ADULT_FROM_MONTHS:
        return AgeClass.SUBADULT
    return AgeClass.ADULT


class Leopard(models.Model):
    """An individual, told apart from others by its rosette pattern."""

    class Status(models.TextChoices):
        ALIVE = "alive", _("Alive")
        DEAD = "dead", _("Dead")
        UNKNOWN = "unknown", _("Unknown")

    class BirthPrecision(models.TextChoices):
        DAY = "day", _("Day")
        MONTH = "month", _("Month")
        SEASON = "season", _("Season")
        YEAR = "year", _("Year")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(pgettext_lazy("individual leopard", "name"), max_length=120, blank=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(
        _("estimated birth date"),
        null=True,
        blank=True,
        help_text=_("Age classes are derived from it at each census date."),
    )
    birth_date_precision = models.CharField(
        _("birth date precision"),
        max_length=10,
        choices=BirthPrecision.choices,
        default=BirthPrecision.YEAR,
    )
    mother = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="offspring",
        verbose_name=_("mother"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ALIVE
    )
    notes = models.TextField(_("notes"), blank=True)
    # A merged record is kept (not deleted) so that undoing the merge restores it exactly.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_records",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("leopard")
        verbose_name_plural = _("leopards")
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="leopard_code_not_empty"),
            models.CheckConstraint(
                condition=Q(mother__isnull=True) | ~Q(mother=F("pk")),
                name="leopard_not_own_mother",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()

    def get_absolute_url(self) -> str:
        return reverse("leopards:leopard-detail", args=[self.code])

    def age_class_on(self, on: date) -> str:
        return age_class_at(self.birth_date, on)


class Sighting(models.Model):
    """One animal in one photo; several per photo for a mother with kittens."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        CONFIRMED = "confirmed", _("Confirmed")
        UNIDENTIFIABLE = "unidentifiable", _("Unidentifiable")
        REJECTED = "rejected", _("Rejected")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Drawn by a person")
        DETECTOR = "detector", _("Detector")
        IMPORT = "import", _("Imported")

    class FeatureStatus(models.TextChoices):
        PENDING = "pending", _("Pending")
        READY = "ready", _("Ready")
        NO_FEATURES = "no_features", _("No usable pattern")
        FAILED = "failed", _("Failed")

    class FeatureProblem(models.TextChoices):
        NO_FILE = "no_file", _("This photo record has no stored file.")
        FILE_MISSING = "file_missing", _("The photo file is missing from storage.")
        UNREADABLE = "unreadable", _("The photo cannot be read as an image.")
        TOO_SMALL = "too_small", _("The box is too small to show a spot pattern.")
        NO_PATTERN = (
            "no_pattern",
            _(
                "No spot pattern found in the box: it may be blank, over- or under-exposed, "
                "or too blurred."
            ),
        )
        GAVE_UP = "gave_up", _("Matching stopped after several attempts.")

    photo = models.ForeignKey(
        "traps.Photo", on_delete=models.PROTECT, related_name="sightings", verbose_name=_("photo")
    )
    # The box is relative to the photo (0-1), as in Camtrap DP, so it does not
    # depend on the size of the image it is drawn on.
    bbox_x = models.FloatField(null=True, blank=True)
    bbox_y = models.FloatField(null=True, blank=True)
    bbox_w = models.FloatField(null=True, blank=True)
    bbox_h = models.FloatField(null=True, blank=True)
    flank = models.CharField(
        _("flank"), max_length=10, choices=Flank.choices, default=Flank.UNKNOWN
    )
    leopard = models.ForeignKey(
        Leopard,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sightings",
        verbose_name=_("individual"),
    )
    observed_age_class = models.CharField(
        _("observed age class"), max_length=10, choices=AgeClass.choices, default=AgeClass.UNKNOWN
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PROPOSED
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    detection_confidence = models.FloatField(null=True, blank=True)
    identified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="identifications",
        verbose_name=_("identified by"),
    )
    identified_at = models.DateTimeField(_("identified at"), null=True, blank=True)
    features = models.BinaryField(null=True, blank=True, editable=False)
    # The engine version stored inside features (Features.version), null without them:
    # the boxes an earlier engine described are found without reading their blobs.
    features_version = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # The box's learned features (DISK or XFeat) for the matcher's second stage, with the
    # pair check's RootSIFT voice, extracted with the SIFT ones and kept, so a reference
    # box is described once (LearnedFeatures).
    learned_features = models.BinaryField(null=True, blank=True, editable=False)
    # The model stored inside learned_features (LearnedFeatures.model), "" without them:
    # the boxes another backend or extraction size described are found by this column.
    learned_model = models.CharField(max_length=64, blank=True, editable=False)
    feature_status = models.CharField(
        max_length=20, choices=FeatureStatus.choices, default=FeatureStatus.PENDING
    )
    # Why there are no features (a box too small, blank, or a photo that cannot be read): a
    # code and its parameters, read in each reader's language. feature_error holds only
    # text written before the codes that could not be read back into one.
    feature_error = models.TextField(_("feature problem"), blank=True)
    feature_error_code = models.CharField(
        _("feature problem code"), max_length=20, choices=FeatureProblem.choices, blank=True
    )
    feature_error_params = models.JSONField(
        _("feature problem parameters"), default=dict, blank=True
    )
    feature_count = models.PositiveIntegerField(_("keypoints"), default=0)
    # A short hash of the stored features: the catalogue journal notices a redrawn box by it.
    features_digest = models.CharField(max_length=16, blank=True, editable=False)
    matched_at = models.DateTimeField(_("candidates ranked at"), null=True, blank=True)
    new_individual_likely = models.BooleanField(
        _("probably a new individual"),
        default=False,
        help_text=_("No catalogue individual matches well enough."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)
    # Copies of the photo's corrected time and deployment, written by the database itself
    # (triggers, leopards.photo_copy) whenever a sighting or its photo is written, by any
    # path: the census counts millions of sightings by time and place without reading
    # the photo table, which is twenty times larger.
    taken_at = models.DateTimeField(null=True, blank=True, editable=False)
    deployment = models.ForeignKey(
        "traps.Deployment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    # Matcher bookkeeping changes on every run and is not part of the identification record.
    history = HistoricalRecords(
        excluded_fields=[
            "features",
            "features_version",
            "learned_features",
            "learned_model",
            "feature_error",
            "feature_error_code",
            "feature_error_params",
            "feature_count",
            "features_digest",
            "matched_at",
            "new_individual_likely",
            "taken_at",
            "deployment",
        ]
    )

    class Meta:
        ordering = ["photo", "pk"]
        verbose_name = _("sighting")
        verbose_name_plural = _("sightings")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        bbox_x__isnull=True,
                        bbox_y__isnull=True,
                        bbox_w__isnull=True,
                        bbox_h__isnull=True,
                    )
                    | Q(
                        # NULL passes a CHECK, so half a box must be ruled out by name.
                        bbox_x__isnull=False,
                        bbox_y__isnull=False,
                        bbox_w__isnull=False,
                        bbox_h__isnull=False,
                        bbox_x__gte=0,
                        bbox_y__gte=0,
                        bbox_w__gt=0,
                        bbox_h__gt=0,
                        bbox_x__lte=1,
                        bbox_y__lte=1,
                        bbox_w__lte=1,
                        bbox_h__lte=1,
                    )
                ),
                name="sighting_bbox_relative",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(leopard__isnull=False),
                name="sighting_confirmed_has_leopard",
            ),
        ]
        indexes = [
            models.Index(fields=["leopard", "status"]),
            models.Index(fields=["status", "flank"]),
            # The census's reads of confirmed sightings by time (live periods, tallies).
            models.Index(
                fields=["taken_at"], condition=Q(status="confirmed"), name="sighting_confirmed_time"
            ),
        ]

    def __str__(self) -> str:
        who = self.leopard.code if self.leopard_id else _("unidentified")
        return f"{who} · {self.get_flank_display()} · {self.photo}"

    @property
    def has_box(self) -> bool:
        return self.bbox_x is not None

    @property
    def feature_error_text(self) -> str:
        """Return why the box has no features, in the active language (empty if it has)."""
        if not self.feature_error_code:
            return self.feature_error
        label = self.get_feature_error_code_display()
        template = FEATURE_PROBLEM_TEXTS.get(self.feature_error_code)
        return _render(template, self.feature_error_params, label) if template else str(label)


class MatchCandidate(models.Model):
    """A known individual that the matcher ranks for a sighting."""

    sighting = models.ForeignKey(Sighting, on_delete=models.CASCADE, related_name="candidates")
    leopard = models.ForeignKey(Leopard, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    probability = models.FloatField(null=True, blank=True)
    reference = models.ForeignKey(
        Sighting,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The catalogue sighting that matched best."),
    )

    class Stage(models.IntegerChoices):
        SHORTLIST = 1, _("shortlist (SIFT votes)")
        LEARNED = 2, _("learned matcher")

    # Which stage put the candidate at its place: the shortlist over the whole catalogue,
    # or the learned matcher that re-ranks the shortlist's first individuals. reference,
    # inliers and matches are that stage's evidence; score stays the shortlist's votes.
    stage = models.PositiveSmallIntegerField(
        _("ranked by"), choices=Stage.choices, default=Stage.SHORTLIST
    )
    # Pairs the learned matcher accepted before the geometric check (0 on the shortlist).
    learned_matches = models.PositiveIntegerField(_("learned matches"), default=0)
    inliers = models.PositiveIntegerField(_("geometrically consistent matches"), default=0)
    # [[query x, query y, reference x, reference y], ...] relative (0-1) to each photo,
    # so the review page can draw the matched spots on images of any size.
    matches = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sighting", "rank"]
        verbose_name = _("match candidate")
        verbose_name_plural = _("match candidates")
        constraints = [
            models.UniqueConstraint(fields=["sighting", "rank"], name="candidate_unique_rank"),
            models.UniqueConstraint(
                fields=["sighting", "leopard"], name="candidate_unique_leopard"
            ),
            models.CheckConstraint(condition=Q(rank__gte=1), name="candidate_rank_positive"),
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | Q(probability__gte=0, probability__lte=1),
                name="candidate_probability_range",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.leopard_id} ({self.score:.1f})"


# The ranks of Darwin Core's taxonRank vocabulary that camera-trap packages use.
TAXON_RANKS = {
    "kingdom": pgettext_lazy("taxon rank", "kingdom"),
    "phylum": pgettext_lazy("taxon rank", "phylum"),
    "class": pgettext_lazy("taxon rank", "class"),
    "order": pgettext_lazy("taxon rank", "order"),
    "family": pgettext_lazy("taxon rank", "family"),
    "subfamily": pgettext_lazy("taxon rank", "subfamily"),
    "genus": pgettext_lazy("taxon rank", "genus"),
    "species": pgettext_lazy("taxon rank", "species"),
    "subspecies": pgettext_lazy("taxon rank", "subspecies"),
}


class Species(models.Model):
    """A taxon the parks see: the list the review offers, and every species a package names.

    The short list is edited in admin; imported packages add the taxa they name, with
    their taxonID and vernacular names, so a species travels out as it came in.
    """

    name = models.CharField(pgettext_lazy("species", "name"), max_length=120, unique=True)
    scientific_name = models.CharField(_("scientific name"), max_length=160, blank=True)
    rank = models.CharField(_("taxon rank"), max_length=40, blank=True)
    taxon_id = models.CharField(
        _("taxon ID"),
        max_length=255,
        blank=True,
        help_text=_("The identifier in a checklist, such as a Catalogue of Life URL."),
    )
    taxon_id_source = models.CharField(
        _("taxon ID source"),
        max_length=255,
        blank=True,
        help_text=_("The checklist the taxon ID belongs to."),
    )
    # {"eng": "Amur leopard", "rus": "..."}: ISO 639-3 codes, as Camtrap DP writes them.
    vernacular_names = models.JSONField(_("vernacular names"), default=dict, blank=True)
    # Higher ranks as a package gives them: kingdom, phylum, class, order, family, genus.
    classification = models.JSONField(_("higher classification"), default=dict, blank=True)
    position = models.PositiveSmallIntegerField(_("position in the list"), default=100)
    active = models.BooleanField(_("offered in the review"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("species")
        verbose_name_plural = _("species")

    def __str__(self) -> str:
        return self.name

    @property
    def taxon_id_label(self) -> str:
        """Return the taxon ID short enough for a table: the last part of a URL."""
        return self.taxon_id.rstrip("/").rsplit("/", 1)[-1] or self.taxon_id

    @property
    def rank_label(self) -> str:
        """Return the taxon rank in the active language (a rank nobody translated as given)."""
        return TAXON_RANKS.get(self.rank.lower(), self.rank) if self.rank else ""

    @property
    def vernacular_name(self) -> str:
        """Return the name in the active language when the taxon has one, else its name."""
        from django.utils.translation import get_language

        language = (get_language() or "en").split("-")[0]
        code = {"en": "eng", "ru": "rus", "zh": "zho"}.get(language, language)
        return self.vernacular_names.get(code) or self.name


class EventReview(models.Model):
    """What the review of one photo event found, with a version for optimistic locking."""

    event = models.OneToOneField(
        "traps.Event", on_delete=models.CASCADE, related_name="review", verbose_name=_("event")
    )
    species = models.ForeignKey(
        Species,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("other species"),
    )

    class FlagCode(models.TextChoices):
        SECOND_OPINION_DISAGREES = "second_opinion_disagrees", _("A second opinion disagrees")

    # Why the event came back to the queue (a second opinion disagreed); empty otherwise. The
    # reason is kept as a code and its parameters, so that each reader sees it in their own
    # language; flag holds only text that could not be read back into a code.
    flag = models.CharField(_("flag"), max_length=200, blank=True)
    flag_code = models.CharField(
        _("flag code"), max_length=40, choices=FlagCode.choices, blank=True
    )
    flag_params = models.JSONField(_("flag parameters"), default=dict, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("event review")
        verbose_name_plural = _("event reviews")

    def __str__(self) -> str:
        return f"{self.event_id} v{self.version}"

    @property
    def flagged(self) -> bool:
        return bool(self.flag_code or self.flag)

    @property
    def flag_text(self) -> str:
        """Return why the event was sent back, in the active language."""
        if self.flag_code == self.FlagCode.SECOND_OPINION_DISAGREES:
            params = dict(self.flag_params)
            answer = params.get("answer")
            if answer in SecondOpinion.Answer.values:
                # The second scientist named no individual: say what they answered instead.
                params["second"] = SecondOpinion.Answer(answer).label
            return _render(FLAG_TEXTS[self.flag_code], params, self.get_flag_code_display())
        return self.flag


class LeopardAlias(models.Model):
    """An old code of an individual that was merged into another: searches and links find it."""

    leopard = models.ForeignKey(
        Leopard, on_delete=models.CASCADE, related_name="aliases", verbose_name=_("individual")
    )
    code = models.CharField(_("code"), max_length=40, unique=True)
    change = models.ForeignKey(
        "CatalogueChange", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("alias")
        verbose_name_plural = _("aliases")

    def __str__(self) -> str:
        return f"{self.code} → {self.leopard_id}"


class CatalogueChange(models.Model):
    """One change to the catalogue: who, when, why, the state before and after, and its undo."""

    class Kind(models.TextChoices):
        CONFIRM = "confirm", _("Identification confirmed")
        NEW_INDIVIDUAL = "new_individual", _("New individual")
        UNIDENTIFIABLE = "unidentifiable", _("Marked unidentifiable")
        UNCONFIRM = "unconfirm", _("Identification withdrawn")
        EDIT = "edit", _("Details edited")
        MOTHER = "mother", _("Mother linked")
        MERGE = "merge", _("Merged")
        SPLIT = "split", pgettext_lazy("catalogue change", "Split")
        FLANK_LINK = "flank_link", _("Left and right flanks linked")
        UNDO = "undo", _("Undone")
        SECOND_OPINION = "second_opinion", _("Second opinion")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="catalogue_changes",
        verbose_name=_("by"),
    )

    class Reason(models.TextChoices):
        BLIND_CHECK_AGREED = "blind_check_agreed", _("Blind check agreed.")
        BLIND_CHECK_DISAGREED = "blind_check_disagreed", _("Blind check disagreed.")
        BOX_SHOWS_NO_LEOPARD = "box_shows_no_leopard", _("The box shows no leopard.")
        FLANKS_SEEN_TOGETHER = (
            "flanks_seen_together",
            _("Left and right flanks seen together at one station"),
        )

    created_at = models.DateTimeField(_("at"), auto_now_add=True)
    # Why, as typed by a person: kept as it was typed, in their language.
    reason = models.TextField(_("why"), blank=True)
    # Why, when the registry itself gave the reason: a code rendered in the reader's language.
    reason_code = models.CharField(
        _("reason code"), max_length=40, choices=Reason.choices, blank=True
    )
    reason_params = models.JSONField(_("reason parameters"), default=dict, blank=True)
    # Every individual the change touched: it is listed on each one's page.
    leopards = models.ManyToManyField(Leopard, related_name="changes", blank=True)
    sightings = models.ManyToManyField(Sighting, related_name="changes", blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    undoes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="undone_by",
        verbose_name=_("undoes"),
    )
    # A confirmation made against the matcher's advice ("probably a new individual", or a
    # probability below MATCH_CONFIRM_MIN_PROBABILITY) after a deliberate second step.
    matcher_override = models.BooleanField(_("confirmed against the matcher"), default=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("catalogue change")
        verbose_name_plural = _("catalogue changes")
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def undoable(self) -> bool:
        return self.kind in UNDOABLE_KINDS

    @property
    def reason_text(self) -> str:
        """Return why the change was made, in the active language (a person's words as typed)."""
        if not self.reason_code:
            return self.reason
        label = self.get_reason_code_display()
        template = REASON_TEXTS.get(self.reason_code)
        text = _render(template, self.reason_params, label) if template else str(label)
        return f"{text} {self.reason}" if self.reason else text


# The texts of codes that carry parameters; a code without one reads as its label.
REASON_TEXTS = {
    CatalogueChange.Reason.FLANKS_SEEN_TOGETHER: _(
        "Left and right flanks seen together at one station: %(a)s and %(b)s."
    ),
}
FEATURE_PROBLEM_TEXTS = {
    Sighting.FeatureProblem.UNREADABLE: _("The photo cannot be read as an image: %(why)s"),
    Sighting.FeatureProblem.TOO_SMALL: _(
        "The box is too small to show a spot pattern (%(px)s pixels across; "
        "at least %(min)d are needed)."
    ),
    Sighting.FeatureProblem.GAVE_UP: _("Matching stopped after several attempts: %(why)s"),
}
FLAG_TEXTS = {
    EventReview.FlagCode.SECOND_OPINION_DISAGREES: _(
        "Second opinion disagrees: %(first)s or %(second)s?"
    ),
}


def _render(template: Any, params: dict[str, Any], fallback: Any) -> str:
    """Fill a message's named placeholders in the active language; the label if params are off."""
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return str(fallback)


UNDOABLE_KINDS = {
    CatalogueChange.Kind.MERGE,
    CatalogueChange.Kind.SPLIT,
    CatalogueChange.Kind.FLANK_LINK,
}


class SecondOpinion(models.Model):
    """A blind check of a confirmed sighting by a second scientist, not told the first answer."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        AGREED = "agreed", _("Agreed")
        DISAGREED = "disagreed", _("Disagreed")
        CANCELLED = "cancelled", _("Cancelled")

    sighting = models.ForeignKey(Sighting, on_delete=models.CASCADE, related_name="second_opinions")
    first_leopard = models.ForeignKey(
        Leopard, on_delete=models.CASCADE, related_name="+", verbose_name=_("first answer")
    )
    first_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("first scientist"),
    )
    second_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("second scientist"),
    )

    class Answer(models.TextChoices):
        LEOPARD = "leopard", _("A known individual")
        NEW = "new", _("Not in the catalogue: a new individual")
        UNIDENTIFIABLE = "unidentifiable", _("Cannot be told")

    first_answer = models.CharField(max_length=20, choices=Answer.choices, default=Answer.LEOPARD)
    # The second answer: an individual, or none (not in the catalogue or unidentifiable).
    second_leopard = models.ForeignKey(
        Leopard, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    second_answer = models.CharField(max_length=20, choices=Answer.choices, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("second opinion")
        verbose_name_plural = _("second opinions")
        constraints = [
            models.UniqueConstraint(
                fields=["sighting"],
                condition=Q(status="pending"),
                name="second_opinion_one_pending_per_sighting",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.sighting_id} · {self.get_status_display()}"


class MatchIndexState(models.Model):
    """The match index journal's position: one row, bumped by every catalogue change."""

    # A new generation (a fresh database) makes every process drop its in-memory index.
    generation = models.UUIDField(default=uuid.uuid4, editable=False)
    seq = models.PositiveBigIntegerField(default=0)
    snapshot_seq = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("match index state")
        verbose_name_plural = _("match index state")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="match_index_state_single_row"),
        ]

    def __str__(self) -> str:
        return f"{self.generation} @ {self.seq}"


class MatchIndexEntry(models.Model):
    """Whether a sighting is a match index reference, as of journal position ``seq``.

    Keyed by the sighting id without a foreign key, so that the entry of a deleted
    sighting stays behind as a tombstone that tells every process to drop it.
    """

    sighting_id = models.BigIntegerField(primary_key=True)
    present = models.BooleanField(default=False)
    leopard_id = models.BigIntegerField(null=True, blank=True)
    flank = models.CharField(max_length=10, blank=True)
    features_digest = models.CharField(max_length=16, blank=True)
    seq = models.PositiveBigIntegerField(db_index=True)

    class Meta:
        verbose_name = _("match index entry")
        verbose_name_plural = _("match index entries")

    def __str__(self) -> str:
        return f"{self.sighting_id} {'+' if self.present else '-'} @ {self.seq}"
