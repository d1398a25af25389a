"""The matcher inside the registry: features per sighting, the catalogue, candidates, commands."""

import csv
import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from exchange.megadetector import megadetector_import
from leopards import tasks
from leopards.matching import MatchIndex, catalogue, rank
from leopards.matching.extraction import features_version
from leopards.matching.features import Features
from leopards.models import Flank, MatchCandidate, MatchIndexEntry, MatchIndexState, Sighting
from leopards.services import matching
from leopards.synthetic import write_dataset
from tests.factories import DeploymentFactory, LeopardFactory, SightingFactory
from tests.leopards.matching_photos import leopard_sighting, stored_photo
from traps.models import Event

pytestmark = pytest.mark.django_db


def _references(*sightings: Sighting) -> list[Sighting]:
    """Extract features of catalogue sightings and add them to the index."""
    for sighting in sightings:
        matching.sighting_extract_features(sighting_id=sighting.pk)
    matching.catalogue_sync(sighting_ids=[s.pk for s in sightings])
    return list(sightings)


def _candidates(sighting: Sighting) -> list[tuple[int, int, float]]:
    return list(
        MatchCandidate.objects.filter(sighting=sighting)
        .order_by("rank")
        .values_list("leopard_id", "rank", "score")
    )


def _leopards(sighting: Sighting) -> list[int]:
    return [leopard for leopard, _rank, _score in _candidates(sighting)]


@pytest.fixture
def two_cats():
    """Two known individuals, three left-flank catalogue photos each."""
    kedr, lesnaya = LeopardFactory(code="LEO-101M"), LeopardFactory(code="LEO-102F")
    _references(
        *(leopard_sighting(1, "left", shot, leopard=kedr) for shot in (1, 2, 3)),
        *(leopard_sighting(2, "left", shot, leopard=lesnaya) for shot in (1, 2, 3)),
    )
    return kedr, lesnaya


def test_new_sighting_gets_its_individual_first_with_a_readable_probability(two_cats):
    kedr, _lesnaya = two_cats
    query = leopard_sighting(1, "left", 7, leopard=None, status=Sighting.Status.PROPOSED)

    outcome = tasks.sighting_match(query.pk)

    assert outcome == {"feature_status": "ready", "candidates": 2, "new_individual_likely": False}
    first, second = MatchCandidate.objects.filter(sighting=query).order_by("rank")
    assert first.leopard == kedr and first.score > second.score
    assert first.probability > 0.9 and second.probability is None
    assert first.reference.leopard == kedr and first.inliers > 0
    # Matched spots for drawing, relative to each photo.
    assert first.matches and all(0 <= v <= 1 for pair in first.matches for v in pair)
    query.refresh_from_db()
    assert query.matched_at is not None and query.feature_count > 100


def test_an_animal_not_in_the_catalogue_is_probably_a_new_individual():
    # The shipped calibration is fitted on a catalogue of many individuals: with
    # two, any stranger's best match looks good, so this catalogue holds ten.
    for individual in range(10, 20):
        _references(leopard_sighting(individual, "left", 1, leopard=LeopardFactory()))
    query = leopard_sighting(9, "left", 0, leopard=None, status=Sighting.Status.PROPOSED)

    tasks.sighting_match(query.pk)

    query.refresh_from_db()
    assert query.new_individual_likely
    top = MatchCandidate.objects.filter(sighting=query, rank=1).first()
    assert top is None or top.probability < 0.5


def test_a_left_sighting_never_gets_an_individual_known_only_from_the_right():
    # The right-flank references show the very pattern of the query's left flank,
    # so only the flank separation keeps their individual out of its candidates.
    right_only, left_known = LeopardFactory(), LeopardFactory()
    _references(
        *(
            leopard_sighting(1, "right", shot, leopard=right_only, drawn_flank="left")
            for shot in (1, 2)
        ),
        *(leopard_sighting(2, "left", shot, leopard=left_known) for shot in (1, 2)),
    )
    left = leopard_sighting(1, "left", 5, leopard=None, status=Sighting.Status.PROPOSED)
    unknown = leopard_sighting(1, "left", 6, leopard=None, status=Sighting.Status.PROPOSED)
    Sighting.objects.filter(pk=unknown.pk).update(flank=Flank.UNKNOWN)

    tasks.sighting_match(left.pk)
    tasks.sighting_match(unknown.pk)

    assert right_only.pk not in _leopards(left)
    assert _leopards(left) == [left_known.pk]
    # A sighting whose flank nobody could tell searches both catalogues.
    assert _leopards(unknown)[0] == right_only.pk


def test_confirming_adds_a_reference_and_unconfirming_removes_it_without_a_rebuild(two_cats):
    _kedr, _lesnaya = two_cats
    newcomer = LeopardFactory(code="LEO-150M")
    query = leopard_sighting(5, "left", 0, leopard=None, status=Sighting.Status.PROPOSED)
    reference = leopard_sighting(5, "left", 1, leopard=None, status=Sighting.Status.PROPOSED)
    tasks.sighting_match(reference.pk)
    tasks.sighting_match(query.pk)
    assert newcomer.pk not in _leopards(query)
    index = catalogue.current_index()

    Sighting.objects.filter(pk=reference.pk).update(
        status=Sighting.Status.CONFIRMED, leopard=newcomer
    )
    tasks.catalogue_sync([reference.pk])
    tasks.sighting_match(query.pk)

    assert _leopards(query)[0] == newcomer.pk
    assert catalogue.current_index() is index  # replayed from the journal, not rebuilt
    assert reference.pk in index

    Sighting.objects.filter(pk=reference.pk).update(status=Sighting.Status.PROPOSED, leopard=None)
    tasks.catalogue_sync([reference.pk])
    tasks.sighting_match(query.pk)

    assert newcomer.pk not in _leopards(query)
    assert reference.pk not in catalogue.current_index()


def test_merging_individuals_relabels_their_references(two_cats):
    kedr, _lesnaya = two_cats
    query = leopard_sighting(1, "left", 8, leopard=None, status=Sighting.Status.PROPOSED)
    tasks.sighting_match(query.pk)
    assert _leopards(query)[0] == kedr.pk
    survivor = LeopardFactory(code="LEO-200M")
    moved = list(Sighting.objects.filter(leopard=kedr).values_list("pk", flat=True))

    Sighting.objects.filter(pk__in=moved).update(leopard=survivor)
    tasks.catalogue_sync(moved)
    tasks.sighting_match(query.pk)

    assert _leopards(query)[0] == survivor.pk
    assert kedr.pk not in _leopards(query)
    assert {catalogue.current_index().individual_of(pk) for pk in moved} == {survivor.pk}


def test_a_deleted_reference_leaves_the_index(two_cats):
    kedr, _lesnaya = two_cats
    gone = Sighting.objects.filter(leopard=kedr).first()
    assert gone.pk in catalogue.current_index()
    gone_pk = gone.pk
    gone.delete()

    matching.catalogue_sync(sighting_ids=[gone_pk])

    assert gone_pk not in catalogue.current_index()
    assert not MatchIndexEntry.objects.get(sighting_id=gone_pk).present


def test_catalogue_sync_twice_changes_nothing_the_second_time(two_cats):
    _kedr, _lesnaya = two_cats
    ids = list(Sighting.objects.values_list("pk", flat=True))
    seq = MatchIndexState.objects.get().seq

    assert matching.catalogue_sync(sighting_ids=ids) == 0
    assert tasks.catalogue_sync(ids) == 0
    assert MatchIndexState.objects.get().seq == seq


def test_matching_twice_gives_the_same_candidates_without_duplicates(two_cats):
    query = leopard_sighting(2, "left", 9, leopard=None, status=Sighting.Status.PROPOSED)

    tasks.sighting_match(query.pk)
    first = _candidates(query)
    tasks.sighting_match(query.pk, refresh_features=True)

    assert _candidates(query) == first
    assert MatchCandidate.objects.filter(sighting=query).count() == len(first) == 2


def test_other_sightings_of_the_same_event_are_not_candidates(two_cats):
    _kedr, _lesnaya = two_cats
    twin = LeopardFactory(code="LEO-300F")
    deployment = DeploymentFactory()
    moment = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    event = Event.objects.create(deployment=deployment, start=moment, end=moment)
    same_visit = leopard_sighting(
        6, "left", 1, leopard=twin, deployment=deployment, event=event, taken_at=moment
    )
    _references(same_visit)
    query = leopard_sighting(
        6,
        "left",
        2,
        leopard=None,
        status=Sighting.Status.PROPOSED,
        deployment=deployment,
        event=event,
        taken_at=moment,
    )

    tasks.sighting_match(query.pk)

    assert twin.pk not in _leopards(query)


def test_a_uniform_grey_box_has_no_features_and_no_candidates(two_cats):
    photo = stored_photo(Image.new("RGB", (560, 392), (128, 128, 128)))
    grey = SightingFactory(photo=photo, leopard=None, status=Sighting.Status.PROPOSED)

    outcome = tasks.sighting_match(grey.pk)

    grey.refresh_from_db()
    assert outcome["feature_status"] == Sighting.FeatureStatus.NO_FEATURES
    assert grey.feature_status == Sighting.FeatureStatus.NO_FEATURES
    assert grey.feature_error_code == Sighting.FeatureProblem.NO_PATTERN
    assert "No spot pattern" in grey.feature_error_text
    assert grey.features is None and grey.feature_count == 0
    assert not MatchCandidate.objects.filter(sighting=grey).exists()
    assert grey.matched_at is not None and not grey.new_individual_likely


def test_a_box_too_small_for_a_pattern_says_so(two_cats):
    tiny = leopard_sighting(1, "left", 4, leopard=None, status=Sighting.Status.PROPOSED)
    Sighting.objects.filter(pk=tiny.pk).update(bbox_w=0.02, bbox_h=0.02)

    tasks.sighting_match(tiny.pk)

    tiny.refresh_from_db()
    assert tiny.feature_status == Sighting.FeatureStatus.NO_FEATURES
    assert tiny.feature_error_code == Sighting.FeatureProblem.TOO_SMALL
    assert "too small" in tiny.feature_error_text


def test_a_photo_that_is_not_an_image_fails_with_the_reason():
    photo = stored_photo(Image.new("RGB", (64, 64)))
    with photo.file.storage.open(photo.file.name, "wb") as handle:
        handle.write(b"this is not a JPEG")
    broken = SightingFactory(photo=photo, leopard=None, status=Sighting.Status.PROPOSED)

    tasks.sighting_match(broken.pk)

    broken.refresh_from_db()
    assert broken.feature_status == Sighting.FeatureStatus.FAILED
    assert broken.feature_error_code == Sighting.FeatureProblem.UNREADABLE
    assert "cannot be read as an image" in broken.feature_error_text


def test_a_missing_photo_file_fails_with_the_reason():
    missing = SightingFactory(leopard=None, status=Sighting.Status.PROPOSED)

    tasks.sighting_match(missing.pk)

    missing.refresh_from_db()
    assert missing.feature_status == Sighting.FeatureStatus.FAILED
    assert missing.feature_error_code == Sighting.FeatureProblem.FILE_MISSING
    assert "missing from storage" in missing.feature_error_text


def test_tasks_return_quietly_when_the_sighting_is_gone():
    assert tasks.sighting_match(987654) is None
    assert tasks.catalogue_sync([987654]) == 0


def test_a_saved_index_reloads_with_the_same_ranking(two_cats):
    kedr, _lesnaya = two_cats
    path = catalogue.save_snapshot()
    query = leopard_sighting(1, "left", 6, leopard=None, status=Sighting.Status.PROPOSED)
    matching.sighting_extract_features(sighting_id=query.pk)
    query.refresh_from_db()
    features = Features.from_bytes(bytes(query.features))

    before = rank(catalogue.current_index(), features, "left")
    after = rank(MatchIndex.load(path), features, "left")

    assert [(c.individual_id, c.best_reference_id, round(c.score, 4)) for c in after] == [
        (c.individual_id, c.best_reference_id, round(c.score, 4)) for c in before
    ]
    assert after[0].individual_id == kedr.pk


def test_a_new_process_starts_from_the_snapshot_and_replays_later_changes(two_cats, monkeypatch):
    _kedr, lesnaya = two_cats
    catalogue.save_snapshot()
    later = _references(leopard_sighting(3, "left", 1, leopard=lesnaya))[0]
    catalogue.forget()  # as a freshly started worker

    def no_rebuild(generation):
        raise AssertionError("the snapshot should have been used")

    monkeypatch.setattr(catalogue, "build_from_entries", no_rebuild)
    index = catalogue.current_index()

    assert later.pk in index and index.individual_of(later.pk) == lesnaya.pk
    assert len(index) == 7


def test_a_rebuild_builds_into_a_file_and_leaves_only_its_snapshot(two_cats, monkeypatch, settings):
    import os
    import time

    def in_memory(*args, **kwargs):
        raise AssertionError("the rebuild held the whole index while building it")

    folder = settings.MATCH_INDEX_DIR
    folder.mkdir(parents=True, exist_ok=True)
    killed = folder / "build-1-1.npz.tmp"  # left by a build killed two days ago
    killed.write_bytes(b"partial")
    os.utime(killed, (time.time() - 2 * 86400,) * 2)
    running = folder / "build-2-2.npz.points.tmp"  # another process building now
    running.write_bytes(b"partial")
    monkeypatch.setattr(MatchIndex, "build", in_memory)

    loaded = catalogue.rebuild()

    assert len(loaded.index) == 6
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [running.name]


def test_an_index_of_another_process_catches_up_from_the_journal(two_cats):
    kedr, lesnaya = two_cats
    head = MatchIndexState.objects.get()
    other = catalogue.build_from_entries(str(head.generation))  # another worker's copy
    moved = list(Sighting.objects.filter(leopard=lesnaya).values_list("pk", flat=True))

    Sighting.objects.filter(pk__in=moved).update(leopard=kedr)
    matching.catalogue_sync(sighting_ids=moved)  # done by this worker
    changed = catalogue.replay(other)

    assert changed == len(moved)
    assert {other.index.individual_of(pk) for pk in moved} == {kedr.pk}


def test_a_rebuild_reads_and_adds_the_references_a_chunk_at_a_time(two_cats, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leopards.matching import index as index_module

    kedr, _lesnaya = two_cats
    monkeypatch.setattr(catalogue, "FEATURE_CHUNK", 2)
    monkeypatch.setattr(index_module, "BUILD_CHUNK_DESCRIPTORS", 1)
    batches = []
    add_many = MatchIndex.add_many

    def spy(self, records):
        records = list(records)
        batches.append(len(records))
        add_many(self, records)

    monkeypatch.setattr(MatchIndex, "add_many", spy)
    with CaptureQueriesContext(connection) as queries:
        figures = matching.match_index_rebuild()

    feature_reads = [q for q in queries if '"features"' in q["sql"] and "IN (" in q["sql"]]
    # Six references, two a query, read twice (a sample, then the adds).
    assert len(feature_reads) == 6
    assert batches and max(batches) == 1
    index = catalogue.current_index()
    assert figures["references"] == len(index) == 6
    assert {index.individual_of(s.pk) for s in Sighting.objects.filter(leopard=kedr)} == {kedr.pk}


def test_a_rebuild_lets_the_current_index_go_before_building_the_next(two_cats, monkeypatch):
    catalogue.current_index()
    held = []
    build = catalogue.build_from_entries

    def spy(generation):
        held.append(catalogue._loaded)
        return build(generation)

    monkeypatch.setattr(catalogue, "build_from_entries", spy)
    matching.match_index_rebuild(snapshot=False)

    # A worker holds one index at a time, not the old one beside its successor.
    assert held == [None]
    assert len(catalogue.current_index()) == 6


def test_a_rebuild_keeps_only_confirmed_sightings_with_features(two_cats):
    proposed = leopard_sighting(4, "left", 1, leopard=None, status=Sighting.Status.PROPOSED)
    pending = leopard_sighting(4, "left", 2, leopard=LeopardFactory())

    figures = matching.match_index_rebuild(extract_missing=True)

    index = catalogue.current_index()
    assert figures["extracted"] == 1 and figures["references"] == 7
    assert pending.pk in index and proposed.pk not in index


def test_matching_is_queued_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))
    monkeypatch.setattr(tasks.catalogue_sync, "delay", lambda **kw: queued.append(kw))
    sighting = SightingFactory(leopard=None, status=Sighting.Status.PROPOSED)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        matching.sighting_queue_match(sighting_id=sighting.pk)
        matching.catalogue_queue_sync(sighting_ids=[sighting.pk, sighting.pk])
        assert queued == []

    assert len(callbacks) == 2
    assert queued == [
        {"sighting_id": sighting.pk, "refresh_features": False},
        {"sighting_ids": [sighting.pk]},
    ]


def test_megadetector_boxes_are_queued_for_matching(
    park, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))
    photo = stored_photo(Image.new("RGB", (64, 64)), DeploymentFactory(station__park=park))
    data = {
        "detection_categories": {"1": "animal"},
        "images": [
            {
                "file": photo.original_name,
                "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.5, 0.5]}],
            }
        ],
    }

    with django_capture_on_commit_callbacks(execute=True):
        megadetector_import(data=data, deployment=photo.deployment)

    sighting = Sighting.objects.get(photo=photo)
    assert queued == [{"sighting_id": sighting.pk, "refresh_features": False}]


def test_evaluate_matching_prints_the_figures(tmp_path):
    labels = write_dataset(
        tmp_path / "set", individuals=4, photos_per_flank=3, image_size=(560, 392)
    )
    text, raw = io.StringIO(), io.StringIO()

    call_command("evaluate_matching", str(labels), stdout=text)
    call_command("evaluate_matching", str(labels), "--format", "json", stdout=raw)

    lines = dict(line.split(": ", 1) for line in text.getvalue().splitlines())
    figures = json.loads(raw.getvalue())
    keys = ["queries", "rank1", "rank5", "map", "median_query_s", "index_build_s"]
    assert list(lines)[:6] == keys and list(figures)[:6] == keys
    assert figures["queries"] == 24
    assert figures["rank1"] >= 0.9 and figures["rank5"] == 1.0
    assert 0 < figures["map"] <= 1


def test_evaluate_matching_can_write_a_calibration(tmp_path, settings):
    labels = write_dataset(
        tmp_path / "set", individuals=4, photos_per_flank=3, image_size=(560, 392)
    )
    out = tmp_path / "calibration.json"

    call_command(
        "evaluate_matching", str(labels), "--calibration-out", str(out), stdout=io.StringIO()
    )

    settings.MATCH_CALIBRATION_FILE = str(out)
    fitted = catalogue.calibration()
    assert fitted.fitted_on.endswith("48 queries")
    assert fitted.probability(60.0, 5.0) > fitted.probability(5.0, 4.0)


def test_evaluate_matching_leaves_out_the_query_s_own_event(tmp_path):
    labels = write_dataset(
        tmp_path / "set", individuals=3, photos_per_flank=2, image_size=(560, 392)
    )
    rows = list(csv.DictReader(labels.open()))
    with labels.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], "event"])
        writer.writeheader()
        # Both photos of each individual's flank are one visit: nothing else shows it.
        writer.writerows({**row, "event": f"{row['individual_id']}-{row['side']}"} for row in rows)
    raw = io.StringIO()

    call_command("evaluate_matching", str(labels), "--format", "json", stdout=raw)

    figures = json.loads(raw.getvalue())
    assert figures["queries"] == 12 and figures["rank5"] == 0.0


def test_a_merge_ranks_again_the_sightings_that_named_the_merged_individual(
    two_cats, django_capture_on_commit_callbacks
):
    kedr, _lesnaya = two_cats
    query = leopard_sighting(1, "left", 8, leopard=None, status=Sighting.Status.PROPOSED)
    tasks.sighting_match(query.pk)
    survivor = LeopardFactory(code="LEO-200M")
    moved = list(Sighting.objects.filter(leopard=kedr).values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        Sighting.objects.filter(pk__in=moved).update(leopard=survivor)
        matching.catalogue_sync(sighting_ids=moved)

    assert _leopards(query)[0] == survivor.pk


def test_extracting_many_boxes_in_worker_processes_stores_the_same_outcomes(monkeypatch):
    monkeypatch.setattr(matching, "PARALLEL_FROM", 2)
    leopard = leopard_sighting(1, "left", 1, leopard=None, status=Sighting.Status.PROPOSED)
    grey = SightingFactory(
        photo=stored_photo(Image.new("RGB", (560, 392), (90, 90, 90))),
        leopard=None,
        status=Sighting.Status.PROPOSED,
    )
    missing = SightingFactory(leopard=None, status=Sighting.Status.PROPOSED)
    ids = [leopard.pk, grey.pk, missing.pk]

    assert matching.sightings_extract_features(sighting_ids=ids, processes=2) == 3

    parallel = {
        pk: (status, count, digest)
        for pk, status, count, digest in Sighting.objects.filter(pk__in=ids).values_list(
            "pk", "feature_status", "feature_count", "features_digest"
        )
    }
    for pk in ids:
        matching.sighting_extract_features(sighting_id=pk)
    serial = {
        pk: (status, count, digest)
        for pk, status, count, digest in Sighting.objects.filter(pk__in=ids).values_list(
            "pk", "feature_status", "feature_count", "features_digest"
        )
    }
    assert parallel == serial
    assert [parallel[pk][0] for pk in ids] == ["ready", "no_features", "failed"]


def _as_version_one(sighting: Sighting) -> None:
    """Store the sighting's features as the engine's first version wrote them (no version)."""
    features = Features.from_bytes(bytes(sighting.features))
    out = io.BytesIO()
    np.savez(out, keypoints=features.keypoints, descriptors=features.descriptors)
    Sighting.objects.filter(pk=sighting.pk).update(features=out.getvalue(), features_version=1)


def test_features_of_an_earlier_engine_are_extracted_again_by_a_rebuild(two_cats):
    kedr, _lesnaya = two_cats
    old = Sighting.objects.filter(leopard=kedr).first()
    _as_version_one(old)
    assert matching.outdated_feature_ids() == [old.pk]

    figures = matching.match_index_rebuild(extract_missing=True)

    old.refresh_from_db()
    assert figures["extracted"] == 1
    current = features_version(matching.sift_outlined())
    assert Features.stored_version(bytes(old.features)) == current
    assert old.features_version == current
    assert matching.outdated_feature_ids() == []
    assert old.pk in catalogue.current_index()


def test_a_query_with_features_of_an_earlier_engine_is_extracted_again(two_cats):
    kedr, _lesnaya = two_cats
    query = leopard_sighting(1, "left", 7, leopard=None, status=Sighting.Status.PROPOSED)
    matching.sighting_match(sighting_id=query.pk)
    query.refresh_from_db()
    _as_version_one(query)

    matching.sighting_match(sighting_id=query.pk)

    query.refresh_from_db()
    current = features_version(matching.sift_outlined())
    assert Features.stored_version(bytes(query.features)) == current
    assert query.features_version == current
    assert _candidates(query)[0][0] == kedr.pk
