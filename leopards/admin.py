from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from leopards.models import Leopard, MatchCandidate, Sighting


@admin.register(Leopard)
class LeopardAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "sex", "birth_date", "mother", "status"]
    list_filter = ["sex", "status", "birth_date_precision"]
    search_fields = ["code", "name", "notes"]
    list_select_related = ["mother"]
    autocomplete_fields = ["mother"]
    readonly_fields = ["version"]


@admin.register(Sighting)
class SightingAdmin(SimpleHistoryAdmin):
    list_display = [
        "__str__",
        "leopard",
        "flank",
        "observed_age_class",
        "status",
        "source",
        "feature_status",
        "identified_by",
        "identified_at",
    ]
    list_filter = ["status", "flank", "observed_age_class", "source", "feature_status"]
    search_fields = ["leopard__code", "leopard__name", "photo__original_name"]
    list_select_related = ["leopard", "photo", "identified_by"]
    raw_id_fields = ["photo", "leopard", "identified_by"]
    readonly_fields = ["version"]


@admin.register(MatchCandidate)
class MatchCandidateAdmin(admin.ModelAdmin):
    list_display = ["sighting", "rank", "leopard", "score", "probability", "reference"]
    list_filter = ["rank"]
    search_fields = ["leopard__code"]
    list_select_related = ["sighting__photo", "sighting__leopard", "leopard"]
    raw_id_fields = ["sighting", "leopard", "reference"]
