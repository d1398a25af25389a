from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


def _drop_photo_copy_triggers(sender, using: str = "default", **kwargs) -> None:
    from leopards import photo_copy

    photo_copy.before_migrate(using)


def _install_photo_copy(sender, using: str = "default", apps=None, **kwargs) -> None:
    from leopards import photo_copy

    photo_copy.ensure(using, apps)


class LeopardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "leopards"
    verbose_name = _("Leopards")

    def ready(self) -> None:
        from leopards import checks  # noqa: F401  (registers the system checks)

        # The sightings' copies of their photo's time and place (leopards.photo_copy).
        pre_migrate.connect(_drop_photo_copy_triggers, sender=self)
        post_migrate.connect(_install_photo_copy, sender=self)
