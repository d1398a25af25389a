"""Fill the new features_version and learned_model columns from the stored blobs.

Each blob is read once, here, so that the matcher can find the boxes described by an
earlier engine or by another learned model with one query on a column afterwards. The
rows are read in primary-key order, a chunk at a time and only the id and the blob, so
that memory stays bounded on a large table (some 130 KB of learned features a box);
the migration is not atomic, so each chunk's update is committed as it goes, and it
fills only the rows still without a value, so that an interrupted run carries on where
it stopped. Going back leaves the columns to the previous migration, which drops them.

The blob formats are read here rather than through the matching code, which may change:
both are NumPy .npz archives, Features with an int16 "version" (absent before versions
were recorded: version 1) and LearnedFeatures with a string "model".
"""

import io
from collections import defaultdict

import numpy as np
from django.db import migrations

CHUNK = 100


def features_version(data):
    """Return the engine version inside a stored Features blob (1 when it has none).

    None when the blob cannot be read: the matcher then counts the box as described by
    an earlier engine and describes it again.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return int(archive["version"]) if "version" in archive.files else 1
    except (OSError, ValueError, KeyError):
        return None


def learned_model(data):
    """Return the model inside a stored LearnedFeatures blob ("" when it cannot be read)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return str(archive["model"])[:64]
    except (OSError, ValueError, KeyError):
        return ""


def _fill(Sighting, blob, column, read, unfilled):
    """Write read(blob) into column for the rows with a blob and an unfilled column."""
    last = 0
    while True:
        rows = list(
            Sighting.objects.filter(pk__gt=last, **{f"{blob}__isnull": False}, **unfilled)
            .order_by("pk")
            .values_list("pk", blob)[:CHUNK]
        )
        if not rows:
            return
        by_value = defaultdict(list)
        for pk, data in rows:
            by_value[read(bytes(data))].append(pk)
        for value, pks in by_value.items():
            Sighting.objects.filter(pk__in=pks).update(**{column: value})
        last = rows[-1][0]


def fill_from_blobs(apps, schema_editor):
    Sighting = apps.get_model("leopards", "Sighting")
    _fill(Sighting, "features", "features_version", features_version, {"features_version": None})
    _fill(Sighting, "learned_features", "learned_model", learned_model, {"learned_model": ""})


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("leopards", "0013_feature_model_columns"),
    ]

    operations = [
        migrations.RunPython(fill_from_blobs, migrations.RunPython.noop, elidable=True),
    ]
