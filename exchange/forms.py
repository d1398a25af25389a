"""Forms of the data exchange pages; each limits its choices to what the user may touch."""

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from exchange import selectors
from exchange.megadetector import DEFAULT_THRESHOLD
from leopards.models import Leopard
from traps.fields import DayField
from traps.models import Deployment, Park


class ExportForm(forms.Form):
    park = forms.ModelChoiceField(
        queryset=None, to_field_name="code", label=_("Park"), empty_label=None
    )
    start = DayField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = DayField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    exact_coordinates = forms.BooleanField(
        label=_("Exact station coordinates"),
        required=False,
        help_text=_(
            "Only for members who may see them. Leave unticked to share the 0.1° grid cell: "
            "exact positions help poachers."
        ),
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["park"].queryset = selectors.parks_for_export(user)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The first day comes after the last day."))
        return data


class PackageImportForm(forms.Form):
    park = forms.ModelChoiceField(
        queryset=None,
        to_field_name="code",
        label=_("Import into park"),
        required=False,
        empty_label=_("Find it from the package"),
    )
    package = forms.FileField(
        label=_("Camtrap DP package (.zip)"),
        help_text=_(
            "A zip holding datapackage.json, deployments.csv, media.csv and observations.csv; "
            "photo files inside it are stored, others stay links."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    organisation = forms.CharField(
        label=_("Sent by another organisation"),
        required=False,
        max_length=200,
        help_text=_(
            "Leave empty for a package of this registry. Another organisation's individual "
            "ids stay theirs until a scientist confirms which of ours each one is."
        ),
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["park"].queryset = selectors.parks_for_import(user)
        self.fields["organisation"].widget.attrs["list"] = "known-organisations"


class PartnerAliasForm(forms.Form):
    organisation = forms.CharField(max_length=200, widget=forms.HiddenInput)
    partner_id = forms.CharField(max_length=255, widget=forms.HiddenInput)
    leopard = forms.CharField(label=_("Our individual (code)"), max_length=40)

    def clean_leopard(self) -> Leopard:
        code = self.cleaned_data["leopard"].strip()
        # The cat may be known so far only across the border: any individual of the
        # catalogue can be named, as in the landscape count.
        leopard = Leopard.objects.filter(code__iexact=code, merged_into__isnull=True).first()
        if leopard is None:
            raise forms.ValidationError(_("No individual has the code %(code)s.") % {"code": code})
        return leopard


class DeploymentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Deployment) -> str:
        camera = obj.camera_serial or "—"
        return (
            f"{obj.station.park.local_name} · {obj.station.code} · {camera} · {obj.start:%Y-%m-%d}"
        )


class MegaDetectorImportForm(forms.Form):
    deployment = DeploymentChoiceField(queryset=None, label=_("Deployment (the card's camera)"))
    results = forms.FileField(
        label=_("MegaDetector results (.json)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
    threshold = forms.FloatField(
        label=_("Confidence threshold"),
        min_value=0.0,
        max_value=1.0,
        initial=DEFAULT_THRESHOLD,
        help_text=_(
            "Animal boxes at or above it become proposed sightings; 0.2 suits MegaDetector v5."
        ),
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["deployment"].queryset = selectors.deployments_for_import(user)


class ParkChoiceForm(forms.Form):
    """The park a waiting import goes into, among those the user may import into."""

    park = forms.ModelChoiceField(
        queryset=None, to_field_name="code", label=_("Import into park"), empty_label=None
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["park"].queryset = selectors.parks_for_import(user)


class NewParkForm(forms.ModelForm):
    """A park made for a package that belongs to none of ours."""

    class Meta:
        model = Park
        fields = ["code", "name", "country", "area_km2", "time_zone"]
