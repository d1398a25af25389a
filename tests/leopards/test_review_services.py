"""The review's writes: claims, event content, boxes, identifications and version conflicts."""

from datetime import timedelta
from unittest.mock import Mock

import pytest
from django.utils import timezone

from accounts.roles import Role
from census.models import CensusStale
from leopards.models import (
    AgeClass,
    CatalogueChange,
    EventReview,
    Flank,
    Leopard,
    SecondOpinion,
    Sex,
    Sighting,
    Species,
)
from leopards.services import identification, review
from leopards.services.errors import EventClaimed, ReviewError, StaleVersion
from tests.factories import UserFactory
from tests.leopards.reviewkit import known_leopard, make_event
from traps.models import Event


@pytest.fixture
def spy(monkeypatch):
    """Replace a callable by a Mock for the test."""

    def install(target: str) -> Mock:
        mock = Mock()
        monkeypatch.setattr(target, mock)
        return mock

    return install


@pytest.fixture
def second_scientist(park):
    return UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])


def test_claiming_an_event_puts_it_in_review_for_one_scientist(park, scientist, second_scientist):
    work = make_event(park)
    review.event_claim(event_id=work.event.pk, user=scientist)
    work.event.refresh_from_db()
    assert work.event.status == Event.Status.IN_REVIEW
    assert work.event.claimed_by == scientist
    with pytest.raises(EventClaimed) as refused:
        review.event_claim(event_id=work.event.pk, user=second_scientist)
    assert "bob" in refused.value.message


def test_a_lapsed_claim_can_be_taken_over(park, scientist, second_scientist, settings):
    work = make_event(park)
    review.event_claim(event_id=work.event.pk, user=scientist)
    Event.objects.filter(pk=work.event.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=settings.REVIEW_CLAIM_MINUTES + 1)
    )
    event = review.event_claim(event_id=work.event.pk, user=second_scientist)
    assert event.claimed_by == second_scientist


def test_releasing_a_claim_returns_the_event_to_the_queue(park, scientist):
    work = make_event(park)
    review.event_claim(event_id=work.event.pk, user=scientist)
    event = review.event_release(event_id=work.event.pk, user=scientist)
    assert (event.status, event.claimed_by) == (Event.Status.PENDING, None)


def test_working_on_a_sighting_of_an_event_claimed_by_another_is_refused(
    park, scientist, second_scientist
):
    leopard = known_leopard(park)
    work = make_event(park, candidates=[leopard])
    review.event_claim(event_id=work.event.pk, user=scientist)
    with pytest.raises(EventClaimed):
        identification.sighting_confirm(
            sighting_id=work.sightings[0].pk,
            leopard_id=leopard.pk,
            user=second_scientist,
            expected_version=1,
        )
    assert Sighting.objects.get(pk=work.sightings[0].pk).status == Sighting.Status.PROPOSED


@pytest.mark.parametrize("content", ["blank", "human", "vehicle"])
def test_marking_an_event_blank_human_or_vehicle_finishes_it_and_rejects_proposed_boxes(
    park, scientist, content
):
    work = make_event(park)
    result = review.event_classify(
        event_id=work.event.pk, user=scientist, content=content, expected_version=None
    )
    work.event.refresh_from_db()
    assert work.event.content == content
    assert work.event.status == Event.Status.REVIEWED
    assert work.event.claimed_by is None
    assert result.version == 2
    assert set(
        Sighting.objects.filter(photo__event=work.event).values_list("status", flat=True)
    ) == {Sighting.Status.REJECTED}


def test_marking_another_species_needs_one_from_the_list(park, scientist):
    work = make_event(park, sightings_per_photo=0)
    with pytest.raises(ReviewError):
        review.event_classify(
            event_id=work.event.pk, user=scientist, content="other_species", expected_version=None
        )
    deer = Species.objects.get(name="Sika deer")
    result = review.event_classify(
        event_id=work.event.pk,
        user=scientist,
        content="other_species",
        species_id=deer.pk,
        expected_version=None,
    )
    assert result.species == deer


def test_an_event_with_confirmed_leopards_cannot_be_marked_blank(park, scientist):
    leopard = known_leopard(park)
    work = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    with pytest.raises(ReviewError):
        review.event_classify(
            event_id=work.event.pk, user=scientist, content="blank", expected_version=None
        )


def test_a_stale_event_version_is_refused_with_who_changed_it(park, scientist, second_scientist):
    work = make_event(park, sightings_per_photo=0)
    review.event_classify(
        event_id=work.event.pk, user=scientist, content="blank", expected_version=None
    )
    with pytest.raises(StaleVersion) as conflict:
        review.event_classify(
            event_id=work.event.pk, user=second_scientist, content="vehicle", expected_version=1
        )
    assert "bob changed this event" in conflict.value.message
    assert Event.objects.get(pk=work.event.pk).content == "blank"


def test_finishing_an_event_needs_every_sighting_decided(park, scientist):
    leopard = known_leopard(park)
    work = make_event(park, photos=2)
    with pytest.raises(ReviewError):
        review.event_finish(event_id=work.event.pk, user=scientist, expected_version=None)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    identification.sighting_mark_unidentifiable(
        sighting_id=work.sightings[1].pk, user=scientist, expected_version=1
    )
    review.event_finish(event_id=work.event.pk, user=scientist, expected_version=None)
    work.event.refresh_from_db()
    assert (work.event.status, work.event.content) == (Event.Status.REVIEWED, "leopard")
    assert EventReview.objects.get(event=work.event).updated_by == scientist


def test_drawing_a_box_adds_a_proposed_sighting_and_queues_matching(
    park, scientist, django_capture_on_commit_callbacks, spy
):
    work = make_event(park, photos=1)
    queued = spy("leopards.tasks.sighting_match.delay")
    with django_capture_on_commit_callbacks(execute=True):
        sighting = review.sighting_draw(
            photo_id=work.photos[0].pk,
            user=scientist,
            box=review.Box(0.5, 0.5, 0.3, 0.3),
            flank=Flank.RIGHT,
            observed_age_class=AgeClass.KITTEN,
        )
    assert (sighting.status, sighting.source, sighting.flank) == ("proposed", "manual", "right")
    assert sighting.photo.sightings.count() == 2  # a mother with her kitten
    queued.assert_called_once_with(sighting_id=sighting.pk, refresh_features=False)


def test_a_box_reaching_past_the_photo_is_clipped_and_a_tiny_one_refused():
    assert review.Box(0.8, 0.9, 0.5, 0.5).clipped() == review.Box(0.8, 0.9, 0.2, 0.1)
    with pytest.raises(ReviewError):
        review.Box(0.5, 0.5, 0.001, 0.2).clipped()


def test_adjusting_a_box_rematches_it_and_checks_the_version(
    park, scientist, second_scientist, django_capture_on_commit_callbacks, spy
):
    work = make_event(park, photos=1)
    queued = spy("leopards.tasks.sighting_match.delay")
    with django_capture_on_commit_callbacks(execute=True):
        sighting = review.sighting_adjust(
            sighting_id=work.sightings[0].pk,
            user=scientist,
            expected_version=1,
            box=review.Box(0.2, 0.2, 0.4, 0.4),
            flank=Flank.RIGHT,
        )
    assert (sighting.bbox_x, sighting.flank, sighting.version) == (0.2, "right", 2)
    assert queued.called
    review.event_release(event_id=work.event.pk, user=scientist)
    with pytest.raises(StaleVersion) as conflict:
        review.sighting_adjust(
            sighting_id=sighting.pk,
            user=second_scientist,
            expected_version=1,
            observed_age_class=AgeClass.ADULT,
        )
    assert "bob" in conflict.value.message
    assert Sighting.objects.get(pk=sighting.pk).observed_age_class == AgeClass.UNKNOWN


def test_confirming_a_candidate_identifies_records_marks_census_stale_and_syncs(
    park, scientist, django_capture_on_commit_callbacks, spy
):
    leopard = known_leopard(park)
    work = make_event(park, photos=1, candidates=[leopard])
    synced = spy("leopards.tasks.catalogue_sync.delay")
    spy("census.tasks.census_rebuild_stale.apply_async")
    with django_capture_on_commit_callbacks(execute=True):
        sighting = identification.sighting_confirm(
            sighting_id=work.sightings[0].pk,
            leopard_id=leopard.pk,
            user=scientist,
            expected_version=1,
            reason="Same rosette above the shoulder",
            observed_age_class=AgeClass.ADULT,
        )
    assert (sighting.status, sighting.leopard, sighting.identified_by) == (
        "confirmed",
        leopard,
        scientist,
    )
    assert sighting.observed_age_class == AgeClass.ADULT
    change = CatalogueChange.objects.get(kind=CatalogueChange.Kind.CONFIRM)
    assert (change.user, change.reason) == (scientist, "Same rosette above the shoulder")
    assert list(change.leopards.all()) == [leopard]
    assert change.after["leopard"] == leopard.code
    assert CensusStale.objects.filter(park=park, year=2024).exists()
    synced.assert_called_once_with(sighting_ids=[sighting.pk])
    assert sighting.history.first().history_change_reason == "Same rosette above the shoulder"


def test_creating_a_new_individual_takes_the_next_free_code(park, scientist):
    known_leopard(park, code="LEO-141F")
    work = make_event(park, photos=2)
    first = identification.sighting_create_individual(
        sighting_id=work.sightings[0].pk, user=scientist, expected_version=1, sex=Sex.FEMALE
    )
    second = identification.sighting_create_individual(
        sighting_id=work.sightings[1].pk, user=scientist, expected_version=1
    )
    assert first.leopard.code == "LEO-142F"
    assert second.leopard.code == "LEO-143U"
    assert CatalogueChange.objects.filter(kind="new_individual").count() == 2


def test_the_next_code_skips_codes_kept_as_aliases(park):
    from leopards.models import LeopardAlias

    keeper = known_leopard(park, code="LEO-101F")
    LeopardAlias.objects.create(leopard=keeper, code="LEO-150M")
    assert identification.leopard_next_code(sex=Sex.MALE) == "LEO-151M"


def test_marking_unidentifiable_withdraws_an_identification(park, scientist):
    leopard = known_leopard(park)
    work = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    sighting = identification.sighting_mark_unidentifiable(
        sighting_id=work.sightings[0].pk, user=scientist, expected_version=2, reason="Too blurred"
    )
    assert (sighting.status, sighting.leopard) == ("unidentifiable", None)
    change = CatalogueChange.objects.get(kind="unidentifiable")
    assert change.before["leopard"] == leopard.code
    assert leopard in change.leopards.all()


def test_two_scientists_confirming_from_the_same_page_do_not_overwrite(
    park, scientist, second_scientist
):
    one, other = known_leopard(park), known_leopard(park)
    work = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=one.pk, user=scientist, expected_version=1
    )
    review.event_release(event_id=work.event.pk, user=scientist)
    with pytest.raises(StaleVersion) as conflict:
        identification.sighting_confirm(
            sighting_id=work.sightings[0].pk,
            leopard_id=other.pk,
            user=second_scientist,
            expected_version=1,
        )
    assert "bob changed this sighting at" in conflict.value.message
    assert Sighting.objects.get(pk=work.sightings[0].pk).leopard == one


def test_confirming_a_merged_code_identifies_the_surviving_record(park, scientist):
    survivor = known_leopard(park)
    absorbed = known_leopard(park)
    Leopard.objects.filter(pk=absorbed.pk).update(merged_into=survivor)
    work = make_event(park, photos=1)
    sighting = identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=absorbed.pk, user=scientist, expected_version=1
    )
    assert sighting.leopard == survivor


def test_a_sample_of_confirmations_goes_to_a_blind_check(park, scientist, settings):
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard = known_leopard(park)
    work = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    opinion = SecondOpinion.objects.get()
    assert (opinion.first_leopard, opinion.first_by, opinion.status) == (
        leopard,
        scientist,
        "pending",
    )
    settings.SECOND_OPINION_SAMPLE_RATE = 0.0
    other = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=other.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    assert SecondOpinion.objects.count() == 1


def test_removing_a_confirmed_box_is_recorded(park, scientist):
    leopard = known_leopard(park)
    work = make_event(park, photos=1)
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    review.sighting_remove(sighting_id=work.sightings[0].pk, user=scientist, expected_version=2)
    assert Sighting.objects.get(pk=work.sightings[0].pk).status == "rejected"
    assert CatalogueChange.objects.filter(kind="unconfirm", leopards=leopard).exists()
