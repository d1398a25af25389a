"""Form fields that keep what people type within what the registry can compute with."""

from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

# Wide enough for any camera-trap record and any birth, narrow enough that adding
# a period, a day or a time zone to a day never leaves the years Python and the
# database can hold (year 9999 plus one day overflows).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)


def day_in_range(value: date | None) -> bool:
    """Return whether a day lies within the registry's years."""
    return value is not None and EARLIEST_DAY <= value <= LATEST_DAY


class DayField(forms.DateField):
    """A calendar day between 1900 and 2199; outside them the form says so."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        message = _("Enter a day between %(first)s and %(last)s.") % {
            "first": EARLIEST_DAY.isoformat(),
            "last": LATEST_DAY.isoformat(),
        }
        self.validators.append(MinValueValidator(EARLIEST_DAY, message=message))
        self.validators.append(MaxValueValidator(LATEST_DAY, message=message))
