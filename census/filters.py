"""Query-string filters of the API's stored census results."""

import django_filters
from django.utils.translation import gettext_lazy as _

from census.models import CensusResult


class CensusResultFilter(django_filters.FilterSet):
    park = django_filters.NumberFilter(field_name="park_id", help_text=_("Park id."))
    landscape = django_filters.BooleanFilter(
        field_name="park", lookup_expr="isnull", help_text=_("Only the landscape rows.")
    )
    year = django_filters.NumberFilter(field_name="year")
    year_from = django_filters.NumberFilter(field_name="year", lookup_expr="gte")
    year_to = django_filters.NumberFilter(field_name="year", lookup_expr="lte")

    class Meta:
        model = CensusResult
        fields = ["park", "landscape", "year", "year_from", "year_to"]
