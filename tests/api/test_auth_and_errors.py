"""Token authentication beside the session, and one JSON shape for every API error."""

import pytest

from accounts.services import api_token_create
from tests.factories import DeploymentFactory, StationFactory

pytestmark = pytest.mark.django_db


def test_a_token_user_lists_stations_without_a_session(client, ranger, park):
    StationFactory(park=park, code="T-1")
    _token, key = api_token_create(user=ranger, name="sync script", days=7)
    response = client.get("/api/stations/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200
    assert [s["code"] for s in response.json()["results"]] == ["T-1"]


def test_a_bad_token_is_401_json(client, ranger):
    response = client.get("/api/stations/", headers={"Authorization": "Token not-a-real-key"})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "authentication_failed"
    assert body["detail"]
    assert response["WWW-Authenticate"].startswith("Token")


def test_anonymous_requests_get_401_json(client):
    response = client.get("/api/deployments/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_missing_object_is_404_json(client, ranger):
    client.force_login(ranger)
    body = client.get("/api/stations/999999/").json()
    assert body == {"detail": body["detail"], "code": "not_found"}


def test_field_errors_are_kept_under_errors(client, ranger, park):
    station = StationFactory(park=park)
    client.force_login(ranger)
    response = client.post(
        "/api/deployments/",
        {
            "station": station.pk,
            "start": "2024-06-01T00:00:00Z",
            "end": "2024-05-01T00:00:00Z",
            "clock_offset": "not a duration",
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert "clock_offset" in body["errors"]


def test_an_end_before_the_start_is_refused_on_the_end_field(client, ranger, park):
    station = StationFactory(park=park)
    client.force_login(ranger)
    response = client.post(
        "/api/deployments/",
        {"station": station.pk, "start": "2024-06-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"end": ["The end must be after the start."]}


def test_a_forbidden_write_is_403_json(client, manager, park):
    deployment = DeploymentFactory(station__park=park)
    client.force_login(manager)
    response = client.patch(
        f"/api/deployments/{deployment.pk}/",
        {"notes": "x", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_malformed_json_is_400_json(client, ranger):
    client.force_login(ranger)
    response = client.post("/api/stations/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
