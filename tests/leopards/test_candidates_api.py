"""Scripts read the matcher's ranked candidates of sightings in their own parks only."""

import pytest

from leopards.models import MatchCandidate
from tests.factories import PhotoFactory, SightingFactory
from tests.leopards.reviewkit import known_leopard

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidates(park, other_park):
    ours = SightingFactory(photo=PhotoFactory(deployment__station__park=park), leopard=None,
                           status="proposed")  # fmt: skip
    theirs = SightingFactory(
        photo=PhotoFactory(deployment__station__park=other_park), leopard=None, status="proposed"
    )
    first, second = known_leopard(park, code="LEO-201F"), known_leopard(park, code="LEO-202M")
    MatchCandidate.objects.create(sighting=ours, leopard=first, rank=1, score=12.5, probability=0.9)
    MatchCandidate.objects.create(sighting=ours, leopard=second, rank=2, score=3.0)
    hidden = MatchCandidate.objects.create(sighting=theirs, leopard=second, rank=1, score=8.0)
    return ours, hidden


def test_a_scientist_lists_the_ranked_candidates_of_their_parks(client, scientist, candidates):
    ours, hidden = candidates
    client.force_login(scientist)
    body = client.get("/api/candidates/", {"sighting": ours.pk}).json()
    assert [(c["rank"], c["leopard"], c["probability"]) for c in body["results"]] == [
        (1, "LEO-201F", 0.9),
        (2, "LEO-202M", None),
    ]
    everything = client.get("/api/candidates/").json()["results"]
    assert hidden.pk not in {c["id"] for c in everything}


def test_a_candidate_of_another_park_is_404(client, scientist, candidates):
    _, hidden = candidates
    client.force_login(scientist)
    response = client.get(f"/api/candidates/{hidden.pk}/")
    assert response.status_code == 404


def test_candidates_are_for_reviewers_not_managers(client, manager, candidates):
    client.force_login(manager)
    assert client.get("/api/candidates/").status_code == 403
