from django.urls import path

from exchange import views

app_name = "exchange"

urlpatterns = [
    path("", views.index, name="index"),
    path("export/", views.export, name="export"),
    path("import/camtrap-dp/", views.import_package, name="import-package"),
    path("import/megadetector/", views.import_megadetector, name="import-megadetector"),
    path("likely-blanks/", views.likely_blanks, name="likely-blanks"),
    path("partner-aliases/", views.partner_alias_confirm, name="partner-alias-confirm"),
    path(
        "partner-aliases/<int:pk>/withdraw/",
        views.partner_alias_withdraw,
        name="partner-alias-withdraw",
    ),
    path("jobs/<uuid:key>/", views.job, name="job"),
    path("jobs/<uuid:key>/park/", views.job_park, name="job-park"),
    path("jobs/<uuid:key>/status/", views.job_status, name="job-status"),
    path("jobs/<uuid:key>/download/", views.job_download, name="job-download"),
]
