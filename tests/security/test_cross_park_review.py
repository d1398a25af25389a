"""The review across a park border: crops, candidates and filters tell alpha nothing of beta.

The matcher ranks the whole catalogue, so a sighting in alpha may have a candidate known
only in beta. Alpha's scientist sees it as "an individual from another park": no code, id,
name, link, reference crop or matched spots, on the page, in the API and in blind checks.
"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from leopards.models import CatalogueChange, EventReview, MatchCandidate, Sighting
from leopards.services import identification
from leopards.services import second_opinion as blind
from tests.factories import UserFactory, jpeg_bytes
from tests.leopards.reviewkit import known_leopard, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(scientist) -> APIClient:
    client = APIClient()
    client.force_authenticate(scientist)
    return client


@pytest.fixture
def crossing(park, other_park):
    """A sighting in alpha whose candidates are a beta-only cat (rank 1) and an alpha cat."""
    secret = known_leopard(other_park, code="LEO-BETA-SECRET", name="Beta's queen")
    ours = known_leopard(park, code="LEO-ALPHA")
    work = make_event(park, photos=1, candidates=[secret, ours])
    sighting = work.sightings[0]
    beta_reference = Sighting.objects.get(leopard=secret)
    alpha_reference = Sighting.objects.get(leopard=ours)
    MatchCandidate.objects.filter(sighting=sighting, leopard=secret).update(
        reference=beta_reference
    )
    MatchCandidate.objects.filter(sighting=sighting, leopard=ours).update(reference=alpha_reference)
    return work, secret, ours, beta_reference, alpha_reference


def _stored(sighting: Sighting) -> None:
    default_storage.save(sighting.photo.file.name, ContentFile(jpeg_bytes(size=(640, 480))))


# -- 2: crops ------------------------------------------------------------------------------


def test_the_crop_of_a_confirmed_sighting_in_another_park_is_404_like_its_photo(
    client, scientist, crossing
):
    _work, _secret, _ours, beta_reference, alpha_reference = crossing
    _stored(beta_reference)
    _stored(alpha_reference)
    client.force_login(scientist)
    assert (
        client.get(reverse("traps:photo-file", args=[beta_reference.photo_id])).status_code == 404
    )
    assert client.get(f"/api/sightings/{beta_reference.pk}/").status_code == 404
    crop = reverse("leopards:sighting-crop", args=[beta_reference.pk])
    assert client.get(crop).status_code == 404
    assert (
        client.get(reverse("leopards:sighting-crop", args=[alpha_reference.pk])).status_code == 200
    )


def test_a_member_of_both_parks_gets_the_crop(client, park, other_park, crossing):
    _work, _secret, _ours, beta_reference, _alpha = crossing
    _stored(beta_reference)
    both = UserFactory(username="mira", role=Role.SCIENTIST, parks=[park, other_park])
    client.force_login(both)
    assert (
        client.get(reverse("leopards:sighting-crop", args=[beta_reference.pk])).status_code == 200
    )


# -- 3: candidates -------------------------------------------------------------------------


def _assert_anonymous(row: dict, beta_reference: Sighting) -> None:
    assert row["from_another_park"] is True
    assert row["leopard"] is None and row["leopard_id"] is None
    assert row["reference"] is None and row["reference_crop_url"] is None
    assert row["matches"] == []
    assert "BETA" not in str(row) and str(beta_reference.pk) not in str(row["reference"])


def test_the_candidates_api_does_not_name_an_individual_of_another_park(api, crossing):
    work, _secret, _ours, beta_reference, alpha_reference = crossing
    rows = api.get("/api/candidates/", {"sighting": work.sightings[0].pk}).json()["results"]
    foreign, known = rows
    _assert_anonymous(foreign, beta_reference)
    assert (known["leopard"], known["from_another_park"]) == ("LEO-ALPHA", False)
    assert known["reference"] == alpha_reference.pk and known["matches"]
    single = api.get(f"/api/candidates/{foreign['id']}/").json()
    _assert_anonymous(single, beta_reference)


def test_the_event_and_sighting_answers_do_not_name_it_either(api, crossing):
    work, _secret, _ours, beta_reference, _alpha = crossing
    event = api.get(f"/api/review/events/{work.event.pk}/").json()
    _assert_anonymous(event["photos"][0]["sightings"][0]["candidates"][0], beta_reference)
    sighting = api.get(f"/api/sightings/{work.sightings[0].pk}/").json()
    _assert_anonymous(sighting["candidates"][0], beta_reference)
    assert sighting["candidates"][1]["leopard"] == "LEO-ALPHA"


def test_the_review_page_shows_an_individual_from_another_park(client, scientist, crossing):
    work, secret, _ours, beta_reference, alpha_reference = crossing
    client.force_login(scientist)
    html = client.get(reverse("leopards:event-review", args=[work.event.pk])).content.decode()
    assert "An individual from another park" in html
    assert "LEO-BETA-SECRET" not in html and "Beta&#x27;s queen" not in html
    assert reverse("leopards:leopard-detail", args=["LEO-BETA-SECRET"]) not in html
    assert f'name="leopard" value="{secret.pk}"' not in html
    assert reverse("leopards:sighting-crop", args=[beta_reference.pk]) not in html
    assert reverse("leopards:sighting-crop", args=[alpha_reference.pk]) in html
    assert "LEO-ALPHA" in html


def test_a_candidate_from_another_park_is_confirmed_by_its_candidate_id_only(
    client, api, scientist, crossing
):
    work, secret, _ours, _beta, _alpha = crossing
    sighting = work.sightings[0]
    url = f"/api/sightings/{sighting.pk}/confirm/"
    # Its code is not a way in: it would tell which code the anonymous candidate has.
    by_code = api.post(url, {"leopard": "LEO-BETA-SECRET", "version": 1}, format="json")
    assert by_code.status_code == 404
    candidate = MatchCandidate.objects.get(sighting=sighting, leopard=secret)
    response = api.post(url, {"candidate": candidate.pk, "version": 1}, format="json")
    assert response.status_code == 200, response.json()
    assert Sighting.objects.get(pk=sighting.pk).leopard == secret


def test_the_review_form_confirms_by_candidate_id_and_refuses_a_foreign_leopard_id(
    client, scientist, crossing
):
    work, secret, _ours, _beta, _alpha = crossing
    sighting = work.sightings[0]
    client.force_login(scientist)
    url = reverse("leopards:sighting-identify", args=[sighting.pk])
    by_id = client.post(url, {"action": "confirm", "leopard": secret.pk, "version": 1})
    assert by_id.status_code == 404
    candidate = MatchCandidate.objects.get(sighting=sighting, leopard=secret)
    client.post(url, {"action": "confirm", "candidate": candidate.pk, "version": 1})
    assert Sighting.objects.get(pk=sighting.pk).leopard == secret


def test_a_blind_check_does_not_name_an_individual_of_another_park(
    client, park, scientist, crossing
):
    work, _secret, ours, beta_reference, _alpha = crossing
    sighting = work.sightings[0]
    Sighting.objects.filter(pk=sighting.pk).update(
        status=Sighting.Status.CONFIRMED, leopard=ours, identified_by=scientist
    )
    opinion = blind.second_opinion_request(sighting_id=sighting.pk, user=scientist)
    checker = UserFactory(username="grace", role=Role.SCIENTIST, parks=[park])
    client.force_login(checker)
    page = reverse("leopards:second-opinion-check", args=[opinion.pk])
    html = client.get(page).content.decode()
    assert "An individual from another park" in html
    assert "LEO-BETA-SECRET" not in html
    assert reverse("leopards:sighting-crop", args=[beta_reference.pk]) not in html
    api = APIClient()
    api.force_authenticate(checker)
    row = api.get(f"/api/second-opinions/{opinion.pk}/").json()["sighting"]["candidates"][0]
    _assert_anonymous(row, beta_reference)


# -- 4: filters ----------------------------------------------------------------------------


def _answers(api, url: str, **params) -> tuple[int, object]:
    response = api.get(url, params)
    body = response.json()
    return response.status_code, body.get("results", body.get("code"))


@pytest.mark.parametrize(
    ("url", "name", "target"),
    [
        ("/api/sightings/", "photo", "photo"),
        ("/api/sightings/", "photo__event", "event"),
        ("/api/candidates/", "sighting", "sighting"),
        ("/api/catalogue-changes/", "user", "user"),
        ("/api/sightings/", "leopard", "leopard"),
        ("/api/candidates/", "leopard", "leopard"),
    ],
)
def test_a_filter_answers_the_same_for_another_parks_id_and_an_unknown_one(
    api, other_park, outsider, url, name, target
):
    theirs = make_event(other_park, photos=1, candidates=[known_leopard(other_park)])
    sighting = theirs.sightings[0]
    identification.sighting_confirm(
        sighting_id=sighting.pk,
        leopard_id=sighting.candidates.get().leopard_id,
        user=outsider,
        expected_version=1,
    )
    existing = {
        "photo": sighting.photo_id,
        "event": theirs.event.pk,
        "sighting": sighting.pk,
        "user": outsider.pk,
        "leopard": sighting.candidates.get().leopard_id,
    }[target]
    assert CatalogueChange.objects.filter(user=outsider).exists()
    assert _answers(api, url, **{name: existing}) == _answers(api, url, **{name: 987654})
    assert _answers(api, url, **{name: existing}) == (200, [])


def test_a_blind_check_answers_a_candidate_of_another_park_by_its_candidate_id(
    park, scientist, crossing
):
    work, secret, ours, _beta, _alpha = crossing
    sighting = work.sightings[0]
    Sighting.objects.filter(pk=sighting.pk).update(
        status=Sighting.Status.CONFIRMED, leopard=ours, identified_by=scientist
    )
    opinion = blind.second_opinion_request(sighting_id=sighting.pk, user=scientist)
    checker = UserFactory(username="grace", role=Role.SCIENTIST, parks=[park])
    api = APIClient()
    api.force_authenticate(checker)
    url = f"/api/second-opinions/{opinion.pk}/answer/"
    by_code = api.post(url, {"answer": "leopard", "leopard": "LEO-BETA-SECRET"}, format="json")
    assert by_code.status_code == 404
    candidate = MatchCandidate.objects.get(sighting=sighting, leopard=secret)
    response = api.post(url, {"answer": "leopard", "candidate": candidate.pk}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "disagreed"
    opinion.refresh_from_db()
    assert opinion.second_leopard == secret
    # The flag every reviewer of the event reads does not name it either.
    flag = EventReview.objects.get(event=work.event)
    assert flag.flag_text and "LEO-BETA-SECRET" not in flag.flag_text
    assert "LEO-BETA-SECRET" not in str(flag.flag_params)
