"""Who may add and change parks, stations and deployments through the API."""

from datetime import timedelta

import pytest

from tests.factories import DeploymentFactory, PhotoFactory, StationFactory
from traps.models import Deployment, Park, Station

pytestmark = pytest.mark.django_db

NEW_DEPLOYMENT = {
    "camera_serial": "CAM-NEW-1",
    "camera_model": "Panthera V6",
    "start": "2025-03-01T00:00:00Z",
    "clock_offset": "00:05:00",
}


@pytest.fixture
def station(park):
    return StationFactory(park=park, code="A-01")


@pytest.fixture
def their_station(other_park):
    return StationFactory(park=other_park, code="B-01")


def _post(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


def _patch(client, url: str, data: dict):
    return client.patch(url, data, content_type="application/json")


def test_a_ranger_creates_a_deployment_in_their_park(client, ranger, station):
    client.force_login(ranger)
    response = _post(client, "/api/deployments/", {"station": station.pk, **NEW_DEPLOYMENT})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["station_id"] == station.pk
    assert body["version"] == 1
    deployment = Deployment.objects.get(pk=body["id"])
    assert deployment.camera_serial == "CAM-NEW-1"
    assert deployment.clock_offset == timedelta(minutes=5)


def test_a_manager_cannot_create_a_deployment(client, manager, station):
    client.force_login(manager)
    response = _post(client, "/api/deployments/", {"station": station.pk, **NEW_DEPLOYMENT})
    assert response.status_code == 403
    assert not Deployment.objects.exists()


def test_an_outsider_gets_404_for_a_station_of_another_park(client, outsider, station):
    client.force_login(outsider)
    assert client.get(f"/api/stations/{station.pk}/").status_code == 404
    assert _patch(client, f"/api/stations/{station.pk}/", {"notes": "x"}).status_code == 404


def test_an_outsider_cannot_create_in_another_park(client, outsider, park, station):
    client.force_login(outsider)
    response = _post(client, "/api/deployments/", {"station": station.pk, **NEW_DEPLOYMENT})
    assert response.status_code == 400
    assert "station" in response.json()["errors"]
    response = _post(
        client,
        "/api/stations/",
        {"park": park.pk, "code": "X-1", "latitude": "43.1", "longitude": "131.1"},
    )
    assert response.status_code == 400
    assert "park" in response.json()["errors"]
    assert not Deployment.objects.exists()
    assert not Station.objects.filter(code="X-1").exists()


def test_a_scientist_adds_and_moves_a_station_of_their_park(client, scientist, park):
    client.force_login(scientist)
    response = _post(
        client,
        "/api/stations/",
        {"park": park.pk, "code": "A-77", "latitude": "43.123456", "longitude": "131.654321"},
    )
    assert response.status_code == 201, response.json()
    station_id = response.json()["id"]
    response = _patch(client, f"/api/stations/{station_id}/", {"latitude": "43.2"})
    assert response.status_code == 200
    assert response.json()["latitude"] == 43.2
    assert str(Station.objects.get(pk=station_id).latitude) == "43.200000"


def test_a_station_code_is_unique_in_its_park(client, ranger, park, station):
    client.force_login(ranger)
    response = _post(
        client,
        "/api/stations/",
        {"park": park.pk, "code": station.code, "latitude": "43.1", "longitude": "131.1"},
    )
    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_manager_cannot_change_a_station(client, manager, station):
    client.force_login(manager)
    response = _patch(client, f"/api/stations/{station.pk}/", {"notes": "moved"})
    assert response.status_code == 403


def test_a_change_with_the_loaded_version_is_saved_and_bumps_it(client, ranger, park):
    deployment = DeploymentFactory(station__park=park)
    client.force_login(ranger)
    response = _patch(
        client,
        f"/api/deployments/{deployment.pk}/",
        {"camera_model": "Browning", "version": deployment.version},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == deployment.version + 1
    assert response.json()["camera_model"] == "Browning"


def test_a_stale_version_is_409_and_changes_nothing(client, scientist, park):
    deployment = DeploymentFactory(station__park=park, camera_model="Panthera V4", version=3)
    client.force_login(scientist)
    response = _patch(
        client, f"/api/deployments/{deployment.pk}/", {"camera_model": "Other", "version": 2}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert response.json()["version"] == 3
    deployment.refresh_from_db()
    assert deployment.camera_model == "Panthera V4"


def test_a_change_without_a_version_is_refused(client, ranger, park):
    deployment = DeploymentFactory(station__park=park)
    client.force_login(ranger)
    response = _patch(client, f"/api/deployments/{deployment.pk}/", {"notes": "x"})
    assert response.status_code == 400
    assert "version" in response.json()["errors"]


def test_a_new_end_flags_the_photos_after_it(client, ranger, park):
    deployment = DeploymentFactory(station__park=park)
    photo = PhotoFactory(deployment=deployment)  # taken 2024-05-01
    client.force_login(ranger)
    response = _patch(
        client,
        f"/api/deployments/{deployment.pk}/",
        {"end": "2024-04-01T00:00:00Z", "version": deployment.version},
    )
    assert response.status_code == 200, response.json()
    photo.refresh_from_db()
    assert photo.outside_deployment


def test_only_an_admin_adds_a_park(client, registry_admin, ranger):
    park = {"code": "gamma", "name": "Gamma", "country": "RU", "area_km2": 120.5}
    client.force_login(ranger)
    assert _post(client, "/api/parks/", park).status_code == 403
    client.force_login(registry_admin)
    response = _post(client, "/api/parks/", park)
    assert response.status_code == 201, response.json()
    assert Park.objects.get(code="gamma").time_zone == "Asia/Vladivostok"


def test_every_role_reads_its_parks_only(client, manager, park, other_park):
    client.force_login(manager)
    assert [p["code"] for p in client.get("/api/parks/").json()["results"]] == ["alpha"]
    assert client.get(f"/api/parks/{other_park.pk}/").status_code == 404
