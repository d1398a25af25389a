"""The fused first stage: SIFT votes plus the DISK twin's, per catalogue and per query.

The registry tests describe a handful of small synthetic boxes with DISK (about a CPU
second each).
"""

import dataclasses
import io
import json

import numpy as np
import pytest
from django.core import checks
from django.core.management import call_command

from leopards import tasks
from leopards.matching import catalogue, disk_twin
from leopards.matching.fusion import fuse
from leopards.matching.learned import stored_model
from leopards.models import MatchCandidate, Sighting
from leopards.services import matching
from leopards.synthetic import write_dataset
from tests.factories import LeopardFactory
from tests.leopards.matching_photos import leopard_sighting
from tests.leopards.stage_two import shortlist_candidate


def _with_points(individual: int, reference: int, score: float, inliers: int):
    return dataclasses.replace(
        shortlist_candidate(individual, reference, score),
        inliers=inliers,
        matches=np.ones((inliers, 4), np.float32),
    )


def test_weight_0_keeps_the_sift_order_exactly():
    sift = [_with_points(1, 10, 9.0, 5), _with_points(2, 20, 8.0, 3)]
    disk = [shortlist_candidate(2, 21, 50.0), shortlist_candidate(3, 30, 40.0)]
    assert fuse(sift, disk, 0.0) == sift
    assert fuse(sift, [], 1.0) == sift


def test_disk_votes_reorder_and_bring_in_what_sift_missed():
    sift = [_with_points(1, 10, 10.0, 5), _with_points(2, 20, 9.0, 3)]
    disk = [
        shortlist_candidate(2, 21, 40.0),
        shortlist_candidate(3, 30, 36.0),
        shortlist_candidate(1, 11, 4.0),
    ]
    fused = fuse(sift, disk, 1.0)
    # 2: 0.9 + 1.0; 3: 0 + 0.9; 1: 1.0 + 0.1.
    assert [c.individual_id for c in fused] == [2, 1, 3]
    assert [round(c.score, 3) for c in fused] == [1.9, 1.1, 0.9]
    second = fused[0]
    # SIFT's evidence stays for the review page; DISK's reference is listed first.
    assert (second.best_reference_id, second.inliers, len(second.matches)) == (20, 3, 3)
    assert second.references == (21, 20)
    only_disk = fused[2]
    assert (only_disk.best_reference_id, only_disk.inliers, len(only_disk.matches)) == (30, 0, 0)


def test_a_heavier_disk_weight_lets_disk_overrule_sift():
    sift = [_with_points(1, 10, 10.0, 5), _with_points(2, 20, 6.0, 3)]
    disk = [shortlist_candidate(2, 20, 10.0), shortlist_candidate(1, 10, 5.0)]
    assert [c.individual_id for c in fuse(sift, disk, 0.5)] == [1, 2]
    assert [c.individual_id for c in fuse(sift, disk, 1.5)] == [2, 1]


@pytest.fixture
def disk_on(settings):
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    catalogue.forget()


@pytest.fixture
def two_cats(disk_on):
    """Two individuals, one left-flank reference each, described by SIFT and DISK."""
    kedr, lesnaya = LeopardFactory(code="LEO-111M"), LeopardFactory(code="LEO-112F")
    references = [
        leopard_sighting(3, "left", 1, leopard=kedr),
        leopard_sighting(4, "left", 1, leopard=lesnaya),
    ]
    # Bulk extraction describes catalogue boxes with DISK too when its votes count.
    assert matching.sightings_extract_features(sighting_ids=[r.pk for r in references]) == 2
    matching.catalogue_sync(sighting_ids=[r.pk for r in references])
    return kedr, lesnaya, references


@pytest.mark.django_db
def test_bulk_extraction_describes_catalogue_boxes_with_disk_when_it_votes(two_cats):
    _kedr, _lesnaya, references = two_cats
    model = catalogue.current().twin.model
    for reference in references:
        reference.refresh_from_db()
        assert stored_model(bytes(reference.learned_features)) == model
    assert matching.undescribed_by_disk_ids() == []
    Sighting.objects.filter(pk=references[0].pk).update(learned_features=None)
    assert matching.undescribed_by_disk_ids() == [references[0].pk]


@pytest.mark.django_db
def test_a_query_ranks_with_the_disk_twin_too(two_cats):
    kedr, _lesnaya, references = two_cats
    loaded = catalogue.current()
    assert sorted(loaded.twin.index.reference_ids()) == sorted(r.pk for r in references)
    # This process's SIFT index loses kedr's box (the twin keeps it): a candidate
    # only DISK finds must still reach the query's candidates.
    loaded.index.remove(references[0].pk)
    query = leopard_sighting(3, "left", 2, leopard=None, status=Sighting.Status.PROPOSED)
    tasks.sighting_match(query.pk)
    found = MatchCandidate.objects.get(sighting=query, leopard=kedr)
    assert found.reference_id == references[0].pk
    assert found.inliers == 0 and found.matches == []  # no SIFT evidence to draw


@pytest.mark.django_db
def test_without_the_weight_the_same_query_sees_sift_alone(two_cats, settings):
    kedr, _lesnaya, references = two_cats
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 0.0
    loaded = catalogue.current()
    assert loaded.twin is None  # the twin goes when its weight does
    loaded.index.remove(references[0].pk)
    query = leopard_sighting(3, "left", 2, leopard=None, status=Sighting.Status.PROPOSED)
    tasks.sighting_match(query.pk)
    assert kedr.pk not in set(
        MatchCandidate.objects.filter(sighting=query).values_list("leopard_id", flat=True)
    )


@pytest.mark.django_db
def test_the_twin_follows_merges_and_removals(two_cats):
    _kedr, _lesnaya, references = two_cats
    survivor = LeopardFactory(code="LEO-300M")
    Sighting.objects.filter(pk=references[0].pk).update(leopard=survivor)
    matching.catalogue_sync(sighting_ids=[references[0].pk])
    twin = catalogue.current().twin
    assert twin.index.individual_of(references[0].pk) == survivor.pk

    Sighting.objects.filter(pk=references[1].pk).update(status=Sighting.Status.PROPOSED)
    matching.catalogue_sync(sighting_ids=[references[1].pk])
    twin = catalogue.current().twin
    assert references[1].pk not in twin.index
    assert references[0].pk in twin.index


@pytest.mark.django_db
def test_the_twin_is_saved_and_loaded_beside_the_index(two_cats):
    kedr, _lesnaya, references = two_cats
    catalogue.save_snapshot()
    catalogue.forget()
    head = catalogue.state()
    loaded = catalogue.load_snapshot(str(head.generation), head.seq)
    assert loaded is not None and loaded.twin is not None
    assert loaded.twin.index.individual_of(references[0].pk) == kedr.pk
    assert set(loaded.twin.digests) == {r.pk for r in references}


def test_evaluate_matching_fuses_the_disk_voice_when_the_setting_asks(tmp_path, settings):
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    labels = write_dataset(
        tmp_path / "set", individuals=3, photos_per_flank=2, image_size=(400, 280)
    )
    raw = io.StringIO()
    call_command("evaluate_matching", str(labels), "--format", "json", stdout=raw)
    figures = json.loads(raw.getvalue())
    # Every box was described with DISK for its votes, though the re-rank is off.
    assert figures["learned_extract_s_per_box"] > 0
    assert figures["queries"] == 12 and figures["rank1"] >= 0.9


def test_a_disk_weight_with_another_backend_is_reported_by_the_system_check(settings):
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0
    settings.MATCH_LEARNED_BACKEND = "xfeat"
    found = [m for m in checks.run_checks() if m.id == "leopards.W002"]
    assert len(found) == 1 and "xfeat" in found[0].msg
    assert disk_twin.wanted_model() == ""  # and there is no twin
    settings.MATCH_LEARNED_BACKEND = "disk"
    assert not [m for m in checks.run_checks() if m.id == "leopards.W002"]
