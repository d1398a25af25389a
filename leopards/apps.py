from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_photo_copy(sender, using: str = "default", apps=None, **kwargs) -> None:
    from leopards import photo_copy

    photo_copy.ensure(using, apps)


class LeopardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leopards"
    verbose_name = _("Leopards")

    def ready(self) -> None:
        from leopards import checks  # noqa: F401  (registers the system checks)

        # After every migrate: SQLite loses a table's triggers when a migration rebuilds it.
        post_migrate.connect(_install_photo_copy, sender=self)
