"""The REST API: one router that every app registers its viewsets into."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from leopards.api import (
    CatalogueChangeViewSet,
    LeopardViewSet,
    ReviewEventViewSet,
    SecondOpinionViewSet,
    SightingViewSet,
)
from traps.api import DeploymentViewSet, PhotoViewSet

router = DefaultRouter()
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("photos", PhotoViewSet, basename="photo")
router.register("review/events", ReviewEventViewSet, basename="review-event")
router.register("sightings", SightingViewSet, basename="sighting")
router.register("leopards", LeopardViewSet, basename="leopard")
router.register("catalogue-changes", CatalogueChangeViewSet, basename="catalogue-change")
router.register("second-opinions", SecondOpinionViewSet, basename="second-opinion")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include(router.urls)),
]
