from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import HistoryAdmin
from leopards.models import (
    CatalogueChange,
    Leopard,
    LeopardAlias,
    MatchCandidate,
    SecondOpinion,
    Sighting,
    Species,
)


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
    readonly_fields = ["version", "feature_problem"]
    exclude = ["feature_error", "feature_error_code", "feature_error_params"]

    @admin.display(description=_("feature problem"))
    def feature_problem(self, sighting: Sighting) -> str:
        return sighting.feature_error_text


@admin.register(MatchCandidate)
class MatchCandidateAdmin(admin.ModelAdmin):
    list_display = ["sighting", "rank", "leopard", "score", "probability", "reference"]
    list_filter = ["rank"]
    search_fields = ["leopard__code"]
    list_select_related = ["sighting__photo", "sighting__leopard", "leopard"]
    raw_id_fields = ["sighting", "leopard", "reference"]


@admin.register(Species)
class SpeciesAdmin(admin.ModelAdmin):
    """The short list of other species offered in the review."""

    list_display = ["name", "scientific_name", "rank", "taxon_id", "position", "active"]
    list_editable = ["position", "active"]
    search_fields = ["name", "scientific_name", "taxon_id"]


@admin.register(LeopardAlias)
class LeopardAliasAdmin(admin.ModelAdmin):
    list_display = ["code", "leopard", "created_at"]
    search_fields = ["code", "leopard__code"]
    raw_id_fields = ["leopard", "change"]


@admin.register(CatalogueChange)
class CatalogueChangeAdmin(admin.ModelAdmin):
    """The audit trail: read only, it is written by the review and catalogue services."""

    list_display = ["created_at", "kind", "user", "why"]
    list_filter = ["kind", "reason_code"]
    search_fields = ["reason", "leopards__code"]
    list_select_related = ["user"]

    @admin.display(description=_("why"))
    def why(self, change: CatalogueChange) -> str:
        return change.reason_text

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SecondOpinion)
class SecondOpinionAdmin(admin.ModelAdmin):
    list_display = ["sighting", "first_by", "second_by", "status", "created_at", "answered_at"]
    list_filter = ["status"]
    list_select_related = ["sighting__photo", "sighting__leopard", "first_by", "second_by"]
    raw_id_fields = ["sighting", "first_leopard", "second_leopard"]


for model in (Leopard, Sighting):
    admin.site.register(model.history.model, HistoryAdmin)
