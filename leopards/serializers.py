"""REST representations of review events, sightings, individuals, changes and blind checks."""

from django.urls import reverse
from rest_framework import serializers

from leopards.models import (
    AgeClass,
    CatalogueChange,
    Flank,
    Leopard,
    MatchCandidate,
    SecondOpinion,
    Sex,
    Sighting,
)
from leopards.services.errors import VERSION_REQUIRED
from traps.models import Event, Photo


class CandidateSerializer(serializers.ModelSerializer):
    """A ranked candidate as catalogue.candidates_disclose lets the reader see it.

    An individual the reader does not see (known only in other parks) has no code or id
    here, only ``from_another_park``; a reference outside the reader's parks has no crop
    and no matched spots. Confirm such a candidate by this candidate's ``id``.
    """

    leopard = serializers.SerializerMethodField(
        help_text="Code of the individual; null for an individual from another park."
    )
    leopard_id = serializers.SerializerMethodField()
    from_another_park = serializers.SerializerMethodField(
        help_text="An individual known only in parks the reader does not belong to."
    )
    reference = serializers.SerializerMethodField()
    reference_crop_url = serializers.SerializerMethodField()
    matches = serializers.SerializerMethodField()

    class Meta:
        model = MatchCandidate
        fields = [
            "id",
            "sighting",
            "rank",
            "leopard",
            "leopard_id",
            "from_another_park",
            "score",
            "probability",
            "stage",
            "learned_matches",
            "inliers",
            "reference",
            "reference_crop_url",
            "matches",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "stage": {
                "help_text": "Which stage placed the candidate: 1 the shortlist (SIFT votes "
                "over the whole catalogue), 2 the learned matcher that re-ranks the "
                "shortlist's first individuals. inliers, matches and reference are that "
                "stage's evidence."
            },
            "matches": {
                "help_text": "Matched point pairs [query x, query y, reference x, reference y], "
                "each relative (0-1) to its photo, for drawing lines between them."
            },
        }

    @staticmethod
    def _disclosed(candidate: MatchCandidate) -> bool:
        # Unmarked counts as hidden: a view that forgot to ask tells nothing.
        return getattr(candidate, "disclosed", False)

    @staticmethod
    def _reference_shown(candidate: MatchCandidate) -> bool:
        return getattr(candidate, "reference_shown", False)

    def get_leopard(self, candidate: MatchCandidate) -> str | None:
        return candidate.leopard.code if self._disclosed(candidate) else None

    def get_leopard_id(self, candidate: MatchCandidate) -> int | None:
        return candidate.leopard_id if self._disclosed(candidate) else None

    def get_from_another_park(self, candidate: MatchCandidate) -> bool:
        return not self._disclosed(candidate)

    def get_reference(self, candidate: MatchCandidate) -> int | None:
        return candidate.reference_id if self._reference_shown(candidate) else None

    def get_reference_crop_url(self, candidate: MatchCandidate) -> str | None:
        if not self._reference_shown(candidate):
            return None
        return reverse("leopards:sighting-crop", args=[candidate.reference_id])

    def get_matches(self, candidate: MatchCandidate) -> list[list[float]]:
        return candidate.matches if self._reference_shown(candidate) else []


class SightingSerializer(serializers.ModelSerializer):
    leopard = serializers.CharField(
        source="leopard.code", read_only=True, default=None, allow_null=True
    )
    # A photo not yet grouped into an event (still processing) has none.
    event = serializers.IntegerField(source="photo.event_id", read_only=True, allow_null=True)
    crop_url = serializers.SerializerMethodField()
    feature_error = serializers.CharField(
        source="feature_error_text",
        read_only=True,
        help_text="Why the box has no spot-pattern features, in the request's language; "
        "empty when it has them.",
    )
    feature_error_code = serializers.CharField(
        read_only=True,
        help_text="The same as a stable code (empty when there is no problem or only old text).",
    )

    class Meta:
        model = Sighting
        fields = [
            "id",
            "photo",
            "event",
            "bbox_x",
            "bbox_y",
            "bbox_w",
            "bbox_h",
            "flank",
            "observed_age_class",
            "status",
            "source",
            "leopard",
            "leopard_id",
            "identified_by",
            "identified_at",
            "feature_status",
            "feature_error",
            "feature_error_code",
            "feature_error_params",
            "version",
            "crop_url",
        ]
        read_only_fields = fields

    def get_crop_url(self, sighting: Sighting) -> str | None:
        return reverse("leopards:sighting-crop", args=[sighting.pk]) if sighting.has_box else None


class ReviewSightingSerializer(SightingSerializer):
    candidates = CandidateSerializer(many=True, read_only=True)

    class Meta(SightingSerializer.Meta):
        fields = [*SightingSerializer.Meta.fields, "candidates"]
        read_only_fields = fields


class ReviewPhotoSerializer(serializers.ModelSerializer):
    sightings = ReviewSightingSerializer(many=True, read_only=True)
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = ["id", "original_name", "taken_at", "width", "height", "file_url", "sightings"]
        read_only_fields = fields

    def get_file_url(self, photo: Photo) -> str:
        return reverse("traps:photo-file", args=[photo.pk])


class ReviewEventSerializer(serializers.ModelSerializer):
    park = serializers.CharField(source="deployment.station.park.code", read_only=True)
    station = serializers.CharField(source="deployment.station.code", read_only=True)
    claimed_by = serializers.CharField(
        source="claimed_by.username", default=None, read_only=True, allow_null=True
    )
    version = serializers.SerializerMethodField()
    flag = serializers.SerializerMethodField(
        help_text="Why the event was sent back, in the request's language; empty if it was not."
    )
    flag_code = serializers.SerializerMethodField(
        help_text="The same as a stable code (empty for free text or no flag)."
    )
    # Counted for the queue only; null in the answers about one event.
    photo_count = serializers.IntegerField(read_only=True, allow_null=True)
    open_count = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "park",
            "station",
            "start",
            "end",
            "status",
            "content",
            "claimed_by",
            "claimed_at",
            "version",
            "flag",
            "flag_code",
            "photo_count",
            "open_count",
        ]
        read_only_fields = fields

    def _review(self, event: Event):
        try:
            return event.review
        except Event.review.RelatedObjectDoesNotExist:
            return None

    def get_version(self, event: Event) -> int:
        review = self._review(event)
        return review.version if review else 1

    def get_flag(self, event: Event) -> str:
        review = self._review(event)
        return review.flag_text if review else ""

    def get_flag_code(self, event: Event) -> str:
        review = self._review(event)
        return review.flag_code if review else ""


class ReviewEventDetailSerializer(ReviewEventSerializer):
    photos = ReviewPhotoSerializer(many=True, read_only=True)

    class Meta(ReviewEventSerializer.Meta):
        fields = [*ReviewEventSerializer.Meta.fields, "photos"]
        read_only_fields = fields


def version_field() -> serializers.IntegerField:
    """Return the version a write was read at: required, a stale one answers 409."""
    return serializers.IntegerField(
        help_text="The record's version as read; a newer one on the server answers 409.",
        error_messages={"required": VERSION_REQUIRED, "null": VERSION_REQUIRED},
    )


class VersionSerializer(serializers.Serializer):
    version = version_field()


class ClassifySerializer(VersionSerializer):
    content = serializers.ChoiceField(choices=Event.Content.choices)
    species = serializers.IntegerField(required=False, allow_null=True)


class BoxSerializer(serializers.Serializer):
    bbox_x = serializers.FloatField(min_value=0, max_value=1)
    bbox_y = serializers.FloatField(min_value=0, max_value=1)
    bbox_w = serializers.FloatField(min_value=0, max_value=1)
    bbox_h = serializers.FloatField(min_value=0, max_value=1)


class SightingDrawSerializer(BoxSerializer):
    photo = serializers.IntegerField()
    flank = serializers.ChoiceField(choices=Flank.choices, default=Flank.UNKNOWN)
    observed_age_class = serializers.ChoiceField(choices=AgeClass.choices, default=AgeClass.UNKNOWN)


class SightingAdjustSerializer(VersionSerializer):
    bbox_x = serializers.FloatField(min_value=0, max_value=1, required=False)
    bbox_y = serializers.FloatField(min_value=0, max_value=1, required=False)
    bbox_w = serializers.FloatField(min_value=0, max_value=1, required=False)
    bbox_h = serializers.FloatField(min_value=0, max_value=1, required=False)
    flank = serializers.ChoiceField(choices=Flank.choices, required=False)
    observed_age_class = serializers.ChoiceField(choices=AgeClass.choices, required=False)


class CandidateChoiceSerializer(serializers.Serializer):
    candidate = serializers.IntegerField(
        required=False,
        help_text="Id of one of the sighting's candidates (the only way to name one from "
        "another park).",
    )
    leopard = serializers.CharField(required=False, help_text="Code of the individual.")


class IdentifySerializer(VersionSerializer):
    leopard = serializers.CharField(required=False, help_text="Code of the individual.")
    candidate = serializers.IntegerField(
        required=False, help_text="Or the id of one of the sighting's candidates."
    )
    override = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Confirm against the matcher's advice (probably a new individual, or a "
        "probability below the registry's minimum): recorded, and always checked blind.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    observed_age_class = serializers.ChoiceField(choices=AgeClass.choices, required=False)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, default=Sex.UNKNOWN)
    name = serializers.CharField(required=False, allow_blank=True, default="")


class LeopardSerializer(serializers.ModelSerializer):
    # From catalogue_figures: empty when the mother is not seen in the user's parks.
    mother = serializers.CharField(
        source="mother_code", default=None, read_only=True, allow_null=True
    )
    # From catalogue_figures: the old codes the user may see.
    aliases = serializers.ListField(
        child=serializers.CharField(), source="alias_codes", read_only=True, default=list
    )
    # From catalogue_figures; an individual without sightings has no first or last.
    sighting_count = serializers.IntegerField(read_only=True)
    first_seen = serializers.DateTimeField(source="first_seen_at", read_only=True, allow_null=True)
    last_seen = serializers.DateTimeField(source="last_seen_at", read_only=True, allow_null=True)
    # The same moments as the day they fell on in the park where they were taken.
    first_seen_date = serializers.DateField(
        source="first_seen.day", read_only=True, allow_null=True, default=None
    )
    first_seen_time_zone = serializers.CharField(
        source="first_seen.zone", read_only=True, allow_null=True, default=None
    )
    last_seen_date = serializers.DateField(
        source="last_seen.day", read_only=True, allow_null=True, default=None
    )
    last_seen_time_zone = serializers.CharField(
        source="last_seen.zone", read_only=True, allow_null=True, default=None
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = Leopard
        fields = [
            "code",
            "name",
            "sex",
            "birth_date",
            "birth_date_precision",
            "status",
            "notes",
            "mother",
            "aliases",
            "sighting_count",
            "first_seen",
            "first_seen_date",
            "first_seen_time_zone",
            "last_seen",
            "last_seen_date",
            "last_seen_time_zone",
            "version",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, leopard: Leopard) -> str:
        return leopard.get_absolute_url()


class LeopardUpdateSerializer(serializers.ModelSerializer):
    version = version_field()
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    mother = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    class Meta:
        model = Leopard
        fields = [
            "name",
            "sex",
            "birth_date",
            "birth_date_precision",
            "status",
            "notes",
            "mother",
            "version",
            "reason",
        ]
        extra_kwargs = {f: {"required": False} for f in fields}


class MergeSerializer(serializers.Serializer):
    other = serializers.CharField(help_text="Code of the duplicate record that is merged in.")
    reason = serializers.CharField()
    version = version_field()


class SplitSerializer(serializers.Serializer):
    sightings = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    target = serializers.CharField(required=False, allow_blank=True, default="")
    sex = serializers.ChoiceField(choices=Sex.choices, default=Sex.UNKNOWN)
    reason = serializers.CharField()
    version = version_field()


class FlankLinkSerializer(serializers.Serializer):
    left = serializers.IntegerField(help_text="The left-flank sighting.")
    right = serializers.IntegerField(help_text="The right-flank sighting.")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CatalogueChangeSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", default=None, read_only=True)
    leopards = serializers.SlugRelatedField(many=True, slug_field="code", read_only=True)
    undone = serializers.SerializerMethodField()
    reason = serializers.CharField(
        source="reason_text",
        read_only=True,
        help_text="Why, in the request's language; a person's own words as they were typed.",
    )
    # Empty when a person gave the reason: the schema's enum must allow "".
    reason_code = serializers.ChoiceField(
        choices=CatalogueChange.Reason.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = CatalogueChange
        fields = [
            "id",
            "kind",
            "user",
            "created_at",
            "reason",
            "reason_code",
            "reason_params",
            "leopards",
            "before",
            "after",
            "undoes",
            "undone",
            "matcher_override",
        ]
        read_only_fields = fields

    def get_undone(self, change: CatalogueChange) -> bool:
        return CatalogueChange.objects.filter(undoes=change).exists()


class UndoSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BlindSightingSerializer(serializers.ModelSerializer):
    """A sighting as the second scientist sees it: box and candidates, never the answer."""

    candidates = CandidateSerializer(many=True, read_only=True)
    crop_url = serializers.SerializerMethodField()

    class Meta:
        model = Sighting
        fields = [
            "id",
            "photo",
            "bbox_x",
            "bbox_y",
            "bbox_w",
            "bbox_h",
            "flank",
            "crop_url",
            "candidates",
        ]
        read_only_fields = fields

    def get_crop_url(self, sighting: Sighting) -> str:
        return reverse("leopards:sighting-crop", args=[sighting.pk])


class SecondOpinionSerializer(serializers.ModelSerializer):
    sighting = BlindSightingSerializer(read_only=True)

    class Meta:
        model = SecondOpinion
        fields = ["id", "created_at", "status", "sighting"]
        read_only_fields = fields


class SecondOpinionAnswerSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=SecondOpinion.Answer.choices)
    leopard = serializers.CharField(required=False, help_text="Code, when answer is leopard.")
    candidate = serializers.IntegerField(
        required=False, help_text="Or the id of one of the sighting's candidates."
    )


class RateSerializer(serializers.Serializer):
    user = serializers.CharField()
    agreed = serializers.IntegerField()
    checked = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class AgreementSerializer(serializers.Serializer):
    overall = RateSerializer()
    first_scientists = RateSerializer(many=True)
    second_scientists = RateSerializer(many=True)
    waiting = serializers.IntegerField()


class ReviewErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    version = serializers.IntegerField(required=False)
