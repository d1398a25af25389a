from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import HistoryAdmin
from traps import services
from traps.models import (
    Deployment,
    Event,
    MalfunctionPeriod,
    Park,
    ParkMembership,
    Photo,
    Station,
)


class ParkMembershipInline(admin.TabularInline):
    model = ParkMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Park)
class ParkAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "area_km2", "time_zone", "station_count"]
    list_filter = ["country"]
    search_fields = ["code", "name", "name_ru", "name_zh_hans"]
    inlines = [ParkMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_station_count=Count("stations"))

    @admin.display(description=_("stations"), ordering="_station_count")
    def station_count(self, obj: Park) -> int:
        return obj._station_count


@admin.register(ParkMembership)
class ParkMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "park", "created_at"]
    list_filter = ["park"]
    search_fields = ["user__username", "park__name"]
    autocomplete_fields = ["user", "park"]


@admin.register(Station)
class StationAdmin(SimpleHistoryAdmin):
    list_display = ["code", "park", "latitude", "longitude", "coordinate_precision"]
    list_filter = ["park"]
    search_fields = ["code", "notes"]
    list_select_related = ["park"]


class MalfunctionPeriodInline(admin.TabularInline):
    model = MalfunctionPeriod
    extra = 0


@admin.register(Deployment)
class DeploymentAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "station", "camera_serial", "start", "end", "clock_offset"]
    list_filter = ["station__park", "camera_model"]
    search_fields = ["camera_serial", "station__code", "notes"]
    list_select_related = ["station__park"]
    date_hierarchy = "start"
    autocomplete_fields = ["station"]
    inlines = [MalfunctionPeriodInline]
    readonly_fields = ["version"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["__str__", "deployment", "start", "end", "status", "content", "claimed_by"]
    list_filter = ["status", "content", "deployment__station__park"]
    search_fields = ["deployment__station__code", "deployment__camera_serial"]
    list_select_related = ["deployment__station__park", "claimed_by"]
    date_hierarchy = "start"
    raw_id_fields = ["deployment", "claimed_by"]


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "deployment",
        "taken_at",
        "status",
        "outside_deployment",
        "size_bytes",
        "uploaded_by",
    ]
    list_filter = ["status", "error_code", "outside_deployment", "deployment__station__park"]
    search_fields = ["original_name", "sha256", "deployment__camera_serial"]
    list_select_related = ["deployment__station__park", "uploaded_by"]
    date_hierarchy = "taken_at"
    raw_id_fields = ["deployment", "event", "uploaded_by"]
    readonly_fields = [
        "sha256",
        "exif",
        "attempts",
        "error_code",
        "error",
        "time_source",
        "uploaded_at",
        "updated_at",
    ]

    # A deleted photo may leave its event empty or split it: the service regroups.
    def delete_model(self, request: HttpRequest, obj: Photo) -> None:
        services.photos_delete(photo_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Photo]) -> None:
        services.photos_delete(photo_ids=list(queryset.values_list("pk", flat=True)))


for model in (Park, ParkMembership, Station, Deployment):
    admin.site.register(model.history.model, HistoryAdmin)
