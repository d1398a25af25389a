"""The blind check: a second scientist identifies again, not told the first answer."""

import pytest

from accounts.roles import Role
from leopards.models import CatalogueChange, EventReview, SecondOpinion
from leopards.selectors.second_opinion import agreement_rates
from leopards.services import identification, review, second_opinion
from leopards.services.errors import ReviewError
from tests.factories import UserFactory
from tests.leopards.reviewkit import known_leopard, make_event
from traps.models import Event


@pytest.fixture
def checker(park):
    return UserFactory(username="grace", role=Role.SCIENTIST, parks=[park])


@pytest.fixture
def checked(park, scientist, settings):
    """A reviewed event whose one identification was sampled for a blind check."""
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard, other = known_leopard(park), known_leopard(park)
    work = make_event(park, photos=1, candidates=[leopard, other])
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    review.event_finish(event_id=work.event.pk, user=scientist, expected_version=None)
    return work, leopard, other, SecondOpinion.objects.get()


def test_agreement_is_recorded_and_the_event_stays_reviewed(checked, checker):
    work, leopard, _other, opinion = checked
    result = second_opinion.second_opinion_answer(
        opinion_id=opinion.pk, user=checker, answer="leopard", leopard_id=leopard.pk
    )
    assert result.status == SecondOpinion.Status.AGREED
    assert Event.objects.get(pk=work.event.pk).status == Event.Status.REVIEWED
    assert CatalogueChange.objects.filter(kind="second_opinion", leopards=leopard).exists()


def test_disagreement_sends_the_event_back_to_the_queue_flagged(checked, checker):
    work, leopard, other, opinion = checked
    result = second_opinion.second_opinion_answer(
        opinion_id=opinion.pk, user=checker, answer="leopard", leopard_id=other.pk
    )
    assert result.status == SecondOpinion.Status.DISAGREED
    assert Event.objects.get(pk=work.event.pk).status == Event.Status.PENDING
    flagged = EventReview.objects.get(event=work.event)
    assert flagged.flag_code == EventReview.FlagCode.SECOND_OPINION_DISAGREES
    assert leopard.code in flagged.flag_text and other.code in flagged.flag_text


def test_the_first_scientist_cannot_give_the_second_opinion(checked, scientist):
    opinion = checked[3]
    with pytest.raises(ReviewError):
        second_opinion.second_opinion_answer(
            opinion_id=opinion.pk, user=scientist, answer="unidentifiable"
        )


def test_a_new_individual_is_checked_by_answering_not_in_the_catalogue(
    park, scientist, checker, settings
):
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    work = make_event(park, photos=1)
    identification.sighting_create_individual(
        sighting_id=work.sightings[0].pk, user=scientist, expected_version=1
    )
    opinion = SecondOpinion.objects.get()
    assert opinion.first_answer == "new"
    result = second_opinion.second_opinion_answer(opinion_id=opinion.pk, user=checker, answer="new")
    assert result.status == "agreed"


def test_a_withdrawn_identification_cancels_its_check(checked, scientist, checker):
    work, _leopard, _other, opinion = checked
    identification.sighting_unconfirm(
        sighting_id=work.sightings[0].pk, user=scientist, expected_version=2
    )
    result = second_opinion.second_opinion_answer(opinion_id=opinion.pk, user=checker, answer="new")
    assert result.status == SecondOpinion.Status.CANCELLED


def test_agreement_rates_per_scientist_and_overall(park, scientist, checker, settings):
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard, other = known_leopard(park), known_leopard(park)
    opinions = []
    for _ in range(4):
        work = make_event(park, photos=1)
        identification.sighting_confirm(
            sighting_id=work.sightings[0].pk,
            leopard_id=leopard.pk,
            user=scientist,
            expected_version=1,
        )
        opinions.append(SecondOpinion.objects.latest("pk"))
    for opinion, answer in zip(opinions, [leopard, leopard, leopard, other], strict=True):
        second_opinion.second_opinion_answer(
            opinion_id=opinion.pk, user=checker, answer="leopard", leopard_id=answer.pk
        )
    rates = agreement_rates(parks=[park])
    assert (rates.overall.agreed, rates.overall.checked, rates.overall.rate) == (3, 4, 0.75)
    bob = next(row for row in rates.first_scientists if row.user == "bob")
    grace = next(row for row in rates.second_scientists if row.user == "grace")
    assert (bob.agreed, bob.checked) == (3, 4)
    assert (grace.agreed, grace.checked) == (3, 4)
