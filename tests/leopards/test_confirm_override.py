"""Confirming a match the matcher does not support takes a deliberate override, recorded and
always checked blind."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from leopards.models import CatalogueChange, MatchCandidate, SecondOpinion, Sighting
from leopards.rules import confirm_needs_override
from tests.leopards.reviewkit import known_leopard, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(scientist) -> APIClient:
    client = APIClient()
    client.force_authenticate(scientist)
    return client


@pytest.fixture
def no_sampling(settings):
    # Only an override may send the confirmation to a blind check.
    settings.SECOND_OPINION_SAMPLE_RATE = 0.0
    settings.MATCH_CONFIRM_MIN_PROBABILITY = 0.5


def _flagged(park, probability: float = 0.07, *, new_likely: bool = True):
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1, candidates=[leopard])
    sighting = work.sightings[0]
    Sighting.objects.filter(pk=sighting.pk).update(new_individual_likely=new_likely)
    MatchCandidate.objects.filter(sighting=sighting).update(probability=probability)
    return sighting


def test_a_probably_new_sighting_is_not_confirmed_without_override(api, park, no_sampling):
    sighting = _flagged(park, probability=0.9)
    url = f"/api/sightings/{sighting.pk}/confirm/"
    response = api.post(url, {"leopard": "LEO-120F", "version": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "override_required"
    assert "override" in response.json()["detail"]
    after = Sighting.objects.get(pk=sighting.pk)
    assert (after.status, after.version) == ("proposed", 1)
    assert not CatalogueChange.objects.filter(kind="confirm").exists()


def test_an_override_is_confirmed_recorded_and_always_checked_blind(api, park, no_sampling):
    sighting = _flagged(park)
    url = f"/api/sightings/{sighting.pk}/confirm/"
    response = api.post(url, {"leopard": "LEO-120F", "version": 1, "override": True}, format="json")
    assert response.status_code == 200, response.json()
    assert Sighting.objects.get(pk=sighting.pk).status == "confirmed"
    change = CatalogueChange.objects.get(kind="confirm")
    assert change.matcher_override is True
    opinion = SecondOpinion.objects.get(sighting=sighting)
    assert opinion.status == "pending"
    changes = api.get("/api/catalogue-changes/", {"kind": "confirm"}).json()["results"]
    assert changes[0]["matcher_override"] is True


def test_a_low_probability_needs_override_even_when_not_flagged(api, park, no_sampling):
    sighting = _flagged(park, probability=0.3, new_likely=False)
    url = f"/api/sightings/{sighting.pk}/confirm/"
    refused = api.post(url, {"leopard": "LEO-120F", "version": 1}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "override_required"


def test_a_supported_match_needs_no_override_and_is_not_recorded_as_one(api, park, no_sampling):
    sighting = _flagged(park, probability=0.9, new_likely=False)
    url = f"/api/sightings/{sighting.pk}/confirm/"
    response = api.post(url, {"leopard": "LEO-120F", "version": 1}, format="json")
    assert response.status_code == 200
    assert CatalogueChange.objects.get(kind="confirm").matcher_override is False
    assert not SecondOpinion.objects.exists()


def test_the_threshold_is_the_admins_setting(park, settings):
    sighting = _flagged(park, probability=0.3, new_likely=False)
    candidates = list(sighting.candidates.all())
    leopard_id = candidates[0].leopard_id
    settings.MATCH_CONFIRM_MIN_PROBABILITY = 0.25
    assert confirm_needs_override(sighting, leopard_id, candidates) is False
    settings.MATCH_CONFIRM_MIN_PROBABILITY = 0.35
    assert confirm_needs_override(sighting, leopard_id, candidates) is True


def test_another_individual_than_a_confident_top_candidate_needs_override(park, settings):
    settings.MATCH_CONFIRM_MIN_PROBABILITY = 0.5
    top, other = known_leopard(park), known_leopard(park)
    work = make_event(park, photos=1, candidates=[top, other])
    sighting = work.sightings[0]
    MatchCandidate.objects.filter(sighting=sighting, rank=2).update(probability=None)
    candidates = list(sighting.candidates.order_by("rank"))
    # The top one is 90 % likely: any other individual is at most 10 % likely.
    assert confirm_needs_override(sighting, other.pk, candidates) is True
    assert confirm_needs_override(sighting, top.pk, candidates) is False


def test_the_review_page_asks_before_confirming_a_flagged_candidate(client, park, scientist):
    sighting = _flagged(park)
    client.force_login(scientist)
    html = client.get(reverse("leopards:event-review", args=[sighting.photo.event_id])).content
    assert b"data-override=" in html and b'name="override"' in html
    # Without the second step the form is refused and nothing is saved.
    candidate = sighting.candidates.get()
    url = reverse("leopards:sighting-identify", args=[sighting.pk])
    client.post(url, {"action": "confirm", "candidate": candidate.pk, "version": 1})
    assert Sighting.objects.get(pk=sighting.pk).status == "proposed"
    client.post(
        url, {"action": "confirm", "candidate": candidate.pk, "version": 1, "override": "1"}
    )
    assert Sighting.objects.get(pk=sighting.pk).status == "confirmed"
    assert CatalogueChange.objects.get(kind="confirm").matcher_override is True
