"""REST representations of deployments and photos, and the inputs of the upload API."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from traps.models import Deployment, Photo


class DeploymentSerializer(serializers.ModelSerializer):
    park = serializers.CharField(source="station.park.code", read_only=True)
    station = serializers.CharField(source="station.code", read_only=True)
    label = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "park",
            "station",
            "label",
            "camera_serial",
            "camera_model",
            "start",
            "end",
            "clock_offset",
            "version",
        ]
        read_only_fields = fields


class PhotoSerializer(serializers.ModelSerializer):
    thumbnail_url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()

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
            "error",
            "camera_time",
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


class PhotoUploadSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(min_value=1)
    file = serializers.FileField(allow_empty_file=True, use_url=False)
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


class HashLookupResultSerializer(serializers.Serializer):
    found = PhotoSerializer(many=True)
    elsewhere = serializers.ListField(child=serializers.CharField())


class ProposeSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_("The first part (128 KB is enough) of one photo of the card."),
        use_url=False,
    )


class ProposalSerializer(serializers.Serializer):
    serial = serializers.CharField()
    # The camera's own clock reading, local and uncorrected: no time zone.
    camera_time = serializers.DateTimeField(allow_null=True, format="%Y-%m-%d %H:%M:%S")
    deployments = DeploymentSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
