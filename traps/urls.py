from django.urls import path

from traps import views

app_name = "traps"

urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("deployments/", views.deployment_list, name="deployment-list"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/clock/", views.deployment_clock, name="deployment-clock"),
    path("photos/<int:pk>/retry/", views.photo_retry, name="photo-retry"),
    path("photos/<int:pk>/file", views.photo_file, {"kind": "file"}, name="photo-file"),
    path(
        "photos/<int:pk>/thumbnail",
        views.photo_file,
        {"kind": "thumbnail"},
        name="photo-thumbnail",
    ),
]
