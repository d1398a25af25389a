"""REST API for parks, stations and events; the write rules shared with deployments."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import roles
from accounts.models import LocationAccessLog
from accounts.roles import has_permission
from accounts.services import location_access_log
from traps import selectors, services
from traps.filters import EventFilter, StationFilter
from traps.models import Event, Park, Station
from traps.serializers import (
    ErrorSerializer,
    EventSerializer,
    ParkSerializer,
    StationSerializer,
    ValidationErrorSerializer,
)

READ_ERRORS = {401: ErrorSerializer, 404: ErrorSerializer}
WRITE_ERRORS = {
    400: ValidationErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
}


def may_edit_field_data(user: AbstractBaseUser | AnonymousUser, park_id: int | None = None) -> bool:
    """Tell whether the user may add or change stations and deployments (of this park)."""
    if not has_permission(user, roles.FIELD_EDITS):
        return False
    if has_permission(user, roles.EVERY_PARK):
        return True
    return park_id is None or user.park_memberships.filter(park_id=park_id).exists()


def require_field_rights(user: AbstractBaseUser | AnonymousUser, park_id: int | None) -> None:
    """Refuse with 403 unless the user may edit this park's stations and deployments."""
    if not may_edit_field_data(user, park_id):
        raise PermissionDenied(_("Your role cannot change stations or deployments of this park."))


@extend_schema_view(
    list=extend_schema(responses={200: ParkSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: ParkSerializer, **READ_ERRORS}),
    create=extend_schema(responses={201: ParkSerializer, **WRITE_ERRORS}),
    update=extend_schema(responses={200: ParkSerializer, **WRITE_ERRORS}),
    partial_update=extend_schema(responses={200: ParkSerializer, **WRITE_ERRORS}),
)
class ParkViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The user's parks; admins add and change parks."""

    serializer_class = ParkSerializer

    def get_queryset(self) -> QuerySet[Park]:
        return selectors.parks_for_user(self.request.user).order_by("name", "pk")

    def _require_admin(self) -> None:
        if not has_permission(self.request.user, roles.ADMIN_SITE):
            raise PermissionDenied(_("Only an admin can add or change parks."))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add a park (admins)."""
        self._require_admin()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        park = services.park_create(data=serializer.validated_data)
        return Response(self.get_serializer(park).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change a park (admins)."""
        park = self.get_object()
        self._require_admin()
        serializer = self.get_serializer(
            park, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        park = services.park_update(park_id=park.pk, data=serializer.validated_data)
        return Response(self.get_serializer(park).data)


@extend_schema_view(
    list=extend_schema(responses={200: StationSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: StationSerializer, **READ_ERRORS}),
    create=extend_schema(responses={201: StationSerializer, **WRITE_ERRORS}),
    update=extend_schema(responses={200: StationSerializer, **WRITE_ERRORS}),
    partial_update=extend_schema(responses={200: StationSerializer, **WRITE_ERRORS}),
)
class StationViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Stations of the user's parks, with exact coordinates only for those who may see them."""

    serializer_class = StationSerializer
    filterset_class = StationFilter

    def get_queryset(self) -> QuerySet[Station]:
        return selectors.stations_for_user(self.request.user).order_by("park__name", "code", "pk")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not hasattr(self, "exact_parks"):
            self.exact_parks: dict[int, Park] = {}
        context["exact_parks"] = self.exact_parks
        return context

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        exact_parks = getattr(self, "exact_parks", None)
        if exact_parks and response.status_code < 400:
            # Exact positions of a poached species leave the registry on record.
            location_access_log(
                user=request.user,
                parks=list(exact_parks.values()),
                what=LocationAccessLog.What.API,
                request=request,
            )
        return super().finalize_response(request, response, *args, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add a station to one of your parks (rangers, scientists and admins)."""
        require_field_rights(request.user, None)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        park = serializer.validated_data.pop("park")
        require_field_rights(request.user, park.pk)
        station = services.station_create(park=park, data=serializer.validated_data)
        return Response(self.get_serializer(station).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change a station's code, coordinates or notes (rangers, scientists and admins)."""
        station = self.get_object()
        require_field_rights(request.user, station.park_id)
        serializer = self.get_serializer(
            station, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        station = services.station_update(station_id=station.pk, data=serializer.validated_data)
        return Response(self.get_serializer(station).data)


@extend_schema_view(
    list=extend_schema(responses={200: EventSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: EventSerializer, **READ_ERRORS}),
)
class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """Photo events of the user's parks, with their number of photos."""

    serializer_class = EventSerializer
    filterset_class = EventFilter

    def get_queryset(self) -> QuerySet[Event]:
        return (
            selectors.events_for_user(self.request.user)
            .annotate(photo_count=Count("photos"))
            .order_by("start", "pk")
        )
