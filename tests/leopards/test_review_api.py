"""The review API for scripted review: the same rules as the pages, conflicts as HTTP 409."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from leopards.models import CatalogueChange, Leopard, MatchCandidate, SecondOpinion, Sighting
from tests.factories import UserFactory
from tests.leopards.reviewkit import known_leopard, make_event
from traps.models import Event


@pytest.fixture
def api(scientist) -> APIClient:
    client = APIClient()
    client.force_authenticate(scientist)
    return client


def test_the_queue_lists_events_with_counts(api, park):
    work = make_event(park, photos=2)
    response = api.get("/api/review/events/")
    assert response.status_code == 200
    row = response.json()["results"][0]
    assert (row["id"], row["photo_count"], row["open_count"], row["version"]) == (
        work.event.pk,
        2,
        2,
        1,
    )


def test_an_event_shows_photos_boxes_and_candidates(api, park):
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1, candidates=[leopard])
    MatchCandidate.objects.filter(leopard=leopard).update(
        reference=Sighting.objects.get(leopard=leopard)
    )
    body = api.get(f"/api/review/events/{work.event.pk}/").json()
    candidate = body["photos"][0]["sightings"][0]["candidates"][0]
    assert (candidate["leopard"], candidate["rank"], candidate["probability"]) == (
        "LEO-120F",
        1,
        0.9,
    )
    assert candidate["matches"][0] == [0.2, 0.3, 0.25, 0.35]


def test_a_full_scripted_review(api, park):
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=2, candidates=[leopard])
    assert api.post(f"/api/review/events/{work.event.pk}/claim/").status_code == 200
    first, second = work.sightings
    response = api.post(
        f"/api/sightings/{first.pk}/confirm/", {"leopard": "LEO-120F", "version": 1}, format="json"
    )
    assert response.status_code == 200 and response.json()["leopard"] == "LEO-120F"
    response = api.post(
        f"/api/sightings/{second.pk}/new-individual/",
        {"sex": "female", "version": 1},
        format="json",
    )
    assert response.json()["leopard"] == "LEO-121F"
    version = api.get(f"/api/review/events/{work.event.pk}/").json()["version"]
    response = api.post(
        f"/api/review/events/{work.event.pk}/finish/", {"version": version}, format="json"
    )
    assert response.json()["status"] == "reviewed"


def test_drawing_and_adjusting_a_box(api, park):
    work = make_event(park, photos=1, sightings_per_photo=0)
    response = api.post(
        "/api/sightings/",
        {
            "photo": work.photos[0].pk,
            "bbox_x": 0.1,
            "bbox_y": 0.1,
            "bbox_w": 0.3,
            "bbox_h": 0.2,
            "flank": "left",
        },
        format="json",
    )
    assert response.status_code == 201
    pk = response.json()["id"]
    response = api.patch(
        f"/api/sightings/{pk}/",
        {"version": 1, "bbox_x": 0.2, "bbox_y": 0.1, "bbox_w": 0.3, "bbox_h": 0.2},
        format="json",
    )
    assert response.json()["bbox_x"] == 0.2 and response.json()["version"] == 2
    response = api.patch(
        f"/api/sightings/{pk}/", {"version": 1, "observed_age_class": "adult"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and response.json()["version"] == 2


def test_a_claimed_event_refuses_another_scientist_with_409(api, park):
    colleague = UserFactory(username="frank", role=Role.SCIENTIST, parks=[park])
    work = make_event(park)
    api.post(f"/api/review/events/{work.event.pk}/claim/")
    other = APIClient()
    other.force_authenticate(colleague)
    response = other.post(f"/api/review/events/{work.event.pk}/claim/")
    assert response.status_code == 409 and response.json()["code"] == "claimed"


def test_classifying_an_event_with_a_stale_version_is_409(api, park):
    work = make_event(park, sightings_per_photo=0)
    api.post(
        f"/api/review/events/{work.event.pk}/classify/",
        {"content": "blank", "version": 1},
        format="json",
    )
    response = api.post(
        f"/api/review/events/{work.event.pk}/classify/",
        {"content": "vehicle", "version": 1},
        format="json",
    )
    assert response.status_code == 409
    assert Event.objects.get(pk=work.event.pk).content == "blank"


def test_editing_merging_splitting_and_undoing_individuals(api, park):
    known_leopard(park, code="LEO-120F")
    known_leopard(park, code="LEO-133U")
    response = api.patch(
        "/api/leopards/LEO-120F/", {"name": "Vesna", "version": 1, "reason": "x"}, format="json"
    )
    assert response.json()["name"] == "Vesna" and response.json()["version"] == 2
    stale = api.patch("/api/leopards/LEO-120F/", {"name": "X", "version": 1}, format="json")
    assert stale.status_code == 409
    merge = api.post(
        "/api/leopards/LEO-120F/merge/",
        {"other": "LEO-133U", "reason": "dup", "version": 2},
        format="json",
    ).json()
    assert merge["kind"] == "merge"
    assert api.get("/api/leopards/LEO-120F/").json()["aliases"] == ["LEO-133U"]
    moved = Sighting.objects.filter(leopard__code="LEO-120F").order_by("-pk").first()
    split = api.post(
        "/api/leopards/LEO-120F/split/",
        {"sightings": [moved.pk], "reason": "not her", "sex": "male", "version": 3},
        format="json",
    ).json()
    assert split["after"]["target"] == "LEO-134M"
    undo = api.post(f"/api/catalogue-changes/{split['id']}/undo/", {}, format="json")
    assert undo.status_code == 200 and undo.json()["kind"] == "undo"
    again = api.post(f"/api/catalogue-changes/{split['id']}/undo/", {}, format="json")
    assert again.status_code == 400
    changes = api.get("/api/leopards/LEO-120F/changes/").json()
    assert [c["kind"] for c in changes][:3] == ["undo", "split", "merge"]


def test_rangers_read_individuals_but_cannot_review_or_edit(park, ranger):
    known_leopard(park, code="LEO-120F")
    client = APIClient()
    client.force_authenticate(ranger)
    assert client.get("/api/leopards/").status_code == 200
    assert client.get("/api/review/events/").status_code == 403
    assert client.patch("/api/leopards/LEO-120F/", {"name": "x"}, format="json").status_code == 403


def test_individuals_of_other_parks_are_404(api, other_park):
    known_leopard(other_park, code="LEO-900M")
    assert api.get("/api/leopards/LEO-900M/").status_code == 404
    assert api.get("/api/leopards/").json()["count"] == 0


def test_blind_check_through_the_api_hides_the_first_answer(park, scientist, settings):
    settings.SECOND_OPINION_SAMPLE_RATE = 1.0
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1, candidates=[leopard])
    first = APIClient()
    first.force_authenticate(scientist)
    first.post(
        f"/api/sightings/{work.sightings[0].pk}/confirm/",
        {"leopard": "LEO-120F", "version": 1},
        format="json",
    )
    assert first.get("/api/second-opinions/").json()["count"] == 0  # not one's own
    checker = APIClient()
    checker.force_authenticate(UserFactory(username="grace", role=Role.SCIENTIST, parks=[park]))
    listed = checker.get("/api/second-opinions/").json()["results"][0]
    assert "leopard" not in listed["sighting"] and "first_leopard" not in listed
    answer = checker.post(
        f"/api/second-opinions/{listed['id']}/answer/",
        {"answer": "leopard", "leopard": "LEO-120F"},
        format="json",
    )
    assert answer.json()["status"] == "agreed"
    rates = checker.get("/api/second-opinions/agreement/").json()
    assert rates["overall"] == {"user": "", "agreed": 1, "checked": 1, "rate": 1.0}
    assert SecondOpinion.objects.get().status == "agreed"
    assert CatalogueChange.objects.filter(kind="second_opinion").exists()
    assert Leopard.objects.count() == 1
