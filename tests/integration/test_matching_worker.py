"""Spot-pattern matching in a real worker process, through Redis and PostgreSQL."""

import pytest
from django.db import transaction

from leopards.models import Leopard, MatchCandidate, MatchIndexEntry, Sighting
from leopards.services.matching import (
    catalogue_sync,
    sighting_extract_features,
    sighting_queue_match,
    sightings_extract_features,
)
from tests.factories import LeopardFactory
from tests.integration.conftest import wait_for
from tests.leopards.matching_photos import leopard_sighting

pytestmark = pytest.mark.integration


def test_worker_fills_candidates_for_a_new_sighting_and_follows_catalogue_changes(
    celery_worker,
):
    kedr, lesnaya = LeopardFactory(code="LEO-101M"), LeopardFactory(code="LEO-102F")
    references = [
        *(leopard_sighting(1, "left", shot, leopard=kedr) for shot in (1, 2)),
        *(leopard_sighting(2, "left", shot, leopard=lesnaya) for shot in (1, 2)),
    ]
    # Confirmed sightings join the catalogue once the worker has their features.
    with transaction.atomic():
        for reference in references:
            sighting_queue_match(sighting_id=reference.pk)
    wait_for(
        lambda: MatchIndexEntry.objects.filter(present=True).count() == 4,
        what="the references to join the catalogue",
        worker=celery_worker,
    )

    with transaction.atomic():
        query = leopard_sighting(1, "left", 7, leopard=None, status=Sighting.Status.PROPOSED)
        sighting_queue_match(sighting_id=query.pk)

    top = wait_for(
        lambda: MatchCandidate.objects.filter(sighting=query, rank=1).first(),
        what="the worker to rank candidates",
        worker=celery_worker,
    )
    assert top.leopard == kedr and top.probability > 0.9
    assert top.reference.leopard == kedr
    query.refresh_from_db()
    assert query.feature_status == Sighting.FeatureStatus.READY and query.matched_at
    assert "leopards.tasks.sighting_match[" in celery_worker.output()

    # A merge done by another process reaches the worker's in-memory index
    # through the journal, without a rebuild.
    survivor = LeopardFactory(code="LEO-200M")
    moved = [r.pk for r in references if r.leopard_id == kedr.pk]
    Sighting.objects.filter(pk__in=moved).update(leopard=survivor)
    catalogue_sync(sighting_ids=moved)
    with transaction.atomic():
        sighting_queue_match(sighting_id=query.pk)

    top = wait_for(
        lambda: MatchCandidate.objects.filter(sighting=query, rank=1, leopard=survivor).first(),
        what="the worker to rank the merged individual",
        worker=celery_worker,
    )
    assert not MatchCandidate.objects.filter(sighting=query, leopard=kedr).exists()
    assert "Built the match index" in celery_worker.output()
    assert celery_worker.output().count("Built the match index") == 1


def test_worker_ranks_waiting_sightings_again_when_a_new_individual_joins(celery_worker):
    from leopards.services import matching

    kedr = LeopardFactory(code="LEO-101M")
    with transaction.atomic():
        for shot in (1, 2):
            sighting_queue_match(sighting_id=leopard_sighting(1, "left", shot, leopard=kedr).pk)
    wait_for(
        lambda: MatchIndexEntry.objects.filter(present=True).count() == 2,
        what="the references to join the catalogue",
        worker=celery_worker,
    )
    # A sighting of a cat the catalogue does not know yet waits for review.
    with transaction.atomic():
        waiting = leopard_sighting(2, "left", 7, leopard=None, status=Sighting.Status.PROPOSED)
        sighting_queue_match(sighting_id=waiting.pk)
    wait_for(
        lambda: (
            MatchCandidate.objects.filter(sighting=waiting, rank=1).exists()
            or Sighting.objects.filter(pk=waiting.pk, matched_at__isnull=False).exists()
        ),
        what="the first ranking",
        worker=celery_worker,
    )

    # A scientist confirms another photo of that cat as a new individual; once its
    # features join the catalogue, the waiting sighting is ranked again by the worker.
    lesnaya = LeopardFactory(code="LEO-102F")
    with transaction.atomic():
        sighting_queue_match(sighting_id=leopard_sighting(2, "left", 1, leopard=lesnaya).pk)
    top = wait_for(
        lambda: MatchCandidate.objects.filter(sighting=waiting, rank=1, leopard=lesnaya).first(),
        timeout=30 + matching.RERANK_DELAY_SECONDS,
        what="the waiting sighting to be ranked again",
        worker=celery_worker,
    )
    assert top.reference.leopard == lesnaya
    assert "leopards.tasks.sightings_rerank[" in celery_worker.output()


@pytest.fixture
def second_stage_on(settings):
    # Asked for before celery_worker, which hands the setting on to the worker process.
    settings.MATCH_RERANK_TOP_K = 3


def _two_cats() -> tuple[Leopard, list[Sighting]]:
    """Return Kedr and one reference box of Kedr and one of another cat (left flanks)."""
    kedr, lesnaya = LeopardFactory(code="LEO-101M"), LeopardFactory(code="LEO-102F")
    references = [
        leopard_sighting(1, "left", 1, leopard=kedr),
        leopard_sighting(2, "left", 1, leopard=lesnaya),
    ]
    return kedr, references


def _rank_a_new_photo_of_kedr(worker, what: str) -> tuple[Sighting, MatchCandidate]:
    """Queue a new, unidentified box of Kedr; return it and the worker's first candidate."""
    with transaction.atomic():
        query = leopard_sighting(1, "left", 7, leopard=None, status=Sighting.Status.PROPOSED)
        sighting_queue_match(sighting_id=query.pk)
    top = wait_for(
        lambda: MatchCandidate.objects.filter(sighting=query, rank=1).first(),
        timeout=180,
        what=what,
        worker=worker,
    )
    return query, top


def test_worker_ranks_the_shortlist_again_with_the_learned_second_stage(
    second_stage_on, celery_worker
):
    kedr, references = _two_cats()
    # A catalogue built in bulk (the demo, a rebuild) has SIFT features only: the worker
    # describes each reference box with DISK at its first comparison and stores it.
    for reference in references:
        sighting_extract_features(sighting_id=reference.pk, learned=False)
    catalogue_sync(sighting_ids=[r.pk for r in references])
    assert not Sighting.objects.filter(learned_features__isnull=False).exists()

    query, top = _rank_a_new_photo_of_kedr(
        celery_worker, "the worker to rank candidates with the second stage"
    )
    assert top.leopard == kedr
    assert top.stage == MatchCandidate.Stage.LEARNED
    assert top.reference_id == references[0].pk
    assert top.learned_matches >= top.inliers > 10
    # Both individuals of the shortlist were compared by the learned matcher.
    stages = MatchCandidate.objects.filter(sighting=query).values_list("stage", flat=True)
    assert sorted(stages) == [MatchCandidate.Stage.LEARNED] * 2
    assert all(
        Sighting.objects.get(pk=pk).learned_features
        for pk in [query.pk, *(r.pk for r in references)]
    )
    assert "second stage of matching is unavailable" not in celery_worker.output()


@pytest.fixture
def both_learned_stages_on(settings):
    # The defaults, which the rest of the suite turns off; asked for before celery_worker.
    settings.MATCH_RERANK_TOP_K = 3
    settings.MATCH_FIRST_STAGE_DISK_WEIGHT = 1.0


def test_worker_fuses_the_shortlists_disk_voice_and_re_ranks_as_by_default(
    both_learned_stages_on, celery_worker
):
    kedr, references = _two_cats()
    # With the DISK voice on, a catalogue built in bulk describes every box with DISK,
    # since its votes are needed before any query.
    sighting_ids = [r.pk for r in references]
    assert sightings_extract_features(sighting_ids=sighting_ids) == 2
    catalogue_sync(sighting_ids=sighting_ids)
    assert Sighting.objects.filter(learned_features__isnull=False).count() == 2

    _query, top = _rank_a_new_photo_of_kedr(
        celery_worker, "the worker to rank candidates with both learned stages"
    )
    assert top.leopard == kedr
    assert top.stage == MatchCandidate.Stage.LEARNED
    assert top.learned_matches >= top.inliers > 10
    # A fused score: SIFT's votes and DISK's, each divided by the query's best, added with
    # weight 1. Both voices put the right cat first; SIFT alone would give raw votes.
    assert top.score == pytest.approx(2.0)
    output = celery_worker.output()
    assert "second stage of matching is unavailable" not in output
    assert "cannot hear DISK" not in output
