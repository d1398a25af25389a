from django.urls import path

from census import views

app_name = "census"

urlpatterns = [
    path("", views.census_dashboard, name="dashboard"),
    path("landscape/<slug:table>.csv", views.census_csv, name="landscape-csv"),
    path("<slug:park_code>/", views.census_dashboard, name="park"),
    path("<slug:park_code>/<slug:table>.csv", views.census_csv, name="park-csv"),
    path("<slug:park_code>/survey/", views.census_survey, name="survey"),
    path(
        "<slug:park_code>/survey/histories.csv",
        views.census_histories_csv,
        name="histories-csv",
    ),
    path("<slug:park_code>/survey/secr.zip", views.census_secr, name="secr"),
    path("<slug:park_code>/density/", views.census_density_start, name="density-start"),
    path(
        "<slug:park_code>/density/<int:run_id>/status/",
        views.census_density_status,
        name="density-status",
    ),
    path(
        "<slug:park_code>/density/<int:run_id>.csv",
        views.census_density_csv,
        name="density-csv",
    ),
]
