from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_roles(sender: AppConfig, **kwargs) -> None:
    # Django creates each app's permissions in that app's post_migrate, so the
    # groups are filled once the last installed app with models has had its turn
    # (apps without models, such as the demo builder, get no post_migrate).
    if sender is [c for c in apps.get_app_configs() if c.models_module][-1]:
        from accounts.roles import roles_ensure

        roles_ensure()


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Security and audit")

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import got_request_exception

        from accounts.audit import update_last_login_quietly
        from accounts.middleware import note_database_failure

        post_migrate.connect(_ensure_roles, dispatch_uid="accounts_roles_ensure")
        got_request_exception.connect(
            note_database_failure, dispatch_uid="security_note_database_failure"
        )

        # Every login would otherwise add a row to the users' change history;
        # logins are on record in the login log (django-axes) instead.
        if user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login"):
            user_logged_in.connect(
                update_last_login_quietly, dispatch_uid="security_update_last_login"
            )
