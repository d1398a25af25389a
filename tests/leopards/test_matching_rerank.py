"""Sightings waiting for review are ranked again when the catalogue gains an individual."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leopards import tasks
from leopards.models import Flank, Leopard, MatchCandidate, Sighting
from leopards.services import identification, matching
from tests.factories import LeopardFactory
from tests.leopards.matching_photos import leopard_sighting

pytestmark = pytest.mark.django_db


def _ready(sighting: Sighting) -> Sighting:
    """Extract a sighting's features and rank it, as the worker does when it is drawn."""
    tasks.sighting_match(sighting.pk)
    sighting.refresh_from_db()
    assert sighting.feature_status == Sighting.FeatureStatus.READY
    return sighting


def _catalogue(individuals: range, flank: str = "left") -> None:
    """Confirmed references of synthetic individuals, one photo each, in the index."""
    references = [
        leopard_sighting(i, flank, 1, leopard=LeopardFactory(code=f"LEO-{500 + i}U"))
        for i in individuals
    ]
    for reference in references:
        matching.sighting_extract_features(sighting_id=reference.pk)
    matching.catalogue_sync(sighting_ids=[r.pk for r in references])


def _waiting(individual: int, flank: str, shot: int, **fields) -> Sighting:
    return _ready(
        leopard_sighting(
            individual, flank, shot, leopard=None, status=Sighting.Status.PROPOSED, **fields
        )
    )


def test_a_new_individual_queues_again_only_the_waiting_sightings_that_search_its_flank(
    scientist, django_capture_on_commit_callbacks, monkeypatch
):
    _catalogue(range(10, 13))
    left = _waiting(30, "left", 2)
    unknown = _waiting(30, "left", 3)
    Sighting.objects.filter(pk=unknown.pk).update(flank=Flank.UNKNOWN)
    right = _waiting(31, "right", 2)
    unidentifiable = _waiting(30, "left", 4)
    Sighting.objects.filter(pk=unidentifiable.pk).update(status=Sighting.Status.UNIDENTIFIABLE)
    pending = leopard_sighting(30, "left", 5, leopard=None, status=Sighting.Status.PROPOSED)
    first = _waiting(30, "left", 0)
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        identification.sighting_create_individual(
            sighting_id=first.pk, user=scientist, expected_version=None
        )

    assert sorted(call["sighting_id"] for call in queued) == sorted([left.pk, unknown.pk])
    assert right.pk not in {c["sighting_id"] for c in queued}
    assert pending.pk not in {c["sighting_id"] for c in queued}
    assert all(call["stale_before"] for call in queued)


def test_confirming_a_known_individual_on_a_known_flank_queues_nothing(
    scientist, django_capture_on_commit_callbacks, monkeypatch
):
    _catalogue(range(10, 13))
    _waiting(30, "left", 2)
    known = Leopard.objects.get(code="LEO-510U")
    again = _waiting(10, "left", 3)
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        identification.sighting_confirm(
            sighting_id=again.pk,
            leopard_id=known.pk,
            user=scientist,
            expected_version=None,
            sample=False,
        )

    assert Sighting.objects.get(pk=again.pk).status == Sighting.Status.CONFIRMED
    assert queued == []


def test_the_first_left_reference_of_a_right_flank_individual_queues_left_sightings(
    django_capture_on_commit_callbacks, monkeypatch
):
    leopard = LeopardFactory()
    right = leopard_sighting(40, "right", 1, leopard=leopard)
    matching.sighting_extract_features(sighting_id=right.pk)
    matching.catalogue_sync(sighting_ids=[right.pk])
    waiting_left = _waiting(40, "left", 2)
    left = leopard_sighting(40, "left", 1, leopard=leopard)
    matching.sighting_extract_features(sighting_id=left.pk)
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        matching.catalogue_sync(sighting_ids=[left.pk])

    assert [call["sighting_id"] for call in queued] == [waiting_left.pk]


def test_a_waiting_sighting_gets_the_new_individual_as_its_first_candidate(
    scientist, django_capture_on_commit_callbacks
):
    # Tasks run in process (task_always_eager), as in local mode.
    _catalogue(range(10, 20))
    waiting = _waiting(30, "left", 2)
    # Before, its candidates can only be strangers (whether it is flagged "probably new"
    # is the calibration's business, tested in test_matching_calibration).
    before = MatchCandidate.objects.get(sighting=waiting, rank=1)
    assert before.leopard.code.startswith("LEO-51")
    ranked_before = waiting.matched_at
    first = _waiting(30, "left", 0)

    with django_capture_on_commit_callbacks(execute=True):
        sighting = identification.sighting_create_individual(
            sighting_id=first.pk, user=scientist, expected_version=None
        )

    waiting.refresh_from_db()
    top = MatchCandidate.objects.filter(sighting=waiting, rank=1).get()
    assert top.leopard_id == sighting.leopard_id
    assert top.probability > 0.5 and not waiting.new_individual_likely
    assert waiting.matched_at > ranked_before


def test_a_second_request_for_the_same_change_keeps_the_candidates():
    _catalogue(range(10, 12))
    waiting = _waiting(30, "left", 2)
    ranked_at = waiting.matched_at

    outcome = matching.sighting_match(
        sighting_id=waiting.pk, stale_before=ranked_at - timedelta(seconds=1)
    )
    waiting.refresh_from_db()
    assert waiting.matched_at == ranked_at
    assert outcome.candidates == MatchCandidate.objects.filter(sighting=waiting).count()

    matching.sighting_match(sighting_id=waiting.pk, stale_before=timezone.now())
    waiting.refresh_from_db()
    assert waiting.matched_at > ranked_at


def test_reranking_is_bounded_and_newest_first(monkeypatch):
    _catalogue(range(10, 11))
    waiting = [_waiting(30 + i, "left", 2) for i in range(3)]
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))

    assert matching.sightings_rerank(flanks=["left"], limit=2) == 2

    assert [c["sighting_id"] for c in queued] == [waiting[2].pk, waiting[1].pk]


def test_a_split_ranks_again_only_the_waiting_sightings_that_named_the_old_individual(
    django_capture_on_commit_callbacks, monkeypatch
):
    _catalogue(range(10, 13))
    named = _waiting(10, "left", 2)
    unrelated = _waiting(31, "right", 2)
    old = MatchCandidate.objects.get(sighting=named, rank=1).leopard
    split_off = LeopardFactory()
    moved = list(Sighting.objects.filter(leopard=old).values_list("pk", flat=True))
    queued = []
    monkeypatch.setattr(tasks.sighting_match, "delay", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        Sighting.objects.filter(pk__in=moved).update(leopard=split_off)
        matching.catalogue_sync(sighting_ids=moved)

    # The pattern was in the index already, under another name: no pass over every
    # waiting sighting, only the ones whose candidates named the old individual.
    assert [call["sighting_id"] for call in queued] == [named.pk]
    assert unrelated.pk not in {call["sighting_id"] for call in queued}
