from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_roles(sender: AppConfig, **kwargs) -> None:
    # Django creates each app's permissions in that app's post_migrate, so the
    # groups are filled once the last installed app with models has had its turn
    # (apps without models, such as the demo builder, get no post_migrate).
    if sender is [c for c in apps.get_app_configs() if c.models_module][-1]:
        from traps.roles import roles_ensure

        roles_ensure()


class TrapsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "traps"
    verbose_name = _("Camera traps")

    def ready(self) -> None:
        post_migrate.connect(_ensure_roles, dispatch_uid="traps_roles_ensure")
