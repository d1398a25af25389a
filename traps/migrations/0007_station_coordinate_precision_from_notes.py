"""Move the precision an import wrote into a station's notes into coordinate_precision.

A Camtrap DP import of generalised coordinates wrote one sentence into the notes of each
station it created, in the importer's language. The sentence is taken out of the notes
(what people wrote around it stays) and its figure goes into the field.
"""

import re
from decimal import Decimal, InvalidOperation

from django.db import migrations

SENTENCES = [
    "Imported with coordinates generalised to %(p)s degree.",
    "Импортировано с координатами, обобщёнными до %(p)s°.",
    "导入时坐标已模糊化至 %(p)s 度。",
]
PATTERNS = [
    re.compile(re.escape(text).replace(re.escape("%(p)s"), r"(?P<p>[0-9.eE+-]+)"))
    for text in SENTENCES
]


def precision_of(notes):
    """Return (precision, notes without the sentence), or None when no sentence is there."""
    for regex in PATTERNS:
        found = regex.search(notes)
        if not found:
            continue
        try:
            precision = Decimal(found["p"]).quantize(Decimal("0.000001"))
        except (InvalidOperation, ValueError):
            continue
        rest = (notes[: found.start()].rstrip() + " " + notes[found.end() :].lstrip()).strip()
        return precision, rest
    return None


def notes_to_field(apps, schema_editor):
    Station = apps.get_model("traps", "Station")
    for station in Station.objects.exclude(notes="").only("pk", "notes", "coordinate_precision"):
        found = precision_of(station.notes)
        if found is None:
            continue
        precision, notes = found
        Station.objects.filter(pk=station.pk).update(
            notes=notes, coordinate_precision=station.coordinate_precision or precision
        )


def field_to_notes(apps, schema_editor):
    Station = apps.get_model("traps", "Station")
    for station in Station.objects.filter(coordinate_precision__isnull=False):
        figure = format(station.coordinate_precision.normalize(), "f")
        sentence = SENTENCES[0] % {"p": figure}
        Station.objects.filter(pk=station.pk).update(
            notes=f"{sentence} {station.notes}".strip(), coordinate_precision=None
        )


class Migration(migrations.Migration):
    dependencies = [
        ("traps", "0006_station_coordinate_precision"),
    ]

    operations = [
        migrations.RunPython(notes_to_field, field_to_notes),
    ]
