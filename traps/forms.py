"""Forms of the traps pages: filters of the deployment list and the clock offset."""

import re
from datetime import datetime, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from traps.models import Deployment, Park, Photo, Station

_OFFSET = re.compile(
    r"^\s*([+-])?\s*(?:(\d{1,5})\s*d(?:ays?)?\s*)?(\d{1,6}):([0-5]\d)(?::([0-5]\d))?\s*$"
)


def parse_offset(text: str) -> timedelta | None:
    """Parse '+01:00', '-0:30:15' or '+3d 02:00:00' into a timedelta; None if it is not one."""
    match = _OFFSET.match(text)
    if match is None:
        return None
    sign, days, hours, minutes, seconds = match.groups()
    value = timedelta(
        days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0)
    )
    return -value if sign == "-" else value


def format_offset(value: timedelta) -> str:
    """Write an offset the way the form reads it: '+01:00:00', '-3d 02:00:00'."""
    sign = "-" if value < timedelta(0) else "+"
    total = abs(int(value.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    prefix = f"{days}d " if days else ""
    return f"{sign}{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}"


class DeploymentFilterForm(forms.Form):
    park = forms.ModelChoiceField(queryset=Park.objects.none(), required=False, label=_("Park"))
    station = forms.ModelChoiceField(
        queryset=Station.objects.none(), required=False, label=_("Station")
    )

    def __init__(self, *args, parks, stations, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["park"].queryset = parks
        self.fields["park"].empty_label = _("All parks")
        self.fields["station"].queryset = stations
        self.fields["station"].empty_label = _("All stations")


class ClockOffsetForm(forms.Form):
    """Set the offset directly, or from a photo of a clock whose true time is known."""

    offset = forms.CharField(
        label=_("Clock offset"),
        required=False,
        max_length=30,
        help_text=_("Added to the camera's clock: +01:00:00 when the camera was one hour slow."),
    )
    reference_photo = forms.IntegerField(required=False, widget=forms.HiddenInput)
    true_time = forms.DateTimeField(
        label=_("True local time in that photo"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, deployment: Deployment, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.deployment = deployment

    def clean_offset(self) -> timedelta | None:
        text = self.cleaned_data["offset"]
        if not text:
            return None
        value = parse_offset(text)
        if value is None:
            raise forms.ValidationError(
                _("Write the offset as +HH:MM:SS or -HH:MM:SS (days as +3d 02:00:00).")
            )
        return value

    def clean(self) -> dict:
        data = super().clean()
        photo_id, true_time = data.get("reference_photo"), data.get("true_time")
        if photo_id and true_time:
            photo = (
                Photo.objects.filter(pk=photo_id, deployment=self.deployment)
                .exclude(camera_time=None)
                .first()
            )
            if photo is None:
                raise forms.ValidationError(_("That photo has no camera time to compare with."))
            data["clock_offset"] = _offset_from(photo, true_time, self.deployment)
        elif data.get("offset") is not None:
            data["clock_offset"] = data["offset"]
        elif not self.errors:
            raise forms.ValidationError(_("Give an offset, or the true time of a photo."))
        return data


def _offset_from(photo: Photo, true_time: datetime, deployment: Deployment) -> timedelta:
    # The form reads the entered time in the site's zone; the ranger means the
    # park's local time, so read the wall-clock digits there.
    local = true_time.replace(tzinfo=None).replace(tzinfo=deployment.station.park.tzinfo)
    return local - photo.camera_time
