"""The API's query filters, refusing numbers that no database column holds."""

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django_filters.rest_framework import DjangoFilterBackend

from config.json_input import LARGEST_INTEGER


class BoundedFilterBackend(DjangoFilterBackend):
    """django-filter's backend; a number filter past a bigint is a 400, as on PostgreSQL.

    PostgreSQL answers such a filter with nothing found, SQLite (local mode) raises
    OverflowError: refusing the number for every filter set keeps both a clear 400.
    """

    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        for field in filterset.form.fields.values():
            # Each form holds its own copies of the fields: this changes no other request.
            if isinstance(field, forms.DecimalField | forms.IntegerField | forms.FloatField):
                field.validators.append(MinValueValidator(-LARGEST_INTEGER))
                field.validators.append(MaxValueValidator(LARGEST_INTEGER))
        return filterset
