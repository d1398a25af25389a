"""A park is named in the reader's language: Russian and Chinese pages do not show English names."""

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from accounts.roles import Role
from tests.factories import ParkFactory, UserFactory
from traps.models import Park

pytestmark = pytest.mark.django_db

RUSSIAN = "Национальный парк «Земля леопарда»"
CHINESE = "豹之乡国家公园"


@pytest.fixture
def named_park(park):
    park.name = "Land of the Leopard National Park"
    park.name_ru = RUSSIAN
    park.name_zh_hans = CHINESE
    park.save()
    return park


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Land of the Leopard National Park"),
        ("ru", RUSSIAN),
        ("zh-hans", CHINESE),
        # A Traditional Chinese reader gets the Chinese name rather than the English one.
        ("zh-hant", CHINESE),
    ],
)
def test_a_park_is_named_in_the_active_language(named_park, language, expected):
    with translation.override(language):
        assert named_park.local_name == expected
        assert str(named_park) == expected
    assert named_park.name_in(language) == expected


def test_a_park_without_a_name_in_a_language_falls_back_to_its_default_name(park):
    assert (park.name_ru, park.name_zh_hans) == ("", "")
    with translation.override("ru"):
        assert park.local_name == "Alpha Leopard Park"
    assert park.name_in("zh-hans") == "Alpha Leopard Park"


@pytest.mark.parametrize(("language", "expected"), [("ru", RUSSIAN), ("zh-hans", CHINESE)])
def test_pages_name_the_park_in_the_readers_language(client, named_park, language, expected):
    ranger = UserFactory(username="rita", role=Role.RANGER, parks=[named_park])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    client.force_login(ranger)
    for url in [reverse("home"), reverse("traps:deployment-list")]:
        html = client.get(url).content.decode()
        assert expected in html, url
        assert "Land of the Leopard National Park" not in html, url


def test_an_admin_sets_a_parks_names_through_the_api(client, registry_admin, named_park):
    client.force_login(registry_admin)
    response = client.patch(
        f"/api/parks/{named_park.pk}/",
        {"name_ru": "Заповедник «Кедровая Падь»", "name_zh_hans": "凯德罗瓦亚帕季自然保护区"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    named_park.refresh_from_db()
    assert named_park.name_ru == "Заповедник «Кедровая Падь»"
    body = client.get(f"/api/parks/{named_park.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert body["name"] == "Land of the Leopard National Park"
    assert body["name_zh_hans"] == body["local_name"] == "凯德罗瓦亚帕季自然保护区"


def test_an_admin_creates_a_park_with_its_names(client, registry_admin):
    client.force_login(registry_admin)
    response = client.post(
        "/api/parks/",
        {
            "code": "ntlnp",
            "name": "Northeast China Tiger and Leopard National Park",
            "name_zh_hans": "东北虎豹国家公园",
            "country": "CN",
            "area_km2": 14600,
            "time_zone": "Asia/Shanghai",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert Park.objects.get(code="ntlnp").name_in("zh-hans") == "东北虎豹国家公园"


def test_the_admin_form_offers_the_names_per_language(client, registry_admin):
    park = ParkFactory(code="gamma", name="Gamma")
    client.force_login(registry_admin)
    html = client.get(reverse("admin:traps_park_change", args=[park.pk])).content.decode()
    assert 'name="name_ru"' in html
    assert 'name="name_zh_hans"' in html
