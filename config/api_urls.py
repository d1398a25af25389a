"""The REST API: one router that every app registers its viewsets into."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from census.api import CensusResultViewSet, DensityRunViewSet
from leopards.api import (
    CatalogueChangeViewSet,
    LeopardViewSet,
    MatchCandidateViewSet,
    ReviewEventViewSet,
    SecondOpinionViewSet,
    SightingViewSet,
)
from traps.api import DeploymentViewSet, PhotoViewSet
from traps.api_catalogue import EventViewSet, ParkViewSet, StationViewSet

router = DefaultRouter()
router.register("parks", ParkViewSet, basename="park")
router.register("stations", StationViewSet, basename="station")
router.register("events", EventViewSet, basename="event")
router.register("census-results", CensusResultViewSet, basename="census-result")
router.register("density-runs", DensityRunViewSet, basename="density-run")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("photos", PhotoViewSet, basename="photo")
router.register("review/events", ReviewEventViewSet, basename="review-event")
router.register("sightings", SightingViewSet, basename="sighting")
router.register("leopards", LeopardViewSet, basename="leopard")
router.register("candidates", MatchCandidateViewSet, basename="candidate")
router.register("catalogue-changes", CatalogueChangeViewSet, basename="catalogue-change")
router.register("second-opinions", SecondOpinionViewSet, basename="second-opinion")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script from the registry: the CSP allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("", include(router.urls)),
]
