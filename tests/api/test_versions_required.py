"""Every write of a record two people can edit names the version it read: 400 without, 409 stale."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from leopards.models import CatalogueChange, Leopard, Sighting
from leopards.services import identification
from tests.leopards.reviewkit import known_leopard, make_event
from traps.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(scientist) -> APIClient:
    client = APIClient()
    client.force_authenticate(scientist)
    return client


def _refused_for_version(response) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert "version" in body["errors"]
    assert "version" in str(body["errors"]["version"][0])


def test_editing_an_individual_without_its_version_is_400_and_changes_nothing(api, park):
    known_leopard(park, code="LEO-120F", name="Vesna")
    _refused_for_version(api.patch("/api/leopards/LEO-120F/", {"name": "X"}, format="json"))
    _refused_for_version(
        api.patch("/api/leopards/LEO-120F/", {"name": "X", "version": None}, format="json")
    )
    leopard = Leopard.objects.get(code="LEO-120F")
    assert (leopard.name, leopard.version) == ("Vesna", 1)
    stale = api.patch("/api/leopards/LEO-120F/", {"name": "X", "version": 0}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"


def test_merging_and_splitting_without_a_version_are_400(api, park):
    survivor = known_leopard(park, code="LEO-120F")
    known_leopard(park, code="LEO-133U")
    _refused_for_version(
        api.post(
            "/api/leopards/LEO-120F/merge/", {"other": "LEO-133U", "reason": "dup"}, format="json"
        )
    )
    assert not Leopard.objects.get(code="LEO-133U").merged_into_id
    sighting = Sighting.objects.get(leopard=survivor)
    _refused_for_version(
        api.post(
            "/api/leopards/LEO-120F/split/",
            {"sightings": [sighting.pk], "reason": "not her"},
            format="json",
        )
    )
    assert Sighting.objects.get(pk=sighting.pk).leopard_id == survivor.pk
    assert not CatalogueChange.objects.filter(kind__in=["merge", "split"]).exists()


def test_adjusting_a_box_without_its_version_is_400(api, park):
    work = make_event(park, photos=1)
    sighting = work.sightings[0]
    _refused_for_version(
        api.patch(f"/api/sightings/{sighting.pk}/", {"flank": "right"}, format="json")
    )
    assert Sighting.objects.get(pk=sighting.pk).flank == "left"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("confirm", {"leopard": "LEO-120F"}),
        ("new-individual", {"sex": "female"}),
        ("unidentifiable", {}),
        ("remove", {}),
    ],
)
def test_identifying_without_the_sightings_version_is_400(api, park, action, body):
    known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1)
    sighting = work.sightings[0]
    _refused_for_version(api.post(f"/api/sightings/{sighting.pk}/{action}/", body, format="json"))
    after = Sighting.objects.get(pk=sighting.pk)
    assert (after.status, after.leopard_id, after.version) == ("proposed", None, 1)


def test_withdrawing_an_identification_without_the_version_is_400(api, park, scientist):
    leopard = known_leopard(park, code="LEO-120F")
    work = make_event(park, photos=1, candidates=[leopard])
    sighting = work.sightings[0]
    identification.sighting_confirm(
        sighting_id=sighting.pk, leopard_id=leopard.pk, user=scientist, expected_version=1
    )
    _refused_for_version(api.post(f"/api/sightings/{sighting.pk}/unconfirm/", {}, format="json"))
    assert Sighting.objects.get(pk=sighting.pk).status == "confirmed"


def test_classifying_and_finishing_an_event_without_its_version_are_400(api, park):
    work = make_event(park, photos=1, sightings_per_photo=0)
    url = f"/api/review/events/{work.event.pk}/"
    _refused_for_version(api.post(url + "classify/", {"content": "blank"}, format="json"))
    _refused_for_version(api.post(url + "finish/", {}, format="json"))
    event = Event.objects.get(pk=work.event.pk)
    assert (event.content, event.status) == ("unknown", "pending")


def test_the_pages_refuse_a_write_without_a_version(client, park, scientist):
    known_leopard(park, code="LEO-120F")
    known_leopard(park, code="LEO-133U")
    work = make_event(park, photos=1, sightings_per_photo=0)
    client.force_login(scientist)
    client.post(reverse("leopards:event-finish", args=[work.event.pk]))
    assert Event.objects.get(pk=work.event.pk).status == "pending"
    client.post(
        reverse("leopards:leopard-merge", args=["LEO-120F"]), {"other": "LEO-133U", "reason": "x"}
    )
    assert not Leopard.objects.get(code="LEO-133U").merged_into_id
    boxed = make_event(park, photos=1)
    client.post(
        reverse("leopards:sighting-identify", args=[boxed.sightings[0].pk]), {"action": "new"}
    )
    assert Sighting.objects.get(pk=boxed.sightings[0].pk).status == "proposed"
