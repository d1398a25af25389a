"""Admin pages: exact-location accesses, API tokens and the change history, all read-only.

History rows are evidence: nobody, not even a superuser, can add, change or
delete them from the interface, and reverting through the history is
switched off (SIMPLE_HISTORY_REVERT_DISABLED).
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts import services
from accounts.models import ApiToken, LocationAccessLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and shows rows; never adds, changes or deletes them."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(LocationAccessLog)
class LocationAccessLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "park_code", "what", "detail", "ip_address"]
    list_filter = ["what", "park"]
    search_fields = ["username", "park_code", "detail"]
    date_hierarchy = "at"


class ApiTokenAddForm(forms.ModelForm):
    days = forms.IntegerField(
        label=_("valid for (days)"),
        min_value=1,
        initial=30,
        help_text=_("The key is shown once, after saving."),
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        if days > settings.API_TOKEN_MAX_DAYS:
            raise forms.ValidationError(
                _("At most %(days)d days.") % {"days": settings.API_TOKEN_MAX_DAYS}
            )
        return days


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "expires_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    autocomplete_fields = ["user"]
    readonly_fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["user", "name", "days"] if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A token is created or revoked (deleted), never edited.
        return False

    def save_model(self, request, obj, form, change) -> None:
        token, key = services.api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
        )
        obj.pk = token.pk
        messages.warning(
            request,
            _("The key of this token, shown only now: %(key)s") % {"key": key},
        )


class HistoryAdmin(ReadOnlyAdmin):
    """The change history of one model: who changed what, when.

    Each app registers its own models' histories with it.
    """

    list_display = ["history_date", "history_user", "history_type", "__str__"]
    list_filter = ["history_type"]
    list_select_related = ["history_user"]
    date_hierarchy = "history_date"
    search_fields = ["history_user__username"]


admin.site.register(User.history.model, HistoryAdmin)


admin.site.unregister(User)


@admin.register(User)
class RegistryUserAdmin(SimpleHistoryAdmin, UserAdmin):
    """Django's user admin with the account's change history."""
