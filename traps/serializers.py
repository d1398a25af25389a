"""REST representations of parks, stations, deployments, photos and events, and API inputs."""

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.privacy import Coordinates, coordinates_for, no_finer_than_stored
from traps import selectors
from traps.models import Deployment, Event, Park, Photo, Station


class DeploymentSerializer(serializers.ModelSerializer):
    park = serializers.CharField(source="station.park.code", read_only=True)
    station = serializers.CharField(source="station.code", read_only=True)
    park_id = serializers.IntegerField(source="station.park_id", read_only=True)
    station_id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "park",
            "station",
            "park_id",
            "station_id",
            "label",
            "camera_serial",
            "camera_model",
            "start",
            "end",
            "clock_offset",
            "notes",
            "version",
        ]
        read_only_fields = fields


class PhotoSerializer(serializers.ModelSerializer):
    thumbnail_url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    error = serializers.CharField(
        source="error_text",
        read_only=True,
        help_text=_("Why processing failed, in the request's language; empty otherwise."),
    )

    class Meta:
        model = Photo
        fields = [
            "id",
            "deployment",
            "sha256",
            "original_name",
            "media_type",
            "size_bytes",
            "width",
            "height",
            "status",
            "error_code",
            "error",
            "camera_time",
            "time_source",
            "taken_at",
            "time_problem",
            "outside_deployment",
            "event",
            "uploaded_at",
            "file_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def get_file_url(self, photo: Photo) -> str:
        return reverse("traps:photo-file", args=[photo.pk])

    def get_thumbnail_url(self, photo: Photo) -> str | None:
        return reverse("traps:photo-thumbnail", args=[photo.pk]) if photo.thumbnail else None


@extend_schema_field(OpenApiTypes.BINARY)
class UploadedFileField(serializers.FileField):
    """A file sent as a multipart part: the schema says binary, so clients send its bytes."""


class PhotoUploadSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(min_value=1)
    file = UploadedFileField(allow_empty_file=True, use_url=False)
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$",
        required=False,
        allow_blank=True,
        help_text=_("The SHA-256 the client computed; the server checks the bytes against it."),
    )


class HashLookupSerializer(serializers.Serializer):
    sha256 = serializers.ListField(
        child=serializers.RegexField(r"^[0-9a-fA-F]{64}$"), max_length=1000, allow_empty=True
    )
    brief = serializers.BooleanField(
        default=False,
        help_text=_(
            "Answer only id, deployment and sha256 of each photo found: a card of "
            "thousands resumes over a slow connection without downloading every photo's details."
        ),
    )


class HashLookupResultSerializer(serializers.Serializer):
    found = PhotoSerializer(many=True)
    elsewhere = serializers.ListField(child=serializers.CharField())


class BriefPhotoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Photo
        fields = ["id", "deployment", "sha256"]


class BriefHashLookupResultSerializer(serializers.Serializer):
    found = BriefPhotoSerializer(
        many=True,
        help_text=_(
            "The photos stored with these hashes in the user's parks: id, deployment and "
            "sha256, and every other field of a photo unless the request asked for brief."
        ),
    )
    elsewhere = serializers.ListField(child=serializers.CharField())


class ProposeSerializer(serializers.Serializer):
    file = UploadedFileField(
        help_text=_("The first part (128 KB is enough) of one photo of the card."),
        use_url=False,
    )


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
        "example": "2024-05-01 22:15:00",
    }
)
class CameraClockField(serializers.DateTimeField):
    """A camera's own clock reading, local and uncorrected: written without a time zone."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d %H:%M:%S", **kwargs)


class ProposalSerializer(serializers.Serializer):
    serial = serializers.CharField()
    camera_time = CameraClockField(allow_null=True)
    deployments = DeploymentSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class ParkSerializer(serializers.ModelSerializer):
    area_km2 = serializers.DecimalField(
        max_digits=10, decimal_places=1, coerce_to_string=False, min_value=Decimal("0.1")
    )
    local_name = serializers.CharField(
        read_only=True,
        help_text=_(
            "The name in the request's language (Accept-Language): name_ru, name_zh_hans "
            "or, where that is empty, name."
        ),
    )

    class Meta:
        model = Park
        fields = [
            "id",
            "code",
            "name",
            "name_ru",
            "name_zh_hans",
            "local_name",
            "country",
            "area_km2",
            "time_zone",
            "boundary",
        ]


class StationSerializer(serializers.ModelSerializer):
    """A station; its coordinates are generalised unless the user may see exact ones."""

    park = serializers.PrimaryKeyRelatedField(queryset=Park.objects.none())
    park_code = serializers.CharField(source="park.code", read_only=True)
    latitude = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=Decimal(-90),
        max_value=Decimal(90),
        coerce_to_string=False,
    )
    longitude = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=Decimal(-180),
        max_value=Decimal(180),
        coerce_to_string=False,
    )
    coordinate_precision = serializers.SerializerMethodField(
        help_text=_("Uncertainty of the coordinates in degrees: 0.000001 exact, 0.1 generalised.")
    )

    class Meta:
        model = Station
        fields = [
            "id",
            "park",
            "park_code",
            "code",
            "latitude",
            "longitude",
            "coordinate_precision",
            "notes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # A park the user does not belong to is as unknown as one that does not exist.
            self.fields["park"].queryset = selectors.parks_for_user(request.user)
        if isinstance(self.instance, Station):
            # A station stays in its park: its deployments and photos belong there.
            self.fields["park"].read_only = True

    def get_coordinate_precision(self, station: Station) -> float:
        return no_finer_than_stored(self._coordinates(station), station).precision

    def _coordinates(self, station: Station) -> Coordinates:
        request = self.context.get("request")
        user = request.user if request is not None else AnonymousUser()
        coordinates = coordinates_for(user, station.park_id, station.latitude, station.longitude)
        exact_parks = self.context.get("exact_parks")
        if coordinates.exact and exact_parks is not None:
            # The view records which parks' exact positions it served.
            exact_parks[station.park_id] = station.park
        return coordinates

    def to_representation(self, station: Station) -> dict[str, Any]:
        data = super().to_representation(station)
        coordinates = self._coordinates(station)
        data["latitude"] = coordinates.latitude
        data["longitude"] = coordinates.longitude
        return data


class DeploymentWriteSerializer(serializers.ModelSerializer):
    """What a ranger or scientist sends to create or change a deployment."""

    station = serializers.PrimaryKeyRelatedField(queryset=Station.objects.none())
    version = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text=_("The version you loaded; required to change a deployment."),
    )

    class Meta:
        model = Deployment
        fields = [
            "station",
            "camera_serial",
            "camera_model",
            "start",
            "end",
            "clock_offset",
            "notes",
            "version",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["station"].queryset = selectors.stations_for_user(request.user)
        if self.instance is not None:
            # A deployment stays at its station: a move would carry photos across parks.
            self.fields["station"].read_only = True

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        start = data.get("start", getattr(self.instance, "start", None))
        end = data.get("end", getattr(self.instance, "end", None))
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end": _("The end must be after the start.")})
        if self.instance is not None and "version" not in data:
            raise serializers.ValidationError(
                {"version": _("Send the version you loaded, so that no change is lost.")}
            )
        return data


class EventSerializer(serializers.ModelSerializer):
    park = serializers.CharField(source="deployment.station.park.code", read_only=True)
    park_id = serializers.IntegerField(source="deployment.station.park_id", read_only=True)
    station = serializers.CharField(source="deployment.station.code", read_only=True)
    station_id = serializers.IntegerField(source="deployment.station_id", read_only=True)
    photo_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "park",
            "park_id",
            "station",
            "station_id",
            "deployment",
            "start",
            "end",
            "status",
            "content",
            "photo_count",
        ]
        read_only_fields = fields


class ValidationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    # Absent when the body could not be parsed at all.
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text=_(
            "The messages per field (per item index for lists); "
            "non_field_errors for the request as a whole."
        ),
    )


class StaleVersionSerializer(ErrorSerializer):
    version = serializers.IntegerField(help_text=_("The version now stored."))
