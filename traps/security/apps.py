from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "traps.security"
    label = "security"
    verbose_name = _("Security and audit")

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import got_request_exception

        from traps.security.audit import update_last_login_quietly
        from traps.security.middleware import note_database_failure

        got_request_exception.connect(
            note_database_failure, dispatch_uid="security_note_database_failure"
        )

        # Every login would otherwise add a row to the users' change history;
        # logins are on record in the login log (django-axes) instead.
        if user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login"):
            user_logged_in.connect(
                update_last_login_quietly, dispatch_uid="security_update_last_login"
            )
