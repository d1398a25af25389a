"""The REST API: one router that every app registers its viewsets into."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from traps.api import DeploymentViewSet, PhotoViewSet

router = DefaultRouter()
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("photos", PhotoViewSet, basename="photo")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include(router.urls)),
]
