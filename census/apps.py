from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CensusConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "census"
    verbose_name = _("Census")

    def ready(self) -> None:
        from leopards.signals import identifications_changed

        identifications_changed.connect(_mark_stale, dispatch_uid="census_mark_stale")


def _mark_stale(**kwargs) -> None:
    # census.services pulls in the density fit and scipy: loaded on the first change,
    # not by every process that starts Django.
    from census.services import census_mark_stale_for

    census_mark_stale_for(**kwargs)
