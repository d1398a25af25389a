"""Login, the base layout, languages and the admin answer as users expect."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import StationFactory

pytestmark = pytest.mark.django_db


def test_login_page_answers_anonymous_visitors(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_every_page_sends_anonymous_visitors_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_with_the_right_password_reaches_the_overview(client, ranger):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct-horse-battery"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert b"Alpha Leopard Park" in response.content


def test_login_with_a_wrong_password_says_so(client, ranger):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_overview_lists_only_the_users_parks(client, ranger, other_park):
    StationFactory(park=ranger.parks.get())
    client.force_login(ranger)
    response = client.get(reverse("home"))
    assert b"Alpha Leopard Park" in response.content
    assert b"Beta Tiger Reserve" not in response.content


def test_navigation_shows_administration_only_to_admins(client, ranger, registry_admin):
    client.force_login(ranger)
    assert reverse("admin:index").encode() not in client.get(reverse("home")).content
    client.force_login(registry_admin)
    assert reverse("admin:index").encode() in client.get(reverse("home")).content


def test_logout_ends_the_session(client, ranger):
    client.force_login(ranger)
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ru", "Войти"), ("zh-hans", "登录"), ("en", "Log in")],
)
def test_language_switch_translates_the_interface(client, language, expected):
    client.post(reverse("set_language"), {"language": language, "next": reverse("login")})
    response = client.get(reverse("login"))
    assert expected in response.content.decode()


def test_every_admin_changelist_answers_for_an_admin(client, registry_admin):
    client.force_login(registry_admin)
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        assert response.status_code == 200, url
        add = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))
        assert add.status_code in (200, 403), url


def test_a_park_card_on_the_overview_opens_that_parks_deployments(client, park, ranger):
    client.force_login(ranger)
    html = client.get(reverse("home")).text
    href = f"{reverse('traps:deployment-list')}?park={park.pk}"
    assert f'href="{href}"' in html
    assert client.get(href).status_code == 200


def test_rangers_find_the_census_in_their_menu(client, ranger):
    client.force_login(ranger)
    response = client.get(reverse("home"))
    menu = [item["url"] for item in response.context["nav_items"]]
    assert reverse("census:dashboard") in menu
    assert client.get(reverse("census:dashboard")).status_code == 200


def test_the_browser_finds_an_icon_without_logging_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response.url)
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get(reverse("login")).text
    assert 'rel="icon"' in page
