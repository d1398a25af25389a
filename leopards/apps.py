from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeopardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leopards"
    verbose_name = _("Leopards")

    def ready(self) -> None:
        from leopards import checks  # noqa: F401  (registers the system checks)
