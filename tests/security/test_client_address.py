"""The client's address behind the TLS proxy: what the login throttle and the logs key on."""

from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import RequestFactory

from accounts.models import LocationAccessLog
from accounts.network import client_address
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "correct-horse-battery"
PROXY = "10.0.0.2"
A = "203.0.113.5"
B = "198.51.100.7"


@pytest.fixture
def behind_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXY_COUNT = 1


def _login(client, password: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": PROXY}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(LOGIN, {"username": "alice", "password": password}, **headers)


def _address(forwarded: str | None, remote: str = PROXY) -> str | None:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


def test_failures_from_one_client_lock_only_that_clients_pair(client, ranger, behind_proxy):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong-guess-123", A).status_code == 200
    assert _login(client, "wrong-guess-123", A).status_code == 429
    assert _login(client, PASSWORD, A).status_code == 429
    # Another client behind the same proxy logs in as alice as usual.
    assert _login(client, PASSWORD, B).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {A}


def test_a_client_cannot_pose_as_another_by_writing_x_forwarded_for(client, ranger, behind_proxy):
    # The proxy appends the address it saw: what the client wrote stays on the left.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "wrong-guess-123", f"{B}, {A}")
    assert _login(client, PASSWORD, B).status_code == 302
    assert _login(client, PASSWORD, f"{B}, {A}").status_code == 429


def test_without_a_proxy_x_forwarded_for_is_ignored(client, ranger, settings):
    settings.BEHIND_PROXY = False
    # Changing the header on each attempt does not escape the lock of the real address.
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong-guess-123", f"192.0.2.{n}").status_code == 200
    assert _login(client, "wrong-guess-123", "192.0.2.99").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {PROXY}


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, A, A),
        (1, f"{B}, {A}", A),
        (2, f"{B}, {A}", B),
        (2, A, PROXY),  # fewer entries than proxies: not through the proxies
        (1, None, PROXY),
        (1, "not-an-address", PROXY),
        (1, f" {A} ", A),
    ],
)
def test_the_client_is_the_entry_the_nearest_trusted_proxy_wrote(
    settings, count, forwarded, expected
):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXY_COUNT = count
    assert _address(forwarded) == expected


def test_the_exact_location_log_records_the_client_not_the_proxy(
    client, ranger, behind_proxy, park
):
    StationFactory(park=park, latitude=Decimal("43.123456"), longitude=Decimal("131.654321"))
    client.force_login(ranger)
    response = client.get("/api/stations/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{B}, {A}")
    assert response.status_code == 200
    assert LocationAccessLog.objects.get().ip_address == A
