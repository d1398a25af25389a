"""Query-string filters of the review and catalogue API.

Ids are filtered as plain numbers, never looked up: a lookup answers 400 for an id that
does not exist and an empty 200 for one in another park, which tells that it exists. Here
both give the same empty 200, as the stations, deployments, photos and events filters do.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from leopards.models import CatalogueChange, Flank, MatchCandidate, Sighting
from leopards.selectors.catalogue import leopards_for_user


class SightingFilter(django_filters.FilterSet):
    photo = django_filters.NumberFilter(field_name="photo_id", help_text=_("Photo id."))
    photo__event = django_filters.NumberFilter(
        field_name="photo__event_id", help_text=_("Event id.")
    )
    leopard = django_filters.NumberFilter(field_name="leopard_id", help_text=_("Individual id."))
    status = django_filters.ChoiceFilter(choices=Sighting.Status.choices)
    flank = django_filters.ChoiceFilter(choices=Flank.choices)

    class Meta:
        model = Sighting
        fields = ["photo", "photo__event", "leopard", "status", "flank"]


class CandidateFilter(django_filters.FilterSet):
    sighting = django_filters.NumberFilter(field_name="sighting_id", help_text=_("Sighting id."))
    leopard = django_filters.NumberFilter(
        method="filter_leopard", help_text=_("Individual id (one the user sees).")
    )
    rank = django_filters.NumberFilter(field_name="rank")

    class Meta:
        model = MatchCandidate
        fields = ["sighting", "leopard", "rank"]

    def filter_leopard(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        # An individual of another park is never named in a candidate, so it finds none.
        return queryset.filter(leopard_id=value, leopard__in=leopards_for_user(self.request.user))


class CatalogueChangeFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=CatalogueChange.Kind.choices)
    user = django_filters.NumberFilter(field_name="user_id", help_text=_("User id."))

    class Meta:
        model = CatalogueChange
        fields = ["kind", "user"]
