"""The version and model of a box's stored features, in columns beside the blobs.

match_index_rebuild --extract-missing finds the boxes that an earlier engine or another
learned model described with one query on these columns, without reading the blobs
(some 130 KB of learned features a box); the columns are written with the blobs, and
migration 0014 fills them for the rows stored before they existed.
"""

import importlib
import io

import numpy as np
import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leopards.matching import learned
from leopards.matching.extraction import BoxFeatures, features_version
from leopards.matching.features import Features
from leopards.matching.learned import LearnedFeatures
from leopards.models import Sighting
from leopards.services import matching
from tests.factories import SightingFactory

migration = importlib.import_module("leopards.migrations.0014_feature_model_columns_from_blobs")
pytestmark = pytest.mark.django_db

OUTDATED_DISK = "disk-lightglue-256-512"
CURRENT_DISK = learned.backend_model("disk")


def _current() -> int:
    """The SIFT version this registry extracts now (with the outline when a learned stage runs)."""
    return features_version(matching.sift_outlined())


def _sift(version: int | None = None) -> bytes:
    version = version or _current()
    keypoints, descriptors = np.ones((3, 4), np.float32), np.ones((3, 128), np.uint8)
    if version == 1:
        # The first engine stored no version.
        out = io.BytesIO()
        np.savez(out, keypoints=keypoints, descriptors=descriptors)
        return out.getvalue()
    return Features(keypoints=keypoints, descriptors=descriptors, version=version).to_bytes()


def _learned(model: str) -> bytes:
    return LearnedFeatures(
        keypoints=np.ones((3, 2), np.float32),
        descriptors=np.ones((3, 128), np.float16),
        size=(40, 30),
        origin=(0.0, 0.0, 1.0),
        model=model,
    ).to_bytes()


def _box(sift: bytes | None, learned_blob: bytes | None = None, **fields) -> Sighting:
    """A box whose features the matcher's own writer stored."""
    sighting = SightingFactory(**fields)
    result = BoxFeatures(blob=sift, count=3 if sift else 0, learned=learned_blob)
    assert matching._store_features(sighting, result, "") is not None
    return Sighting.objects.get(pk=sighting.pk)


def _one_query_on(column: str, queries) -> None:
    """Assert that the queries are one, on the column, and select no blob."""
    assert len(queries) == 1
    selected, _from, rest = queries[0]["sql"].partition(" FROM ")
    assert "features" not in selected
    assert f'"{column}"' in rest


def test_the_writer_stores_the_version_and_model_with_the_blobs():
    box = _box(_sift(), _learned(CURRENT_DISK))
    assert box.features_version == _current()
    assert box.learned_model == CURRENT_DISK
    old = _box(_sift(1), _learned(learned.MODEL))
    assert old.features_version == 1
    assert old.learned_model == learned.MODEL
    # No features: no version, no model, and learned features are not kept without SIFT's.
    none = _box(None, _learned(CURRENT_DISK))
    assert none.features is None and none.features_version is None
    assert none.learned_features is None and none.learned_model == ""


def test_outdated_feature_ids_finds_the_boxes_of_an_earlier_engine_by_their_column():
    old = _box(_sift(1))
    _box(_sift())
    _box(None)
    _box(_sift(1), status=Sighting.Status.PROPOSED)  # not in the catalogue

    with CaptureQueriesContext(connection) as queries:
        assert matching.outdated_feature_ids() == [old.pk]
    _one_query_on("features_version", queries.captured_queries)

    # Features whose version the column does not know are extracted again too.
    Sighting.objects.filter(pk=old.pk).update(features=_sift(), features_version=None)
    assert matching.outdated_feature_ids() == [old.pk]
    Sighting.objects.filter(pk=old.pk).update(features_version=_current())
    assert matching.outdated_feature_ids() == []


def test_undescribed_by_disk_ids_finds_other_and_outdated_models_by_their_column(settings):
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    settings.MATCH_LEARNED_BACKEND = "disk"
    _box(_sift(), _learned(CURRENT_DISK))
    xfeat = _box(_sift(), _learned(learned.MODEL))
    outdated = _box(_sift(), _learned(OUTDATED_DISK))
    missing = _box(_sift(), None)
    _box(_sift(), _learned(learned.MODEL), status=Sighting.Status.PROPOSED)
    _box(None)  # no features at all: nothing to describe with DISK

    with CaptureQueriesContext(connection) as queries:
        found = matching.undescribed_by_disk_ids()
    assert found == sorted([xfeat.pk, outdated.pk, missing.pk])
    _one_query_on("learned_model", queries.captured_queries)

    # A blob cleared without its column still counts as missing.
    Sighting.objects.filter(pk=xfeat.pk).update(learned_features=None, learned_model=CURRENT_DISK)
    assert matching.undescribed_by_disk_ids() == found
    # Without DISK votes in the first stage nothing is wanted.
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 0.0
    assert matching.undescribed_by_disk_ids() == []


def test_the_migration_fills_the_columns_from_the_blobs_a_chunk_at_a_time(monkeypatch, settings):
    # The shortlist's DISK voice on, as the matcher's queries below ask.
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    settings.MATCH_LEARNED_BACKEND = "disk"
    boxes = {
        "current": _box(_sift(), _learned(CURRENT_DISK)),
        "first engine": _box(_sift(1), _learned(learned.MODEL)),
        "old disk": _box(_sift(), _learned(OUTDATED_DISK)),
        "no learned": _box(_sift(), None),
        "nothing": _box(None),
        "unreadable": _box(_sift(), _learned(CURRENT_DISK)),
    }
    Sighting.objects.filter(pk=boxes["unreadable"].pk).update(
        features=b"not an archive", learned_features=b"nor this"
    )
    # As the rows were before the columns existed.
    Sighting.objects.update(features_version=None, learned_model="")
    monkeypatch.setattr(migration, "CHUNK", 2)

    with CaptureQueriesContext(connection) as queries:
        migration.fill_from_blobs(apps, None)

    filled = {
        name: Sighting.objects.values_list("features_version", "learned_model").get(pk=box.pk)
        for name, box in boxes.items()
    }
    assert filled == {
        "current": (_current(), CURRENT_DISK),
        "first engine": (1, learned.MODEL),
        "old disk": (_current(), OUTDATED_DISK),
        "no learned": (_current(), ""),
        "nothing": (None, ""),
        # Left for the matcher to describe again.
        "unreadable": (None, ""),
    }
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    # Five SIFT blobs and four learned ones, two at a time, each pass ending on an empty read.
    assert len(reads) == 3 + 1 + 2 + 1
    assert all("LIMIT 2" in sql for sql in reads)

    # Once filled, the matcher's queries find what reading the blobs found.
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    settings.MATCH_LEARNED_BACKEND = "disk"
    assert matching.outdated_feature_ids() == sorted(
        [boxes["first engine"].pk, boxes["unreadable"].pk]
    )
    assert matching.undescribed_by_disk_ids() == sorted(
        box.pk for name, box in boxes.items() if name not in ("current", "nothing")
    )

    # Run again (as after an interruption), it reads only the rows still unfilled.
    with CaptureQueriesContext(connection) as again:
        migration.fill_from_blobs(apps, None)
    assert Sighting.objects.filter(learned_model=CURRENT_DISK).count() == 1
    assert len(again.captured_queries) < len(queries.captured_queries)
