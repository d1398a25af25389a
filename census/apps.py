from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CensusConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "census"
    verbose_name = _("Census")

    def ready(self) -> None:
        from census.services import census_mark_stale_for
        from leopards.signals import identifications_changed

        identifications_changed.connect(census_mark_stale_for, dispatch_uid="census_mark_stale")
