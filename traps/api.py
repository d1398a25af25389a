"""REST API for deployments and photos: the upload page, the field teams' scripts and others."""

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import can_correct_deployments, can_upload
from config.json_input import CheckedJSONParser
from traps import images, selectors, services
from traps.api_catalogue import READ_ERRORS, WRITE_ERRORS, require_field_rights
from traps.filters import DeploymentFilter, PhotoFilter
from traps.models import Deployment
from traps.serializers import (
    BriefHashLookupResultSerializer,
    DeploymentSerializer,
    DeploymentWriteSerializer,
    ErrorSerializer,
    HashLookupResultSerializer,
    HashLookupSerializer,
    PhotoSerializer,
    PhotoUploadSerializer,
    ProposalSerializer,
    ProposeSerializer,
    StaleVersionSerializer,
)

# HTTP status per rejection code; anything else is a plain 400.
REJECTION_STATUS = {
    "too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "unsupported_format": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
}


def _time_warning(deployment: Deployment, uploaded: UploadedFile, name: str) -> str:
    """Say what to do when the photo's camera time lies outside the deployment's dates."""
    uploaded.seek(0)
    taken_at = services.upload_time_outside(
        deployment=deployment, head=uploaded.read(256 * 1024), name=name
    )
    if taken_at is None:
        return ""
    zone = deployment.station.park.tzinfo
    end = deployment.end
    return _(
        "Taken %(time)s, outside this deployment (%(start)s to %(end)s). If the camera's "
        "clock was wrong, set its clock offset on the deployment page; if the card is from "
        "another deployment, upload it there."
    ) % {
        "time": f"{taken_at.astimezone(zone):%Y-%m-%d %H:%M}",
        "start": f"{deployment.start.astimezone(zone):%Y-%m-%d}",
        "end": f"{end.astimezone(zone):%Y-%m-%d}" if end else _("running"),
    }


def _error(code: str, detail: str, http_status: int, **extra: object) -> Response:
    return Response({"code": code, "detail": detail, **extra}, status=http_status)


DEPLOYMENT_WRITE_RESPONSES = {
    **WRITE_ERRORS,
    409: OpenApiResponse(
        StaleVersionSerializer, description="Someone saved the deployment since you loaded it."
    ),
}


@extend_schema_view(
    list=extend_schema(responses={200: DeploymentSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: DeploymentSerializer, **READ_ERRORS}),
    create=extend_schema(
        request=DeploymentWriteSerializer, responses={201: DeploymentSerializer, **WRITE_ERRORS}
    ),
    update=extend_schema(
        request=DeploymentWriteSerializer,
        responses={200: DeploymentSerializer, **DEPLOYMENT_WRITE_RESPONSES},
    ),
    partial_update=extend_schema(
        request=DeploymentWriteSerializer,
        responses={200: DeploymentSerializer, **DEPLOYMENT_WRITE_RESPONSES},
    ),
)
class DeploymentViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Deployments in the user's parks; rangers and scientists of a park add and change them."""

    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter

    def get_queryset(self):
        return selectors.deployments_for_user(self.request.user).order_by("-start", "pk")

    def create(self, request: Request, *args, **kwargs) -> Response:
        """Add a deployment at a station of one of your parks."""
        require_field_rights(request.user, None)
        serializer = DeploymentWriteSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("version", None)
        station = data.pop("station")
        require_field_rights(request.user, station.park_id)
        deployment = services.deployment_create(station=station, data=data)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        """Change a deployment; send the version you loaded (409 if someone saved since)."""
        deployment = self.get_object()
        require_field_rights(request.user, deployment.station.park_id)
        serializer = DeploymentWriteSerializer(
            deployment,
            data=request.data,
            partial=kwargs.get("partial", False),
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        expected_version = data.pop("version")
        try:
            deployment = services.deployment_update(
                deployment_id=deployment.pk, data=data, expected_version=expected_version
            )
        except services.DeploymentChanged as changed:
            return _error(
                "stale_version",
                _("Someone else changed this deployment since you loaded it; reload it."),
                status.HTTP_409_CONFLICT,
                version=changed.deployment.version,
            )
        return Response(DeploymentSerializer(deployment).data)


class PhotoViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Photos in the parks of the user; upload one photo; look up many hashes."""

    serializer_class = PhotoSerializer
    parser_classes = [MultiPartParser, FormParser, CheckedJSONParser]
    filterset_class = PhotoFilter

    def get_queryset(self):
        return selectors.photos_for_user(self.request.user).order_by("taken_at", "pk")

    @extend_schema(
        request={"multipart/form-data": PhotoUploadSerializer},
        responses={
            201: PhotoSerializer,
            200: OpenApiResponse(
                PhotoSerializer, description="Already stored: the existing photo."
            ),
            400: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Already stored in another park."),
            413: ErrorSerializer,
            415: ErrorSerializer,
        },
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Upload one photo to a deployment (multipart: deployment, file, optional sha256, name)."""
        if not can_upload(request.user):
            raise PermissionDenied(_("Your role cannot upload photos."))
        # Refuse an oversized body before Django spools it to disk.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.PHOTO_MAX_BYTES + 64 * 1024:
            return _error(
                "too_large",
                _("The file is larger than the limit of %(limit)d MB.")
                % {"limit": settings.PHOTO_MAX_BYTES // (1024 * 1024)},
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        upload = PhotoUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        deployment = get_object_or_404(
            selectors.deployments_for_user(request.user), pk=upload.validated_data["deployment"]
        )
        uploaded = upload.validated_data["file"]
        # Django's multipart parser already strips folders and control characters
        # from the part's file name, silently; the page also sends the name the
        # ranger sees as "name", so that a name trying a path is refused with a
        # message instead of being quietly rewritten.
        name = request.data.get("name") or uploaded.name or ""
        try:
            with transaction.atomic():
                result = services.photo_receive(
                    deployment=deployment,
                    fileobj=uploaded,
                    original_name=name,
                    uploaded_by=request.user,
                    expected_sha256=upload.validated_data.get("sha256", ""),
                )
        except images.PhotoRejected as rejected:
            return _error(
                rejected.code,
                rejected.message,
                REJECTION_STATUS.get(rejected.code, status.HTTP_400_BAD_REQUEST),
                name=name[:255],
            )
        photo = result.photo
        if (
            not result.created
            and not selectors.photos_for_user(request.user).filter(pk=photo.pk).exists()
        ):
            # The same bytes are stored in a park this user does not work in: say
            # so, store nothing, and tell nothing more about that photo.
            return _error(
                "duplicate_elsewhere",
                _(
                    "This photo is already in the registry, in another park; "
                    "it was not stored again."
                ),
                status.HTTP_409_CONFLICT,
                name=name[:255],
            )
        body = dict(PhotoSerializer(photo).data)
        # A photo stored before in another deployment is dated against that one.
        same = photo.deployment_id == deployment.pk
        body["time_warning"] = _time_warning(deployment, uploaded, name) if same else ""
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )

    @extend_schema(
        request=HashLookupSerializer,
        responses={
            # One shape for both answers: a full answer's photos carry the brief
            # one's fields and more (a oneOf could not tell an empty answer apart).
            200: BriefHashLookupResultSerializer,
            400: ErrorSerializer,
        },
    )
    @action(detail=False, methods=["post"], parser_classes=[CheckedJSONParser])
    def lookup(self, request: Request) -> Response:
        """Tell which of up to 1,000 SHA-256 hashes are already stored."""
        if not can_upload(request.user):
            raise PermissionDenied(_("Your role cannot upload photos."))
        query = HashLookupSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        result = selectors.photos_lookup(request.user, query.validated_data["sha256"])
        if query.validated_data["brief"]:
            return Response(BriefHashLookupResultSerializer(result).data)
        return Response(HashLookupResultSerializer(result).data)

    @extend_schema(request={"multipart/form-data": ProposeSerializer}, responses=ProposalSerializer)
    @action(
        detail=False,
        methods=["post"],
        url_path="propose-deployment",
        parser_classes=[MultiPartParser],
    )
    def propose_deployment(self, request: Request) -> Response:
        """Propose deployments from the camera serial and time in a photo's EXIF.

        Without an EXIF time, a time written in the file name by a renaming tool
        stands in, as it does when the photo is processed.
        """
        if not can_upload(request.user):
            raise PermissionDenied(_("Your role cannot upload photos."))
        query = ProposeSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        upload = query.validated_data["file"]
        exif = images.read_exif_head(upload.read(256 * 1024))
        if exif is None:
            return Response({"serial": "", "camera_time": None, "deployments": []})
        camera_time, _source = images.camera_time_of(exif, upload.name or "")
        deployments = selectors.deployments_proposed(
            request.user, serial=exif.serial, camera_time=camera_time
        )
        return Response(
            ProposalSerializer(
                {"serial": exif.serial, "camera_time": camera_time, "deployments": deployments}
            ).data
        )

    @extend_schema(request=None, responses={202: PhotoSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Queue a failed photo for processing again."""
        photo = self.get_object()
        if not can_correct_deployments(request.user):
            raise PermissionDenied(_("Your role cannot retry photos."))
        services.photo_retry(photo_id=photo.pk)
        photo.refresh_from_db()
        return Response(PhotoSerializer(photo).data, status=status.HTTP_202_ACCEPTED)
