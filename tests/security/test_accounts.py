"""Accounts: login throttling, passwords, sessions, API tokens and security headers."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.models import ApiToken
from accounts.services import api_token_create
from tests.factories import DeploymentFactory, jpeg_bytes

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "correct-horse-battery"


def _fail(client, username: str, times: int) -> None:
    for _ in range(times):
        response = client.post(LOGIN, {"username": username, "password": "wrong-guess-123"})
        assert response.status_code == 200


def test_five_wrong_passwords_lock_the_user_name_with_a_clear_message(client, ranger):
    _fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    response = client.post(LOGIN, {"username": "alice", "password": "wrong-guess-123"})
    assert response.status_code == 429
    assert "blocked for 15 minutes" in response.content.decode()
    # Even the right password is refused while locked.
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_ends_after_the_cool_off(client, ranger, time_machine):
    time_machine.move_to("2025-01-01 08:00:00+00:00", tick=False)
    _fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    client.post(LOGIN, {"username": "alice", "password": "wrong-guess-123"})
    time_machine.move_to("2025-01-01 08:16:00+00:00")
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


def test_a_successful_login_clears_the_failures(client, ranger):
    _fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302
    client.logout()
    _fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302


def test_another_user_name_is_not_locked_by_someone_elses_failures(client, ranger, scientist):
    _fail(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    client.post(LOGIN, {"username": "alice", "password": "wrong-guess-123"})
    assert client.post(LOGIN, {"username": "bob", "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("password", ["short-pw1", "123456789012345", "password1234"])
def test_weak_passwords_are_refused(ranger, password):
    with pytest.raises(ValidationError):
        validate_password(password, ranger)


def test_sessions_last_a_field_day_and_cookies_are_lax():
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert settings.SESSION_COOKIE_HTTPONLY


def test_pages_send_a_strict_csp_and_deny_framing(client, ranger):
    client.force_login(ranger)
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_script_uploads_with_an_api_token(client, ranger, park):
    deployment = DeploymentFactory(station__park=park)
    token, key = api_token_create(user=ranger, name="card script", days=7)
    response = client.post(
        "/api/photos/",
        {"deployment": deployment.pk, "file": SimpleUploadedFile("a.jpg", jpeg_bytes(seed=3))},
        headers={"Authorization": f"Token {key}"},
    )
    assert response.status_code == 201
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_only_the_hash_of_a_token_is_stored(ranger):
    token, key = api_token_create(user=ranger)
    stored = ApiToken.objects.filter(pk=token.pk).values_list("prefix", "digest")[0]
    assert key not in stored
    assert key.startswith(stored[0])


def test_an_expired_token_is_refused(client, ranger, time_machine):
    time_machine.move_to("2025-01-01 08:00:00+00:00")
    _token, key = api_token_create(user=ranger, days=1)
    headers = {"Authorization": f"Token {key}"}
    assert client.get("/api/deployments/", headers=headers).status_code == 200
    time_machine.move_to("2025-01-02 08:00:01+00:00")
    assert client.get("/api/deployments/", headers=headers).status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client, ranger):
    _token, key = api_token_create(user=ranger)
    ranger.is_active = False
    ranger.save()
    assert (
        client.get("/api/deployments/", headers={"Authorization": f"Token {key}"}).status_code
        == 401
    )


def test_a_token_lives_at_most_the_configured_days(ranger):
    with pytest.raises(ValueError):
        api_token_create(user=ranger, days=settings.API_TOKEN_MAX_DAYS + 1)


def test_the_command_prints_a_key_that_works(client, ranger, capsys):
    call_command("create_api_token", "alice", "--days", "3", "--name", "sd-card sync")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get(user=ranger)
    assert token.expires_at - token.created_at == timedelta(days=3)
    assert (
        client.get("/api/deployments/", headers={"Authorization": f"Token {key}"}).status_code
        == 200
    )


def test_admin_creates_a_token_and_sees_its_key_once(client, registry_admin, ranger):
    client.force_login(registry_admin)
    response = client.post(
        "/admin/accounts/apitoken/add/",
        {"user": ranger.pk, "name": "sync", "days": 10},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=ranger)
    messages = [str(m) for m in response.context["messages"]]
    key = messages[0].rsplit(" ", 1)[-1]
    assert key.startswith(token.prefix)
    assert client.get(f"/admin/accounts/apitoken/{token.pk}/change/").status_code == 200
    assert key not in client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
