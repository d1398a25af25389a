"""Audit: changes of accounts, parks, deployments and identifications are on record."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import Role
from leopards.models import Sighting
from tests.factories import DeploymentFactory, LeopardFactory, SightingFactory
from traps.models import Deployment, Park, ParkMembership

pytestmark = pytest.mark.django_db


def test_a_user_changed_in_the_admin_is_recorded_with_who_and_when(client, registry_admin, ranger):
    client.force_login(registry_admin)
    response = client.post(
        f"/admin/auth/user/{ranger.pk}/change/",
        {
            "username": "alice",
            "first_name": "Alice",
            "last_name": "Ranger",
            "email": "alice@example.org",
            "is_active": "on",
            "groups": [Group.objects.get(name=Role.SCIENTIST).pk],
            "date_joined_0": "2025-01-01",
            "date_joined_1": "08:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    record = ranger.history.latest()
    assert record.history_user == registry_admin
    assert record.first_name == "Alice"
    assert record.history_type == "~"
    assert list(record.groups.values_list("group__name", flat=True)) == ["scientist"]


def test_password_hashes_never_enter_the_history(ranger):
    ranger.set_password("another-long-password-2026")
    ranger.save()
    assert not hasattr(ranger.history.model, "password")


def test_logging_in_adds_no_history_row(client, ranger):
    before = ranger.history.count()
    assert (
        client.post(
            "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
        ).status_code
        == 302
    )
    ranger.refresh_from_db()
    assert ranger.last_login is not None
    assert ranger.history.count() == before


def test_park_and_membership_changes_are_recorded(park, ranger):
    park.name = "Alpha Leopard National Park"
    park.save()
    ParkMembership.objects.filter(user=ranger, park=park).delete()
    assert park.history.latest().name == "Alpha Leopard National Park"
    assert ParkMembership.history.filter(user_id=ranger.pk, history_type="-").exists()


def test_deployment_and_identification_changes_are_recorded(client, registry_admin, park):
    deployment = DeploymentFactory(station__park=park)
    client.force_login(registry_admin)
    leopard = LeopardFactory()
    sighting = SightingFactory(photo__deployment=deployment, leopard=leopard)
    sighting_id = sighting.pk
    sighting.delete()
    assert Sighting.history.filter(id=sighting_id, history_type="-").exists()
    response = client.get(f"/admin/traps/deployment/{deployment.pk}/history/")
    assert response.status_code == 200
    assert Deployment.history.filter(id=deployment.pk, history_type="+").exists()


@pytest.mark.parametrize(
    "model", [User, Park, ParkMembership, Deployment], ids=lambda m: m.__name__
)
def test_history_is_listed_for_admins_and_cannot_be_edited_or_deleted(
    client, registry_admin, park, ranger, model
):
    DeploymentFactory(station__park=park)
    record = model.history.first()
    meta = model.history.model._meta
    base = f"/admin/{meta.app_label}/{meta.model_name}/"
    client.force_login(registry_admin)
    assert client.get(base).status_code == 200
    assert client.get(f"{base}add/").status_code == 403
    assert client.get(f"{base}{record.pk}/delete/").status_code == 403
    client.post(f"{base}{record.pk}/change/", {"history_change_reason": "rewritten"})
    record.refresh_from_db()
    assert record.history_change_reason != "rewritten"


def test_reverting_through_the_history_is_switched_off(client, registry_admin, park):
    deployment = DeploymentFactory(station__park=park, camera_serial="CAM1")
    deployment.camera_serial = "CAM2"
    deployment.save()
    first = deployment.history.earliest()
    client.force_login(registry_admin)
    url = f"/admin/traps/deployment/{deployment.pk}/history/{first.history_id}/"
    client.post(url, {"camera_serial": "CAM1", "_save": "1"})
    deployment.refresh_from_db()
    assert deployment.camera_serial == "CAM2"


def test_managers_cannot_read_the_history(client, manager):
    client.force_login(manager)
    response = client.get("/admin/accounts/historicaluser/")
    assert response.status_code in (302, 403)
