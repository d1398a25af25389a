"""The blind-check pages: the list, the check without the first answer, agreement rates."""

import pytest
from django.urls import reverse

from accounts.roles import Role
from leopards.models import SecondOpinion
from leopards.services import identification
from tests.factories import UserFactory
from tests.leopards.reviewkit import known_leopard, make_event


@pytest.fixture
def opinion(park, scientist, settings):
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard = known_leopard(park, code="LEO-120F")
    other = known_leopard(park, code="LEO-121M")
    work = make_event(park, photos=1, candidates=[leopard, other])
    identification.sighting_confirm(
        sighting_id=work.sightings[0].pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    return SecondOpinion.objects.get()


@pytest.fixture
def checker(park):
    return UserFactory(username="grace", role=Role.SCIENTIST, parks=[park])


def test_the_first_scientist_does_not_get_their_own_check(client, opinion, scientist):
    client.force_login(scientist)
    response = client.get(reverse("leopards:second-opinion-queue"))
    assert list(response.context["opinions"]) == []
    check = reverse("leopards:second-opinion-check", args=[opinion.pk])
    assert client.get(check).status_code == 404


def test_the_check_page_shows_candidates_but_not_the_first_answer(client, opinion, checker):
    client.force_login(checker)
    html = client.get(reverse("leopards:second-opinion-check", args=[opinion.pk])).content.decode()
    assert "LEO-120F" in html and "LEO-121M" in html  # both only as candidates
    assert "Confirmed" not in html and "bob" not in html
    assert html.count('name="answer" value="leopard"') == 3  # two candidates and a typed code


def test_a_disagreeing_answer_flags_the_event_and_counts_in_the_rates(client, opinion, checker):
    client.force_login(checker)
    response = client.post(
        reverse("leopards:second-opinion-check", args=[opinion.pk]),
        {"answer": "leopard", "code": "LEO-121M"},
        follow=True,
    )
    assert "The answers differ" in response.content.decode()
    rates = client.get(reverse("leopards:second-opinion-agreement")).context["rates"]
    assert (rates.overall.agreed, rates.overall.checked) == (0, 1)
    queue = client.get(reverse("leopards:review-queue") + "?status=flagged")
    assert [e.pk for e in queue.context["page"].object_list] == [opinion.sighting.photo.event_id]


def test_managers_do_not_see_second_opinions(client, park, manager):
    client.force_login(manager)
    assert client.get(reverse("leopards:second-opinion-queue")).status_code == 404
