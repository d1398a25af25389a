"""Filters of the census pages."""

from datetime import date, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from census import periods
from traps.fields import DayField


class PeriodForm(forms.Form):
    """Which period the census page shows: a year (stored figures) or live periods."""

    year = forms.IntegerField(label=_("Year"), required=False, min_value=1990, max_value=2100)
    period = forms.ChoiceField(
        label=_("Period"),
        choices=[(kind, label) for kind, label in periods.KIND_LABELS.items()],
        required=False,
    )
    start = DayField(label=_("From"), required=False)
    end = DayField(label=_("To"), required=False)

    def clean(self) -> dict:
        data = super().clean()
        data["period"] = data.get("period") or periods.YEAR
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The period ends before it starts."))
        if start and end and (end - start) > timedelta(days=366 * 15):
            raise forms.ValidationError(_("Choose a period of at most fifteen years."))
        return data


class SurveyForm(forms.Form):
    """A survey for capture-recapture: dates and the length of an occasion."""

    start = DayField(label=_("First day"))
    end = DayField(label=_("Last day"))
    occasion_days = forms.IntegerField(
        label=_("Days per occasion"), min_value=1, max_value=366, initial=7
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end, days = data.get("start"), data.get("end"), data.get("occasion_days")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The survey ends before it starts."))
            if days and (end - start).days // days > 400:
                raise forms.ValidationError(_("Choose longer occasions: at most 400 occasions."))
        return data


# Twelve weekly occasions: short enough for a closed population, long enough for
# recaptures.
DEFAULT_SURVEY_DAYS = 84
DEFAULT_OCCASION_DAYS = 7


def default_survey(today: date, latest: date | None = None) -> dict:
    """Return the survey a page opens on: the twelve weeks up to the latest sighting.

    With no sighting yet, last year's winter season, the usual camera-trap census window.
    """
    if latest is None:
        start, end = date(today.year - 1, 1, 1), date(today.year - 1, 3, 31)
    else:
        start, end = latest - timedelta(days=DEFAULT_SURVEY_DAYS - 1), latest
    return {"start": start, "end": end, "occasion_days": DEFAULT_OCCASION_DAYS}


class DensityRunForm(forms.Form):
    """A density fit of a survey: its dates, the detection function and the mask buffer."""

    start = forms.DateField(widget=forms.HiddenInput)
    end = forms.DateField(widget=forms.HiddenInput)
    detectfn = forms.ChoiceField(
        label=_("Detection function"),
        choices=[
            ("halfnormal", _("halfnormal")),
            ("exponential", _("exponential")),
            ("hazard-halfnormal", _("hazard halfnormal")),
        ],
        initial="halfnormal",
    )
    buffer_km = forms.FloatField(
        label=_("Mask buffer (km)"), min_value=0.5, max_value=100, initial=12
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The survey ends before it starts."))
        if start and end and (end - start).days > 366:
            raise forms.ValidationError(_("Choose a survey of at most one year."))
        return data
