"""REST API of the stored census results (read-only: the census rebuild writes them)."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from census.filters import CensusResultFilter
from census.models import CensusResult, DensityRun
from census.selectors import census_results_for_user, density_runs_for_user
from census.serializers import CensusResultSerializer, DensityRunSerializer
from traps.api_catalogue import READ_ERRORS


@extend_schema_view(
    list=extend_schema(responses={200: CensusResultSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: CensusResultSerializer, **READ_ERRORS}),
)
class CensusResultViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored census figures per park and year; admins also get the landscape rows."""

    serializer_class = CensusResultSerializer
    filterset_class = CensusResultFilter

    def get_queryset(self) -> QuerySet[CensusResult]:
        return census_results_for_user(self.request.user).order_by("park__name", "year", "pk")


@extend_schema_view(
    list=extend_schema(responses={200: DensityRunSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: DensityRunSerializer, **READ_ERRORS}),
)
class DensityRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Density fits (spatial capture-recapture) of the user's parks, newest first."""

    serializer_class = DensityRunSerializer

    def get_queryset(self) -> QuerySet[DensityRun]:
        return density_runs_for_user(self.request.user)
