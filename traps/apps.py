from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrapsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "traps"
    verbose_name = _("Camera traps")
