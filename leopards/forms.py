"""Forms of the review, catalogue and second-opinion pages; writes carry the record's version."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leopards.models import AgeClass, Flank, Leopard, SecondOpinion, Sex, Species
from traps.fields import DayField
from traps.models import Event, Park, Station


class QueueFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", _("Waiting or in review")),
        (Event.Status.PENDING, _("Waiting for review")),
        (Event.Status.IN_REVIEW, _("In review")),
        ("flagged", _("Sent back by a second opinion")),
        (Event.Status.REVIEWED, _("Reviewed")),
    ]

    park = forms.ModelChoiceField(queryset=Park.objects.none(), required=False, label=_("Park"))
    station = forms.ModelChoiceField(
        queryset=Station.objects.none(), required=False, label=_("Station")
    )
    date_from = DayField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = DayField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label=_("Status"))

    def __init__(self, *args, parks, stations, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["park"].queryset = parks
        self.fields["park"].empty_label = _("All parks")
        self.fields["station"].queryset = stations
        self.fields["station"].empty_label = _("All stations")


class CatalogueFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label=_("Code or name"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "LEO-112F"}),
    )
    park = forms.ModelChoiceField(queryset=Park.objects.none(), required=False, label=_("Park"))
    sex = forms.ChoiceField(
        choices=[("", _("Any sex")), *Sex.choices], required=False, label=_("Sex")
    )
    age_class = forms.ChoiceField(
        choices=[("", _("Any age class")), *AgeClass.choices],
        required=False,
        label=_("Age class now"),
    )
    status = forms.ChoiceField(
        choices=[("", _("Any status")), *Leopard.Status.choices], required=False, label=_("Status")
    )
    seen_since = DayField(
        required=False, label=_("Seen since"), widget=forms.DateInput(attrs={"type": "date"})
    )
    provisional = forms.BooleanField(required=False, label=_("One flank only"))

    def __init__(self, *args, parks, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["park"].queryset = parks
        self.fields["park"].empty_label = _("All parks")


class VersionedForm(forms.Form):
    # Required: a write without the version it was read at could overwrite another's change.
    version = forms.IntegerField(widget=forms.HiddenInput)


class IdentifyForm(VersionedForm):
    ACTIONS = ["confirm", "new", "unidentifiable", "unconfirm", "remove", "observe"]

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    leopard = forms.IntegerField(required=False)
    # A ranked candidate by its own id: one from another park has no code or id to send.
    candidate = forms.IntegerField(required=False)
    # Confirm against the matcher's advice, after the page asked.
    override = forms.BooleanField(required=False)
    sex = forms.ChoiceField(choices=Sex.choices, required=False, label=_("Sex"))
    name = forms.CharField(
        required=False, max_length=120, label=pgettext_lazy("individual leopard", "Name")
    )
    observed_age_class = forms.ChoiceField(
        choices=[("", "—"), *AgeClass.choices], required=False, label=_("Observed age class")
    )
    flank = forms.ChoiceField(
        choices=[("", "—"), *Flank.choices],
        required=False,
        label=_("Flank"),
    )
    reason = forms.CharField(required=False, max_length=2000, label=_("Why (optional)"))


class ClassifyForm(VersionedForm):
    content = forms.ChoiceField(choices=Event.Content.choices)
    species = forms.ModelChoiceField(
        queryset=Species.objects.filter(active=True), required=False, label=_("Species")
    )


class MotherForm(forms.Form):
    kitten = forms.IntegerField()
    mother = forms.IntegerField(required=False)
    photo = forms.IntegerField(required=False)
    # The kitten's version: its record is the one written.
    version = forms.IntegerField()
    reason = forms.CharField(required=False, max_length=2000)


class LeopardEditForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Evidence"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What shows it: a photo, a field observation, a carcass record."),
    )

    class Meta:
        model = Leopard
        fields = ["name", "sex", "birth_date", "birth_date_precision", "status", "notes"]
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }


class MergeForm(forms.Form):
    other = forms.CharField(label=_("Code of the duplicate record"), max_length=40)
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Why they are one individual"), max_length=2000)


class SplitForm(forms.Form):
    sightings = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    target = forms.CharField(
        required=False,
        max_length=40,
        label=_("Move to"),
        help_text=_("An existing code, or empty for a new individual."),
    )
    sex = forms.ChoiceField(choices=Sex.choices, required=False, label=_("Sex of a new record"))
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Why they are another individual"), max_length=2000)

    def __init__(self, *args, sighting_ids: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sightings"].choices = [(pk, pk) for pk in sighting_ids]


class FlankLinkForm(forms.Form):
    left = forms.IntegerField()
    right = forms.IntegerField()
    reason = forms.CharField(required=False, max_length=2000)


class UndoForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000, label=_("Why"))


class SecondOpinionForm(forms.Form):
    answer = forms.ChoiceField(choices=SecondOpinion.Answer.choices)
    leopard = forms.IntegerField(required=False)
    candidate = forms.IntegerField(required=False)
    code = forms.CharField(required=False, max_length=40, label=_("Or type a code"))
